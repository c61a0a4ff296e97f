"""Read and write a District as a OneRoster 1.1 CSV bundle (manifest.csv plus one file per kind).

The column names and order follow the OneRoster 1.1 CSV binding. List fields (`orgSourcedIds`,
`termSourcedIds`, `grades`, `periods`) are comma-joined inside one quoted field, and `userIds`
is written as `{type:identifier}` items. The loader accepts any column order, extra columns and
missing optional columns, and raises DistrictLoadError naming the file, line and column of the
first missing required column, blank required value, invalid date or dangling reference.

OneRoster has no field for the school of an academic session, which this project's model keeps.
The loader derives it: from the classes that use a term, else from the courses or child terms of
a school year, else from the parent school year.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .clever import DistrictLoadError
from .model import (
    UTC,
    AcademicSession,
    Course,
    District,
    Enrollment,
    Org,
    SchoolClass,
    User,
    format_timestamp,
)

log = logging.getLogger(__name__)

ORG_COLUMNS = ("sourcedId", "status", "dateLastModified", "name", "type", "identifier",
               "parentSourcedId")
SESSION_COLUMNS = ("sourcedId", "status", "dateLastModified", "title", "type", "startDate",
                   "endDate", "parentSourcedId", "schoolYear")
COURSE_COLUMNS = ("sourcedId", "status", "dateLastModified", "schoolYearSourcedId", "title",
                  "courseCode", "grades", "orgSourcedId", "subjects", "subjectCodes")
CLASS_COLUMNS = ("sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId",
                 "classCode", "classType", "location", "schoolSourcedId", "termSourcedIds",
                 "subjects", "subjectCodes", "periods")
USER_COLUMNS = ("sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role",
                "username", "userIds", "givenName", "familyName", "middleName", "identifier",
                "email", "sms", "phone", "agentSourcedIds", "grades", "password")
ENROLLMENT_COLUMNS = ("sourcedId", "status", "dateLastModified", "classSourcedId",
                      "schoolSourcedId", "userSourcedId", "role", "primary", "beginDate",
                      "endDate")
DEMOGRAPHICS_REQUIRED = ("sourcedId",)

# Columns whose value the 1.1 binding marks required; the header must contain each of them.
REQUIRED_COLUMNS = {
    "orgs.csv": ("sourcedId", "name", "type"),
    "academicSessions.csv": ("sourcedId", "title", "type", "startDate", "endDate", "schoolYear"),
    "courses.csv": ("sourcedId", "title", "orgSourcedId"),
    "classes.csv": ("sourcedId", "title", "courseSourcedId", "classType", "schoolSourcedId",
                    "termSourcedIds"),
    "users.csv": ("sourcedId", "enabledUser", "orgSourcedIds", "role", "username", "givenName",
                  "familyName"),
    "enrollments.csv": ("sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"),
}
DATA_FILES = tuple(REQUIRED_COLUMNS)
# Every file the 1.1 manifest declares, in the binding's order.
MANIFEST_FILES = ("academicSessions", "categories", "classes", "classResources", "courses",
                  "courseResources", "demographics", "enrollments", "lineItems", "orgs",
                  "resources", "results", "users")
FILE_MODES = ("bulk", "delta", "absent")
STATUSES = ("active", "tobedeleted", "inactive")
_FILES = {
    "org": "orgs.csv",
    "academic session": "academicSessions.csv",
    "course": "courses.csv",
    "class": "classes.csv",
    "user": "users.csv",
}
_USER_ID = re.compile(r"\{([^:{}]*):([^{}]*)\}")


@dataclass(frozen=True)
class _Row:
    file: str
    line: int
    values: dict[str, str]

    def get(self, column: str) -> str:
        return (self.values.get(column) or "").strip()

    def where(self, column: str) -> str:
        return f"{self.file} line {self.line}, column {column}"

    def required(self, column: str) -> str:
        value = self.get(column)
        if not value:
            raise DistrictLoadError(f"{self.where(column)}: value is required but blank")
        return value

    def items(self, column: str) -> list[str]:
        """Split a comma-joined list field; blank items are dropped."""
        return [item.strip() for item in self.get(column).split(",") if item.strip()]

    def date(self, column: str, *, required: bool = False) -> dt.date | None:
        text = self.required(column) if required else self.get(column)
        if not text:
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise DistrictLoadError(
                f"{self.where(column)}: invalid date {text!r}; expected YYYY-MM-DD"
            ) from None

    def boolean(self, column: str, default: bool) -> bool:
        text = self.get(column).lower()
        if not text:
            return default
        if text not in ("true", "false"):
            raise DistrictLoadError(
                f"{self.where(column)}: invalid boolean {text!r}; expected true or false"
            )
        return text == "true"


def _read_rows(path: Path) -> Iterator[_Row]:
    """Yield the data rows of one bundle file, checking the header for required columns."""
    text = path.read_bytes().decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise DistrictLoadError(f"{path.name} line 1: file is empty; expected a header row")
    header = [name.strip() for name in header]
    for column in REQUIRED_COLUMNS.get(path.name, DEMOGRAPHICS_REQUIRED):
        if column not in header:
            raise DistrictLoadError(
                f"{path.name} line 1, column {column}: required column is missing from the header"
            )
    for values in reader:
        if not any(value.strip() for value in values):
            continue
        yield _Row(path.name, reader.line_num, dict(zip(header, values)))


def _parse_timestamp(row: _Row) -> dt.datetime | None:
    text = row.get("dateLastModified")
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DistrictLoadError(
            f"{row.where('dateLastModified')}: invalid timestamp {text!r}; "
            "expected ISO 8601 such as 2026-08-17T12:00:00.000Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def read_manifest(folder: Path) -> dict[str, str]:
    """Return manifest.csv as {propertyName: value}; raise DistrictLoadError when it is invalid."""
    path = folder / "manifest.csv"
    if not path.is_file():
        raise DistrictLoadError(f"{folder}: missing manifest.csv")
    text = path.read_bytes().decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip() for name in next(reader, [])]
    for column in ("propertyName", "value"):
        if column not in header:
            raise DistrictLoadError(
                f"manifest.csv line 1, column {column}: required column is missing from the header"
            )
    name_at, value_at = header.index("propertyName"), header.index("value")
    properties: dict[str, str] = {}
    for values in reader:
        if not any(value.strip() for value in values):
            continue
        name = values[name_at].strip() if name_at < len(values) else ""
        value = values[value_at].strip() if value_at < len(values) else ""
        if name.startswith("file.") and value not in FILE_MODES:
            raise DistrictLoadError(
                f"manifest.csv line {reader.line_num}, column value: {name} is {value!r}; "
                f"expected one of {', '.join(FILE_MODES)}"
            )
        properties[name] = value
    return properties


def load_oneroster_folder(path: str | Path, *, loaded_at: dt.datetime | None = None) -> District:
    """Load a OneRoster 1.1 CSV bundle (a folder with manifest.csv) into a District.

    orgs, academicSessions, courses, classes, users and enrollments are read. A file the
    manifest marks `absent` counts as empty, and a present demographics.csv is checked for
    users it names but not kept. Blank `status` (allowed in bulk files) loads as `active`, and
    a blank dateLastModified loads as `loaded_at`. `loaded_at` defaults to the latest
    dateLastModified in the bundle. The bundle must contain exactly one org of type `district`.
    Orgs of other types load into `District.schools` with their type kept.
    """
    folder = Path(path)
    manifest = read_manifest(folder)
    loader = _OneRosterLoader(folder, manifest)
    district = loader.load(loaded_at)
    log.info("loaded OneRoster bundle from %s: %s", folder, district.summary())
    return district


class _OneRosterLoader:
    def __init__(self, folder: Path, manifest: dict[str, str]) -> None:
        self.folder = folder
        self.manifest = manifest
        self.stamps: list[tuple[object, dt.datetime | None]] = []
        self.orgs: dict[str, Org] = {}
        self.sessions: dict[str, AcademicSession] = {}
        self.courses: dict[str, Course] = {}
        self.classes: dict[str, SchoolClass] = {}
        self.users: dict[str, User] = {}
        self.enrollments: dict[str, Enrollment] = {}

    def rows(self, name: str) -> Iterator[_Row]:
        mode = self.manifest.get(f"file.{name.removesuffix('.csv')}", "")
        path = self.folder / name
        if mode == "absent":
            if path.is_file():
                log.warning("%s: manifest.csv marks it absent, so it was not read", path)
            return iter(())
        if not path.is_file():
            raise DistrictLoadError(
                f"{self.folder}: {name} not found, but manifest.csv marks it {mode or 'nothing'}; "
                "add the file or mark it absent"
            )
        return _read_rows(path)

    def common(self, row: _Row, table: dict) -> dict:
        sourced_id = row.required("sourcedId")
        if sourced_id in table:
            raise DistrictLoadError(f"{row.where('sourcedId')}: duplicate sourcedId {sourced_id!r}")
        status = row.get("status") or "active"
        if status not in STATUSES:
            raise DistrictLoadError(
                f"{row.where('status')}: invalid status {status!r}; expected one of "
                f"{', '.join(STATUSES)}"
            )
        return {"sourced_id": sourced_id, "status": status, "date_last_modified": _parse_timestamp(row)}

    @staticmethod
    def refer(row: _Row, column: str, table: dict, kind: str, value: str | None = None) -> str:
        """Return the referenced sourcedId; raise when `table` (loaded from _FILES[kind]) lacks it."""
        target = row.get(column) if value is None else value
        if target not in table:
            raise DistrictLoadError(
                f"{row.where(column)}: {kind} {target!r} is not in {_FILES[kind]}"
            )
        return target

    def load(self, loaded_at: dt.datetime | None) -> District:
        self._load_orgs()
        self._load_sessions()
        self._load_courses()
        self._load_classes()
        self._load_users()
        self._load_enrollments()
        self._check_demographics()
        self._derive_session_schools()

        districts = [org for org in self.orgs.values() if org.type == "district"]
        if len(districts) != 1:
            raise DistrictLoadError(
                f"orgs.csv: expected exactly one org of type district, found {len(districts)}"
            )
        records = [
            *self.orgs.values(), *self.sessions.values(), *self.courses.values(),
            *self.classes.values(), *self.users.values(), *self.enrollments.values(),
        ]
        stamps = [r.date_last_modified for r in records if r.date_last_modified is not None]
        if loaded_at is None:
            loaded_at = max(stamps) if stamps else dt.datetime(2000, 1, 1, tzinfo=UTC)
        for record in records:
            if record.date_last_modified is None:
                record.date_last_modified = loaded_at
        return District(
            org=districts[0],
            schools=[org for org in self.orgs.values() if org.type != "district"],
            sessions=list(self.sessions.values()),
            courses=list(self.courses.values()),
            classes=list(self.classes.values()),
            users=list(self.users.values()),
            enrollments=list(self.enrollments.values()),
            loaded_at=loaded_at,
        )

    def _load_orgs(self) -> None:
        rows = list(self.rows("orgs.csv"))
        for row in rows:
            common = self.common(row, self.orgs)
            self.orgs[common["sourced_id"]] = Org(
                **common,
                name=row.required("name"),
                type=row.required("type"),
                identifier=row.get("identifier"),
                parent_id=row.get("parentSourcedId") or None,
            )
        # Parents may come after their children, so references are checked once all are read.
        for row in rows:
            if row.get("parentSourcedId"):
                self.refer(row, "parentSourcedId", self.orgs, "org")

    def _load_sessions(self) -> None:
        rows = list(self.rows("academicSessions.csv"))
        for row in rows:
            common = self.common(row, self.sessions)
            start = row.date("startDate", required=True)
            end = row.date("endDate", required=True)
            if end < start:
                raise DistrictLoadError(
                    f"{row.where('endDate')}: endDate {end} is before startDate {start}"
                )
            self.sessions[common["sourced_id"]] = AcademicSession(
                **common,
                title=row.required("title"),
                type=row.required("type"),
                start_date=start,
                end_date=end,
                school_year=row.required("schoolYear"),
                school_id="",
                parent_id=row.get("parentSourcedId") or None,
            )
        for row in rows:
            if row.get("parentSourcedId"):
                self.refer(row, "parentSourcedId", self.sessions, "academic session")

    def _load_courses(self) -> None:
        for row in self.rows("courses.csv"):
            common = self.common(row, self.courses)
            school_year_id = row.get("schoolYearSourcedId")
            if school_year_id:
                self.refer(row, "schoolYearSourcedId", self.sessions, "academic session")
            self.courses[common["sourced_id"]] = Course(
                **common,
                title=row.required("title"),
                course_code=row.get("courseCode"),
                school_id=self.refer(row, "orgSourcedId", self.orgs, "org"),
                school_year_id=school_year_id,
                grades=row.items("grades"),
            )

    def _load_classes(self) -> None:
        for row in self.rows("classes.csv"):
            common = self.common(row, self.classes)
            row.required("termSourcedIds")
            term_ids = [
                self.refer(row, "termSourcedIds", self.sessions, "academic session", term_id)
                for term_id in row.items("termSourcedIds")
            ]
            self.classes[common["sourced_id"]] = SchoolClass(
                **common,
                title=row.required("title"),
                class_code=row.get("classCode"),
                class_type=row.required("classType"),
                course_id=self.refer(row, "courseSourcedId", self.courses, "course"),
                school_id=self.refer(row, "schoolSourcedId", self.orgs, "org"),
                term_ids=term_ids,
                periods=row.items("periods"),
                grades=row.items("grades"),
                location=row.get("location"),
            )

    def _load_users(self) -> None:
        for row in self.rows("users.csv"):
            common = self.common(row, self.users)
            row.required("orgSourcedIds")
            org_ids = [
                self.refer(row, "orgSourcedIds", self.orgs, "org", org_id)
                for org_id in row.items("orgSourcedIds")
            ]
            state_id = ""
            for kind, identifier in _USER_ID.findall(row.get("userIds")):
                if kind.strip().lower() in ("stateid", "state"):
                    state_id = identifier.strip()
            self.users[common["sourced_id"]] = User(
                **common,
                role=row.required("role"),
                username=row.required("username"),
                given_name=row.required("givenName"),
                family_name=row.required("familyName"),
                middle_name=row.get("middleName"),
                identifier=row.get("identifier"),
                email=row.get("email"),
                grades=row.items("grades"),
                org_ids=org_ids,
                state_id=state_id,
                enabled_user=row.boolean("enabledUser", True),
            )

    def _load_enrollments(self) -> None:
        for row in self.rows("enrollments.csv"):
            common = self.common(row, self.enrollments)
            begin = row.date("beginDate")
            end = row.date("endDate")
            if begin and end and end < begin:
                raise DistrictLoadError(
                    f"{row.where('endDate')}: endDate {end} is before beginDate {begin}"
                )
            self.enrollments[common["sourced_id"]] = Enrollment(
                **common,
                role=row.required("role"),
                primary=row.boolean("primary", False),
                user_id=self.refer(row, "userSourcedId", self.users, "user"),
                class_id=self.refer(row, "classSourcedId", self.classes, "class"),
                school_id=self.refer(row, "schoolSourcedId", self.orgs, "org"),
                begin_date=begin,
                end_date=end,
            )

    def _check_demographics(self) -> None:
        path = self.folder / "demographics.csv"
        if self.manifest.get("file.demographics") == "absent" or not path.is_file():
            return
        for row in _read_rows(path):
            # In OneRoster 1.1 a demographics record shares the sourcedId of its user.
            self.refer(row, "sourcedId", self.users, "user")

    def _derive_session_schools(self) -> None:
        for school_class in self.classes.values():
            for term_id in school_class.term_ids:
                term = self.sessions[term_id]
                term.school_id = term.school_id or school_class.school_id
        for course in self.courses.values():
            year = self.sessions.get(course.school_year_id)
            if year is not None and not year.school_id:
                year.school_id = course.school_id
        for session in self.sessions.values():
            parent = self.sessions.get(session.parent_id or "")
            if parent is not None and session.school_id and not parent.school_id:
                parent.school_id = session.school_id
        for session in self.sessions.values():
            parent = self.sessions.get(session.parent_id or "")
            if parent is not None and not session.school_id:
                session.school_id = parent.school_id


def write_oneroster_folder(district: District, path: str | Path, *, mode: str = "delta") -> Path:
    """Write `district` as a OneRoster 1.1 CSV bundle in `path` (created if missing).

    `mode="delta"` (the default) fills `status` and `dateLastModified`, so loading the bundle
    gives back an equal District. `mode="bulk"` leaves both blank, as the 1.1 binding requires for
    bulk files, so every record loads as active with one timestamp. Returns the folder.
    """
    if mode not in ("bulk", "delta"):
        raise ValueError(f"mode must be 'bulk' or 'delta', got {mode!r}")
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "orgs.csv": (ORG_COLUMNS, (_org_row(o) for o in [district.org, *district.schools])),
        "academicSessions.csv": (SESSION_COLUMNS, (_session_row(s) for s in district.sessions)),
        "courses.csv": (COURSE_COLUMNS, (_course_row(c) for c in district.courses)),
        "classes.csv": (CLASS_COLUMNS, (_class_row(c) for c in district.classes)),
        "users.csv": (USER_COLUMNS, (_user_row(u) for u in district.users)),
        "enrollments.csv": (ENROLLMENT_COLUMNS, (_enrollment_row(e) for e in district.enrollments)),
    }
    for name, (columns, rows) in files.items():
        with (folder / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            writer.writerow(columns)
            for record, values in rows:
                if mode == "delta":
                    values[1] = record.status
                    values[2] = format_timestamp(record.date_last_modified)
                writer.writerow(values)
    written = {name.removesuffix(".csv") for name in files}
    with (folder / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(("propertyName", "value"))
        writer.writerow(("manifest.version", "1.0"))
        writer.writerow(("oneroster.version", "1.1"))
        for name in MANIFEST_FILES:
            writer.writerow((f"file.{name}", mode if name in written else "absent"))
        writer.writerow(("source.systemName", "esp-pipeline sandbox"))
        writer.writerow(("source.systemCode", district.org.sourced_id))
    log.info("wrote OneRoster %s bundle to %s: %s", mode, folder, district.summary())
    return folder


def _join(items: list[str]) -> str:
    return ",".join(items)


def _date(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def _org_row(org: Org):
    return org, [org.sourced_id, "", "", org.name, org.type, org.identifier, org.parent_id or ""]


def _session_row(session: AcademicSession):
    return session, [
        session.sourced_id, "", "", session.title, session.type, _date(session.start_date),
        _date(session.end_date), session.parent_id or "", session.school_year,
    ]


def _course_row(course: Course):
    return course, [
        course.sourced_id, "", "", course.school_year_id, course.title, course.course_code,
        _join(course.grades), course.school_id, "", "",
    ]


def _class_row(school_class: SchoolClass):
    return school_class, [
        school_class.sourced_id, "", "", school_class.title, _join(school_class.grades),
        school_class.course_id, school_class.class_code, school_class.class_type,
        school_class.location, school_class.school_id, _join(school_class.term_ids), "", "",
        _join(school_class.periods),
    ]


def _user_row(user: User):
    user_ids = f"{{stateId:{user.state_id}}}" if user.state_id else ""
    return user, [
        user.sourced_id, "", "", "true" if user.enabled_user else "false", _join(user.org_ids),
        user.role, user.username, user_ids, user.given_name, user.family_name, user.middle_name,
        user.identifier, user.email, "", "", "", _join(user.grades), "",
    ]


def _enrollment_row(enrollment: Enrollment):
    return enrollment, [
        enrollment.sourced_id, "", "", enrollment.class_id, enrollment.school_id,
        enrollment.user_id, enrollment.role, "true" if enrollment.primary else "false",
        _date(enrollment.begin_date), _date(enrollment.end_date),
    ]
