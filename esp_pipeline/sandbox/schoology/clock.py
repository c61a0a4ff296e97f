"""The server clock that stamps grade changes, with a manual offset for tests."""

from __future__ import annotations

import threading
import time


class ServerClock:
    """Unix time in whole seconds, as Schoology puts it in a grade's `timestamp`.

    With `start` the clock is frozen at that time and moves only through `advance`, so tests can
    tell rows apart by timestamp without sleeping. Without it the clock follows the system clock
    plus whatever `advance` has added.
    """

    def __init__(self, start: int | None = None) -> None:
        self._frozen = start
        self._offset = 0
        self._lock = threading.Lock()

    def now(self) -> int:
        with self._lock:
            base = self._frozen if self._frozen is not None else int(time.time())
            return base + self._offset

    def advance(self, seconds: int) -> int:
        """Move the clock forward by `seconds` and return the new time."""
        if seconds < 0:
            raise ValueError(f"the server clock only moves forward, got {seconds} seconds")
        with self._lock:
            self._offset += int(seconds)
        return self.now()
