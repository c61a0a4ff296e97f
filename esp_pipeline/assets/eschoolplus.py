"""Extract assets: one DuckDB table per eSchoolPLUS OneRoster collection."""


from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from esp_pipeline.resources.eschoolplus import ESchoolPlusResource
from esp_pipeline.warehouse import replace_table

GROUP = "eschoolplus"


def _ref(record: dict, field: str) -> str | None:
    value = record.get(field)
    if isinstance(value, dict):
        return _clean_id(value.get("sourcedId"))
    return None


def _refs(record: dict, field: str) -> list[str]:
    return [_clean_id(v.get("sourcedId")) for v in record.get(field) or [] if isinstance(v, dict)]


def _clean_id(value: object) -> str | None:
    # eSchoolPLUS keeps student and staff ids as right-padded char(10); some exports keep the pad.
    if value is None:
        return None
    return str(value).strip()


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _flatten_org(r: dict) -> dict:
    return {
        "sourced_id": _clean_id(r.get("sourcedId")),
        "status": r.get("status"),
        "type": r.get("type"),
        "name": _text(r.get("name")),
        "identifier": _text(r.get("identifier")),
        "parent_sourced_id": _ref(r, "parent"),
        "date_last_modified": r.get("dateLastModified"),
    }


def _flatten_session(r: dict) -> dict:
    return {
        "sourced_id": _clean_id(r.get("sourcedId")),
        "status": r.get("status"),
        "title": _text(r.get("title")),
        "type": r.get("type"),
        "start_date": r.get("startDate"),
        "end_date": r.get("endDate"),
        "school_year": _text(r.get("schoolYear")),
        "parent_sourced_id": _ref(r, "parent"),
        "date_last_modified": r.get("dateLastModified"),
    }


def _flatten_course(r: dict) -> dict:
    return {
        "sourced_id": _clean_id(r.get("sourcedId")),
        "status": r.get("status"),
        "title": _text(r.get("title")),
        "course_code": _text(r.get("courseCode")),
        "org_sourced_id": _ref(r, "org"),
        "date_last_modified": r.get("dateLastModified"),
    }


def _flatten_class(r: dict) -> dict:
    return {
        "sourced_id": _clean_id(r.get("sourcedId")),
        "status": r.get("status"),
        "title": _text(r.get("title")),
        "class_code": _text(r.get("classCode")),
        "class_type": r.get("classType"),
        "course_sourced_id": _ref(r, "course"),
        "school_sourced_id": _ref(r, "school"),
        "term_sourced_ids": _refs(r, "terms"),
        "periods": ",".join(str(p) for p in r.get("periods") or []),
        "date_last_modified": r.get("dateLastModified"),
    }


def _flatten_user(r: dict) -> dict:
    return {
        "sourced_id": _clean_id(r.get("sourcedId")),
        "status": r.get("status"),
        "enabled_user": str(r.get("enabledUser", "true")).lower() == "true",
        "role": r.get("role"),
        "username": _text(r.get("username")),
        "given_name": _text(r.get("givenName")),
        "family_name": _text(r.get("familyName")),
        "middle_name": _text(r.get("middleName")),
        "identifier": _text(r.get("identifier")),
        "email": _text(r.get("email")),
        "grades": ",".join(str(g) for g in r.get("grades") or []),
        "org_sourced_ids": _refs(r, "orgs"),
        "date_last_modified": r.get("dateLastModified"),
    }


def _flatten_enrollment(r: dict) -> dict:
    return {
        "sourced_id": _clean_id(r.get("sourcedId")),
        "status": r.get("status"),
        "role": r.get("role"),
        "is_primary": str(r.get("primary", "false")).lower() == "true",
        "user_sourced_id": _ref(r, "user"),
        "class_sourced_id": _ref(r, "class"),
        "school_sourced_id": _ref(r, "school"),
        "begin_date": r.get("beginDate"),
        "end_date": r.get("endDate"),
        "date_last_modified": r.get("dateLastModified"),
    }


@dataclass(frozen=True)
class ExtractSpec:
    """One OneRoster collection and the table it lands in."""

    name: str
    path: str
    envelope: str
    flatten: Callable[[dict], dict]
    columns: dict[str, str]
    description: str


COMMON = {"status": "VARCHAR", "date_last_modified": "VARCHAR"}

