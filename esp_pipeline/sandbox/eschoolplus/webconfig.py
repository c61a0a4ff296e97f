"""Settings for the sandbox's eSchoolPLUS web application (cookie login, Download/Upload
Definitions), kept apart from the PLUS360 API settings in config.py."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field

RUNLOAD = "RUNLOAD"
LOADDEFS = "LOADDEFS"
PERMISSIONS = (RUNLOAD, LOADDEFS)
PERMISSION_RESPONSES = ("forbidden", "validation", "redirect")


@dataclass(frozen=True)
class WebUser:
    """One eSchoolPLUS login.

    `permissions` names the security resources the user has read/write access to: RUNLOAD
    (System > Utilities, needed to run definitions and upload files) and LOADDEFS (System >
    Setup And Configuration, needed to save or delete definitions). `databases` limits the
    environment databases the user may pick; None allows all of them.
    """

    username: str
    password: str
    permissions: tuple[str, ...] = PERMISSIONS
    databases: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.permissions) - set(PERMISSIONS))
        if unknown:
            raise ValueError(
                f"unknown web permissions {unknown}; known permissions: {', '.join(PERMISSIONS)}"
            )


@dataclass
class WebConfig:
    """The web path's behaviours, including those no public source pins down.

    Durations are in seconds. Defaults keep a sandbox run fast: a task waits `task_queue_seconds`
    in InactiveTasks after its scheduled time and then runs for `task_run_seconds` in
    ActiveTasks, where production tasks take minutes.
    """

    # Path of the web application; Arkansas state-hosted servers use /eSchoolPLUS (before
    # 2023: /eSchoolPLUS20).
    base_path: str = "/eSchoolPLUS"
    users: list[WebUser] = field(
        default_factory=lambda: [WebUser("sandboxadmin", "sandbox-password")]
    )
    # Value of the hidden ServerName input on the environment page.
    server_name: str = "ESPSANDBOX01"
    # (number, name) of each <option> in the environment page's database list.
    databases: tuple[tuple[str, str], ...] = (
        ("0100", "Sandbox Training"),
        ("0101", "Sandbox Unified School District"),
    )
    # School year (ending calendar year) of the hidden EnvironmentConfiguration.SchoolYear
    # input; None takes the latest school year of the district.
    school_year: int | None = None
    # Delay before every response of /Account/LogOn, to exercise client timeouts. Clients
    # wait 10 s for these pages because slow servers broke the older 5 s timeout.
    login_delay_seconds: float = 0.0
    # Idle time after which a session expires and protected pages redirect to the login page.
    # NOTE: eSchoolPLUS's real timeout is not published; 1200 s is ASP.NET's default session
    # state timeout.
    session_idle_seconds: float = 1200.0
    # When set, saving a definition ends the session, so the client must log in again before
    # it can run the new definition. Scripts force a fresh login after saving definitions.
    save_definition_ends_session: bool = True
    # Time zone of the server clock: scheduled times in RunDownload/RunUpload and the
    # RunTime and ModifiedDate values are local times in this zone.
    timezone: str = "America/Chicago"
    # Version prefix of the task classes (LTDB21_4.CRunDownload, LTDB21_4.CRunUpload).
    # 21.4 renamed them from LTDB20_4.
    task_class_prefix: str = "LTDB21_4"
    # When set, files are also served at the pre-21.4 URL /Reports/<ReportPath>; 21.4 and
    # later serve them only at /ReportViewer/FileStream?fileName=<RawFileName>.
    legacy_report_urls: bool = False
    task_queue_seconds: float = 1.0
    task_run_seconds: float = 2.0
    # NOTE: the format of RunTime and ModifiedDate is not published; scripts parse them with
    # PowerShell's Get-Date, which reads this US form.
    datetime_format: str = "%m/%d/%Y %I:%M:%S %p"
    # Content-Type of downloaded files. Scripts decode application/octet-stream as
    # Windows-1252 and use text/plain as it comes.
    file_content_type: str = "application/octet-stream"
    # STUDENT_ID and STAFF_ID are char(10) columns, so exports carry them right-padded with
    # spaces unless this is turned off.
    pad_char_ids: bool = True
    # A NICKNAME holding a quote, a comma, an e-acute and a CR/LF line break, written into the
    # reg row of `messy_student_id` (default: the lowest student id). eSchool does not escape
    # any of these in its exports. None leaves every NICKNAME empty.
    messy_nickname: str | None = 'Ren\u00e9e "R\u00e9", la\r\nPetite'
    messy_student_id: str | None = None
    # Encoding of uploaded data files.
    # NOTE: eSchool's expected upload encoding is not published; Windows-1252 matches its
    # exports.
    upload_encoding: str = "cp1252"
    # Response when a logged-in user lacks RUNLOAD or LOADDEFS: "forbidden" (403 page),
    # "validation" (200 JSON with PageState 1 and a message) or "redirect" (302 to the login
    # page). NOTE: eSchool's actual response is not published.
    missing_permission_response: str = "forbidden"
    # Maximum number of anti-forgery tokens and sessions kept; the oldest are dropped first.
    max_tokens: int = 10000

    def __post_init__(self) -> None:
        if not self.base_path.startswith("/") or self.base_path.endswith("/"):
            raise ValueError(
                f"base_path must start with '/' and not end with one, got {self.base_path!r}"
            )
        if self.missing_permission_response not in PERMISSION_RESPONSES:
            raise ValueError(
                "missing_permission_response must be one of "
                f"{', '.join(PERMISSION_RESPONSES)}, got {self.missing_permission_response!r}"
            )
        if not self.databases:
            raise ValueError("databases must list at least one (number, name) pair")
        names = [user.username.lower() for user in self.users]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"web usernames must be unique, duplicated: {', '.join(duplicates)}")
        for name, value in (
            ("login_delay_seconds", self.login_delay_seconds),
            ("session_idle_seconds", self.session_idle_seconds),
            ("task_queue_seconds", self.task_queue_seconds),
            ("task_run_seconds", self.task_run_seconds),
        ):
            if value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")
        self.zone = zoneinfo.ZoneInfo(self.timezone)

    @property
    def download_class(self) -> str:
        return f"{self.task_class_prefix}.CRunDownload"

    @property
    def upload_class(self) -> str:
        return f"{self.task_class_prefix}.CRunUpload"

    def find_user(self, username: str) -> WebUser | None:
        """Return the user with this login name, compared without regard to case."""
        name = username.strip().lower()
        return next((user for user in self.users if user.username.lower() == name), None)
