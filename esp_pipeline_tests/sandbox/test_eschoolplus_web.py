"""The eSchoolPLUS web path (cookie login, Download/Upload Definitions) over real HTTP."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
import zoneinfo
from collections.abc import Iterator
from contextlib import ExitStack
from html.parser import HTMLParser
from typing import Any, Callable

import pytest
import requests

from esp_pipeline.sandbox.districts import generate_district
from esp_pipeline.sandbox.eschoolplus import ESchoolPlusSandbox
from esp_pipeline.sandbox.eschoolplus.webconfig import LOADDEFS, RUNLOAD, WebConfig, WebUser

ADMIN = WebUser("0401admin", "admin-password")
RUNNER = WebUser("0401runner", "runner-password", permissions=(RUNLOAD,))
VIEWER = WebUser("0401viewer", "viewer-password", permissions=())
SERVER_ZONE = zoneinfo.ZoneInfo("America/Chicago")
RUN_TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"
DOWNLOAD_CLASS = "LTDB21_4.CRunDownload"
UPLOAD_CLASS = "LTDB21_4.CRunUpload"


class _InputCollector(HTMLParser):
    """Collect <input> name/value pairs in page order and the <option> list."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[tuple[str, str, str]] = []
        self.options: list[tuple[str, str]] = []
        self._option: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "input":
            self.inputs.append((values.get("name", ""), values.get("type", ""), values.get("value", "")))
        if tag == "option":
            self._option = values.get("value", "")

    def handle_data(self, data: str) -> None:
        if self._option is not None:
            self.options.append((self._option, data))
            self._option = None


def parse_page(text: str) -> _InputCollector:
    collector = _InputCollector()
    collector.feed(text)
    return collector


def page_title(text: str) -> str:
    match = re.search(r"<title>(.*?)</title>", text, re.S)
    return match.group(1).strip() if match else ""


