"""Plan assets: what must change in Schoology so that it matches the SIS.

Each plan is a DuckDB table of rows (action, sis_key, schoology_id, payload, changed_fields,
reason) that a person can read before the apply job sends anything. Objects are identified by the
SIS key they came from: users by `school_uid`, courses by `course_code` (the SIS course id, unique
across the district), sections by `section_school_code` (the SIS section key), grading periods by
title, enrollments by section key and user key. New objects have no Schoology id yet, so payloads
name their parents by these keys and the apply job resolves them to ids.
"""


import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from esp_pipeline.planning import (
    EXCEPTION_COLUMNS,
    PLAN_COLUMNS,
    action_counts,
    concat_plans,
    diff_records,
    plan_rows,
)
from esp_pipeline.warehouse import ensure_schemas, markdown_preview, replace_table, table_exists

GROUP = "provisioning"
SIS_ROLE_TO_SCHOOLOGY_ROLE = {"student": "Student", "teacher": "Teacher"}


def _key(*parts: str) -> dg.AssetKey:
    return dg.AssetKey(list(parts))


def _write_plan(
    context: dg.AssetExecutionContext,
    con,
    entity: str,
    plan: pd.DataFrame,
    exceptions: pd.DataFrame | None = None,
) -> dg.MaterializeResult:
    count = replace_table(con, f"{GROUP}.{entity}_plan", plan, PLAN_COLUMNS)
    exception_count = 0
    if exceptions is not None:
        exception_count = _write_exceptions(con, entity, exceptions)
    counts = action_counts(plan)
    context.log.info("%s plan: %s; %d exceptions", entity, counts or "no changes", exception_count)
    preview = plan[["action", "sis_key", "schoology_id", "changed_fields", "reason"]]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": count,
            **{f"{action}_count": n for action, n in counts.items()},
            "exception_count": exception_count,
            "preview": dg.MetadataValue.md(markdown_preview(preview)),
        }
    )


def _write_exceptions(con, entity: str, exceptions: pd.DataFrame) -> int:
    """Replace this entity's rows in provisioning.exceptions (records left out of the plan)."""
    existing = pd.DataFrame(columns=list(EXCEPTION_COLUMNS))
    if table_exists(con, "provisioning.exceptions"):
        existing = con.execute(
            "SELECT * FROM provisioning.exceptions WHERE entity <> ?", [entity]
        ).df()
    frame = exceptions.assign(entity=entity)
    replace_table(con, f"{GROUP}.exceptions", pd.concat([existing, frame]), EXCEPTION_COLUMNS)
    return len(exceptions)


def _owned(con, entity: str) -> set[str]:
    ensure_schemas(con)
    return {r[0] for r in con.execute(
        "SELECT sis_key FROM log.owned WHERE entity = ?", [entity]
    ).fetchall()}


# ---------------------------------------------------------------- grading periods