EXTRACTS = [
    ExtractSpec(
        "orgs",
        "orgs",
        "orgs",
        _flatten_org,
        {
            "sourced_id": "VARCHAR", "type": "VARCHAR", "name": "VARCHAR",
            "identifier": "VARCHAR", "parent_sourced_id": "VARCHAR", **COMMON,
        },
        "Schools (eSchoolPLUS buildings) and the district organisation.",
    ),
    ExtractSpec(
        "academic_sessions",
        "academicSessions",
        "academicSessions",
        _flatten_session,
        {
            "sourced_id": "VARCHAR", "title": "VARCHAR", "type": "VARCHAR",
            "start_date": "VARCHAR", "end_date": "VARCHAR", "school_year": "VARCHAR",
            "parent_sourced_id": "VARCHAR", **COMMON,
        },
        "School years, terms and grading periods.",
    ),
    ExtractSpec(
        "courses",
        "courses",
        "courses",
        _flatten_course,
        {
            "sourced_id": "VARCHAR", "title": "VARCHAR", "course_code": "VARCHAR",
            "org_sourced_id": "VARCHAR", **COMMON,
        },
        "Course catalogue, scoped to the school.",
    ),
    ExtractSpec(
        "classes",
        "classes",
        "classes",
        _flatten_class,
        {
            "sourced_id": "VARCHAR", "title": "VARCHAR", "class_code": "VARCHAR",
            "class_type": "VARCHAR", "course_sourced_id": "VARCHAR",
            "school_sourced_id": "VARCHAR", "term_sourced_ids": "VARCHAR[]",
            "periods": "VARCHAR", **COMMON,
        },
        "Course sections (eSchoolPLUS section keys).",
    ),
    ExtractSpec(
        "users",
        "users",
        "users",
        _flatten_user,
        {
            "sourced_id": "VARCHAR", "enabled_user": "BOOLEAN", "role": "VARCHAR",
            "username": "VARCHAR", "given_name": "VARCHAR", "family_name": "VARCHAR",
            "middle_name": "VARCHAR", "identifier": "VARCHAR", "email": "VARCHAR",
            "grades": "VARCHAR", "org_sourced_ids": "VARCHAR[]", **COMMON,
        },
        "Students and staff.",
    ),
    ExtractSpec(
        "enrollments",
        "enrollments",
        "enrollments",
        _flatten_enrollment,
        {
            "sourced_id": "VARCHAR", "role": "VARCHAR", "is_primary": "BOOLEAN",
            "user_sourced_id": "VARCHAR", "class_sourced_id": "VARCHAR",
            "school_sourced_id": "VARCHAR", "begin_date": "VARCHAR", "end_date": "VARCHAR", **COMMON,
        },
        "Student and teacher enrollments in classes.",
    ),
]


def _build_extract_asset(spec: ExtractSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=[GROUP, spec.name],
        group_name=GROUP,
        kinds={"duckdb", "python"},
        description=f"{spec.description} Extracted from OneRoster `GET /{spec.path}`.",
    )
    def _extract(
        context: dg.AssetExecutionContext,
        eschoolplus: ESchoolPlusResource,
        warehouse: DuckDBResource,
    ) -> dg.MaterializeResult:
        client = eschoolplus.get_client(logger=context.log)
        records = [spec.flatten(r) for r in client.iter_collection(spec.path, spec.envelope)]
        frame = pd.DataFrame.from_records(records)
        with warehouse.get_connection() as con:
            count = replace_table(con, f"{GROUP}.{spec.name}", frame, spec.columns)
        status_counts = frame["status"].value_counts().to_dict() if count else {}
        context.log.info(
            "extracted %d %s in %d requests", count, spec.name, client.session.request_count
        )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": count,
                "status_counts": {str(k): int(v) for k, v in status_counts.items()},
                "requests": client.session.request_count,
            }
        )

    return _extract


extract_tables = [_build_extract_asset(spec) for spec in EXTRACTS]


