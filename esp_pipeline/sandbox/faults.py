"""Seeded, reproducible fault injection for the sandbox servers, as WSGI middleware.

Both sandboxes serve their Flask app through a `FaultInjector`, exposed as `sandbox.faults`:

    sandbox.faults.add(FaultRule("status", method="POST", route="/v1/users*", status=503, times=2))
    ...  # run the client under test
    assert [fault.kind for fault in sandbox.faults.injected] == ["status", "status"]
    sandbox.faults.clear()

A rule matches a request by method and path, and then its schedule decides whether it fires.
By default it fires on every match. `every` makes it fire on every Nth match, and `probability`
draws from a random generator seeded by the injector's seed and the rule's position. `after`
skips the first matches and `times` caps how often the rule fires. The same seed, rules and
request sequence give the same faults. When requests arrive concurrently, their arrival order
is the sequence.

Kinds of fault, and what the client sees:

    status                 an error status (429 with Retry-After, 500, 502, 503) with the API's
                           error body; the app never sees the request, so nothing changes
    status_after           the app handles the request, then the client gets a 5xx instead
    drop_connection        the socket closes without a response; the app never sees the request
    drop_connection_after  the app handles the request, then the socket closes without a response
    slow                   the app handles the request, then the response waits `seconds`
    short_page             a list page loses its last `rows` rows; totals, links and the
                           X-Total-Count and Link headers stay as they were
    truncated_body         only a share of the body bytes is sent, then the socket closes
    bulk_item_failure      chosen items of a Schoology bulk POST or PUT are removed before the
                           app sees them, and failed results for them are spliced into the
                           response in input order

At most one fault applies to a request: the first rule, in the order added, that fires. Every
rule that matches the request counts it, whether or not an earlier rule fired.
"""

from __future__ import annotations

import argparse
import fnmatch
import http
import io
import json
import logging
import math
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any, NoReturn

from esp_pipeline.sandbox.traffic import RequestLog, RequestRecord

log = logging.getLogger(__name__)

KINDS = (
    "status",
    "status_after",
    "drop_connection",
    "drop_connection_after",
    "slow",
    "short_page",
    "truncated_body",
    "bulk_item_failure",
)
APIS = ("schoology", "eschoolplus")
# Fields a Schoology bulk result copies from its input item so the caller can tell which item
# failed: users carry school_uid, courses course_code, sections section_school_code and
# section_code, enrollments uid, and PUT items also carry id.
BULK_KEY_FIELDS = ("id", "uid", "school_uid", "course_code", "section_code", "section_school_code")


# --- rules ------------------------------------------------------------------------------------