class WebClient:
    """A script-like client: one cookie jar, redirects off, the steps district scripts take."""

    def __init__(self, sandbox: ESchoolPlusSandbox, server_url: str) -> None:
        self.sandbox = sandbox
        self.base = server_url + sandbox.web.config.base_path
        self.http = requests.Session()

    def url(self, path: str) -> str:
        return self.base + path

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        kwargs.setdefault("allow_redirects", False)
        return self.http.get(self.url(path), **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        kwargs.setdefault("allow_redirects", False)
        return self.http.post(self.url(path), **kwargs)

    def fetch_token(self, **kwargs: Any) -> str:
        response = self.get("/Account/LogOn", **kwargs)
        assert response.status_code == 200, response.text
        name, kind, value = parse_page(response.text).inputs[0]
        assert name == "__RequestVerificationToken"
        assert kind == "hidden"
        return value

    def log_on(self, user: WebUser, token: str | None = None) -> requests.Response:
        token = self.fetch_token() if token is None else token
        form = {"UserName": user.username, "Password": user.password,
                "__RequestVerificationToken": token}
        return self.post("/Account/LogOn", data=form)

    def start_session(self, environment_page: str) -> requests.Response:
        page = parse_page(environment_page)
        fields = {name: value for name, _, value in page.inputs}
        form = {
            "ServerName": fields["ServerName"],
            # Scripts pick the last database unless given a database name.
            "EnvironmentConfiguration.Database": page.options[-1][0],
            "UserErrorMessage": "You do not have access to the selected database.",
            "EnvironmentConfiguration.SchoolYear": fields["EnvironmentConfiguration.SchoolYear"],
            "EnvironmentConfiguration.SummerSchool": "false",
            "EnvironmentConfiguration.ImpersonatedUser": "",
        }
        return self.post("/Account/SetEnvironment/SessionStart", data=form)

    def login(self, user: WebUser = ADMIN) -> None:
        response = self.log_on(user)
        assert page_title(response.text) == "Environment", response.text
        home = self.start_session(response.text)
        assert home.status_code == 200
        assert page_title(home.text) == "Home"

    def task_data(self, *, reports: bool = False) -> requests.Response:
        params = {
            "includeTaskCount": "true",
            "includeReports": "true" if reports else "false",
            "maximumNumberOfReports": "-1",
            "includeTasks": "false" if reports else "true",
            "runningTasksOnly": "false",
        }
        return self.get("/Task/TaskAndReportData", params=params)

    def tasks(self) -> dict:
        response = self.task_data()
        assert response.status_code == 200, response.headers.get("Location")
        return response.json()

    def reports(self) -> list[dict]:
        response = self.task_data(reports=True)
        assert response.status_code == 200, response.headers.get("Location")
        return response.json()["Reports"]

    def save_definition(self, body: dict) -> requests.Response:
        return self.post("/Utility/SaveUploadDownload", json=body)

    def run_download(
        self,
        interface_id: str,
        *,
        at: dt.datetime | None = None,
        class_name: str = DOWNLOAD_CLASS,
        extra: dict | None = None,
    ) -> requests.Response:
        when = at or dt.datetime.now(SERVER_ZONE)
        form = {
            "SearchType": "download_filter",
            "SortType": "",
            "InterfaceId": interface_id,
            "StartDate": "07/01/2019",
            "ImportDirectory": "UD",
            "TxtImportDirectory": "",
            "TaskScheduler.CurrentTask.Classname": class_name,
            "TaskScheduler.CurrentTask.TaskDescription": interface_id,
            "groupPredicate": "false",
            "Filter.LoginId": ADMIN.username,
            "Filter.SearchType": "download_filter",
            "Filter.SearchNumber": "0",
            "Filter.GroupingMask": "",
            "SortFields.Fields[0].SortFieldIndex": "1",
            "sortFieldTableKey": "",
            "SortFields.LoginId": ADMIN.username,
            "SortFields.SearchType": "download_filter",
            "SortFields.SearchNumber": "0",
            "TaskScheduler.CurrentTask.ScheduleType": "O",
            "TaskScheduler.CurrentTask.ScheduledTimeTime": when.strftime("%I:%M %p"),
            "TaskScheduler.CurrentTask.ScheduledTimeDate": when.strftime("%m/%d/%Y"),
            "TaskScheduler.CurrentTask.SchdInterval": "1",
            **{f"TaskScheduler.CurrentTask.{day}": "false" for day in
               ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")},
            **(extra or {}),
        }
        return self.post("/Utility/RunDownload", data=form)

    def run_upload(self, interface_id: str, run_mode: str | None) -> requests.Response:
        now = dt.datetime.now(SERVER_ZONE)
        body = {
            "SearchType": "upload_filter",
            "SortType": "",
            "InterfaceId": interface_id,
            "InsertNewRec": "false",
            "UpdateExistRec": "true",
            "UpdateBlankRec": "false",
            "ImportDirectory": "UD",
            "StudWithoutOpenProg": "USD",
            "RunType": "UPLOAD",
            "ProgramDatesEnabled": "N",
            "TaskScheduler.CurrentTask.Classname": UPLOAD_CLASS,
            "TaskScheduler.CurrentTask.TaskDescription": interface_id,
            "TaskScheduler.CurrentTask.ScheduleType": "N",
            "TaskScheduler.CurrentTask.SchdInterval": "1",
            "TaskScheduler.CurrentTask.ScheduledTimeTime": now.strftime("%I:%M %p"),
            "TaskScheduler.CurrentTask.ScheduledTimeDate": now.strftime("%m/%d/%Y"),
            "ProgramStartDate": "",
            "ProgramEndDate": "",
            "GridEndDateData": {},
            "GridStartDateData": {},
        }
        if run_mode is not None:
            body["RunMode"] = run_mode
        return self.post("/Utility/RunUpload", json=body)

    def upload_file(self, name: str, content: bytes) -> requests.Response:
        return self.post(
            "/Utility/UploadFile",
            data={"name": "FileToUpload"},
            files={"fileData": (name, content, "application/octet-stream")},
        )

    def wait_for_task(self, name: str, near: dt.datetime, timeout: float = 10) -> list[str]:
        """Poll the task list until the task matching `name` and `near` (+-1 minute) is gone.

        Return the phases seen in order ("inactive", "active", "gone"), each listed once.
        """
        phases: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.tasks()
            phase = "gone"
            for label, key in (("inactive", "InactiveTasks"), ("active", "ActiveTasks")):
                if any(matches_task(task, name, near) for task in data[key]):
                    phase = label
                    for task in data[key]:
                        assert task["ErrorOccurred"] == "False", task
            if not phases or phases[-1] != phase:
                phases.append(phase)
            if phase == "gone":
                return phases
            time.sleep(0.05)
        raise AssertionError(f"task {name} still listed after {timeout} s; phases {phases}")


def matches_task(task: dict, name: str, near: dt.datetime) -> bool:
    run_time = dt.datetime.strptime(task["RunTime"], RUN_TIME_FORMAT)
    naive_near = near.replace(tzinfo=None)
    return task["TaskName"] == name and abs(run_time - naive_near) <= dt.timedelta(minutes=1)


def detail(interface_id: str, table: str, column: str, order: int, **fields: Any) -> dict:
    entry = {
        "InterfaceId": interface_id, "HeaderId": "1", "FieldId": str(order), "FieldOrder": order,
        "TableName": table, "ColumnName": column, "FieldLength": "255", "StartPosition": None,
        "EndPosition": None, "FormatString": None, "ColumnOverride": None, "Literal": None,
        "NewRow": True, "InterfaceTranslations": [""],
    }
    entry.update(fields)
    return entry


def header(
    interface_id: str,
    table: str,
    columns: list[str],
    file_name: str,
    *,
    header_id: str = "1",
    delimiter: str = ",",
    additional_sql: str = "",
    terminator: bool = False,
) -> dict:
    details = [detail(interface_id, table, column, i) for i, column in enumerate(columns, 1)]
    if terminator:
        details.append(detail(interface_id, table, "RECORD_END", len(details) + 1,
                              ColumnOverride="'#!#'"))
    for entry in details:
        entry["HeaderId"] = header_id
    return {
        "InterfaceId": interface_id, "HeaderId": header_id, "HeaderOrder": int(header_id),
        "FileName": file_name, "DelimitChar": delimiter, "TableAffected": table,
        "AdditionalSql": additional_sql, "ColumnHeaders": True, "ColumnHeadersRaw": "Y",
        "UseChangeFlag": False,
        "AffectedTableObject": {"Code": table, "Description": table, "CodeAndDescription": table,
                                "ActiveRaw": "Y", "Active": True},
        "InterfaceDetails": details,
    }


def definition(interface_id: str, headers: list[dict], kind: str = "D") -> dict:
    return {
        "IsCopyNew": "False", "NewHeaderNames": [""], "InterfaceHeadersToCopy": [""],
        "InterfaceToCopyFrom": [""], "CopyHeaders": "False", "PageEditMode": 0,
        "UploadDownloadDefinition": {
            "UploadDownload": kind, "UploadDownloadRaw": kind, "DistrictId": 0,
            "InterfaceId": interface_id, "Description": "sandbox test", "ChangeUser": None,
            "DeleteEntity": False, "InterfaceHeaders": headers,
        },
    }


STUDENT_COLUMNS = ["STUDENT_ID", "FIRST_NAME", "LAST_NAME", "NICKNAME", "EMAIL"]


def student_definition(interface_id: str = "ESMD1", **header_options: Any) -> dict:
    return definition(
        interface_id, [header(interface_id, "reg", STUDENT_COLUMNS, "students.csv", **header_options)]
    )


def assert_page_state(response: requests.Response, expected: int) -> dict:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["PageState"] == expected, body
    return body


@pytest.fixture
def web_factory() -> Iterator[Callable[..., WebClient]]:
    """Start sandboxes with the web path on loopback; each call returns a fresh client."""
    with ExitStack() as stack:

        def start(**overrides: Any) -> WebClient:
            settings = {
                "users": [ADMIN, RUNNER, VIEWER],
                "task_queue_seconds": 0.4,
                "task_run_seconds": 0.6,
                **overrides,
            }
            district = generate_district(seed=7, schools=2, students=40)
            sandbox = ESchoolPlusSandbox(district, web_config=WebConfig(**settings))
            server = stack.enter_context(sandbox.serve(port=0))
            return WebClient(sandbox, server.url)

        yield start


@pytest.fixture
def web(web_factory) -> WebClient:
    client = web_factory()
    client.login()
    return client


def run_and_fetch(client: WebClient, interface_id: str, file_name: str) -> bytes:
    submitted = dt.datetime.now(SERVER_ZONE)
    assert_page_state(client.run_download(interface_id), 2)
    client.wait_for_task(interface_id, submitted)
    names = [report["RawFileName"] for report in client.reports()]
    assert file_name in names
    response = client.get("/ReportViewer/FileStream", params={"fileName": file_name})
    assert response.status_code == 200
    return response.content


# --- login -------------------------------------------------------------------------------------


def test_full_download_cycle(web_factory):
    client = web_factory()
    sandbox = client.sandbox

    token = client.fetch_token()
    environment = client.log_on(ADMIN, token)
    assert environment.status_code == 200
    assert page_title(environment.text) == "Environment"
    page = parse_page(environment.text)
    hidden = {name for name, kind, _ in page.inputs if kind == "hidden"}
    assert {"ServerName", "EnvironmentConfiguration.SchoolYear"} <= hidden
    assert all(re.fullmatch(r"\d+", number) for number, _ in page.options)
    home = client.start_session(environment.text)
    assert page_title(home.text) == "Home"

    task_list = client.tasks()
    assert task_list["RunningTaskCount"] == 0
    assert task_list["ActiveTasks"] == []
    assert task_list["InactiveTasks"] == []

    assert_page_state(client.save_definition(student_definition()), 2)
    expired = client.task_data()
    assert expired.status_code == 302
    assert "/Account/LogOn" in expired.headers["Location"]
    client.login()

    submitted = dt.datetime.now(SERVER_ZONE)
    assert_page_state(client.run_download("ESMD1"), 2)
    phases = client.wait_for_task("ESMD1", submitted)
    assert phases == ["inactive", "active", "gone"]

    reports = {report["RawFileName"]: report for report in client.reports()}
    assert "students.csv" in reports
    report = reports["students.csv"]
    assert report["FileExtension"] == ".csv"
    modified = dt.datetime.strptime(report["ModifiedDate"], RUN_TIME_FORMAT)
    assert abs(modified - dt.datetime.now(SERVER_ZONE).replace(tzinfo=None)) < dt.timedelta(minutes=1)

    response = client.get("/ReportViewer/FileStream", params={"fileName": "students.csv"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    raw = response.content
    assert b"\xe9" in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("cp1252")
    assert "é" in text
    assert "la\r\nPetite" in text

    students = len(sandbox.district.students)
    lines = text.split("\r\n")
    assert lines[-1] == ""
    # Header + one line per student + one extra line from the unescaped CR/LF.
    assert len(lines) - 1 == students + 2
    assert lines[0] == ",".join(STUDENT_COLUMNS)
    first_id = lines[1].split(",")[0]
    assert len(first_id) == 10
    assert first_id.rstrip() == sorted(u.sourced_id for u in sandbox.district.students)[0]
    widths = {len(row) for row in csv.reader(io.StringIO(text, newline=""))}
    assert widths != {len(STUDENT_COLUMNS)}


def test_wrong_token_returns_login_page(web_factory):
    client = web_factory()
    client.fetch_token()
    response = client.log_on(ADMIN, token="forged-token")
    assert response.status_code == 200
    assert page_title(response.text) == "Login"
    assert "ASP.NET_SessionId" not in client.http.cookies
    assert client.task_data().status_code == 302


def test_token_from_other_cookie_jar_rejected(web_factory):
    client = web_factory()
    token = web_factory().fetch_token()
    client.fetch_token()
    other = WebClient(client.sandbox, client.base.removesuffix(client.sandbox.web.config.base_path))
    response = other.log_on(ADMIN, token=token)
    assert page_title(response.text) == "Login"


def test_wrong_password_returns_login_page(web_factory):
    client = web_factory()
    response = client.log_on(WebUser(ADMIN.username, "not-the-password"))
    assert response.status_code == 200
    assert page_title(response.text) == "Login"
    assert "incorrect" in response.text
    assert client.task_data().status_code == 302


def test_session_without_environment_redirects(web_factory):
    client = web_factory()
    assert page_title(client.log_on(ADMIN).text) == "Environment"
    assert client.task_data().status_code == 302


def test_unknown_database_shows_environment_again(web_factory):
    client = web_factory()
    environment = client.log_on(ADMIN).text
    fields = {name: value for name, _, value in parse_page(environment).inputs}
    form = {
        "ServerName": fields["ServerName"],
        "EnvironmentConfiguration.Database": "9999",
        "UserErrorMessage": "You do not have access to the selected database.",
        "EnvironmentConfiguration.SchoolYear": fields["EnvironmentConfiguration.SchoolYear"],
    }
    response = client.post("/Account/SetEnvironment/SessionStart", data=form)
    assert page_title(response.text) == "Environment"
    assert "You do not have access to the selected database." in response.text
    assert client.task_data().status_code == 302


def test_expired_session_redirects(web_factory):
    client = web_factory(session_idle_seconds=0.5)
    client.login()
    assert client.task_data().status_code == 200
    time.sleep(0.8)
    response = client.task_data()
    assert response.status_code == 302
    assert response.headers["Location"].startswith(client.sandbox.web.config.base_path + "/Account/LogOn")
    assert client.task_data().status_code == 302


def test_log_off_ends_session(web):
    assert web.get("/Account/LogOff").status_code == 302
    assert web.task_data().status_code == 302


def test_slow_login_needs_longer_timeout(web_factory):
    client = web_factory(login_delay_seconds=0.6)
    with pytest.raises(requests.Timeout):
        client.fetch_token(timeout=0.2)
    assert client.fetch_token(timeout=5)


# --- definitions -------------------------------------------------------------------------------


@pytest.mark.parametrize("interface_id", ["ESMD", "ESMD01"])
def test_interface_id_must_have_five_characters(web, interface_id):
    body = assert_page_state(web.save_definition(student_definition(interface_id)), 1)
    assert "exactly 5 characters" in body["ValidationErrorMessages"][0]["message"]
    assert interface_id not in web.sandbox.web.state.definitions
    assert web.task_data().status_code == 200


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"TableAffected": "no_such_table"}, "not a table that definitions can use"),
        ({"DelimitChar": ",,"}, "DelimitChar"),
        ({"HeaderOrder": "first"}, "must be a whole number"),
    ],
)
def test_definition_header_checked(web, change, expected):
    body = student_definition("ESMD2")
    body["UploadDownloadDefinition"]["InterfaceHeaders"][0].update(change)
    messages = assert_page_state(web.save_definition(body), 1)["ValidationErrorMessages"]
    assert any(expected in m["message"] for m in messages), messages


