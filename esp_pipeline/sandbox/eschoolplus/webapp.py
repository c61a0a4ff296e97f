"""The eSchoolPLUS web application path: cookie login and Download/Upload Definitions.

District scripts drive this ASP.NET MVC application with one cookie jar. Routes, under
`WebConfig.base_path` (default /eSchoolPLUS):

    GET  /Account/LogOn                        login page with a hidden __RequestVerificationToken
    POST /Account/LogOn                        UserName, Password, token -> environment page
    POST /Account/SetEnvironment/SessionStart  database and school year -> "Home" page
    GET  /Account/LogOff                       ends the session
    GET  /Task/TaskAndReportData               task and file lists (JSON)
    POST /Task/ClearErroredTask                {"paramKey": TaskKey}
    POST /Task/DeleteTasksAndReports           {"reportsToDelete": [...], "tasksToDelete": [...]}
    GET  /ReportViewer/FileStream?fileName=    file bytes (Windows-1252, unescaped fields)
    GET  /Reports/<path>                       404 unless legacy_report_urls (pre-21.4 URL)
    POST /Utility/SaveUploadDownload           definition JSON -> PageState 2
    GET  /Utility/UploadDownload?interfaceId=  the saved definition as a page
    POST /Search/SaveResults                   deletes UPLOADDEF rows (definitions)
    POST /Utility/RunDownload                  form fields -> PageState 2, task scheduled
    POST /Utility/UploadFile                   multipart file into the user's directory
    POST /Utility/RunUpload                    JSON, RunMode V (verify) or R (run)

Pages behind the login return a 302 redirect to the login page when the session is missing or
has been idle for `session_idle_seconds`; JSON endpoints report validation problems as
`{"PageState": 1, "ValidationErrorMessages": [{"message": ...}]}`.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import json
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import quote

from flask import Blueprint, Response, g, jsonify, redirect, request
from werkzeug.exceptions import HTTPException

from .store import RosterStore
from .webconfig import LOADDEFS, RUNLOAD, WebConfig, WebUser
from .webdefs import DefinitionErrors, interface_id_error, parse_definition
from .webtasks import FAILED, RUNNING, SCHEDULED, Task, UploadOptions, WebState

log = logging.getLogger(__name__)

SESSION_COOKIE = "ASP.NET_SessionId"
ANTIFORGERY_COOKIE = "__RequestVerificationToken"
PAGE_STATE_OK = 2
PAGE_STATE_INVALID = 1
DEFAULT_DATABASE_ERROR = "You do not have access to the selected database."
_PREDICATE_FIELD = re.compile(r"^Filter\.Predicates\[(\d+)\]\.(\w+)$")


@dataclass
class WebSession:
    """A logged-in cookie session; `ready` turns true once an environment is chosen."""

    user: WebUser
    last_seen: float
    ready: bool = False
    database: str = ""
    school_year: int = 0


class WebApplication:
    """Sessions, anti-forgery tokens and task state of the web path for one sandbox."""

    def __init__(self, store: RosterStore, config: WebConfig | None = None) -> None:
        self.config = config or WebConfig()
        self.store = store
        self.state = WebState(store, self.config)
        self._lock = threading.Lock()
        # Form token -> the cookie token it was issued with.
        self._tokens: OrderedDict[str, str] = OrderedDict()
        self._sessions: OrderedDict[str, WebSession] = OrderedDict()

    def owns_path(self, path: str) -> bool:
        base = self.config.base_path
        return path == base or path.startswith(base + "/")

    def school_years(self) -> list[int]:
        years = sorted({int(s.school_year) for s in self.store.district.school_years})
        if self.config.school_year is not None and self.config.school_year not in years:
            years.append(self.config.school_year)
        return years

    def default_school_year(self) -> int:
        if self.config.school_year is not None:
            return self.config.school_year
        years = self.school_years()
        return years[-1] if years else dt.date.today().year

    # --- tokens and sessions -------------------------------------------------------------------

    def issue_token(self, cookie_token: str | None) -> tuple[str, str]:
        """Return (cookie token, form token), reusing the client's cookie token when known."""
        with self._lock:
            if not cookie_token or cookie_token not in self._tokens.values():
                cookie_token = secrets.token_urlsafe(24)
            form_token = secrets.token_urlsafe(32)
            self._tokens[form_token] = cookie_token
            self._trim(self._tokens)
            return cookie_token, form_token

    def token_valid(self, form_token: str, cookie_token: str | None) -> bool:
        with self._lock:
            return bool(cookie_token) and self._tokens.get(form_token) == cookie_token

    def start_session(self, user: WebUser) -> str:
        session_id = secrets.token_hex(12)
        with self._lock:
            self._sessions[session_id] = WebSession(user, time.monotonic())
            self._trim(self._sessions)
        log.info("web user %s logged on", user.username)
        return session_id

    def session(self, session_id: str | None) -> WebSession | None:
        """Return the live session for a cookie and mark it used; drop it once it has expired."""
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            now = time.monotonic()
            if now - session.last_seen > self.config.session_idle_seconds:
                del self._sessions[session_id]
                log.info("web session of %s expired", session.user.username)
                return None
            session.last_seen = now
            return session

    def end_session(self, session_id: str | None) -> None:
        with self._lock:
            session = self._sessions.pop(session_id or "", None)
        if session is not None:
            log.info("web session of %s ended", session.user.username)

    def _trim(self, table: OrderedDict) -> None:
        while len(table) > self.config.max_tokens:
            table.popitem(last=False)