@dataclass
class FaultRule:
    """One fault and the requests it applies to.

    `route` is a glob on the request path (`*` also matches `/`), or a regular expression when
    it starts with `^`. The query string is not part of the path.

    Schedule: `after` skips the first matching requests. After those, the rule fires on every
    match, on every `every`th match, or with `probability` per match, and `times` caps the
    number of firings. `every` and `probability` exclude each other.

    Kind settings (the others are ignored):
        status, status_after   `status` (400-599; status_after needs 5xx), `message`, and
                               `retry_after` seconds for a 429
        slow                   `seconds` to wait before the response
        short_page             `rows` removed from the end of the page (GET requests only)
        truncated_body         `body_share`, the share of body bytes sent. With `full_length`
                               the Content-Length header announces the whole body, so the
                               client sees the connection close early. Without it the header
                               announces the cut length, so only the JSON is broken.
        bulk_item_failure      `count` items, or `share` of the items (rounded, at least one),
                               fail with `response_code` and `message` (only a POST or PUT
                               whose body is `{plural: {singular: [...]}}`)
    """

    kind: str
    method: str = "*"
    route: str = "*"
    times: int | None = None
    every: int | None = None
    probability: float | None = None
    after: int = 0
    status: int = 503
    retry_after: int = 1
    message: str | None = None
    seconds: float = 2.0
    rows: int = 1
    body_share: float = 0.5
    full_length: bool = True
    count: int = 1
    share: float | None = None
    response_code: int = 500
    _pattern: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"invalid fault kind {self.kind!r}: expected one of {', '.join(KINDS)}"
            )
        self.method = self.method.upper()
        self._pattern = compile_route(self.route)
        self._check_schedule()
        self._check_kind_settings()

    def _check_schedule(self) -> None:
        if self.times is not None and self.times < 1:
            raise ValueError(f"invalid times {self.times}: expected at least 1")
        if self.every is not None and self.every < 1:
            raise ValueError(f"invalid every {self.every}: expected at least 1")
        if self.probability is not None and not 0 < self.probability <= 1:
            raise ValueError(
                f"invalid probability {self.probability}: expected more than 0, at most 1"
            )
        if self.every is not None and self.probability is not None:
            raise ValueError("invalid schedule: set every or probability, not both")
        if self.after < 0:
            raise ValueError(f"invalid after {self.after}: expected 0 or more")

    def _check_kind_settings(self) -> None:
        if self.kind == "status" and not 400 <= self.status <= 599:
            raise ValueError(f"invalid status {self.status} for a status fault: expected 400-599")
        if self.kind == "status_after" and not 500 <= self.status <= 599:
            raise ValueError(
                f"invalid status {self.status} for a status_after fault: expected 500-599"
            )
        if self.retry_after < 0:
            raise ValueError(f"invalid retry_after {self.retry_after}: expected seconds, 0 or more")
        if self.seconds < 0:
            raise ValueError(f"invalid seconds {self.seconds}: expected 0 or more")
        if self.rows < 1:
            raise ValueError(f"invalid rows {self.rows}: expected at least 1")
        if not 0 <= self.body_share < 1:
            raise ValueError(f"invalid body_share {self.body_share}: expected at least 0, below 1")
        if self.count < 1:
            raise ValueError(f"invalid count {self.count}: expected at least 1")
        if self.share is not None and not 0 < self.share <= 1:
            raise ValueError(f"invalid share {self.share}: expected more than 0, at most 1")
        if not 100 <= self.response_code <= 599:
            raise ValueError(f"invalid response_code {self.response_code}: expected 100-599")

    def matches(self, method: str, path: str) -> bool:
        """Return whether the request's method and path fall under this rule."""
        if self.method != "*" and self.method != method.upper():
            return False
        return self._pattern.match(path) is not None


def compile_route(route: str) -> re.Pattern:
    """Compile a route glob, or a regular expression when `route` starts with `^`.

    A glob must match the whole path. A regular expression must match from the start of the
    path, and matches the whole path only when it ends with `$`.
    """
    if route.startswith("^"):
        try:
            return re.compile(route)
        except re.error as err:
            raise ValueError(f"invalid route regular expression {route!r}: {err}") from None
    # fnmatch.translate anchors the pattern at the end with \Z.
    return re.compile(fnmatch.translate(route))


@dataclass(frozen=True)
class InjectedFault:
    """One fault that a request received.

    `request` numbers the requests the injector has seen since the last reset, from 1. `status`
    is the status the client was sent, or None when the connection closed without a response.
    `detail` carries kind-specific facts, such as the failed bulk item positions.
    """

    kind: str
    method: str
    path: str
    timestamp: float
    rule: int
    request: int
    status: int | None
    detail: dict = field(default_factory=dict)


@dataclass
class _RuleState:
    rule: FaultRule
    rng: random.Random
    matches: int = 0
    fired: int = 0

    def should_fire(self) -> bool:
        """Count one matching request and decide whether the rule fires on it.

        The caller counts a firing in `fired` only when it applies the fault.
        """
        self.matches += 1
        rule = self.rule
        position = self.matches - rule.after
        if position < 1:
            return False
        # Draw for every counted match, so the sequence of draws depends only on the requests.
        draw = self.rng.random() if rule.probability is not None else None
        if rule.times is not None and self.fired >= rule.times:
            return False
        if rule.every is not None and position % rule.every != 0:
            return False
        return draw is None or draw < rule.probability


