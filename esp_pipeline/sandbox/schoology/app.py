"""Flask application factory of the sandbox Schoology server.

Every request passes, in order: OAuth 1.0a verification (401 on failure), the per-key rate
limit (429 with Retry-After), the X-Schoology-Run-As check (403), then its route. Every response
carries `X-Schoology: API` and lands in the sandbox's request log.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from ..oauth1 import request_uris
from ..traffic import RequestRecord, retry_after_header
from .errors import ApiError
from .protocol import error_response, sandbox_state
from .routes_courses import courses_api
from .routes_enrollments import enrollments_api
from .routes_gradebook import gradebook_api
from .routes_grades import grades_api
from .routes_org import org_api
from .routes_users import users_api
from .values import as_int

if TYPE_CHECKING:
    from . import SchoologySandbox

log = logging.getLogger(__name__)

READ_METHODS = ("GET", "HEAD", "OPTIONS")


def create_app(sandbox: "SchoologySandbox") -> Flask:
    """Build the WSGI app that serves `sandbox` under /v1/."""
    app = Flask(__name__, static_folder=None)
    app.config["SCHOOLOGY_CONFIG"] = sandbox.config
    app.extensions["schoology_sandbox"] = sandbox
    app.json.sort_keys = False
    app.url_map.strict_slashes = False
    for blueprint in (org_api, users_api, courses_api, enrollments_api, gradebook_api, grades_api):
        app.register_blueprint(blueprint, url_prefix="/v1")

    app.before_request(_start_request)
    app.before_request(_authenticate)
    app.before_request(_apply_rate_limit)
    app.before_request(_apply_run_as)
    app.after_request(_finish_request)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app


def _sandbox() -> "SchoologySandbox":
    return current_app.extensions["schoology_sandbox"]


_ROUTE_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def route_template(rule: str) -> str:
    """Write a Flask rule as the log's route template, e.g. `/v1/users/<id>`.

    Converters are dropped, an enrollment id becomes `<eid>`, a school_uid stays as it is and
    every other id becomes `<id>`.
    """

    def rename(match: re.Match) -> str:
        name = match.group(1)
        if name == "enrollment_id":
            return "<eid>"
        if name == "school_uid":
            return "<school_uid>"
        return "<id>"

    return _ROUTE_VARIABLE.sub(rename, rule)


def _start_request() -> None:
    g.started = time.perf_counter()
    g.items = 0
    g.consumer_key = None
    g.run_as_uid = None


def _received_url() -> str:
    """Rebuild the URL as the client addressed it, ignoring the Host header.

    A client may connect to 127.0.0.1:port while sending `Host: api.schoology.com` (schoolopy
    does), and it may have signed either name, so both are offered to the verifier.
    """
    environ = request.environ
    raw_path = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not raw_path:
        raw_path = request.full_path if request.query_string else request.path
    host = environ.get("SERVER_NAME", "127.0.0.1")
    port = environ.get("SERVER_PORT")
    default_port = "443" if request.scheme == "https" else "80"
    netloc = host if not port or port == default_port else f"{host}:{port}"
    return f"{request.scheme}://{netloc}{raw_path}"


def _authenticate() -> Response | None:
    sandbox = _sandbox()
    uris = request_uris(_received_url(), request.headers.get("Host"), scheme=request.scheme)
    result = sandbox.verifier.verify(uris, request.method, dict(request.headers))
    g.consumer_key = result.consumer_key
    if not result.ok:
        log.info(
            "rejected %s %s with 401: %s (consumer key %s)",
            request.method,
            request.path,
            result.reason,
            result.consumer_key,
        )
        return error_response(401, result.reason)
    return None


def _apply_rate_limit() -> Response | None:
    sandbox = _sandbox()
    cfg = sandbox.config
    cost = cfg.rate_limit_read_cost if request.method in READ_METHODS else cfg.rate_limit_write_cost
    wait = sandbox.rate_limiter.take(g.consumer_key, cost)
    if wait <= 0:
        return None
    retry_after = retry_after_header(wait)
    log.info("rate limited %s %s; retry after %s s", request.method, request.path, retry_after)
    response = error_response(
        429, f"rate limit exceeded: retry after {retry_after} seconds"
    )
    response.headers["Retry-After"] = retry_after
    return response


def _apply_run_as() -> Response | None:
    header = request.headers.get("X-Schoology-Run-As")
    if header is None:
        return None
    cfg = _sandbox().config
    if not cfg.run_as_enabled:
        return error_response(403, "X-Schoology-Run-As is not enabled for this API key")
    state = sandbox_state()
    try:
        uid = as_int(header, "X-Schoology-Run-As")
    except ApiError:
        return error_response(
            403, f"invalid X-Schoology-Run-As {header!r}: expected a numeric Schoology user id"
        )
    with state.lock:
        try:
            state.get_active_user(uid)
        except ApiError:
            return error_response(403, f"invalid X-Schoology-Run-As {uid}: no such active user")
        is_admin = state.is_admin_user(uid)
    if request.method not in READ_METHODS and cfg.run_as_read_only_for_non_admins and not is_admin:
        return error_response(403, f"user {uid} is not permitted to make this change")
    g.run_as_uid = uid
    return None


def _finish_request(response: Response) -> Response:
    response.headers["X-Schoology"] = "API"
    started = getattr(g, "started", None)
    latency_ms = (time.perf_counter() - started) * 1000 if started is not None else 0.0
    rule = route_template(request.url_rule.rule) if request.url_rule else "<unmatched>"
    _sandbox().request_log.add(
        RequestRecord(
            method=request.method,
            route=rule,
            path=request.path,
            status=response.status_code,
            latency_ms=latency_ms,
            items=getattr(g, "items", 0),
            consumer_key=getattr(g, "consumer_key", None),
        )
    )
    return response


def _api_error(err: ApiError) -> Response:
    log.info("%s %s failed with %s: %s", request.method, request.path, err.status, err.message)
    return error_response(err.status, err.message)


def _http_error(err: HTTPException) -> Response:
    status = err.code or 500
    log.info("%s %s failed with %s: %s", request.method, request.path, status, err.name)
    if status == 404:
        message = f"not found: {request.method} {request.path} matches no Schoology resource"
    else:
        message = err.description or err.name
    response = error_response(status, message)
    if status == 405 and err.get_response().headers.get("Allow"):
        response.headers["Allow"] = err.get_response().headers["Allow"]
    return response


def _unexpected_error(err: Exception) -> Response:
    log.exception("sandbox Schoology failed on %s %s", request.method, request.path)
    return error_response(500, f"internal sandbox error: {type(err).__name__}: {err}")