# --- HTML pages ----------------------------------------------------------------------------------


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\r\n<html>\r\n<head>\r\n<meta charset=\"utf-8\" />\r\n"
        f"<title>{html.escape(title)}</title>\r\n</head>\r\n<body>\r\n{body}\r\n</body>\r\n</html>\r\n"
    )


def _html(text: str, status: int = 200) -> Response:
    return Response(text, status=status, content_type="text/html; charset=utf-8")


def login_page(base: str, form_token: str, message: str = "") -> str:
    errors = (
        f'<div class="validation-summary-errors"><ul><li>{html.escape(message)}</li></ul></div>\r\n'
        if message
        else ""
    )
    return _page(
        "Login",
        f'<form action="{base}/Account/LogOn" method="post">\r\n'
        f'<input name="__RequestVerificationToken" type="hidden" value="{form_token}" />\r\n'
        f"{errors}"
        '<label for="UserName">User name</label>\r\n'
        '<input id="UserName" name="UserName" type="text" value="" />\r\n'
        '<label for="Password">Password</label>\r\n'
        '<input id="Password" name="Password" type="password" />\r\n'
        '<input type="submit" value="Log On" />\r\n</form>',
    )


def environment_page(web: WebApplication, session: WebSession, message: str = "") -> str:
    config = web.config
    allowed = session.user.databases
    options = "".join(
        f'<option value="{html.escape(number)}">{html.escape(name)}</option>\r\n'
        for number, name in config.databases
        if allowed is None or number in allowed
    )
    errors = f'<div class="validation-summary-errors">{html.escape(message)}</div>\r\n' if message else ""
    return _page(
        "Environment",
        f'<form action="{config.base_path}/Account/SetEnvironment/SessionStart" method="post">\r\n'
        f'<input id="ServerName" name="ServerName" type="hidden" value="{html.escape(config.server_name)}" />\r\n'
        '<input id="EnvironmentConfiguration_SchoolYear" name="EnvironmentConfiguration.SchoolYear" '
        f'type="hidden" value="{web.default_school_year()}" />\r\n'
        f'<input id="UserErrorMessage" name="UserErrorMessage" type="hidden" value="{DEFAULT_DATABASE_ERROR}" />\r\n'
        f"{errors}"
        '<select id="EnvironmentConfiguration_Database" name="EnvironmentConfiguration.Database">\r\n'
        f"{options}</select>\r\n"
        '<input type="submit" value="Submit" />\r\n</form>',
    )


def home_page(web: WebApplication, session: WebSession) -> str:
    return _page(
        "Home",
        f"<h1>eSchoolPLUS</h1>\r\n<p>{html.escape(session.user.username)} - database "
        f"{html.escape(session.database)}, school year {session.school_year}</p>",
    )


def not_found_page() -> str:
    return _page(
        "The resource cannot be found.",
        "<h1>Server Error in '/' Application.</h1>\r\n<h2>The resource cannot be found.</h2>\r\n"
        "<p>HTTP 404. The resource you are looking for has been removed, had its name changed, "
        "or is temporarily unavailable.</p>",
    )