def test_definition_unknown_column_rejected(web):
    body = definition("ESMD3", [header("ESMD3", "reg", ["STUDENT_ID", "SHOE_SIZE"], "x.csv")])
    messages = assert_page_state(web.save_definition(body), 1)["ValidationErrorMessages"]
    assert "column 'SHOE_SIZE' is not in table 'reg'" in messages[0]["message"]


def test_definition_one_file_per_header(web):
    headers = [
        header("ESMD4", "reg", ["STUDENT_ID"], "same.csv", header_id="1"),
        header("ESMD4", "reg_staff", ["STAFF_ID"], "same.csv", header_id="2"),
    ]
    messages = assert_page_state(web.save_definition(definition("ESMD4", headers)), 1)
    assert "each header needs its own file" in messages["ValidationErrorMessages"][0]["message"]


def test_duplicate_interface_id_rejected(web):
    assert_page_state(web.save_definition(student_definition("ESMD5")), 2)
    web.login()
    body = assert_page_state(web.save_definition(student_definition("ESMD5")), 1)
    assert "already exists" in body["ValidationErrorMessages"][0]["message"]


def test_delete_definition_with_save_results(web):
    assert_page_state(web.save_definition(student_definition("ESMD6")), 2)
    web.login()
    body = {
        "SearchType": "UPLOADDEF",
        "Columns": [],
        "Deleted": [{"Keys": [{"Key": "district", "Value": "0"},
                              {"Key": "interface_id", "Value": "ESMD6"}]}],
    }
    response = web.post("/Search/SaveResults", json=body)
    assert response.json() == {"success": True}
    messages = assert_page_state(web.run_download("ESMD6"), 1)["ValidationErrorMessages"]
    assert "was not found" in messages[0]["message"]


