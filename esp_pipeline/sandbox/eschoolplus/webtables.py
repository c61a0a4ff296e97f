"""The eSchoolPLUS tables that the sandbox's Download/Upload Definitions read and write.

Rows are built from the district on every run, so changes made through the sandbox (or by an
upload) show up in the next export. Each table carries a subset of the real eSchoolPLUS columns,
named as eSchool names them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from esp_pipeline.sandbox.districts.model import User

from .store import USER_ID_WIDTH, RosterStore
from .webconfig import WebConfig

# Tables a definition header may name as TableAffected: a selection of the names in eSchoolPLUS's
# "table affected" list, matched without regard to case.
TABLE_AFFECTED = frozenset(
    name.lower()
    for name in (
        "reg", "reg_academic", "reg_building", "reg_building_grade", "reg_calendar",
        "reg_contact", "reg_contact_phone", "reg_district", "reg_entry_with", "reg_ethnicity",
        "reg_grade", "reg_legal_info", "reg_notes", "reg_personal", "reg_programs", "reg_room",
        "reg_staff", "reg_staff_address", "reg_staff_bldgs", "reg_stu_contact", "reg_user",
        "reg_track", "schd_course", "schd_ms", "schd_ms_mp", "schd_ms_session", "schd_ms_staff",
        "schd_period", "schd_stu_course", "schd_stu_crs_dates", "schd_stu_req",
        "Mr_gb_asmt", "Mr_gb_stu_score", "mr_gb_cat_avg", "mr_stu_marks", "att_bottomline",
        "med_general", "ltdb_stu_test", "disc_incident", "fee_stu_item",
    )
)


class SqlError(ValueError):
    """A definition's AdditionalSql or filter cannot run; the message reads like SQL Server's."""


@dataclass(frozen=True)
class Table:
    """One modelled table: its columns in order, the key columns and the updatable ones.

    `updatable` maps a column to the User field an upload run writes; tables without a user
    behind each row have none.
    """

    name: str
    columns: tuple[str, ...]
    keys: tuple[str, ...]
    updatable: dict[str, str]
    rows: Callable[[RosterStore, WebConfig], list[dict[str, object]]]

    def has_column(self, column: str) -> bool:
        return column.upper() in self.columns


def _pad(user_id: str, config: WebConfig) -> str:
    return user_id.ljust(USER_ID_WIDTH) if config.pad_char_ids else user_id


def _school_year(store: RosterStore, session_ids: Iterable[str]) -> str:
    for session_id in session_ids:
        session = store.sessions.get(session_id)
        if session is not None:
            return session.school_year
    return ""


def _messy_student_id(store: RosterStore, config: WebConfig) -> str | None:
    if config.messy_nickname is None:
        return None
    if config.messy_student_id is not None:
        return config.messy_student_id
    return store.student_ids[0] if store.student_ids else None


def _reg_rows(store: RosterStore, config: WebConfig) -> list[dict[str, object]]:
    district_id = store.district.org.identifier or store.district.org.sourced_id
    messy_id = _messy_student_id(store, config)
    rows = []
    for user_id in store.student_ids:
        user = store.users[user_id]
        rows.append(
            {
                "DISTRICT": district_id,
                "STUDENT_ID": _pad(user.sourced_id, config),
                "FIRST_NAME": user.given_name,
                "MIDDLE_NAME": user.middle_name,
                "LAST_NAME": user.family_name,
                "NICKNAME": config.messy_nickname if user.sourced_id == messy_id else "",
                "BUILDING": user.org_ids[0] if user.org_ids else "",
                "GRADE": user.grades[0] if user.grades else "",
                "CURRENT_STATUS": "A" if user.status == "active" else "I",
                "EMAIL": user.email,
                "CHANGE_DATE_TIME": user.date_last_modified,
            }
        )
    return rows


def _reg_staff_rows(store: RosterStore, config: WebConfig) -> list[dict[str, object]]:
    district_id = store.district.org.identifier or store.district.org.sourced_id
    rows = []
    for user_id in store.teacher_ids:
        user = store.users[user_id]
        rows.append(
            {
                "DISTRICT": district_id,
                "STAFF_ID": _pad(user.sourced_id, config),
                "STAFF_NAME": f"{user.family_name}, {user.given_name}",
                "FIRST_NAME": user.given_name,
                "MIDDLE_NAME": user.middle_name,
                "LAST_NAME": user.family_name,
                "EMAIL": user.email,
                "LOGIN_ID": user.username,
                "ACTIVE": "Y" if user.status == "active" else "N",
                "CHANGE_DATE_TIME": user.date_last_modified,
            }
        )
    return rows


def _reg_building_rows(store: RosterStore, config: WebConfig) -> list[dict[str, object]]:
    district_id = store.district.org.identifier or store.district.org.sourced_id
    return [
        {
            "DISTRICT": district_id,
            "BUILDING": store.orgs[school_id].identifier or school_id,
            "NAME": store.orgs[school_id].name,
            "ACTIVE": "Y" if store.orgs[school_id].status == "active" else "N",
            "CHANGE_DATE_TIME": store.orgs[school_id].date_last_modified,
        }
        for school_id in store.school_ids
    ]


def _schd_ms_rows(store: RosterStore, config: WebConfig) -> list[dict[str, object]]:
    district_id = store.district.org.identifier or store.district.org.sourced_id
    rows = []
    for class_id in store.all_ids["classes"]:
        school_class = store.classes[class_id]
        course = store.courses.get(school_class.course_id)
        primary = next(
            (
                store.enrollments[e].user_id
                for e in store.class_enrollments.get(class_id, [])
                if store.enrollments[e].role == "teacher" and store.enrollments[e].primary
            ),
            "",
        )
        rows.append(
            {
                "DISTRICT": district_id,
                "SCHOOL_YEAR": _school_year(store, school_class.term_ids),
                "SUMMER_SCHOOL": "N",
                "BUILDING": school_class.school_id,
                "COURSE": course.course_code if course else "",
                "COURSE_SECTION": school_class.class_code.rsplit("-", 1)[-1],
                "SECTION_KEY": school_class.sourced_id,
                "DESCRIPTION": school_class.title,
                "PRIMARY_STAFF_ID": _pad(primary, config) if primary else "",
                "CHANGE_DATE_TIME": school_class.date_last_modified,
            }
        )
    return rows


def _schd_stu_crs_dates_rows(store: RosterStore, config: WebConfig) -> list[dict[str, object]]:
    district_id = store.district.org.identifier or store.district.org.sourced_id
    rows = []
    for enrollment_id in store.all_ids["enrollments"]:
        enrollment = store.enrollments[enrollment_id]
        if enrollment.role != "student":
            continue
        school_class = store.classes.get(enrollment.class_id)
        rows.append(
            {
                "DISTRICT": district_id,
                "SCHOOL_YEAR": _school_year(store, school_class.term_ids if school_class else []),
                "STUDENT_ID": _pad(enrollment.user_id, config),
                "SECTION_KEY": enrollment.class_id,
                "DATE_RANGE_KEY": 1,
                "DATE_ADDED": enrollment.begin_date,
                # An enrollment that is still active has no drop date, even when the model
                # carries the term's last day as its end date.
                "DATE_DROPPED": enrollment.end_date if enrollment.status != "active" else None,
                "CHANGE_DATE_TIME": enrollment.date_last_modified,
            }
        )
    return rows


REG_COLUMNS = (
    "DISTRICT", "STUDENT_ID", "FIRST_NAME", "MIDDLE_NAME", "LAST_NAME", "NICKNAME", "BUILDING",
    "GRADE", "CURRENT_STATUS", "EMAIL", "CHANGE_DATE_TIME",
)
REG_STAFF_COLUMNS = (
    "DISTRICT", "STAFF_ID", "STAFF_NAME", "FIRST_NAME", "MIDDLE_NAME", "LAST_NAME", "EMAIL",
    "LOGIN_ID", "ACTIVE", "CHANGE_DATE_TIME",
)
REG_BUILDING_COLUMNS = ("DISTRICT", "BUILDING", "NAME", "ACTIVE", "CHANGE_DATE_TIME")
SCHD_MS_COLUMNS = (
    "DISTRICT", "SCHOOL_YEAR", "SUMMER_SCHOOL", "BUILDING", "COURSE", "COURSE_SECTION",
    "SECTION_KEY", "DESCRIPTION", "PRIMARY_STAFF_ID", "CHANGE_DATE_TIME",
)
SCHD_STU_CRS_DATES_COLUMNS = (
    "DISTRICT", "SCHOOL_YEAR", "STUDENT_ID", "SECTION_KEY", "DATE_RANGE_KEY", "DATE_ADDED",
    "DATE_DROPPED", "CHANGE_DATE_TIME",
)
USER_NAME_FIELDS = {
    "FIRST_NAME": "given_name",
    "MIDDLE_NAME": "middle_name",
    "LAST_NAME": "family_name",
    "EMAIL": "email",
}

# NOTE: real eSchoolPLUS keeps a student's email in reg_contact (linked through
# reg_stu_contact); the sandbox puts it on reg so one table covers a student.
TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        Table("reg", REG_COLUMNS, ("STUDENT_ID",), USER_NAME_FIELDS, _reg_rows),
        Table(
            "reg_staff",
            REG_STAFF_COLUMNS,
            ("STAFF_ID",),
            {**USER_NAME_FIELDS, "LOGIN_ID": "username"},
            _reg_staff_rows,
        ),
        Table("reg_building", REG_BUILDING_COLUMNS, ("BUILDING",), {}, _reg_building_rows),
        Table("schd_ms", SCHD_MS_COLUMNS, ("SECTION_KEY",), {}, _schd_ms_rows),
        Table(
            "schd_stu_crs_dates",
            SCHD_STU_CRS_DATES_COLUMNS,
            ("STUDENT_ID", "SECTION_KEY"),
            {},
            _schd_stu_crs_dates_rows,
        ),
    )
}


def find_table(name: str | None) -> Table | None:
    return TABLES.get((name or "").strip().lower())


# --- AdditionalSql and RunDownload filters -----------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)|(?P<op><>|!=|=)"
    r"|(?P<punct>[(),])|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)


@dataclass(frozen=True)
class Condition:
    """One `column operator values` test; all conditions of a WHERE clause must hold."""

    column: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, row: dict[str, object], config: WebConfig) -> bool:
        value = row[self.column]
        text = "" if value is None else format_value(value, config).strip()
        if self.operator == "IS NULL":
            return value is None or text == ""
        if self.operator == "IS NOT NULL":
            return not (value is None or text == "")
        expected_values = {v.strip().lower() for v in self.values}
        found = text.lower() in expected_values
        return not found if self.operator == "<>" else found


def _tokenize(sql: str) -> list[str]:
    tokens, position = [], 0
    sql = sql.rstrip().rstrip(";")
    while position < len(sql):
        match = _TOKEN.match(sql, position)
        if match is None or match.end() == position:
            remainder = sql[position:].strip()
            if not remainder:
                break
            raise SqlError(f"Incorrect syntax near '{remainder.split()[0]}'.")
        tokens.append(match.group(0).strip())
        position = match.end()
    return tokens


def parse_where(sql: str | None, table: Table) -> list[Condition]:
    """Parse AdditionalSql as a WHERE clause of AND-joined tests on `table`'s columns.

    Supported tests: `col = 'x'`, `col <> 'x'`, `col IN ('x', 'y')`, `col IS [NOT] NULL`, with
    the column optionally qualified by the table name. Raise SqlError with SQL Server's wording
    for text the sandbox cannot run.
    """
    tokens = _tokenize(sql or "")
    if not tokens:
        return []
    if tokens[0].upper() != "WHERE":
        # NOTE: eSchool appends AdditionalSql to its SELECT unchanged, so JOINs and FOR JSON
        # PATH work there; the sandbox runs only WHERE clauses.
        raise SqlError(f"Incorrect syntax near '{tokens[0]}'.")
    conditions, index = [], 1
    while True:
        if index >= len(tokens):
            raise SqlError("Incorrect syntax near 'WHERE'.")
        column = _column(tokens[index], table)
        index += 1
        if index >= len(tokens):
            raise SqlError(f"Incorrect syntax near '{tokens[index - 1]}'.")
        operator = tokens[index].upper()
        if operator in ("=", "<>", "!="):
            value, index = _literal(tokens, index + 1)
            conditions.append(Condition(column, "=" if operator == "=" else "<>", (value,)))
        elif operator == "IN":
            values, index = _literal_list(tokens, index + 1)
            conditions.append(Condition(column, "IN", tuple(values)))
        elif operator == "IS":
            negate = index + 1 < len(tokens) and tokens[index + 1].upper() == "NOT"
            index += 2 if negate else 1
            if index >= len(tokens) or tokens[index].upper() != "NULL":
                raise SqlError("Incorrect syntax near 'IS'.")
            conditions.append(Condition(column, "IS NOT NULL" if negate else "IS NULL"))
            index += 1
        else:
            raise SqlError(f"Incorrect syntax near '{tokens[index]}'.")
        if index == len(tokens):
            return conditions
        if tokens[index].upper() != "AND":
            raise SqlError(f"Incorrect syntax near '{tokens[index]}'.")
        index += 1


def _column(token: str, table: Table) -> str:
    table_name, _, column = token.rpartition(".")
    if table_name and table_name.lower() != table.name:
        raise SqlError(f"The multi-part identifier \"{token}\" could not be bound.")
    if not table.has_column(column):
        raise SqlError(f"Invalid column name '{column}'.")
    return column.upper()


def _literal(tokens: list[str], index: int) -> tuple[str, int]:
    if index >= len(tokens):
        raise SqlError("Incorrect syntax near the end of the statement.")
    token = tokens[index]
    if token.startswith("'"):
        return token[1:-1].replace("''", "'"), index + 1
    if re.fullmatch(r"-?\d+(?:\.\d+)?", token):
        return token, index + 1
    raise SqlError(f"Incorrect syntax near '{token}'.")


def _literal_list(tokens: list[str], index: int) -> tuple[list[str], int]:
    if index >= len(tokens) or tokens[index] != "(":
        raise SqlError("Incorrect syntax near 'IN'.")
    values, index = [], index + 1
    while True:
        value, index = _literal(tokens, index)
        values.append(value)
        if index >= len(tokens):
            raise SqlError("Incorrect syntax near the end of the statement.")
        if tokens[index] == ")":
            return values, index + 1
        if tokens[index] != ",":
            raise SqlError(f"Incorrect syntax near '{tokens[index]}'.")
        index += 1


def filter_conditions(predicates: list[dict[str, str]], table: Table) -> list[Condition]:
    """Turn RunDownload's `Filter.Predicates[i]` form fields into conditions on `table`.

    Predicates on another table are ignored, because eSchool applies them through joins the
    sandbox does not model. Supported operators: Equal, NotEqual, In, IsNull, IsNotNull.
    """
    conditions = []
    for predicate in predicates:
        table_name = (predicate.get("TableName") or "").lower()
        column = predicate.get("ColumnName") or ""
        if not column or table_name != table.name:
            continue
        if not table.has_column(column):
            raise SqlError(f"Invalid column name '{column}'.")
        operator = (predicate.get("Operator") or "Equal").lower()
        raw = predicate.get("Value") or predicate.get("Values") or ""
        if operator == "equal":
            conditions.append(Condition(column.upper(), "=", (raw,)))
        elif operator == "notequal":
            conditions.append(Condition(column.upper(), "<>", (raw,)))
        elif operator == "in":
            conditions.append(Condition(column.upper(), "IN", tuple(raw.split(","))))
        elif operator in ("isnull", "isnotnull"):
            negate = operator == "isnotnull"
            conditions.append(Condition(column.upper(), "IS NOT NULL" if negate else "IS NULL"))
        else:
            raise SqlError(f"Filter operator '{predicate.get('Operator')}' is not supported.")
    return conditions


# --- rendering -------------------------------------------------------------------------------


def format_value(value: object, config: WebConfig) -> str:
    """Format a column value as the export writes it: dates as MM/DD/YYYY, NULL as nothing."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(config.zone).strftime(config.datetime_format)
    if isinstance(value, dt.date):
        return value.strftime("%m/%d/%Y")
    return str(value)


def user_for_key(store: RosterStore, table: Table, key: str) -> User | None:
    """Return the User behind a reg or reg_staff row, looked up by its (trimmed) id."""
    user = store.users.get(key.strip())
    if user is None:
        return None
    expected = "student" if table.name == "reg" else "teacher"
    return user if user.role == expected else None
