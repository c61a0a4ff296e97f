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
            "start_date": "DATE", "end_date": "DATE", "school_year": "VARCHAR",
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
            "school_sourced_id": "VARCHAR", "begin_date": "DATE", "end_date": "DATE", **COMMON,
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


extract_assets = [_build_extract_asset(spec) for spec in EXTRACTS]