# --- running -----------------------------------------------------------------------------------


def test_old_task_class_rejected(web):
    assert_page_state(web.save_definition(student_definition()), 2)
    web.login()
    body = assert_page_state(web.run_download("ESMD1", class_name="LTDB20_4.CRunDownload"), 1)
    message = body["ValidationErrorMessages"][0]["message"]
    assert "LTDB20_4.CRunDownload" in message
    assert "LTDB21_4.CRunDownload" in message
    tasks = web.tasks()
    assert tasks["InactiveTasks"] == []
    assert tasks["ActiveTasks"] == []


def test_old_report_url_not_found(web):
    assert_page_state(web.save_definition(student_definition()), 2)
    web.login()
    run_and_fetch(web, "ESMD1", "students.csv")
    report = next(r for r in web.reports() if r["RawFileName"] == "students.csv")
    response = web.get(f"/Reports/{report['ReportPath']}")
    assert response.status_code == 404
    assert web.get("/ReportViewer/FileStream", params={"fileName": "students.csv"}).status_code == 200


def test_legacy_report_url_switch(web_factory):
    client = web_factory(legacy_report_urls=True)
    client.login()
    assert_page_state(client.save_definition(student_definition()), 2)
    client.login()
    content = run_and_fetch(client, "ESMD1", "students.csv")
    report = next(r for r in client.reports() if r["RawFileName"] == "students.csv")
    response = client.get(f"/Reports/{report['ReportPath']}")
    assert response.status_code == 200
    assert response.content == content


