"""OneRoster 1.1 `statusInfoSet` error bodies."""

from __future__ import annotations

from collections.abc import Sequence


class ApiError(Exception):
    """An error returned to the client as an HTTP status and a statusInfoSet body.

    `details` adds further descriptions, each sent as its own statusInfoSet entry (used when
    several items of a POST collection are invalid).
    """

    def __init__(
        self, status: int, code_minor: str, description: str, details: Sequence[str] = ()
    ) -> None:
        super().__init__(description)
        self.status = status
        self.code_minor = code_minor
        self.description = description
        self.details = tuple(details)


def _status_info(code_major: str, severity: str, code_minor: str, description: str) -> dict:
    return {
        "imsx_codeMajor": code_major,
        "imsx_severity": severity,
        "imsx_description": description,
        "imsx_CodeMinor": {
            "imsx_codeMinorField": [
                {
                    "imsx_codeMinorFieldName": "TargetEndSystem",
                    "imsx_codeMinorFieldValue": code_minor,
                }
            ]
        },
    }


def status_info_set(code_minor: str, description: str, details: Sequence[str] = ()) -> dict:
    """Build the OneRoster 1.1 error envelope: one entry for `description` and one per detail."""
    return {
        "statusInfoSet": [
            _status_info("failure", "error", code_minor, text)
            for text in (description, *details)
        ]
    }


def success_status_info_set(description: str) -> dict:
    """Build the statusInfoSet of a successful request that returns no object (DELETE)."""
    return {"statusInfoSet": [_status_info("success", "status", "fullsuccess", description)]}
