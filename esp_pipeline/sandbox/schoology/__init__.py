"""Sandbox Schoology server: an in-process emulation of Schoology REST API v1 over HTTP.

    sandbox = SchoologySandbox(SchoologyConfig(consumer_key="ck", consumer_secret="cs"),
                               buildings=[{"title": "City High School", "building_code": "02M800"}])
    with sandbox.serve(port=0) as server:
        api_base = server.url + "/v1"

Requests must carry a two-legged OAuth 1.0a header (HMAC-SHA1 or PLAINTEXT) for the configured
key. `sandbox.state` contains the records and returns copies of them for tests.
`sandbox.request_log` records every request with its route template, status, latency and item count.

IDs are deterministic. Every kind of object has its own counter, and an id is the kind's base
number plus the counter, starting at base + 1:

    school/building  2908525000  the district school is 2908525001, then one id per building,
                                 in the order of `buildings`
    role             796381000   Student, Teacher, Parent, School Admin: 796381001 to 796381004
    user             3100000000  the API key's admin is 3100000001
    course           2941242000
    section          2942191000
    enrollment       2385759000
    grading period   822639000
    grade item       2942237000  assignments, discussions and assessments share this counter
    grading category 38619000
    grading scale    96033000

So the same constructor arguments give the same organisation ids, and the same requests sent in
the same order give the same object ids. Ids are never reused after a delete.

Grades carry Unix timestamps from `state.clock`. `SchoologyConfig.clock_start` freezes that clock
at a given time, and `state.advance_clock(seconds)` moves it forward. For tests and benchmarks,
`state.seed_gradebook(section_id, categories=..., assignments=..., grades=...)` creates a
section's gradebook in one call, and `state.seed_grades` adds grades to it.
"""

from __future__ import annotations

from typing import Iterable

from ..faults import FaultInjector
from ..httpserver import SandboxServer
from ..oauth1 import Consumer, OAuth1Verifier
from ..traffic import RequestLog, TokenBucket
from .app import create_app
from .config import SchoologyConfig
from .errors import ApiError
from .ids import ID_BASES
from .state import SchoologyState


class SchoologySandbox:
    """One sandbox tenant: configuration, state, OAuth verifier, rate limiter and request log.

    State lives in this object, not in a server, so it persists across `serve()` calls.
    """

    def __init__(
        self, config: SchoologyConfig | None = None, buildings: Iterable[dict] = ()
    ) -> None:
        self.config = config or SchoologyConfig()
        self.state = SchoologyState(self.config, buildings)
        self.verifier = OAuth1Verifier(
            consumers={
                self.config.consumer_key: Consumer(
                    self.config.consumer_key,
                    self.config.consumer_secret,
                    signature_methods=tuple(self.config.signature_methods),
                )
            },
            past_window_seconds=self.config.oauth_past_window_seconds,
            future_window_seconds=self.config.oauth_future_window_seconds,
            monotonic_timestamps=self.config.monotonic_timestamps,
        )
        self.rate_limiter = TokenBucket(
            capacity=self.config.rate_limit_capacity,
            refill_seconds=self.config.rate_limit_refill_seconds,
        )
        self.request_log = RequestLog()
        self.app = create_app(self)
        self.faults = FaultInjector(self.app, api="schoology", request_log=self.request_log)

    def serve(self, port: int = 0, host: str = "127.0.0.1") -> SandboxServer:
        """Return a server for this sandbox; use it as a context manager to run it."""
        return SandboxServer(self.faults, name="schoology", host=host, port=port)


__all__ = ["ApiError", "ID_BASES", "SchoologyConfig", "SchoologySandbox", "SchoologyState"]