def test_utc_client_finds_task_in_server_time(web):
    assert_page_state(web.save_definition(student_definition()), 2)
    web.login()
    utc_now = dt.datetime.now(dt.timezone.utc)
    server_now = utc_now.astimezone(SERVER_ZONE)
    assert_page_state(web.run_download("ESMD1", at=server_now), 2)
    listed = web.tasks()["InactiveTasks"] + web.tasks()["ActiveTasks"]
    assert any(matches_task(task, "ESMD1", server_now) for task in listed)
    # The UTC wall clock is 5 or 6 hours off the server's, so matching on it finds nothing.
    assert not any(matches_task(task, "ESMD1", utc_now) for task in listed)
    assert web.wait_for_task("ESMD1", server_now)[-1] == "gone"


def test_utc_scheduled_time_waits_hours(web):
    assert_page_state(web.save_definition(student_definition()), 2)
    web.login()
    utc_wall_clock = dt.datetime.now(dt.timezone.utc)
    assert_page_state(web.run_download("ESMD1", at=utc_wall_clock), 2)
    time.sleep(1.5)
    tasks = web.tasks()
    assert [task["TaskName"] for task in tasks["InactiveTasks"]] == ["ESMD1"]
    assert tasks["ActiveTasks"] == []
    assert "students.csv" not in [r["RawFileName"] for r in web.reports()]


