"""Snapshot assets: the current Schoology state, one DuckDB table per object kind."""


import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from esp_pipeline.resources.schoology import SchoologyClient, SchoologyResource, as_int
from esp_pipeline.warehouse import replace_table

GROUP = "schoology"


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _id(value: object) -> str | None:
    number = as_int(value)
    return None if number is None else str(number)


def _id_list(values: object) -> str:
    """Normalise a list (or comma-separated string) of ids to a sorted comma-separated string."""
    if values is None:
        return ""
    if isinstance(values, str):
        values = [v for v in values.split(",") if v.strip()]
    return ",".join(sorted(str(as_int(v)) for v in values))


def _result(
    context: dg.AssetExecutionContext, client: SchoologyClient, name: str, count: int
) -> dg.MaterializeResult:
    context.log.info("snapshot of %d %s in %d requests", count, name, client.session.request_count)
    return dg.MaterializeResult(
        metadata={"dagster/row_count": count, "requests": client.session.request_count}
    )


def _asset(name: str, description: str, deps: list[str] | None = None):
    return dg.asset(
        key=[GROUP, name],
        group_name=GROUP,
        kinds={"duckdb", "python"},
        description=description,
        deps=[dg.AssetKey([GROUP, d]) for d in deps or []],
    )


@_asset("buildings", "Schools and buildings visible to the API key.")
def buildings(
    context: dg.AssetExecutionContext, schoology: SchoologyResource, warehouse: DuckDBResource
) -> dg.MaterializeResult:
    client = schoology.get_client(logger=context.log)
    rows = []
    for school in client.iter_pages("schools", "school"):
        school_id = _id(school.get("id"))
        rows.append({"id": school_id, "school_id": school_id, "title": _text(school.get("title")),
                     "building_code": _text(school.get("building_code")), "kind": "school"})
        for building in client.iter_pages(f"schools/{school_id}/buildings", "building"):
            rows.append({
                "id": _id(building.get("id")), "school_id": school_id,
                "title": _text(building.get("title")),
                "building_code": _text(building.get("building_code")), "kind": "building",
            })
    columns = {"id": "VARCHAR", "school_id": "VARCHAR", "title": "VARCHAR",
               "building_code": "VARCHAR", "kind": "VARCHAR"}
    with warehouse.get_connection() as con:
        count = replace_table(con, f"{GROUP}.buildings", pd.DataFrame(rows), columns)
    return _result(context, client, "buildings", count)


@_asset("roles", "Roles of the tenant; their ids differ from tenant to tenant.")
def roles(
    context: dg.AssetExecutionContext, schoology: SchoologyResource, warehouse: DuckDBResource
) -> dg.MaterializeResult:
    client = schoology.get_client(logger=context.log)
    body = client.get("roles")
    rows = [
        {"id": _id(r.get("id")), "title": _text(r.get("title")),
         "faculty": as_int(r.get("faculty")), "role_type": as_int(r.get("role_type"))}
        for r in body.get("role") or []
    ]
    columns = {"id": "VARCHAR", "title": "VARCHAR", "faculty": "INTEGER", "role_type": "INTEGER"}
    with warehouse.get_connection() as con:
        count = replace_table(con, f"{GROUP}.roles", pd.DataFrame(rows), columns)
    return _result(context, client, "roles", count)


USER_COLUMNS = {
    "uid": "VARCHAR", "school_uid": "VARCHAR", "school_id": "VARCHAR", "building_id": "VARCHAR",
    "name_first": "VARCHAR", "name_middle": "VARCHAR", "name_last": "VARCHAR",
    "username": "VARCHAR", "primary_email": "VARCHAR", "role_id": "VARCHAR",
    "additional_buildings": "VARCHAR", "synced": "INTEGER", "active": "BOOLEAN",
}


@_asset("users", "Active and inactive users.")
def users(
    context: dg.AssetExecutionContext, schoology: SchoologyResource, warehouse: DuckDBResource
) -> dg.MaterializeResult:
    client = schoology.get_client(logger=context.log)
    rows = []
    for u in client.iter_pages("users", "user"):
        rows.append({
            "uid": _id(u.get("uid") or u.get("id")),
            "school_uid": _text(u.get("school_uid")),
            "school_id": _id(u.get("school_id")),
            "building_id": _id(u.get("building_id")),
            "name_first": _text(u.get("name_first")),
            "name_middle": _text(u.get("name_middle")),
            "name_last": _text(u.get("name_last")),
            "username": _text(u.get("username")),
            "primary_email": _text(u.get("primary_email")),
            "role_id": _id(u.get("role_id")),
            "additional_buildings": _id_list(u.get("additional_buildings")),
            "synced": as_int(u.get("synced")) or 0,
            "active": True,
        })
    for u in client.iter_pages("users/inactive", "user"):
        rows.append({
            "uid": _id(u.get("uid") or u.get("id")),
            "school_uid": _text(u.get("school_uid")),
            "synced": as_int(u.get("synced")) or 0,
            "active": False,
        })
    with warehouse.get_connection() as con:
        count = replace_table(con, f"{GROUP}.users", pd.DataFrame(rows), USER_COLUMNS)
    return _result(context, client, "users", count)