@dataclass
class _Decision:
    index: int
    rule: FaultRule
    request: int
    failed_items: list[int] = field(default_factory=list)


@dataclass
class _BulkBody:
    """A Schoology bulk body `{plural: {singular: [...]}}` and its items."""

    body: dict
    plural: str
    singular: str
    items: list[Any]


@dataclass
class _BufferedResponse:
    status: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def status_code(self) -> int:
        return int(self.status.split(None, 1)[0])


# --- the middleware ---------------------------------------------------------------------------


class FaultInjector:
    """WSGI middleware that applies the fault rules of `plan` to the requests it passes on.

    `api` selects the error body: Schoology's `{"response_code", "message"}` or eSchoolPLUS's
    OneRoster `statusInfoSet`. When `request_log` is given, a request that never reached the app
    (`status`, `drop_connection`, or a bulk request whose items all failed) gets a record there
    with route `<fault:KIND>` and status 0 for a closed connection. Requests that reached
    the app keep the app's own record, which shows the app's status, not the injected one.
    """

    def __init__(
        self,
        app: Callable,
        plan: Iterable[FaultRule] = (),
        seed: int = 0,
        *,
        api: str = "schoology",
        request_log: RequestLog | None = None,
    ) -> None:
        if api not in APIS:
            raise ValueError(f"invalid api {api!r}: expected one of {', '.join(APIS)}")
        self.app = app
        self.api = api
        self.request_log = request_log
        self._seed = seed
        self._lock = threading.Lock()
        self._states: list[_RuleState] = []
        self._injected: list[InjectedFault] = []
        self._requests = 0
        for rule in plan:
            self.add(rule)

    # -- public control --------------------------------------------------------------------------

    @property
    def seed(self) -> int:
        return self._seed

    @seed.setter
    def seed(self, value: int) -> None:
        """Set the seed and reset every rule's counters and random generator."""
        self._seed = value
        self.reset()

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return [state.rule for state in self._states]

    @property
    def injected(self) -> list[InjectedFault]:
        """A copy of the faults injected since the last reset, in the order applied."""
        with self._lock:
            return list(self._injected)

    def add(self, rule: FaultRule) -> FaultRule:
        """Append `rule` to the plan, so it applies from the next request on."""
        with self._lock:
            self._states.append(_RuleState(rule, self._rule_rng(len(self._states))))
        log.info("fault rule added to the %s sandbox: %s", self.api, rule)
        return rule

    def clear(self) -> None:
        """Remove every rule, forget the injected faults and restart the request count."""
        with self._lock:
            self._states.clear()
            self._injected.clear()
            self._requests = 0

    def reset(self) -> None:
        """Keep the rules but restart their counters, random generators and the request count,
        and forget the injected faults."""
        with self._lock:
            self._states = [
                _RuleState(state.rule, self._rule_rng(index))
                for index, state in enumerate(self._states)
            ]
            self._injected.clear()
            self._requests = 0

    def _rule_rng(self, index: int) -> random.Random:
        # random.Random turns a string seed into an integer from its bytes and SHA-512 digest,
        # not from hash(), so the sequence does not depend on PYTHONHASHSEED.
        return random.Random(f"{self._seed}:{index}")

    # -- WSGI ------------------------------------------------------------------------------------

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "")
        bulk = self._read_bulk_body(environ, method, path)
        decision = self._decide(method, path, bulk)
        if decision is None:
            return self.app(environ, start_response)
        rule = decision.rule
        log.info(
            "injecting %s fault into %s %s (rule %d, request %d)",
            rule.kind, method, path, decision.index, decision.request,
        )
        handler = getattr(self, f"_apply_{rule.kind}")
        return handler(decision, environ, start_response, bulk)

    def _decide(self, method: str, path: str, bulk: _BulkBody | None) -> _Decision | None:
        with self._lock:
            self._requests += 1
            chosen: _Decision | None = None
            for index, state in enumerate(self._states):
                rule = state.rule
                if not rule.matches(method, path):
                    continue
                if rule.kind == "short_page" and method != "GET":
                    continue
                if rule.kind == "bulk_item_failure" and bulk is None:
                    continue
                if state.should_fire() and chosen is None:
                    state.fired += 1
                    chosen = _Decision(index, rule, self._requests)
                    if rule.kind == "bulk_item_failure":
                        chosen.failed_items = _choose_items(rule, len(bulk.items), state.rng)
            return chosen

    def _record(
        self,
        decision: _Decision,
        environ: dict,
        status: int | None,
        detail: dict | None = None,
        *,
        log_request: bool = False,
        started: float | None = None,
    ) -> None:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "")
        fault = InjectedFault(
            kind=decision.rule.kind,
            method=method,
            path=path,
            timestamp=time.time(),
            rule=decision.index,
            request=decision.request,
            status=status,
            detail=detail or {},
        )
        with self._lock:
            self._injected.append(fault)
        if log_request and self.request_log is not None:
            latency = (time.perf_counter() - started) * 1000 if started is not None else 0.0
            self.request_log.add(
                RequestRecord(
                    method=method,
                    route=f"<fault:{decision.rule.kind}>",
                    path=path,
                    status=status or 0,
                    latency_ms=latency,
                    items=0,
                    consumer_key=None,
                )
            )

    # -- kinds applied instead of the app ------------------------------------------------------

    def _apply_status(self, decision, environ, start_response, bulk) -> Iterable[bytes]:
        rule = decision.rule
        self._record(decision, environ, rule.status, log_request=True)
        return self._send_error(start_response, rule)

    def _apply_drop_connection(self, decision, environ, start_response, bulk) -> Iterable[bytes]:
        _read_body(environ)
        self._record(decision, environ, None, log_request=True)
        _close_connection(environ)

    # -- kinds applied around the app ----------------------------------------------------------

    def _apply_status_after(self, decision, environ, start_response, bulk) -> Iterable[bytes]:
        response = _run_app(self.app, environ)
        rule = decision.rule
        self._record(decision, environ, rule.status, {"app_status": response.status_code})
        return self._send_error(start_response, rule)

    def _apply_drop_connection_after(
        self, decision, environ, start_response, bulk
    ) -> Iterable[bytes]:
        response = _run_app(self.app, environ)
        self._record(decision, environ, None, {"app_status": response.status_code})
        _close_connection(environ)

    def _apply_slow(self, decision, environ, start_response, bulk) -> Iterable[bytes]:
        response = _run_app(self.app, environ)
        seconds = decision.rule.seconds
        self._record(decision, environ, response.status_code, {"seconds": seconds})
        time.sleep(seconds)
        start_response(response.status, response.headers)
        return [response.body]

    def _apply_short_page(self, decision, environ, start_response, bulk) -> Iterable[bytes]:
        response = _run_app(self.app, environ)
        body, removed = _shorten_page(response, decision.rule.rows)
        self._record(decision, environ, response.status_code, {"rows_removed": removed})
        if removed == 0:
            log.warning(
                "short_page fault on %s found no rows to remove in the %d response, "
                "so it is sent unchanged",
                environ.get("PATH_INFO", ""), response.status_code,
            )
        headers = _replace_header(response.headers, "Content-Length", str(len(body)))
        start_response(response.status, headers)
        return [body]

    def _apply_truncated_body(self, decision, environ, start_response, bulk) -> Iterable[bytes]:
        response = _run_app(self.app, environ)
        rule = decision.rule
        sent_bytes = int(len(response.body) * rule.body_share)
        self._record(
            decision,
            environ,
            response.status_code,
            {"bytes_sent": sent_bytes, "bytes_total": len(response.body)},
        )
        announced = len(response.body) if rule.full_length else sent_bytes
        start_response(
            response.status, _replace_header(response.headers, "Content-Length", str(announced))
        )
        return _send_then_close(response.body[:sent_bytes], environ)

    def _apply_bulk_item_failure(
        self, decision, environ, start_response, bulk: _BulkBody
    ) -> Iterable[bytes]:
        rule = decision.rule
        failed = set(decision.failed_items)
        kept_items = [item for position, item in enumerate(bulk.items) if position not in failed]
        detail = {"failed_items": sorted(failed), "items": len(bulk.items)}
        if not kept_items:
            # The app rejects an empty bulk body, so the injector builds the whole response.
            started = time.perf_counter()
            results = [_failed_result(item, rule) for item in bulk.items]
            self._record(decision, environ, 207, detail, log_request=True, started=started)
            return _send_json(start_response, 207, _bulk_response_body(bulk, results))

        body = {**bulk.body, bulk.plural: {bulk.singular: kept_items}}
        _set_body(environ, json.dumps(body, ensure_ascii=False).encode("utf-8"))
        response = _run_app(self.app, environ)
        spliced = _splice_results(response, bulk, failed, rule)
        detail["spliced"] = spliced is not None
        self._record(decision, environ, response.status_code, detail)
        if spliced is None:
            log.warning(
                "bulk_item_failure fault on %s %s failed to splice failed results into the %d "
                "response, so it is sent unchanged. The removed items were not applied.",
                environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"), response.status_code,
            )
            start_response(response.status, response.headers)
            return [response.body]
        headers = _replace_header(response.headers, "Content-Length", str(len(spliced)))
        start_response(response.status, headers)
        return [spliced]

    # -- helpers -------------------------------------------------------------------------------

    def _read_bulk_body(self, environ: dict, method: str, path: str) -> _BulkBody | None:
        """Read and parse the body when a bulk_item_failure rule could apply to this request."""
        if method not in ("POST", "PUT"):
            return None
        with self._lock:
            applicable = any(
                state.rule.kind == "bulk_item_failure" and state.rule.matches(method, path)
                for state in self._states
            )
        if not applicable:
            return None
        return _parse_bulk_body(_read_body(environ))

    def _send_error(self, start_response: Callable, rule: FaultRule) -> Iterable[bytes]:
        message = rule.message or _default_message(rule)
        if self.api == "schoology":
            body = {"response_code": rule.status, "message": message}
        else:
            # Imported here because the eSchoolPLUS package imports this module.
            from esp_pipeline.sandbox.eschoolplus.errors import status_info_set

            body = status_info_set(_eschoolplus_code_minor(rule.status), message)
        headers = {"Retry-After": str(rule.retry_after)} if rule.status == 429 else {}
        return _send_json(start_response, rule.status, body, headers)


