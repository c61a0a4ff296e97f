"""Rate limiting and the request log, shared by both sandbox servers."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """Per-key credit bucket: `capacity` credits, refilled in full every `refill_seconds`.

    The defaults follow the claimed Schoology model (50 credits per 5 s, GET costs 1, writes 3).
    `capacity=0` turns limiting off.
    """

    capacity: int = 50
    refill_seconds: float = 5.0
    _credits: dict[str, float] = field(default_factory=dict)
    _window_start: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key: str, cost: int) -> float:
        """Charge `cost` credits; return 0 when allowed, else the seconds to wait."""
        if self.capacity <= 0:
            return 0.0
        with self._lock:
            now = time.monotonic()
            start = self._window_start.get(key)
            if start is None or now - start >= self.refill_seconds:
                self._window_start[key] = now
                self._credits[key] = float(self.capacity)
                start = now
            if self._credits[key] >= cost:
                self._credits[key] -= cost
                return 0.0
            return max(0.001, self.refill_seconds - (now - start))


def retry_after_header(wait_seconds: float) -> str:
    """Format a wait as the whole seconds a `Retry-After` header carries (at least 1)."""
    return str(max(1, math.ceil(wait_seconds)))


@dataclass
class RequestRecord:
    method: str
    route: str
    path: str
    status: int
    latency_ms: float
    items: int
    consumer_key: str | None


@dataclass
class RequestLog:
    """Thread-safe list of every request a sandbox answered, for tests and benchmarks."""

    records: list[RequestRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self.records.append(record)

    def snapshot(self) -> list[RequestRecord]:
        with self._lock:
            return list(self.records)

    def clear(self) -> None:
        with self._lock:
            self.records.clear()

    def writes(self) -> list[RequestRecord]:
        """Return the requests that could change state (anything but GET, HEAD and OPTIONS)."""
        return [r for r in self.snapshot() if r.method not in ("GET", "HEAD", "OPTIONS")]