@dg.asset(
    key=[GROUP, "grading_period_plan"],
    group_name=GROUP,
    kinds={"duckdb"},
    deps=[_key("mappings", "terms"), _key("schoology", "grading_periods")],
    description="Grading periods named in terms.csv that Schoology lacks or dates that differ.",
)
def grading_period_plan(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    with warehouse.get_connection() as con:
        desired = con.execute("""
            SELECT grading_period_title AS title,
                   strftime(min(start_date), '%Y-%m-%d') AS start,
                   strftime(max(end_date), '%Y-%m-%d') AS "end"
            FROM mappings.terms GROUP BY 1 ORDER BY 1
        """).df()
        current = con.execute("""
            SELECT id, title, strftime(start_date, '%Y-%m-%d') AS start,
                   strftime(end_date, '%Y-%m-%d') AS "end"
            FROM schoology.grading_periods
        """).df()
        creates, updates = diff_records(desired, current, key="title", fields=["start", "end"])
        fields = ["title", "start", "end"]
        plan = concat_plans(
            plan_rows(creates, action="create", key="title", payload_fields=fields,
                      reason="mapped in terms.csv, missing in Schoology"),
            plan_rows(updates, action="update", key="title", payload_fields=fields,
                      reason="dates differ from the SIS terms mapped to it"),
        )
        return _write_plan(context, con, "grading_period", plan)


# ---------------------------------------------------------------- courses

DESIRED_SECTIONS_SQL = """
SELECT c.sourced_id AS section_school_code, c.title, c.course_sourced_id AS course_code,
       c.school_sourced_id AS sis_school_id, m.schoology_building_id AS building_id,
       list_sort(list_distinct(list(t.grading_period_title))) AS grading_period_titles
FROM (SELECT *, unnest(term_sourced_ids) AS term_sourced_id
      FROM eschoolplus.classes WHERE status = 'active') c
JOIN mappings.schools m ON m.sis_school_id = c.school_sourced_id AND m.sync_sections
JOIN mappings.terms t ON t.term_sourced_id = c.term_sourced_id
GROUP BY ALL
ORDER BY 1
"""


@dg.asset(
    key=[GROUP, "course_plan"],
    group_name=GROUP,
    kinds={"duckdb"},
    deps=[_key("eschoolplus", "courses"), _key("eschoolplus", "classes"),
          _key("mappings", "schools"), _key("mappings", "terms"), _key("schoology", "courses")],
    description="Courses with at least one synced section, keyed by the SIS course id.",
)
def course_plan(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    with warehouse.get_connection() as con:
        desired = con.execute(f"""
            SELECT co.sourced_id AS course_code, co.title, m.schoology_building_id AS building_id
            FROM eschoolplus.courses co
            JOIN mappings.schools m ON m.sis_school_id = co.org_sourced_id AND m.sync_courses
            WHERE co.status = 'active'
              AND co.sourced_id IN (SELECT course_code FROM ({DESIRED_SECTIONS_SQL}))
            ORDER BY 1
        """).df()
        current = con.execute(
            "SELECT id, course_code, title, building_id FROM schoology.courses"
        ).df()
        creates, updates = diff_records(
            desired, current, key="course_code", fields=["title", "building_id"]
        )
        fields = ["course_code", "title", "building_id"]
        plan = concat_plans(
            plan_rows(creates, action="create", key="course_code", payload_fields=fields,
                      reason="in the SIS, missing in Schoology"),
            plan_rows(updates, action="update", key="course_code", payload_fields=fields,
                      reason="fields differ from the SIS"),
        )
        return _write_plan(context, con, "course", plan)


# ---------------------------------------------------------------- sections

@dg.asset(
    key=[GROUP, "section_plan"],
    group_name=GROUP,
    kinds={"duckdb"},
    deps=[_key("eschoolplus", "classes"), _key("mappings", "schools"), _key("mappings", "terms"),
          _key("schoology", "sections"), _key("schoology", "courses"),
          _key("schoology", "grading_periods"), _key(GROUP, "course_plan")],
    description="Course sections keyed by the SIS section key, with their grading periods.",
)
def section_plan(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    with warehouse.get_connection() as con:
        desired = con.execute(DESIRED_SECTIONS_SQL).df()
        grading_period_ids = dict(con.execute(
            "SELECT title, id FROM schoology.grading_periods"
        ).fetchall())
        known_courses = {r[0] for r in con.execute(
            "SELECT course_code FROM schoology.courses UNION "
            "SELECT sis_key FROM provisioning.course_plan WHERE action = 'create'"
        ).fetchall()}
        current = con.execute("""
            SELECT s.id, s.section_school_code, s.title, c.course_code, s.grading_periods,
                   s.active
            FROM schoology.sections s LEFT JOIN schoology.courses c ON c.id = s.course_id
            WHERE s.section_school_code IS NOT NULL
        """).df()
        owned = _owned(con, "section")

        orphan = ~desired["course_code"].isin(known_courses)
        exceptions = pd.DataFrame({
            "sis_key": desired.loc[orphan, "section_school_code"],
            "severity": "error",
            "reason": "its course is not in Schoology and its building does not sync courses",
            "fix": "set sync_courses=yes for the building in schools.csv, or create the course",
        })
        desired = desired.loc[~orphan].copy()
        desired["grading_period_titles"] = desired["grading_period_titles"].map(list)
        # Compare grading periods as sorted id lists; a title Schoology lacks forces an update,
        # which is right because the period is created before sections are written.
        desired["grading_periods"] = desired["grading_period_titles"].map(
            lambda titles: ",".join(sorted(str(grading_period_ids.get(t, f"new:{t}")) for t in titles))
        )
        desired["active"] = 1
        creates, updates = diff_records(
            desired, current, key="section_school_code",
            fields=["title", "course_code", "grading_periods", "active"],
        )
        gone = current[
            ~current["section_school_code"].isin(desired["section_school_code"])
            & current["section_school_code"].isin(owned)
            & (current["active"].fillna(1) == 1)
        ].rename(columns={"id": "schoology_id"})
        fields = ["section_school_code", "title", "course_code", "grading_period_titles"]
        plan = concat_plans(
            plan_rows(creates, action="create", key="section_school_code",
                      payload_fields=fields, reason="in the SIS, missing in Schoology"),
            plan_rows(updates, action="update", key="section_school_code",
                      payload_fields=fields, reason="fields differ from the SIS"),
            plan_rows(gone, action="deactivate", key="section_school_code", payload_fields=[],
                      reason="synced earlier, no longer an active SIS section"),
        )
        return _write_plan(context, con, "section", plan, exceptions)


# ---------------------------------------------------------------- users

USER_FIELDS = ["name_first", "name_middle", "name_last", "username", "primary_email", "role_id",
               "building_id", "additional_buildings"]


def desired_users(con) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (users to sync, exceptions) from the SIS extract and the school mapping."""
    users = con.execute("""
        SELECT sourced_id AS school_uid, role, given_name AS name_first,
               middle_name AS name_middle, family_name AS name_last, username,
               email AS primary_email, org_sourced_ids
        FROM eschoolplus.users
        WHERE status = 'active' AND enabled_user AND role IN ('student', 'teacher')
        ORDER BY sourced_id
    """).df()
    buildings = dict(con.execute(
        "SELECT sis_school_id, schoology_building_id FROM mappings.schools WHERE sync_users"
    ).fetchall())
    role_ids = dict(con.execute("SELECT title, id FROM schoology.roles").fetchall())

    def building_list(orgs) -> list[str]:
        ids: list[str] = []
        for org in list(orgs if orgs is not None else []):
            building = buildings.get(org)
            if building and building not in ids:
                ids.append(building)
        return ids

    users["buildings"] = users["org_sourced_ids"].map(building_list)
    users = users[users["buildings"].map(len) > 0].copy()
    users["building_id"] = users["buildings"].map(lambda ids: ids[0])
    users["additional_buildings"] = users["buildings"].map(lambda ids: ",".join(sorted(ids[1:])))
    users["role_id"] = users["role"].map(lambda r: role_ids.get(SIS_ROLE_TO_SCHOOLOGY_ROLE[r]))

    # Policy for usernames shared by several SIS users: none of them gets it, because Schoology
    # usernames are logins and picking one holder would be arbitrary; all are reported.
    shared = users["username"].notna() & users.duplicated("username", keep=False)
    exceptions = [
        {"sis_key": k, "severity": "warning",
         "reason": "username shared with another SIS user; sent without username",
         "fix": "give each user a unique username in the SIS"}
        for k in users.loc[shared, "school_uid"]
    ]
    users.loc[shared, "username"] = None
    no_login = users["username"].isna() & users["primary_email"].isna()
    exceptions += [
        {"sis_key": k, "severity": "error",
         "reason": "no username and no e-mail, so Schoology cannot create a login",
         "fix": "add a unique username or an e-mail address in the SIS"}
        for k in users.loc[no_login, "school_uid"]
    ]
    users = users.loc[~no_login].drop(columns=["org_sourced_ids", "buildings"])
    return users, pd.DataFrame(exceptions, columns=["sis_key", "severity", "reason", "fix"])


@dg.asset(
    key=[GROUP, "user_plan"],
    group_name=GROUP,
    kinds={"duckdb"},
    deps=[_key("eschoolplus", "users"), _key("mappings", "schools"), _key("schoology", "users"),
          _key("schoology", "roles")],
    description="Students and teachers keyed by school_uid (the SIS id).",
)
def user_plan(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    with warehouse.get_connection() as con:
        desired, exceptions = desired_users(con)
        current = con.execute(
            f"SELECT uid, school_uid, active, {', '.join(USER_FIELDS)} FROM schoology.users "
            "WHERE school_uid IS NOT NULL"
        ).df()
        owned = _owned(con, "user")
    active = current[current["active"]]
    inactive = current[~current["active"]]
    returning = desired[desired["school_uid"].isin(inactive["school_uid"])
                        & ~desired["school_uid"].isin(active["school_uid"])]
    returning = returning.merge(
        inactive[["school_uid", "uid"]].rename(columns={"uid": "schoology_id"}), on="school_uid"
    )
    desired_new = desired[~desired["school_uid"].isin(returning["school_uid"])]
    creates, updates = diff_records(
        desired_new, active, key="school_uid", fields=USER_FIELDS, current_id="uid"
    )
    gone = active[
        ~active["school_uid"].isin(desired["school_uid"]) & active["school_uid"].isin(owned)
    ].rename(columns={"uid": "schoology_id"})
    fields = ["school_uid", "role", *USER_FIELDS]
    plan = concat_plans(
        plan_rows(creates, action="create", key="school_uid", payload_fields=fields,
                  reason="active in the SIS, missing in Schoology"),
        plan_rows(returning, action="reactivate", key="school_uid", payload_fields=fields,
                  reason="active again in the SIS; the deactivated account is restored"),
        plan_rows(updates, action="update", key="school_uid", payload_fields=fields,
                  reason="fields differ from the SIS"),
        plan_rows(gone, action="deactivate", key="school_uid", payload_fields=[],
                  reason="synced earlier, no longer active in the SIS"),
    )
    with warehouse.get_connection() as con:
        return _write_plan(context, con, "user", plan, exceptions)


# ---------------------------------------------------------------- enrollments

@dg.asset(
    key=[GROUP, "enrollment_plan"],
    group_name=GROUP,
    kinds={"duckdb"},
    deps=[_key("eschoolplus", "enrollments"), _key("schoology", "enrollments"),
          _key(GROUP, "section_plan"), _key(GROUP, "user_plan")],
    description="Section memberships of students (admin 0) and every teacher (admin 1).",
)
def enrollment_plan(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    with warehouse.get_connection() as con:
        users_in_sync, _ = desired_users(con)
        sections = con.execute(DESIRED_SECTIONS_SQL).df()
        orphan_sections = set(con.execute(
            "SELECT sis_key FROM provisioning.exceptions WHERE entity = 'section'"
        ).df()["sis_key"]) if table_exists(con, "provisioning.exceptions") else set()
        section_keys = set(sections["section_school_code"]) - orphan_sections
        existing_users = set(con.execute(
            "SELECT school_uid FROM schoology.users WHERE active AND school_uid IS NOT NULL"
        ).df()["school_uid"])
        user_keys = set(users_in_sync["school_uid"]) | existing_users
        enrollments = con.execute("""
            SELECT class_sourced_id AS section_school_code, user_sourced_id AS school_uid,
                   CASE WHEN role = 'teacher' THEN 1 ELSE 0 END AS admin
            FROM eschoolplus.enrollments
            WHERE status = 'active' AND role IN ('student', 'teacher')
            ORDER BY 1, 2
        """).df()
        current = con.execute("""
            SELECT e.id, s.section_school_code,
                   coalesce(e.school_uid, u.school_uid) AS school_uid, e.admin
            FROM schoology.enrollments e
            JOIN schoology.sections s ON s.id = e.section_id
            LEFT JOIN schoology.users u ON u.uid = e.uid
            WHERE s.section_school_code IS NOT NULL
        """).df()
        owned = _owned(con, "enrollment")

    in_scope = enrollments["section_school_code"].isin(section_keys)
    known_user = enrollments["school_uid"].isin(user_keys)
    exceptions = pd.DataFrame({
        "sis_key": (enrollments.loc[in_scope & ~known_user, "section_school_code"] + "|"
                    + enrollments.loc[in_scope & ~known_user, "school_uid"]),
        "severity": "error",
        "reason": "the user is neither synced nor already in Schoology",
        "fix": "turn on sync_users for the user's school in schools.csv",
    })
    desired = enrollments[in_scope & known_user].drop_duplicates(
        ["section_school_code", "school_uid"]
    ).copy()
    desired["enrollment_key"] = desired["section_school_code"] + "|" + desired["school_uid"]
    current["enrollment_key"] = current["section_school_code"] + "|" + current["school_uid"].fillna("")
    creates, updates = diff_records(desired, current, key="enrollment_key", fields=["admin"])
    gone = current[
        ~current["enrollment_key"].isin(desired["enrollment_key"])
        & current["enrollment_key"].isin(owned)
    ].rename(columns={"id": "schoology_id"})
    fields = ["section_school_code", "school_uid", "admin"]
    plan = concat_plans(
        plan_rows(creates, action="create", key="enrollment_key", payload_fields=fields,
                  reason="enrolled in the SIS, missing in Schoology"),
        plan_rows(updates, action="update", key="enrollment_key", payload_fields=fields,
                  reason="teacher/student role differs from the SIS"),
        plan_rows(gone, action="delete", key="enrollment_key", payload_fields=fields,
                  reason="created by this pipeline, no longer in the SIS"),
    )
    with warehouse.get_connection() as con:
        return _write_plan(context, con, "enrollment", plan, exceptions)


plan_assets = [grading_period_plan, course_plan, section_plan, user_plan, enrollment_plan]