# Each rule selects (entity, sourced_id, detail) rows of SIS records that cannot be synced as
# they are. Dates stay text in the extract so that one bad date quarantines one record instead
# of failing the whole table.
QUARANTINE_RULES = {
    "user without given or family name": """
        SELECT 'user', sourced_id,
               CASE WHEN given_name IS NULL AND family_name IS NULL
                    THEN 'given_name and family_name blank'
                    WHEN given_name IS NULL THEN 'given_name blank'
                    ELSE 'family_name blank' END
        FROM eschoolplus.users
        WHERE status = 'active' AND (given_name IS NULL OR family_name IS NULL)""",
    "teacher without a staff identifier": """
        SELECT 'user', sourced_id, 'identifier blank' FROM eschoolplus.users
        WHERE status = 'active' AND role = 'teacher' AND identifier IS NULL""",
    "user role outside the OneRoster vocabulary": """
        SELECT 'user', sourced_id, 'role ' || coalesce(role, '(blank)') FROM eschoolplus.users
        WHERE status = 'active' AND coalesce(role, '') NOT IN ('administrator', 'aide',
              'guardian', 'parent', 'proctor', 'relative', 'student', 'teacher')""",
    "user without a known school": """
        SELECT 'user', u.sourced_id, 'orgs ' || coalesce(array_to_string(u.org_sourced_ids, ','), '')
        FROM eschoolplus.users u
        WHERE u.status = 'active' AND u.role IN ('student', 'teacher') AND NOT EXISTS (
            SELECT 1 FROM eschoolplus.orgs o
            WHERE o.sourced_id IN (SELECT unnest(u.org_sourced_ids)) AND o.type = 'school')""",
    "sourcedId used by two records": """
        SELECT 'user', sourced_id, count(*) || ' records' FROM eschoolplus.users
        GROUP BY sourced_id HAVING count(*) > 1
        UNION ALL
        SELECT 'class', sourced_id, count(*) || ' records' FROM eschoolplus.classes
        GROUP BY sourced_id HAVING count(*) > 1""",
    "class whose course or school is unknown": """
        SELECT 'class', c.sourced_id, 'course ' || coalesce(c.course_sourced_id, '(blank)')
               || ', school ' || coalesce(c.school_sourced_id, '(blank)')
        FROM eschoolplus.classes c
        WHERE c.status = 'active' AND (
            c.course_sourced_id IS NULL OR c.school_sourced_id IS NULL
            OR c.course_sourced_id NOT IN (SELECT sourced_id FROM eschoolplus.courses)
            OR c.school_sourced_id NOT IN (SELECT sourced_id FROM eschoolplus.orgs))""",
    "class without a known term": """
        SELECT 'class', c.sourced_id,
               'terms ' || coalesce(nullif(array_to_string(c.term_sourced_ids, ','), ''), '(blank)')
        FROM eschoolplus.classes c
        WHERE c.status = 'active' AND (
            len(coalesce(c.term_sourced_ids, [])) = 0
            OR EXISTS (SELECT 1 FROM (SELECT unnest(c.term_sourced_ids) AS t) x
                       WHERE x.t NOT IN (SELECT sourced_id FROM eschoolplus.academic_sessions)))""",
    "term with an invalid date range": """
        SELECT 'term', sourced_id, coalesce(start_date, '(blank)') || ' to '
               || coalesce(end_date, '(blank)')
        FROM eschoolplus.academic_sessions
        WHERE status = 'active' AND (TRY_CAST(start_date AS DATE) IS NULL
              OR TRY_CAST(end_date AS DATE) IS NULL
              OR TRY_CAST(start_date AS DATE) > TRY_CAST(end_date AS DATE))""",
    "enrollment whose user or class is unknown": """
        SELECT 'enrollment', e.sourced_id, 'class ' || coalesce(e.class_sourced_id, '(blank)')
               || ', user ' || coalesce(e.user_sourced_id, '(blank)')
        FROM eschoolplus.enrollments e
        WHERE e.status = 'active' AND (
            e.user_sourced_id NOT IN (SELECT sourced_id FROM eschoolplus.users)
            OR e.class_sourced_id NOT IN (SELECT sourced_id FROM eschoolplus.classes)
            OR e.user_sourced_id IS NULL OR e.class_sourced_id IS NULL)""",
    "enrollment with an invalid date": """
        SELECT 'enrollment', sourced_id, coalesce(begin_date, '') || ' to ' || coalesce(end_date, '')
        FROM eschoolplus.enrollments
        WHERE status = 'active' AND (
            (begin_date IS NOT NULL AND TRY_CAST(begin_date AS DATE) IS NULL)
            OR (end_date IS NOT NULL AND TRY_CAST(end_date AS DATE) IS NULL)
            OR TRY_CAST(begin_date AS DATE) > TRY_CAST(end_date AS DATE))""",
}


@dg.asset(
    key=[GROUP, "quarantine"],
    group_name=GROUP,
    kinds={"duckdb"},
    deps=[dg.AssetKey([GROUP, spec.name]) for spec in EXTRACTS],
    description="SIS records that cannot be synced as they are, with the rule they break. The "
    "plans leave them out and sync the rest.",
    check_specs=[dg.AssetCheckSpec("sis_records_valid", asset=dg.AssetKey([GROUP, "quarantine"]))],
)
def quarantine(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    union = " UNION ALL ".join(
        f"SELECT *, '{rule}' AS rule FROM ({sql})" for rule, sql in QUARANTINE_RULES.items()
    )
    with warehouse.get_connection() as con:
        frame = con.execute(
            f"SELECT * FROM ({union}) ORDER BY 1, 2"
        ).df()
        frame.columns = ["entity", "sourced_id", "detail", "rule"]
        count = replace_table(
            con, f"{GROUP}.quarantine", frame,
            {"entity": "VARCHAR", "sourced_id": "VARCHAR", "rule": "VARCHAR", "detail": "VARCHAR"},
        )
    by_rule = frame.groupby(["entity", "rule"]).size().reset_index(name="records")
    if count:
        context.log.warning("%d SIS records quarantined: %s", count, by_rule.to_dict("records"))
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": count,
            "by_rule": dg.MetadataValue.md(by_rule.to_markdown(index=False) if count else "_none_"),
        }
    )
    yield dg.AssetCheckResult(
        check_name="sis_records_valid",
        passed=count == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{count} SIS records quarantined; the rest syncs. Fix them in eSchoolPLUS; the "
            "eschoolplus.quarantine table lists each record, rule and detail."
            if count else "every SIS record passes the quarantine rules"
        ),
        metadata={"quarantined": count},
    )
extract_assets = [*extract_tables, quarantine]