def test_failing_definition_reports_error(web):
    body = student_definition("ESMD7", additional_sql="WHERE shoe_size = 'A'")
    assert_page_state(web.save_definition(body), 2)
    web.login()
    assert_page_state(web.run_download("ESMD7"), 2)
    deadline = time.monotonic() + 5
    failed = []
    while not failed and time.monotonic() < deadline:
        failed = [t for t in web.tasks()["ActiveTasks"] if t["ErrorOccurred"] == "True"]
        time.sleep(0.05)
    assert failed, "the task never reported an error"
    assert failed[0]["TaskError"]["ScheduledTaskErrorDescription"] == "Invalid column name 'shoe_size'."
    time.sleep(1.0)
    assert [t["TaskKey"] for t in web.tasks()["ActiveTasks"]] == [failed[0]["TaskKey"]]
    cleared = web.post("/Task/ClearErroredTask", json={"paramKey": failed[0]["TaskKey"]})
    assert cleared.json()["ActiveTasks"] == []
    assert "students.csv" not in [r["RawFileName"] for r in web.reports()]


def test_where_clause_and_active_filter(web):
    student = web.sandbox.district.students[0]
    body = student_definition("ESMD8", additional_sql=f"WHERE reg.student_id = '{student.sourced_id}'")
    assert_page_state(web.save_definition(body), 2)
    web.login()
    text = run_and_fetch(web, "ESMD8", "students.csv").decode("cp1252")
    rows = [line for line in text.split("\r\n")[1:] if line]
    assert rows[0].split(",")[0].strip() == student.sourced_id
    assert all(not line[0].isdigit() for line in rows[1:])