# --- JSON helpers ----------------------------------------------------------------------------------


def page_state(messages: list[str] | None = None) -> Response:
    if messages:
        return jsonify(
            {
                "PageState": PAGE_STATE_INVALID,
                "ValidationErrorMessages": [{"message": message} for message in messages],
            }
        )
    return jsonify({"PageState": PAGE_STATE_OK, "ValidationErrorMessages": []})


def _flag(value: object, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "y", "yes", "1")


def _request_fields() -> dict:
    """Return the JSON object body, or the form fields when the body is not JSON."""
    body = request.get_json(silent=True)
    if isinstance(body, dict):
        return body
    return request.form.to_dict()


# --- blueprint -------------------------------------------------------------------------------------


def web_blueprint(web: WebApplication) -> Blueprint:
    """Build the web routes, to be mounted at `web.config.base_path`."""
    config = web.config
    state = web.state
    base = config.base_path
    blueprint = Blueprint("eschoolplus_web", __name__)

    def login_redirect() -> Response:
        target = request.full_path.rstrip("?")
        return redirect(f"{base}/Account/LogOn?ReturnUrl={quote(target, safe='')}", code=302)

    def permission_denied(permission: str, user: WebUser) -> Response:
        log.info("web user %s lacks %s for %s", user.username, permission, request.path)
        message = (
            f"User {user.username} does not have read/write access to the {permission} "
            "security resource."
        )
        if config.missing_permission_response == "validation":
            return page_state([message])
        if config.missing_permission_response == "redirect":
            return login_redirect()
        return _html(_page("Access Denied", f"<h1>Access Denied</h1>\r\n<p>{html.escape(message)}</p>"), 403)

    def requires_session(permission: str | None = None):
        """Run the view only for a live session with a chosen environment (and `permission`)."""

        def decorate(view):
            @functools.wraps(view)
            def wrapper(*args, **kwargs):
                session = web.session(request.cookies.get(SESSION_COOKIE))
                if session is None or not session.ready:
                    return login_redirect()
                g.consumer_key = session.user.username
                if permission is not None and permission not in session.user.permissions:
                    return permission_denied(permission, session.user)
                return view(session, *args, **kwargs)

            return wrapper

        return decorate

    def token_response(message: str = "", status: int = 200) -> Response:
        cookie_token, form_token = web.issue_token(request.cookies.get(ANTIFORGERY_COOKIE))
        response = _html(login_page(base, form_token, message), status)
        response.set_cookie(ANTIFORGERY_COOKIE, cookie_token, httponly=True, path="/")
        return response

    @blueprint.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if error.code == 404:
            return _html(not_found_page(), 404)
        return _html(_page("Error", f"<h1>{error.code} {html.escape(error.name)}</h1>"), error.code or 500)

    # --- login -------------------------------------------------------------------------------------

    @blueprint.route("/Account/LogOn", methods=["GET"])
    def log_on_page():
        time.sleep(config.login_delay_seconds)
        return token_response()

    @blueprint.route("/Account/LogOn", methods=["POST"])
    def log_on():
        time.sleep(config.login_delay_seconds)
        form_token = request.form.get("__RequestVerificationToken", "")
        if not web.token_valid(form_token, request.cookies.get(ANTIFORGERY_COOKIE)):
            log.info("web login rejected: anti-forgery token missing or invalid")
            return token_response("The anti-forgery token could not be validated.")
        username = request.form.get("UserName", "")
        user = config.find_user(username)
        if user is None or not secrets.compare_digest(user.password, request.form.get("Password", "")):
            log.info("web login rejected for user %r: wrong user name or password", username)
            return token_response("The user name or password provided is incorrect.")
        session_id = web.start_session(user)
        session = web.session(session_id)
        response = _html(environment_page(web, session))
        response.set_cookie(SESSION_COOKIE, session_id, httponly=True, path="/")
        return response

    @blueprint.route("/Account/SetEnvironment/SessionStart", methods=["POST"])
    def session_start():
        session_id = request.cookies.get(SESSION_COOKIE)
        session = web.session(session_id)
        if session is None:
            return login_redirect()
        database = request.form.get("EnvironmentConfiguration.Database", "")
        numbers = [number for number, _ in config.databases]
        allowed = session.user.databases
        if database not in numbers or (allowed is not None and database not in allowed):
            message = request.form.get("UserErrorMessage") or DEFAULT_DATABASE_ERROR
            return _html(environment_page(web, session, message))
        if request.form.get("ServerName", "") != config.server_name:
            return _html(environment_page(
                web, session, f"Server '{request.form.get('ServerName', '')}' is not this server."
            ))
        year_text = request.form.get("EnvironmentConfiguration.SchoolYear", "")
        if not year_text.isdigit() or int(year_text) not in web.school_years():
            return _html(environment_page(
                web, session, f"School year '{year_text}' is not available in this database."
            ))
        session.ready = True
        session.database = database
        session.school_year = int(year_text)
        log.info("web user %s chose database %s, school year %s",
                 session.user.username, database, year_text)
        return _html(home_page(web, session))

    @blueprint.route("/Account/LogOff", methods=["GET", "POST"])
    def log_off():
        web.end_session(request.cookies.get(SESSION_COOKIE))
        response = redirect(f"{base}/Account/LogOn", code=302)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # --- tasks and files ---------------------------------------------------------------------------

    def task_json(task: Task) -> dict:
        processed = state.progress(task)
        if task.state == SCHEDULED:
            progress = "Scheduled"
        elif task.state == FAILED:
            progress = "Error"
        else:
            progress = f"Processing record {processed} of {task.total_records}"
        return {
            "TaskKey": task.key,
            "TaskName": task.name,
            "ProgressDescription": progress,
            "ErrorOccurred": "True" if task.state == FAILED else "False",
            "RunTime": task.run_time.strftime(config.datetime_format),
            "RecordsProcessed": processed,
            "TotalRecords": task.total_records,
            "TaskError": (
                {"ScheduledTaskErrorDescription": task.error} if task.state == FAILED else None
            ),
        }

    def lists_json(session: WebSession, args) -> dict:
        with state.lock:
            workspace = state.advance(session.user.username)
            tasks = sorted(workspace.tasks.values(), key=lambda t: int(t.key))
            active = [t for t in tasks if t.state in (RUNNING, FAILED)]
            inactive = [t for t in tasks if t.state == SCHEDULED]
            files = sorted(workspace.files.values(), key=lambda f: f.modified, reverse=True)
            data: dict = {"RunningTaskCount": sum(1 for t in active if t.state == RUNNING)}
            include_tasks = _flag(args.get("includeTasks"), True)
            running_only = _flag(args.get("runningTasksOnly"), False)
            data["ActiveTasks"] = [task_json(t) for t in active] if include_tasks else []
            data["InactiveTasks"] = (
                [task_json(t) for t in inactive] if include_tasks and not running_only else []
            )
            reports = []
            if _flag(args.get("includeReports"), False):
                limit_text = str(args.get("maximumNumberOfReports") or "-1")
                limit = int(limit_text) if re.fullmatch(r"-?\d+", limit_text) else -1
                chosen = files if limit < 0 else files[:limit]
                reports = [
                    {
                        "DisplayName": stored.name,
                        "RawFileName": stored.name,
                        "FileExtension": "." + stored.name.rsplit(".", 1)[-1] if "." in stored.name else "",
                        "ModifiedDate": state.format_local(stored.modified),
                        "ReportSize": len(stored.content),
                        "ReportPath": f"{session.user.username}/{stored.name}",
                    }
                    for stored in chosen
                ]
            data["Reports"] = reports
            return data

    @blueprint.route("/Task/TaskAndReportData", methods=["GET", "POST"])
    @requires_session()
    def task_and_report_data(session: WebSession):
        return jsonify(lists_json(session, request.args))

    @blueprint.route("/Task/ClearErroredTask", methods=["POST"])
    @requires_session()
    def clear_errored_task(session: WebSession):
        key = str(_request_fields().get("paramKey", ""))
        with state.lock:
            workspace = state.advance(session.user.username)
            task = workspace.tasks.get(key)
            if task is not None and task.state == FAILED:
                del workspace.tasks[key]
                log.info("cleared failed task %s of %s", key, session.user.username)
        # Like eSchool, the endpoint returns the task list whatever key it was given.
        return jsonify(lists_json(session, {"includeTasks": "true"}))

    @blueprint.route("/Task/DeleteTasksAndReports", methods=["POST"])
    @requires_session()
    def delete_tasks_and_reports(session: WebSession):
        fields = _request_fields()
        with state.lock:
            workspace = state.advance(session.user.username)
            for name in fields.get("reportsToDelete") or []:
                workspace.files.pop(str(name), None)
            for key in fields.get("tasksToDelete") or []:
                task = workspace.tasks.get(str(key))
                if task is not None and task.state in (SCHEDULED, FAILED):
                    del workspace.tasks[str(key)]
        return jsonify(lists_json(session, {"includeTasks": "true", "includeReports": "true"}))

    def file_response(name: str, content: bytes) -> Response:
        response = Response(content, content_type=config.file_content_type)
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    @blueprint.route("/ReportViewer/FileStream", methods=["GET"])
    @requires_session()
    def file_stream(session: WebSession):
        name = request.args.get("fileName", "")
        with state.lock:
            stored = state.advance(session.user.username).files.get(name)
        if stored is None:
            return _html(not_found_page(), 404)
        return file_response(stored.name, stored.content)

    @blueprint.route("/Reports/<path:report_path>", methods=["GET"])
    def legacy_report(report_path: str):
        if not config.legacy_report_urls:
            return _html(not_found_page(), 404)
        session = web.session(request.cookies.get(SESSION_COOKIE))
        if session is None or not session.ready:
            return login_redirect()
        owner, _, name = report_path.partition("/")
        with state.lock:
            stored = state.advance(session.user.username).files.get(name)
        if stored is None or owner.lower() != session.user.username.lower():
            return _html(not_found_page(), 404)
        return file_response(stored.name, stored.content)

    # --- definitions -------------------------------------------------------------------------------

    @blueprint.route("/Utility/SaveUploadDownload", methods=["POST"])
    @requires_session(LOADDEFS)
    def save_upload_download(session: WebSession):
        body = request.get_json(silent=True)
        try:
            definition = parse_definition(body)
        except DefinitionErrors as err:
            log.info("definition rejected for %s: %s", session.user.username, err)
            return page_state(err.messages)
        replace = str(body.get("PageEditMode", 0)) == "1"
        message = state.save_definition(definition, replace)
        if message:
            return page_state([message])
        if config.save_definition_ends_session:
            web.end_session(request.cookies.get(SESSION_COOKIE))
        return page_state()

    @blueprint.route("/Utility/UploadDownload", methods=["GET"])
    @requires_session(LOADDEFS)
    def view_upload_download(session: WebSession):
        interface_id = request.args.get("interfaceId", "")
        definition = state.definitions.get(interface_id)
        if definition is None:
            return _html(_page("Upload/Download Definitions",
                               f"<p>Interface ID '{html.escape(interface_id)}' was not found.</p>"))
        payload = html.escape(json.dumps(definition.raw), quote=False)
        return _html(_page(
            "Upload/Download Definitions",
            f'<script type="application/json" id="UploadDownloadDefinition">{payload}</script>',
        ))

    @blueprint.route("/Search/SaveResults", methods=["POST"])
    @requires_session(LOADDEFS)
    def save_results(session: WebSession):
        fields = _request_fields()
        if str(fields.get("SearchType", "")).upper() != "UPLOADDEF":
            return jsonify({"success": False,
                            "message": f"SearchType {fields.get('SearchType')!r} cannot be saved here."})
        for deleted in fields.get("Deleted") or []:
            if not isinstance(deleted, dict):
                continue
            keys = {str(k.get("Key", "")).lower(): str(k.get("Value", ""))
                    for k in deleted.get("Keys") or [] if isinstance(k, dict)}
            if "interface_id" in keys:
                state.delete_definition(keys["interface_id"])
        return jsonify({"success": True})

    # --- running definitions -----------------------------------------------------------------------

    def parse_schedule(fields: dict, messages: list[str]) -> dt.datetime | None:
        schedule_type = str(fields.get("TaskScheduler.CurrentTask.ScheduleType") or "O").upper()
        now_local = state.local(state.clock())
        if schedule_type == "N":
            return now_local.replace(microsecond=0)
        if schedule_type != "O":
            messages.append(
                f"Schedule type '{schedule_type}' is not supported by the sandbox; use O (once) "
                "or N (now)."
            )
            return None
        date_text = str(fields.get("TaskScheduler.CurrentTask.ScheduledTimeDate") or "")
        time_text = str(fields.get("TaskScheduler.CurrentTask.ScheduledTimeTime") or "")
        try:
            day = dt.datetime.strptime(date_text.strip(), "%m/%d/%Y").date()
            clock_time = dt.datetime.strptime(time_text.strip().upper(), "%I:%M %p").time()
        except ValueError:
            messages.append(
                f"Scheduled date '{date_text}' and time '{time_text}' must read MM/dd/yyyy and "
                "hh:mm AM/PM (server local time)."
            )
            return None
        return dt.datetime.combine(day, clock_time, tzinfo=config.zone)

    def check_class(fields: dict, expected: str, messages: list[str]) -> None:
        class_name = str(fields.get("TaskScheduler.CurrentTask.Classname") or "")
        if class_name == expected:
            return
        if class_name.split(".")[-1] == expected.split(".")[-1]:
            messages.append(
                f"Task class '{class_name}' does not exist on this server; this version runs "
                f"'{expected}'."
            )
        else:
            messages.append(f"Task class '{class_name}' is not valid here; expected '{expected}'.")

    def find_definition(interface_id: object, kind: str, messages: list[str]):
        error = interface_id_error(interface_id)
        if error:
            messages.append(error)
            return None
        definition = state.definitions.get(interface_id)
        if definition is None or definition.kind != kind:
            label = "Upload" if kind == "U" else "Download"
            messages.append(f"{label} definition '{interface_id}' was not found.")
            return None
        return definition

    @blueprint.route("/Utility/RunDownload", methods=["POST"])
    @requires_session(RUNLOAD)
    def run_download(session: WebSession):
        fields = request.form.to_dict()
        messages: list[str] = []
        definition = find_definition(fields.get("InterfaceId"), "D", messages)
        check_class(fields, config.download_class, messages)
        run_time = parse_schedule(fields, messages)
        if messages:
            log.info("RunDownload rejected for %s: %s", session.user.username, messages)
            return page_state(messages)
        predicates: dict[int, dict[str, str]] = {}
        for name, value in fields.items():
            match = _PREDICATE_FIELD.match(name)
            if match:
                predicates.setdefault(int(match.group(1)), {})[match.group(2)] = value
        name = fields.get("TaskScheduler.CurrentTask.TaskDescription") or definition.interface_id
        state.schedule(
            session.user.username,
            name,
            definition,
            run_time,
            predicates=[predicates[i] for i in sorted(predicates)],
        )
        return page_state()

    @blueprint.route("/Utility/UploadFile", methods=["POST"])
    @requires_session(RUNLOAD)
    def upload_file(session: WebSession):
        uploads = [f for f in request.files.values() if f.filename]
        if not uploads:
            return page_state(["The request must carry a file part (multipart/form-data)."])
        stored = state.store_upload(session.user.username, uploads[0].filename, uploads[0].read())
        log.info("web user %s uploaded %s (%d bytes)", session.user.username, stored.name,
                 len(stored.content))
        return jsonify({"success": True, "fileName": stored.name})

    @blueprint.route("/Utility/RunUpload", methods=["POST"])
    @requires_session(RUNLOAD)
    def run_upload(session: WebSession):
        fields = _request_fields()
        messages: list[str] = []
        definition = find_definition(fields.get("InterfaceId"), "U", messages)
        check_class(fields, config.upload_class, messages)
        run_mode = str(fields.get("RunMode") or "V").upper()
        if run_mode not in ("V", "R"):
            messages.append(f"RunMode must be V (verify) or R (run), got '{run_mode}'.")
        run_time = parse_schedule(fields, messages)
        if messages:
            log.info("RunUpload rejected for %s: %s", session.user.username, messages)
            return page_state(messages)
        options = UploadOptions(
            run_mode=run_mode,
            insert_new=_flag(fields.get("InsertNewRec"), False),
            update_existing=_flag(fields.get("UpdateExistRec"), True),
            update_blank=_flag(fields.get("UpdateBlankRec"), False),
        )
        name = fields.get("TaskScheduler.CurrentTask.TaskDescription") or definition.interface_id
        state.schedule(session.user.username, str(name), definition, run_time, upload=options)
        return page_state()

    return blueprint
