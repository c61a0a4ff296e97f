"""The eSchoolPLUS sandbox: PLUS360's OneRoster 1.1 rostering and gradebook API as a Flask app.

Every request must carry a two-legged OAuth 1.0a signature that covers the query string, or an
OAuth 2.0 bearer token, as the consumer's profile is set. The resources are served under
/plus360api/v1/<district code>/ims/oneroster/v1p1 and, unless turned off, directly under
/plus360api/v1/<district code>. The OAuth 2.0 token endpoint is at the API base.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from urllib.parse import quote

from flask import Blueprint, Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from esp_pipeline.sandbox.districts.model import District, Enrollment, SchoolClass, User
from esp_pipeline.sandbox.faults import FaultInjector
from esp_pipeline.sandbox.httpserver import SandboxServer
from esp_pipeline.sandbox.oauth1 import request_uris
from esp_pipeline.sandbox.traffic import RequestLog, RequestRecord, TokenBucket, retry_after_header

from .auth import Authenticator, required_scope
from .config import ESchoolPlusConfig
from .errors import ApiError
from .gradebook import Gradebook
from .gradebook_routes import GRADEBOOK_BLUEPRINT_PREFIX, gradebook_blueprint
from .resources import ACADEMIC_SESSION, CLASS, COURSE, ENROLLMENT, ORG, USER
from .sessions import derive_grading_periods
from .store import RosterStore
from .views import Views, error_response, json_response
from .webapp import WebApplication, web_blueprint
from .webconfig import WebConfig

log = logging.getLogger(__name__)


class ESchoolPlusSandbox:
    """A district served through a PLUS360-style OneRoster 1.1 API.

    `request_log` records every request and `gradebook` contains what write-back stored. The
    change methods (`update_user`, `withdraw_student`, `drop_enrollment`, ...) move each changed
    record's dateLastModified forward, so delta filters see the change. The district passed in
    is changed in place; derived grading periods are served without being added to it.
    """

    def __init__(
        self,
        district: District,
        config: ESchoolPlusConfig | None = None,
        web_config: WebConfig | None = None,
    ) -> None:
        self.config = config or ESchoolPlusConfig()
        self.store = RosterStore(
            district,
            extra_sessions=derive_grading_periods(district, self.config.grading_periods_per_semester),
            pad_ids=self.config.pad_ids,
        )
        self.gradebook = Gradebook(self.store, self.config)
        self.request_log = RequestLog()
        # The cookie-session web application (Download/Upload Definitions).
        self.web = WebApplication(self.store, web_config)
        self.auth = Authenticator(self.config)
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

    def withdraw_student(self, sourced_id: str, on: dt.date | None = None) -> User:
        """Withdraw a student on `on` (default today): the user and its enrollments turn
        `tobedeleted` and the enrollments end that day. Raises KeyError for an unknown student
        and ValueError for one already withdrawn."""
        user = self.store.withdraw_student(sourced_id, on or dt.date.today())
        log.info("withdrew student %s", sourced_id)
        return user

    def reinstate_student(self, sourced_id: str) -> User:
        """Make a withdrawn student and the enrollments the withdrawal ended active again."""
        user = self.store.reinstate_student(sourced_id)
        log.info("reinstated student %s", sourced_id)
        return user

    def drop_enrollment(self, class_id: str, user_id: str, on: dt.date | None = None) -> Enrollment:
        """Drop a user from a class on `on` (default today); the enrollment turns `tobedeleted`.
        Raises KeyError when the user has no active enrollment in the class."""
        enrollment = self.store.drop_enrollment(class_id, user_id, on or dt.date.today())
        log.info("dropped user %s from class %s", user_id, class_id)
        return enrollment

    def add_enrollment(
        self,
        class_id: str,
        user_id: str,
        *,
        role: str | None = None,
        on: dt.date | None = None,
        primary: bool = False,
    ) -> Enrollment:
        """Enroll a user in a class from `on` (default: the start of the class's terms).
        `role` defaults to the user's role; see RosterStore.add_enrollment."""
        enrollment = self.store.add_enrollment(class_id, user_id, role=role, on=on, primary=primary)
        log.info("enrolled user %s in class %s as %s", user_id, class_id, enrollment.role)
        return enrollment

    def delete_class(self, class_id: str, on: dt.date | None = None) -> SchoolClass:
        """Take a section off the schedule: the class and its enrollments turn `tobedeleted`."""
        school_class = self.store.delete_class(class_id, on or dt.date.today())
        log.info("deleted class %s", class_id)
        return school_class



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
        if request.endpoint == "oauth2_token" or sandbox.web.owns_path(request.path):
            # The token endpoint authenticates the client itself, and the web application
            # uses its own cookie login.
            return None
        try:
            uris = request_uris(_signed_url(), request.host, scheme=request.scheme)
            result = sandbox.auth.authenticate(uris, request.method, dict(request.headers))
        except ValueError as err:
            # oauthlib rejects query strings holding characters that should have been escaped.
            log.info("rejected %s %s: malformed request: %s", request.method, request.path, err)
            return error_response(
                ApiError(401, "unauthorized", f"OAuth check failed: malformed request: {err}"),
                {"WWW-Authenticate": 'OAuth realm="PLUS360"'},
            )
        g.consumer_key = result.consumer_key
        if not result.ok:
            log.info("rejected %s %s: %s (consumer %s)", request.method, request.path,
                     result.reason, g.consumer_key)
            return error_response(ApiError(401, "unauthorized", result.reason),
                                  {"WWW-Authenticate": result.www_authenticate})
        if request.url_rule is not None:
            gradebook = (request.blueprint or "").startswith(GRADEBOOK_BLUEPRINT_PREFIX)
            scope = required_scope(request.method, gradebook)
            if scope not in result.scopes:
                log.info("rejected %s %s: consumer %s lacks scope %s", request.method,
                         request.path, g.consumer_key, scope)
                return error_response(
                    ApiError(403, "forbidden", f"this request needs the scope {scope}"),
                    {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
                )
        wait = sandbox.rate_limiter.take(result.consumer_key or "", 1)
        if wait > 0:
            return error_response(
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
        return error_response(error)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        code_minor = "unknownobject" if error.code == 404 else "invalid_data"
        description = f"{request.path}: {error.description}"
        return error_response(ApiError(error.code or 500, code_minor, description))

    @app.errorhandler(Exception)
    def internal_error(error: Exception) -> Response:
        log.exception("internal error on %s %s", request.method, request.path)
        return error_response(ApiError(500, "internal_server_error", f"internal error: {error}"))

    @app.route(config.token_path, methods=["POST"], endpoint="oauth2_token")
    def oauth2_token() -> Response:
        headers, body, status = sandbox.auth.oauth2.create_token_response(
            request.base_url, request.get_data(as_text=True), dict(request.headers)
        )
        if status != 200:
            log.info("token request rejected with %d: %s", status, body)
        return Response(body, status=status, headers=headers)

    app.register_blueprint(web_blueprint(sandbox.web), url_prefix=sandbox.web.config.base_path)

    roots = [config.oneroster_path]
    if config.serve_bare_root and config.base_path != config.oneroster_path:
        roots.append(config.base_path)
    for number, root in enumerate(roots):
        app.register_blueprint(
            _oneroster_blueprint(sandbox, root), url_prefix=root, name=f"oneroster_{number}"
        )
        app.register_blueprint(
            gradebook_blueprint(sandbox, Views(sandbox.store, config, root)),
            url_prefix=root,
            name=f"{GRADEBOOK_BLUEPRINT_PREFIX}{number}",
        )
    return app


def _oneroster_blueprint(sandbox: ESchoolPlusSandbox, root: str) -> Blueprint:
    """Build the GET routes of OneRoster 1.1 rostering, to be mounted at `root`."""
    store = sandbox.store
    blueprint = Blueprint("oneroster", __name__)
    views = Views(store, sandbox.config, root)
    collection = views.collection
    single = views.single
    require = views.require
    get_one = views.get_one

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

    @route("/terms/<term_id>/gradingPeriods")
    def get_grading_periods_for_term(term_id):
        require(store.sessions, term_id, "terms", is_term)
        return collection(
            ACADEMIC_SESSION, lambda: store.term_grading_periods.get(term_id, []), store.sessions
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

    # User ids in paths may carry the char(10) padding that payloads show with pad_ids.

    @route("/users/<sourced_id>")
    def get_user(sourced_id):
        return single(USER, *get_one(store.users, store.strip_user_id(sourced_id), "users"))

    @route("/students")
    def get_all_students():
        return collection(USER, lambda: store.student_ids, store.users)

    @route("/students/<sourced_id>")
    def get_student(sourced_id):
        user_id = store.strip_user_id(sourced_id)
        return single(USER, *get_one(store.users, user_id, "students", is_student))

    @route("/teachers")
    def get_all_teachers():
        return collection(USER, lambda: store.teacher_ids, store.users)

    @route("/teachers/<sourced_id>")
    def get_teacher(sourced_id):
        user_id = store.strip_user_id(sourced_id)
        return single(USER, *get_one(store.users, user_id, "teachers", is_teacher))

    def classes_for_user(user_id: str, label: str, kind_check=None) -> Response:
        user_id = store.strip_user_id(user_id)
        require(store.users, user_id, label, kind_check)
        return collection(CLASS, lambda: store.user_classes.get(user_id, []), store.classes)

    @route("/users/<user_id>/classes")
    def get_classes_for_user(user_id):
        return classes_for_user(user_id, "users")

    @route("/students/<user_id>/classes")
    def get_classes_for_student(user_id):
        return classes_for_user(user_id, "students", is_student)

    @route("/teachers/<user_id>/classes")
    def get_classes_for_teacher(user_id):
        return classes_for_user(user_id, "teachers", is_teacher)

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
