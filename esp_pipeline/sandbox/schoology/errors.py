"""The exception that carries an API error status and message to the HTTP layer."""

from __future__ import annotations


class ApiError(Exception):
    """A request or bulk item that failed with `status` and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