# --- WSGI helpers -----------------------------------------------------------------------------


def _read_body(environ: dict) -> bytes:
    """Read the whole request body and put it back as a seekable stream for the app."""
    stream = environ.get("wsgi.input")
    if isinstance(stream, io.BytesIO):
        return stream.getvalue()
    if stream is None:
        body = b""
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        length = environ.get("CONTENT_LENGTH") or "0"
        body = stream.read(int(length)) if length.isdigit() else b""
    _set_body(environ, body)
    return body


def _set_body(environ: dict, body: bytes) -> None:
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


def _run_app(app: Callable, environ: dict) -> _BufferedResponse:
    """Call the app and collect its whole response."""
    captured: dict[str, Any] = {}
    chunks: list[bytes] = []

    def start_response(status, headers, exc_info=None):
        captured["status"] = status
        captured["headers"] = list(headers)
        return chunks.append

    iterable = app(environ, start_response)
    try:
        for chunk in iterable:
            chunks.append(chunk)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    return _BufferedResponse(captured["status"], captured["headers"], b"".join(chunks))


def _send_json(
    start_response: Callable, status: int, body: Any, headers: dict[str, str] | None = None
) -> list[bytes]:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    header_list = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    header_list += list((headers or {}).items())
    start_response(f"{status} {http.HTTPStatus(status).phrase}", header_list)
    return [data]