@_asset("grading_periods", "Grading periods of the district.")
def grading_periods(
    context: dg.AssetExecutionContext, schoology: SchoologyResource, warehouse: DuckDBResource
) -> dg.MaterializeResult:
    client = schoology.get_client(logger=context.log)
    rows = [
        {"id": _id(g.get("id")), "title": _text(g.get("title")), "start_date": g.get("start"),
         "end_date": g.get("end"), "active": as_int(g.get("active"))}
        for g in client.iter_pages("gradingperiods", "gradingperiods")
    ]
    columns = {"id": "VARCHAR", "title": "VARCHAR", "start_date": "DATE", "end_date": "DATE",
               "active": "INTEGER"}
    with warehouse.get_connection() as con:
        count = replace_table(con, f"{GROUP}.grading_periods", pd.DataFrame(rows), columns)
    return _result(context, client, "grading periods", count)


@_asset("courses", "Courses in every building.")
def courses(
    context: dg.AssetExecutionContext, schoology: SchoologyResource, warehouse: DuckDBResource
) -> dg.MaterializeResult:
    client = schoology.get_client(logger=context.log)
    rows = [
        {"id": _id(c.get("id")), "building_id": _id(c.get("building_id")),
         "title": _text(c.get("title")), "course_code": _text(c.get("course_code")),
         "synced": as_int(c.get("synced")) or 0}
        for c in client.iter_pages("courses", "course")
    ]
    columns = {"id": "VARCHAR", "building_id": "VARCHAR", "title": "VARCHAR",
               "course_code": "VARCHAR", "synced": "INTEGER"}
    with warehouse.get_connection() as con:
        count = replace_table(con, f"{GROUP}.courses", pd.DataFrame(rows), columns)
    return _result(context, client, "courses", count)


SECTION_COLUMNS = {
    "id": "VARCHAR", "course_id": "VARCHAR", "title": "VARCHAR", "section_code": "VARCHAR",
    "section_school_code": "VARCHAR", "grading_periods": "VARCHAR", "synced": "INTEGER",
    "active": "INTEGER",
}


@_asset("sections", "Course sections, past ones included.", deps=["courses"])
def sections(
    context: dg.AssetExecutionContext, schoology: SchoologyResource, warehouse: DuckDBResource
) -> dg.MaterializeResult:
    client = schoology.get_client(logger=context.log)
    with warehouse.get_connection() as con:
        course_ids = [row[0] for row in con.execute(f"SELECT id FROM {GROUP}.courses ORDER BY id").fetchall()]
    rows = []
    for course_id in course_ids:
        for s in client.iter_pages(f"courses/{course_id}/sections", "section", {"include_past": 1}):
            rows.append({
                "id": _id(s.get("id")),
                "course_id": _id(s.get("course_id")) or course_id,
                "title": _text(s.get("section_title") or s.get("title")),
                "section_code": _text(s.get("section_code")),
                "section_school_code": _text(s.get("section_school_code")),
                "grading_periods": _id_list(s.get("grading_periods")),
                "synced": as_int(s.get("synced")) or 0,
                "active": as_int(s.get("active")) if s.get("active") is not None else 1,
            })
    with warehouse.get_connection() as con:
        count = replace_table(con, f"{GROUP}.sections", pd.DataFrame(rows), SECTION_COLUMNS)
    return _result(context, client, "sections", count)


@_asset("enrollments", "Members of every section.", deps=["sections"])
def enrollments(
    context: dg.AssetExecutionContext, schoology: SchoologyResource, warehouse: DuckDBResource
) -> dg.MaterializeResult:
    client = schoology.get_client(logger=context.log)
    with warehouse.get_connection() as con:
        section_ids = [row[0] for row in con.execute(f"SELECT id FROM {GROUP}.sections ORDER BY id").fetchall()]
    rows = []
    for section_id in section_ids:
        for e in client.iter_pages(f"sections/{section_id}/enrollments", "enrollment"):
            rows.append({
                "id": _id(e.get("id")), "section_id": section_id, "uid": _id(e.get("uid")),
                "school_uid": _text(e.get("school_uid")), "admin": as_int(e.get("admin")) or 0,
                "status": as_int(e.get("status")),
            })
    columns = {"id": "VARCHAR", "section_id": "VARCHAR", "uid": "VARCHAR",
               "school_uid": "VARCHAR", "admin": "INTEGER", "status": "INTEGER"}
    with warehouse.get_connection() as con:
        count = replace_table(con, f"{GROUP}.enrollments", pd.DataFrame(rows), columns)
    return _result(context, client, "enrollments", count)


snapshot_assets = [buildings, roles, users, grading_periods, courses, sections, enrollments]