def test_record_terminator_column(web):
    assert_page_state(web.save_definition(student_definition("ESMD9", delimiter="|", terminator=True)), 2)
    web.login()
    text = run_and_fetch(web, "ESMD9", "students.csv").decode("cp1252")
    header_line, body = text.split("\r\n", 1)
    assert header_line == "|".join(STUDENT_COLUMNS) + "|RECORD_END"
    records = body.split("#!#\r\n")
    assert records[-1] == ""
    records = records[:-1]
    assert len(records) == len(web.sandbox.district.students)
    assert all(len(record.split("|")) == len(STUDENT_COLUMNS) + 1 for record in records)
    assert any("\r\n" in record for record in records)


def test_delete_reports(web):
    assert_page_state(web.save_definition(student_definition()), 2)
    web.login()
    run_and_fetch(web, "ESMD1", "students.csv")
    response = web.post("/Task/DeleteTasksAndReports",
                        json={"reportsToDelete": ["students.csv"], "tasksToDelete": []})
    assert response.status_code == 200
    assert "students.csv" not in [r["RawFileName"] for r in response.json()["Reports"]]
    assert web.get("/ReportViewer/FileStream", params={"fileName": "students.csv"}).status_code == 404


# --- upload ------------------------------------------------------------------------------------


def email_upload_definition() -> dict:
    return definition("ESMU0", [header("ESMU0", "reg", ["STUDENT_ID", "EMAIL"], "emails.csv")], kind="U")