def _replace_header(headers: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    others = [(key, old) for key, old in headers if key.lower() != name.lower()]
    return others + [(name, value)]


def _close_connection(environ: dict) -> NoReturn:
    """Shut the client socket down and raise, so the server sends nothing more.

    Werkzeug's development server passes the socket as `werkzeug.socket` and treats a
    ConnectionError from the app as a dropped connection: it writes nothing and logs nothing.
    The client then reads end-of-file where the response should start.
    """
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        _shutdown(sock)
    # NOTE: without `werkzeug.socket` (another WSGI server) only the exception remains, and
    # what the client sees depends on that server.
    raise ConnectionAbortedError("connection closed by a sandbox fault rule")


def _send_then_close(data: bytes, environ: dict) -> Iterator[bytes]:
    yield data
    # Werkzeug has written and flushed `data` before it requests the next chunk.
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError as err:
        log.debug("socket shutdown failed (client already gone?): %s", err)


# --- error bodies -----------------------------------------------------------------------------


def _default_message(rule: FaultRule) -> str:
    if rule.status == 429:
        return f"rate limit exceeded: retry after {rule.retry_after} seconds"
    return f"{http.HTTPStatus(rule.status).phrase} (injected by a sandbox fault rule)"


def _eschoolplus_code_minor(status: int) -> str:
    """Pick the statusInfoSet codeMinor the eSchoolPLUS sandbox uses for `status`."""
    if status in (429, 503):
        return "server_busy"
    if status >= 500:
        return "internal_server_error"
    return "invalid_data"


# --- short pages ------------------------------------------------------------------------------


def _shorten_page(response: _BufferedResponse, rows: int) -> tuple[bytes, int]:
    """Remove the last `rows` rows of the first list in a JSON object body.

    Both APIs put the page's rows in the first top-level list: Schoology next to `total` and
    `links`, eSchoolPLUS as the only key. Returns the body and how many rows were removed.
    """
    if not 200 <= response.status_code < 300:
        return response.body, 0
    try:
        body = json.loads(response.body)
    except ValueError:
        return response.body, 0
    if not isinstance(body, dict):
        return response.body, 0
    for key, value in body.items():
        if isinstance(value, list):
            removed = min(rows, len(value))
            if removed == 0:
                return response.body, 0
            body[key] = value[: len(value) - removed]
            return json.dumps(body, ensure_ascii=False).encode("utf-8"), removed
    return response.body, 0


# --- bulk items -------------------------------------------------------------------------------


def _parse_bulk_body(raw: bytes) -> _BulkBody | None:
    """Parse a Schoology bulk body `{plural: {singular: [...]}}` with at least one item, or
    return None for any other body."""
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        return None
    if not isinstance(body, dict) or len(body) != 1:
        return None
    plural, wrapper = next(iter(body.items()))
    if not isinstance(wrapper, dict) or len(wrapper) != 1:
        return None
    singular, items = next(iter(wrapper.items()))
    if not isinstance(items, list) or not items:
        return None
    return _BulkBody(body, plural, singular, items)


def _choose_items(rule: FaultRule, total: int, rng: random.Random) -> list[int]:
    if rule.share is not None:
        failing = max(1, round(rule.share * total))
    else:
        failing = rule.count
    return sorted(rng.sample(range(total), min(failing, total)))


def _failed_result(item: Any, rule: FaultRule) -> dict:
    result: dict[str, Any] = {"response_code": rule.response_code}
    if isinstance(item, dict):
        for name in BULK_KEY_FIELDS:
            if name in item:
                result[name] = item[name]
    result["message"] = rule.message or "internal server error: the item was not saved"
    return result


def _bulk_response_body(bulk: _BulkBody, results: list[dict]) -> dict:
    # Schoology returns enrollment results wrapped like the request, other kinds as a bare list.
    if bulk.plural == "enrollments":
        return {bulk.plural: {bulk.singular: results}}
    return {bulk.singular: results}


def _splice_results(
    response: _BufferedResponse, bulk: _BulkBody, failed: set[int], rule: FaultRule
) -> bytes | None:
    """Insert failed results at their input positions among the app's results.

    Returns the new body, or None unless the response contains a result list of the expected
    length.
    """
    if not 200 <= response.status_code < 300:
        return None
    try:
        body = json.loads(response.body)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    container = body
    if not isinstance(body.get(bulk.singular), list):
        container = body.get(bulk.plural)
        if not isinstance(container, dict) or not isinstance(container.get(bulk.singular), list):
            return None
    app_results = container[bulk.singular]
    if len(app_results) != len(bulk.items) - len(failed):
        return None
    remaining = iter(app_results)
    merged = []
    for position, item in enumerate(bulk.items):
        if position in failed:
            merged.append(_failed_result(item, rule))
        else:
            merged.append(next(remaining))
    container[bulk.singular] = merged
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


# --- command-line specs -----------------------------------------------------------------------

# The value after `KIND=` in a spec sets this field.
_KIND_VALUE_FIELDS = {
    "status": "status",
    "status_after": "status",
    "slow": "seconds",
    "short_page": "rows",
    "truncated_body": "body_share",
    "bulk_item_failure": "count",
}
_SPEC_FIELDS = {
    "times": int,
    "every": int,
    "probability": float,
    "after": int,
    "status": int,
    "retry_after": int,
    "message": str,
    "seconds": float,
    "rows": int,
    "body_share": float,
    "full_length": "bool",
    "count": int,
    "share": float,
    "response_code": int,
}
FAULT_SPEC_HELP = (
    "inject a fault; repeat for more rules. SPEC is "
    "SANDBOX:METHOD:ROUTE:KIND[=VALUE][:OPTION=VALUE...], where SANDBOX is schoology or "
    "eschoolplus, METHOD is an HTTP method or *, and ROUTE is a glob on the request path "
    "(* also matches /) or a regular expression starting with ^; ROUTE must not contain ':'. "
    "KIND is status=STATUS, status_after=STATUS, drop_connection, drop_connection_after, "
    "slow=SECONDS, short_page=ROWS, truncated_body=SHARE_OF_BYTES or bulk_item_failure=COUNT. "
    "OPTIONs: times=N (fire at most N times), every=N (every Nth match), probability=P, "
    "after=N (skip the first N matches), retry_after=SECONDS (for status=429), message=TEXT, "
    "share=FRACTION and response_code=CODE (bulk_item_failure), full_length=true|false "
    "(truncated_body). Example: schoology:POST:/v1/users*:status=503:times=2"
)


def parse_fault_spec(spec: str) -> tuple[str, FaultRule]:
    """Parse `SANDBOX:METHOD:ROUTE:KIND[=VALUE][:OPTION=VALUE...]` into a sandbox name and rule.

    Raises ValueError that names the part of the spec that is invalid.
    """
    parts = spec.split(":")
    if len(parts) < 4:
        raise ValueError(
            f"invalid fault spec {spec!r}: "
            "expected SANDBOX:METHOD:ROUTE:KIND[=VALUE][:OPTION=VALUE...]"
        )
    sandbox, method, route, kind_part, *options = parts
    if sandbox not in APIS:
        raise ValueError(
            f"invalid sandbox {sandbox!r} in fault spec {spec!r}: expected {' or '.join(APIS)}"
        )
    if method != "*" and not re.fullmatch(r"[A-Za-z]+", method):
        raise ValueError(f"invalid method {method!r} in fault spec {spec!r}: expected a word or *")
    if not route:
        raise ValueError(f"missing route in fault spec {spec!r}: use * for every path")
    kind, has_value, kind_value = kind_part.partition("=")
    if kind not in KINDS:
        raise ValueError(
            f"invalid fault kind {kind!r} in fault spec {spec!r}: "
            f"expected one of {', '.join(KINDS)}"
        )
    settings: dict[str, Any] = {}
    if has_value:
        target = _KIND_VALUE_FIELDS.get(kind)
        if target is None:
            raise ValueError(f"invalid fault spec {spec!r}: {kind} takes no value")
        settings[target] = _convert_option(target, kind_value, spec)
    for option in options:
        name, has_equals, raw = option.partition("=")
        if not has_equals or name not in _SPEC_FIELDS:
            raise ValueError(
                f"invalid option {option!r} in fault spec {spec!r}: expected NAME=VALUE with NAME "
                f"one of {', '.join(_SPEC_FIELDS)}"
            )
        settings[name] = _convert_option(name, raw, spec)
    try:
        rule = FaultRule(kind=kind, method=method, route=route, **settings)
    except ValueError as err:
        raise ValueError(f"invalid fault spec {spec!r}: {err}") from None
    return sandbox, rule


def _convert_option(name: str, raw: str, spec: str) -> Any:
    converter = _SPEC_FIELDS[name]
    if converter == "bool":
        lowered = raw.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"invalid {name}={raw!r} in fault spec {spec!r}: expected true or false")
    try:
        value = converter(raw)
    except ValueError:
        expected = "a whole number" if converter is int else "a number"
        raise ValueError(
            f"invalid {name}={raw!r} in fault spec {spec!r}: expected {expected}"
        ) from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"invalid {name}={raw!r} in fault spec {spec!r}: expected a finite number")
    return value


