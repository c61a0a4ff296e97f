"""The eSchoolPLUS sandbox: PLUS360's OneRoster 1.1 rostering API as a Flask app.

Every request must carry a two-legged OAuth 1.0a signature that covers the query string. The
resources are served under /plus360api/v1/<district code>/ims/oneroster/v1p1 and, unless turned
off, directly under /plus360api/v1/<district code>.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from urllib.parse import quote

from flask import Blueprint, Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from esp_pipeline.sandbox.districts.model import District, User
from esp_pipeline.sandbox.faults import FaultInjector
from esp_pipeline.sandbox.httpserver import SandboxServer
from esp_pipeline.sandbox.oauth1 import Consumer, OAuth1Verifier, request_uris
from esp_pipeline.sandbox.traffic import RequestLog, RequestRecord, TokenBucket, retry_after_header

from .config import ESchoolPlusConfig
from .errors import ApiError, status_info_set
from .paging import Page, link_header, parse_page
from .query import CollectionQuery, parse_fields
from .resources import ACADEMIC_SESSION, CLASS, COURSE, ENROLLMENT, ORG, USER, Resource, render
from .store import RosterStore

log = logging.getLogger(__name__)


class ESchoolPlusSandbox:
    """A district served through a PLUS360-style OneRoster 1.1 API.

    `request_log` records every request; `update_user` changes a user and moves its
    dateLastModified forward so delta filters see the change.
    """

    def __init__(self, district: District, config: ESchoolPlusConfig | None = None) -> None:
        self.config = config or ESchoolPlusConfig()
        self.store = RosterStore(district)
        self.request_log = RequestLog()
        self.verifier = OAuth1Verifier(
            consumers={
                self.config.consumer_key: Consumer(
                    self.config.consumer_key,
                    self.config.consumer_secret,
                    signature_methods=(self.config.signature_method,),
                )
            },
            past_window_seconds=self.config.past_window_seconds,
            future_window_seconds=self.config.future_window_seconds,
        )
        self.rate_limiter = TokenBucket(
            capacity=self.config.rate_limit_capacity,
            refill_seconds=self.config.rate_limit_refill_seconds,
        )
        self.app = create_app(self)
        self.faults = FaultInjector(self.app, api="eschoolplus", request_log=self.request_log)

    @property
    def district(self) -> District:
        return self.store.district

    @property
    def lock(self):
        return self.store.lock

    @property
    def oneroster_path(self) -> str:
        return self.config.oneroster_path

    def serve(self, port: int = 0, host: str = "127.0.0.1") -> SandboxServer:
        """Return a loopback server for this sandbox; use it as a context manager."""
        return SandboxServer(self.faults, "eschoolplus", host=host, port=port)

    def update_user(self, sourced_id: str, **changes: object) -> User:
        """Change a user (given_name, family_name, username, email, status, ...) and bump
        its dateLastModified; raise KeyError for an unknown sourcedId."""
        user = self.store.update_user(sourced_id, **changes)
        log.info("updated user %s: %s", sourced_id, ", ".join(sorted(changes)))
        return user


def _json_response(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        headers=headers,
        mimetype="application/json",
    )


def _error_response(error: ApiError, headers: dict | None = None) -> Response:
    return _json_response(status_info_set(error.code_minor, error.description), error.status, headers)


def _signed_url() -> str:
    """Rebuild the URL exactly as the client sent it.

    `request.url` cannot be used: Werkzeug decodes it to an IRI, turning %3E back into `>`,
    which no longer matches the signature base string and which oauthlib rejects outright.
    """
    environ = request.environ
    raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not raw_uri:
        raw_uri = quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
        query = environ.get("QUERY_STRING", "")
        if query:
            raw_uri = f"{raw_uri}?{query}"
    return f"{request.scheme}://{request.host}{raw_uri}"


def create_app(sandbox: ESchoolPlusSandbox) -> Flask:
    """Build the Flask app for `sandbox`: auth and rate limiting, routes and error bodies."""
    app = Flask(__name__)
    config = sandbox.config

    @app.before_request
    def authenticate() -> Response | None:
        g.started = time.perf_counter()
        g.items = 0
        g.consumer_key = None
        try:
            uris = request_uris(_signed_url(), request.host, scheme=request.scheme)
            result = sandbox.verifier.verify(uris, request.method, dict(request.headers))
        except ValueError as err:
            # oauthlib rejects query strings holding characters that should have been escaped.
            result = None
            reason = f"malformed request: {err}"
        else:
            reason = result.reason
            g.consumer_key = result.consumer_key
        if result is None or not result.ok:
            log.info("rejected %s %s: %s (consumer %s)", request.method, request.path, reason,
                     g.consumer_key)
            return _error_response(ApiError(401, "unauthorized", f"OAuth 1.0a check failed: {reason}"),
                                   {"WWW-Authenticate": 'OAuth realm="PLUS360"'})
        wait = sandbox.rate_limiter.take(result.consumer_key or "", 1)
        if wait > 0:
            return _error_response(
                ApiError(429, "server_busy", f"rate limit exceeded; retry in {wait:.1f} s"),
                {"Retry-After": retry_after_header(wait)},
            )
        return None

    @app.after_request
    def record(response: Response) -> Response:
        started = g.get("started", time.perf_counter())
        rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        sandbox.request_log.add(
            RequestRecord(
                method=request.method,
                route=rule,
                path=request.path,
                status=response.status_code,
                latency_ms=(time.perf_counter() - started) * 1000,
                items=g.get("items", 0),
                consumer_key=g.get("consumer_key"),
            )
        )
        return response

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        log.info("%s %s returned %d %s: %s", request.method, request.path, error.status,
                 error.code_minor, error.description)
        return _error_response(error)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        code_minor = "unknownobject" if error.code == 404 else "invalid_data"
        description = f"{request.path}: {error.description}"
        return _error_response(ApiError(error.code or 500, code_minor, description))

    @app.errorhandler(Exception)
    def internal_error(error: Exception) -> Response:
        log.exception("internal error on %s %s", request.method, request.path)
        return _error_response(ApiError(500, "internal_server_error", f"internal error: {error}"))

    roots = [config.oneroster_path]
    if config.serve_bare_root and config.base_path != config.oneroster_path:
        roots.append(config.base_path)
    for number, root in enumerate(roots):
        app.register_blueprint(
            _oneroster_blueprint(sandbox, root), url_prefix=root, name=f"oneroster_{number}"
        )
    return app


def _oneroster_blueprint(sandbox: ESchoolPlusSandbox, root: str) -> Blueprint:
    """Build the GET routes of OneRoster 1.1 rostering, to be mounted at `root`."""
    store = sandbox.store
    config = sandbox.config
    blueprint = Blueprint("oneroster", __name__)

    def base_url() -> str:
        return request.host_url.rstrip("/") + root

    def collection(resource: Resource, ids: Callable[[], list[str]], table: dict) -> Response:
        page: Page = parse_page(request.args, config)
        with store.lock:
            query = CollectionQuery.from_args(request.args, resource, store)
            records = query.run([table[i] for i in ids()])
            total = len(records)
            selected = records[page.offset : page.offset + page.limit]
            items = [resource.payload(r, store, query.fields) for r in selected]
        g.items = len(items)
        body = {resource.collection: render(items, base_url())}
        headers = {"X-Total-Count": str(total)}
        links = link_header(request.base_url, request.args, page, total)
        if links:
            headers["Link"] = links
        return _json_response(body, headers=headers)

    def single(resource: Resource, record, label: str) -> Response:
        if record is None:
            raise ApiError(404, "unknownobject", f"{label} not found")
        fields = parse_fields(request.args, resource)
        with store.lock:
            payload = resource.payload(record, store, fields)
        g.items = 1
        return _json_response({resource.singular: render(payload, base_url())})

    def require(table: dict, sourced_id: str, label: str, kind_check=None):
        record = table.get(sourced_id)
        if record is None or (kind_check is not None and not kind_check(record)):
            raise ApiError(404, "unknownobject", f"{label} {sourced_id} not found")
        return record

    def is_school(org) -> bool:
        return org.type == "school"

    def is_term(session) -> bool:
        return session.type == "term"

    def is_grading_period(session) -> bool:
        return session.type == "gradingPeriod"

    def is_student(user) -> bool:
        return user.role == "student"

    def is_teacher(user) -> bool:
        return user.role == "teacher"

    def get_one(table: dict, sourced_id: str, label: str, kind_check=None):
        record = table.get(sourced_id)
        if record is not None and kind_check is not None and not kind_check(record):
            record = None
        return record, f"{label} {sourced_id}"

    def route(rule: str):
        return blueprint.route(rule, methods=["GET"])

    # --- orgs -------------------------------------------------------------------------------

    @route("/orgs")
    def get_all_orgs():
        return collection(ORG, lambda: store.all_ids["orgs"], store.orgs)

    @route("/orgs/<sourced_id>")
    def get_org(sourced_id):
        return single(ORG, *get_one(store.orgs, sourced_id, "orgs"))

    @route("/schools")
    def get_all_schools():
        return collection(ORG, lambda: store.school_ids, store.orgs)

    @route("/schools/<sourced_id>")
    def get_school(sourced_id):
        return single(ORG, *get_one(store.orgs, sourced_id, "schools", is_school))

    # --- academic sessions ------------------------------------------------------------------

    @route("/academicSessions")
    def get_all_academic_sessions():
        return collection(ACADEMIC_SESSION, lambda: store.all_ids["academicSessions"], store.sessions)

    @route("/academicSessions/<sourced_id>")
    def get_academic_session(sourced_id):
        return single(ACADEMIC_SESSION, *get_one(store.sessions, sourced_id, "academicSessions"))

    @route("/terms")
    def get_all_terms():
        return collection(ACADEMIC_SESSION, lambda: store.term_ids, store.sessions)

    @route("/terms/<sourced_id>")
    def get_term(sourced_id):
        return single(ACADEMIC_SESSION, *get_one(store.sessions, sourced_id, "terms", is_term))

    @route("/gradingPeriods")
    def get_all_grading_periods():
        return collection(ACADEMIC_SESSION, lambda: store.grading_period_ids, store.sessions)

    @route("/gradingPeriods/<sourced_id>")
    def get_grading_period(sourced_id):
        return single(
            ACADEMIC_SESSION,
            *get_one(store.sessions, sourced_id, "gradingPeriods", is_grading_period),
        )

    @route("/schools/<school_id>/terms")
    def get_terms_for_school(school_id):
        require(store.orgs, school_id, "schools", is_school)
        return collection(ACADEMIC_SESSION, lambda: store.school_terms.get(school_id, []), store.sessions)

    # --- courses ----------------------------------------------------------------------------

    @route("/courses")
    def get_all_courses():
        return collection(COURSE, lambda: store.all_ids["courses"], store.courses)

    @route("/courses/<sourced_id>")
    def get_course(sourced_id):
        return single(COURSE, *get_one(store.courses, sourced_id, "courses"))

    @route("/schools/<school_id>/courses")
    def get_courses_for_school(school_id):
        require(store.orgs, school_id, "schools", is_school)
        return collection(COURSE, lambda: store.school_courses.get(school_id, []), store.courses)

    @route("/schools/<school_id>/courses/<course_id>")
    def get_course_for_school(school_id, course_id):
        require(store.orgs, school_id, "schools", is_school)
        record, label = get_one(store.courses, course_id, "courses")
        if record is not None and record.school_id != school_id:
            record = None
        return single(COURSE, record, label)

    # --- classes ----------------------------------------------------------------------------

    @route("/classes")
    def get_all_classes():
        return collection(CLASS, lambda: store.all_ids["classes"], store.classes)

    @route("/classes/<sourced_id>")
    def get_class(sourced_id):
        return single(CLASS, *get_one(store.classes, sourced_id, "classes"))

    @route("/schools/<school_id>/classes")
    def get_classes_for_school(school_id):
        require(store.orgs, school_id, "schools", is_school)
        return collection(CLASS, lambda: store.school_classes.get(school_id, []), store.classes)

    @route("/terms/<term_id>/classes")
    def get_classes_for_term(term_id):
        require(store.sessions, term_id, "terms", is_term)
        return collection(CLASS, lambda: store.term_classes.get(term_id, []), store.classes)

    @route("/courses/<course_id>/classes")
    def get_classes_for_course(course_id):
        require(store.courses, course_id, "courses")
        return collection(CLASS, lambda: store.course_classes.get(course_id, []), store.classes)

    # --- users ------------------------------------------------------------------------------

    @route("/users")
    def get_all_users():
        return collection(USER, lambda: store.all_ids["users"], store.users)

    @route("/users/<sourced_id>")
    def get_user(sourced_id):
        return single(USER, *get_one(store.users, sourced_id, "users"))

    @route("/students")
    def get_all_students():
        return collection(USER, lambda: store.student_ids, store.users)

    @route("/students/<sourced_id>")
    def get_student(sourced_id):
        return single(USER, *get_one(store.users, sourced_id, "students", is_student))

    @route("/teachers")
    def get_all_teachers():
        return collection(USER, lambda: store.teacher_ids, store.users)

    @route("/teachers/<sourced_id>")
    def get_teacher(sourced_id):
        return single(USER, *get_one(store.users, sourced_id, "teachers", is_teacher))

    @route("/classes/<class_id>/students")
    def get_students_for_class(class_id):
        require(store.classes, class_id, "classes")
        return collection(USER, lambda: store.class_students.get(class_id, []), store.users)

    @route("/classes/<class_id>/teachers")
    def get_teachers_for_class(class_id):
        require(store.classes, class_id, "classes")
        return collection(USER, lambda: store.class_teachers.get(class_id, []), store.users)

    @route("/schools/<school_id>/students")
    def get_students_for_school(school_id):
        require(store.orgs, school_id, "schools", is_school)
        return collection(USER, lambda: store.school_students.get(school_id, []), store.users)

    @route("/schools/<school_id>/teachers")
    def get_teachers_for_school(school_id):
        require(store.orgs, school_id, "schools", is_school)
        return collection(USER, lambda: store.school_teachers.get(school_id, []), store.users)

    def require_class_in_school(school_id: str, class_id: str) -> None:
        require(store.orgs, school_id, "schools", is_school)
        require(store.classes, class_id, "classes", lambda c: c.school_id == school_id)

    @route("/schools/<school_id>/classes/<class_id>/students")
    def get_students_for_class_in_school(school_id, class_id):
        require_class_in_school(school_id, class_id)
        return collection(USER, lambda: store.class_students.get(class_id, []), store.users)

    @route("/schools/<school_id>/classes/<class_id>/teachers")
    def get_teachers_for_class_in_school(school_id, class_id):
        require_class_in_school(school_id, class_id)
        return collection(USER, lambda: store.class_teachers.get(class_id, []), store.users)

    # --- enrollments ------------------------------------------------------------------------

    @route("/enrollments")
    def get_all_enrollments():
        return collection(ENROLLMENT, lambda: store.all_ids["enrollments"], store.enrollments)

    @route("/enrollments/<sourced_id>")
    def get_enrollment(sourced_id):
        return single(ENROLLMENT, *get_one(store.enrollments, sourced_id, "enrollments"))

    @route("/schools/<school_id>/enrollments")
    def get_enrollments_for_school(school_id):
        require(store.orgs, school_id, "schools", is_school)
        return collection(
            ENROLLMENT, lambda: store.school_enrollments.get(school_id, []), store.enrollments
        )

    @route("/schools/<school_id>/classes/<class_id>/enrollments")
    def get_enrollments_for_class_in_school(school_id, class_id):
        require_class_in_school(school_id, class_id)
        return collection(
            ENROLLMENT, lambda: store.class_enrollments.get(class_id, []), store.enrollments
        )

    return blueprint