def test_upload_verify_then_run(web):
    sandbox = web.sandbox
    student = sandbox.district.students[1]
    old_email = student.email
    assert_page_state(web.save_definition(email_upload_definition()), 2)
    web.login()
    content = f"STUDENT_ID,EMAIL\r\n{student.sourced_id},new.address@example.org\r\n".encode("cp1252")
    assert web.upload_file("emails.csv", content).status_code == 200

    now = dt.datetime.now(SERVER_ZONE)
    assert_page_state(web.run_upload("ESMU0", run_mode=None), 2)
    web.wait_for_task("ESMU0", now)
    assert sandbox.store.users[student.sourced_id].email == old_email
    report = web.get("/ReportViewer/FileStream", params={"fileName": "ESMU0_upload_report.txt"})
    report_text = report.content.decode("cp1252")
    assert "VERIFY MODE" in report_text
    assert "new.address@example.org" in report_text

    modified_before = sandbox.store.users[student.sourced_id].date_last_modified
    now = dt.datetime.now(SERVER_ZONE)
    assert_page_state(web.run_upload("ESMU0", run_mode="R"), 2)
    web.wait_for_task("ESMU0", now)
    assert sandbox.store.users[student.sourced_id].email == "new.address@example.org"
    assert sandbox.store.users[student.sourced_id].date_last_modified > modified_before


def test_upload_without_file_fails(web):
    assert_page_state(web.save_definition(email_upload_definition()), 2)
    web.login()
    assert_page_state(web.run_upload("ESMU0", run_mode="R"), 2)
    deadline = time.monotonic() + 5
    failed = []
    while not failed and time.monotonic() < deadline:
        failed = [t for t in web.tasks()["ActiveTasks"] if t["ErrorOccurred"] == "True"]
        time.sleep(0.05)
    assert failed
    assert "emails.csv" in failed[0]["TaskError"]["ScheduledTaskErrorDescription"]


def test_upload_rejects_unknown_run_mode(web):
    assert_page_state(web.save_definition(email_upload_definition()), 2)
    web.login()
    messages = assert_page_state(web.run_upload("ESMU0", run_mode="X"), 1)["ValidationErrorMessages"]
    assert "RunMode" in messages[0]["message"]


# --- permissions and logging -------------------------------------------------------------------


def test_missing_permissions_refused(web_factory):
    admin = web_factory()
    admin.login()
    assert_page_state(admin.save_definition(student_definition()), 2)

    runner = WebClient(admin.sandbox, admin.base.removesuffix("/eSchoolPLUS"))
    runner.login(RUNNER)
    assert runner.save_definition(student_definition("ESMD2")).status_code == 403
    assert "ESMD2" not in admin.sandbox.web.state.definitions
    assert_page_state(runner.run_download("ESMD1"), 2)

    viewer = WebClient(admin.sandbox, admin.base.removesuffix("/eSchoolPLUS"))
    viewer.login(VIEWER)
    assert viewer.tasks()["InactiveTasks"] == []
    assert viewer.run_download("ESMD1").status_code == 403
    assert viewer.upload_file("emails.csv", b"x").status_code == 403
    assert LOADDEFS not in VIEWER.permissions


def test_missing_permission_as_validation_message(web_factory):
    client = web_factory(missing_permission_response="validation")
    client.login(VIEWER)
    body = assert_page_state(client.run_download("ESMD1"), 1)
    assert "RUNLOAD" in body["ValidationErrorMessages"][0]["message"]


def test_request_log_records_web_routes(web):
    web.tasks()
    routes = {(record.route, record.status) for record in web.sandbox.request_log.records}
    assert ("/eSchoolPLUS/Account/LogOn", 200) in routes
    assert ("/eSchoolPLUS/Task/TaskAndReportData", 200) in routes
    users = {record.consumer_key for record in web.sandbox.request_log.records
             if record.route == "/eSchoolPLUS/Task/TaskAndReportData"}
    assert users == {ADMIN.username}


def test_oneroster_api_still_needs_oauth(web):
    response = requests.get(
        web.base.removesuffix("/eSchoolPLUS") + web.sandbox.oneroster_path + "/students", timeout=10
    )
    assert response.status_code == 401