def _fault_spec_argument(spec: str) -> tuple[str, FaultRule]:
    try:
        return parse_fault_spec(spec)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_fault_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `--fault` and `--fault-seed` to an argument parser."""
    parser.add_argument(
        "--fault",
        dest="faults",
        action="append",
        default=[],
        type=_fault_spec_argument,
        metavar="SPEC",
        help=FAULT_SPEC_HELP,
    )
    parser.add_argument(
        "--fault-seed",
        type=int,
        default=0,
        help="seed of the fault rules' random choices (default %(default)s)",
    )


def install_faults(args: argparse.Namespace, sandboxes: Any) -> list[str]:
    """Seed both sandboxes' injectors from `args` and add the parsed `--fault` rules.

    `sandboxes` has `eschoolplus` and `schoology` attributes. Returns one line per rule.
    """
    injectors = {name: getattr(sandboxes, name).faults for name in APIS}
    for injector in injectors.values():
        injector.seed = args.fault_seed
    lines = []
    for sandbox, rule in args.faults:
        injectors[sandbox].add(rule)
        lines.append(f"{sandbox}: {describe_rule(rule)}")
    return lines


def describe_rule(rule: FaultRule) -> str:
    """Write a rule as its kind's value and other non-default fields, for example
    `status POST /v1/users* status=503 times=2`."""
    defaults = FaultRule(kind=rule.kind)
    kind_value = _KIND_VALUE_FIELDS.get(rule.kind)
    changed = [f"{kind_value}={getattr(rule, kind_value)}"] if kind_value else []
    changed += [
        f"{item.name}={getattr(rule, item.name)}"
        for item in fields(rule)
        if item.init
        and item.name not in ("kind", "method", "route", kind_value)
        and getattr(rule, item.name) != getattr(defaults, item.name)
    ]
    return " ".join([rule.kind, rule.method, rule.route, *changed])
