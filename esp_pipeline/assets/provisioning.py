"""Plan assets: what must change in Schoology so that it matches the SIS.

Each plan is a DuckDB table of rows (plan_run_id, scope, action, sis_key, schoology_id, payload,
changed_fields, reason) that a person can read before the apply job sends anything. Objects are
identified by the SIS key they came from. Users have `school_uid`, courses `course_code` (the SIS
course id, unique across the district) and sections `section_school_code` (the SIS section key).
Grading periods go by title, enrollments by section key and user key. New objects have no Schoology
id yet, so payloads name their parents by these keys and the apply job resolves them to ids.

Data prep runs inside the user plan on every sync. An SIS user without a Schoology account of
the same `school_uid` is linked to an existing account that has no `school_uid`, the same e-mail
and a compatible role. The link needs exactly one such account that no other SIS user claims. Names are never used to match. Ambiguous matches are neither linked nor created.
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
PLAN_ENTITIES = ("grading_period", "course", "section", "user", "enrollment")


def _key(*parts: str) -> dg.AssetKey:
    return dg.AssetKey(list(parts))


def _not_quarantined(entity: str, column: str = "sourced_id") -> str:
    return (
        f"{column} NOT IN (SELECT sourced_id FROM eschoolplus.quarantine "
        f"WHERE entity = '{entity}')"
    )


def _write_plan(
    context: dg.AssetExecutionContext,
    con,
    entity: str,
    plan: pd.DataFrame,
    exceptions: pd.DataFrame | None = None,
    extra_metadata: dict | None = None,
) -> dg.MaterializeResult:
    plan = plan.assign(plan_run_id=context.run.run_id)
    count = replace_table(con, f"{GROUP}.{entity}_plan", plan, PLAN_COLUMNS)
    exception_count = 0
    if exceptions is not None:
        exception_count = _write_exceptions(con, entity, exceptions)
    counts = action_counts(plan)
    context.log.info("%s plan: %s; %d exceptions", entity, counts or "no changes", exception_count)
    preview = plan[["scope", "action", "sis_key", "schoology_id", "changed_fields", "reason"]]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": count,
            **{f"{action}_count": n for action, n in counts.items()},
            "exception_count": exception_count,
            "plan_run_id": context.run.run_id,
            "preview": dg.MetadataValue.md(markdown_preview(preview)),
            **(extra_metadata or {}),
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
                      reason="mapped in terms.csv, missing in Schoology", scope=None),
            plan_rows(updates, action="update", key="title", payload_fields=fields,
                      reason="dates differ from the SIS terms mapped to it", scope=None),
        )
        return _write_plan(context, con, "grading_period", plan)


# ---------------------------------------------------------------- courses

DESIRED_SECTIONS_SQL = f"""
SELECT c.sourced_id AS section_school_code, c.title, c.course_sourced_id AS course_code,
       c.school_sourced_id AS sis_school_id, m.schoology_building_id AS building_id,
       list_sort(list_distinct(list(t.grading_period_title))) AS grading_period_titles
FROM (SELECT *, unnest(term_sourced_ids) AS term_sourced_id
      FROM eschoolplus.classes
      WHERE status = 'active' AND {_not_quarantined('class')}) c
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
          _key("eschoolplus", "quarantine"), _key("mappings", "schools"),
          _key("mappings", "terms"), _key("schoology", "courses")],
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
    deps=[_key("eschoolplus", "classes"), _key("eschoolplus", "quarantine"),
          _key("mappings", "schools"), _key("mappings", "terms"),
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
                   s.active, c.building_id
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
            lambda titles: ",".join(
                sorted(str(grading_period_ids.get(t, f"new:{t}")) for t in titles)
            )
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
    users = con.execute(f"""
        SELECT sourced_id AS school_uid, role, given_name AS name_first,
               middle_name AS name_middle, family_name AS name_last, username,
               email AS primary_email, org_sourced_ids
        FROM eschoolplus.users
        WHERE status = 'active' AND enabled_user AND role IN ('student', 'teacher')
          AND {_not_quarantined('user')}
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
    # usernames are logins and picking one holder would be arbitrary. All of them are reported.
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


def match_by_email(
    unmatched: pd.DataFrame, candidates: pd.DataFrame, faculty_roles: set[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Data prep: link SIS users to id-less Schoology accounts with the same e-mail.

    Returns (links, report). A link needs exactly one role-compatible account with the e-mail
    and no other SIS user claiming that account; anything else is reported as ambiguous.
    """
    emails = candidates.assign(email_key=candidates["primary_email"].str.lower())
    by_email = {k: g for k, g in emails.groupby("email_key")} if len(emails) else {}
    proposals = []
    for user in unmatched.to_dict("records"):
        email = (user.get("primary_email") or "").lower()
        if not email or email not in by_email:
            proposals.append((user, "new", []))
            continue
        group = by_email[email]
        wants_faculty = user["role"] == "teacher"
        compatible = group[group["role_id"].isin(faculty_roles) == wants_faculty]
        ids = sorted(str(i) for i in compatible["uid"])
        if len(ids) == 1:
            proposals.append((user, "link", ids))
        elif len(ids) > 1:
            proposals.append((user, "ambiguous", ids))
        else:
            proposals.append((user, "new", []))
    claims = pd.Series([ids[0] for _, status, ids in proposals if status == "link"]).value_counts()
    links, report = [], []
    for user, status, ids in proposals:
        if status == "link" and claims.get(ids[0], 0) > 1:
            status = "ambiguous"
        if status == "link":
            links.append({**user, "schoology_id": ids[0]})
        report.append({
            "entity": "user", "sis_key": user["school_uid"],
            "status": {"link": "linked_by_email", "ambiguous": "ambiguous",
                       "new": "unmatched"}[status],
            "candidates": ",".join(ids),
        })
    link_columns = [*unmatched.columns, "schoology_id"]
    return pd.DataFrame(links, columns=link_columns), pd.DataFrame(
        report, columns=["entity", "sis_key", "status", "candidates"]
    )


@dg.asset(
    key=[GROUP, "user_plan"],
    group_name=GROUP,
    kinds={"duckdb"},
    # terms.csv is not read here, but a plan run with a bad terms.csv must write no plan at all.
    deps=[_key("eschoolplus", "users"), _key("eschoolplus", "quarantine"),
          _key("mappings", "schools"), _key("mappings", "terms"), _key("schoology", "users"),
          _key("schoology", "roles")],
    description="Students and teachers keyed by school_uid (the SIS id), with data-prep links.",
)
def user_plan(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    with warehouse.get_connection() as con:
        desired, exceptions = desired_users(con)
        current = con.execute(
            f"SELECT uid, school_uid, active, {', '.join(USER_FIELDS)} FROM schoology.users"
        ).df()
        faculty_roles = {r[0] for r in con.execute(
            "SELECT id FROM schoology.roles WHERE faculty = 1"
        ).fetchall()}
        owned = _owned(con, "user")
    keyed = current[current["school_uid"].notna()]
    active = keyed[keyed["active"]]
    inactive = keyed[~keyed["active"]]
    returning = desired[desired["school_uid"].isin(inactive["school_uid"])
                        & ~desired["school_uid"].isin(active["school_uid"])]
    returning = returning.merge(
        inactive[["school_uid", "uid"]].rename(columns={"uid": "schoology_id"}), on="school_uid"
    )
    desired_new = desired[~desired["school_uid"].isin(returning["school_uid"])]
    creates, updates = diff_records(
        desired_new, active, key="school_uid", fields=USER_FIELDS, current_id="uid"
    )
    idless = current[current["school_uid"].isna() & current["active"]
                     & current["primary_email"].notna()]
    links, report = match_by_email(creates, idless, faculty_roles)
    ambiguous = set(report.loc[report["status"] == "ambiguous", "sis_key"])
    creates = creates[~creates["school_uid"].isin(set(links["school_uid"]) | ambiguous)]
    exceptions = pd.concat([exceptions, pd.DataFrame({
        "sis_key": sorted(ambiguous), "severity": "error",
        "reason": "data prep found several Schoology accounts that could be this user",
        "fix": "merge or re-address the candidate accounts listed in provisioning.data_prep_report",
    })])
    gone = active[
        ~active["school_uid"].isin(desired["school_uid"]) & active["school_uid"].isin(owned)
    ].rename(columns={"uid": "schoology_id"})
    fields = ["school_uid", "role", *USER_FIELDS]
    plan = concat_plans(
        plan_rows(creates, action="create", key="school_uid", payload_fields=fields,
                  reason="active in the SIS, missing in Schoology"),
        plan_rows(links, action="link", key="school_uid", payload_fields=fields,
                  reason="data prep: existing account without school_uid, same e-mail and role"),
        plan_rows(returning, action="reactivate", key="school_uid", payload_fields=fields,
                  reason="active again in the SIS; the deactivated account is restored"),
        plan_rows(updates, action="update", key="school_uid", payload_fields=fields,
                  reason="fields differ from the SIS"),
        plan_rows(gone, action="deactivate", key="school_uid", payload_fields=[],
                  reason="synced earlier, no longer active in the SIS"),
    )
    matched = desired[desired["school_uid"].isin(keyed["school_uid"])]
    report = pd.concat([
        pd.DataFrame({"entity": "user", "sis_key": matched["school_uid"],
                      "status": "matched_by_id", "candidates": ""}),
        report,
    ])
    with warehouse.get_connection() as con:
        replace_table(con, f"{GROUP}.data_prep_report", report,
                      {"entity": "VARCHAR", "sis_key": "VARCHAR", "status": "VARCHAR",
                       "candidates": "VARCHAR"})
        counts = report["status"].value_counts().to_dict()
        return _write_plan(
            context, con, "user", plan, exceptions,
            {f"data_prep_{k}": int(v) for k, v in counts.items()},
        )


# ---------------------------------------------------------------- enrollments

@dg.asset(
    key=[GROUP, "enrollment_plan"],
    group_name=GROUP,
    kinds={"duckdb"},
    deps=[_key("eschoolplus", "enrollments"), _key("eschoolplus", "quarantine"),
          _key("schoology", "enrollments"), _key(GROUP, "section_plan"), _key(GROUP, "user_plan")],
    description="Section memberships of students (admin 0) and every teacher (admin 1).",
)
def enrollment_plan(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    with warehouse.get_connection() as con:
        users_in_sync, _ = desired_users(con)
        sections = con.execute(DESIRED_SECTIONS_SQL).df()
        held_users = set(con.execute(
            "SELECT sis_key FROM provisioning.exceptions WHERE entity = 'user' "
            "AND severity = 'error'"
        ).df()["sis_key"]) if table_exists(con, "provisioning.exceptions") else set()
        orphan_sections = set(con.execute(
            "SELECT sis_key FROM provisioning.exceptions WHERE entity = 'section'"
        ).df()["sis_key"]) if table_exists(con, "provisioning.exceptions") else set()
        section_buildings = dict(zip(sections["section_school_code"], sections["building_id"]))
        section_keys = set(sections["section_school_code"]) - orphan_sections
        existing_users = set(con.execute(
            "SELECT school_uid FROM schoology.users WHERE active AND school_uid IS NOT NULL"
        ).df()["school_uid"])
        user_keys = (set(users_in_sync["school_uid"]) - held_users) | existing_users
        enrollments = con.execute(f"""
            SELECT class_sourced_id AS section_school_code, user_sourced_id AS school_uid,
                   CASE WHEN role = 'teacher' THEN 1 ELSE 0 END AS admin
            FROM eschoolplus.enrollments
            WHERE status = 'active' AND role IN ('student', 'teacher')
              AND {_not_quarantined('enrollment')}
            ORDER BY 1, 2
        """).df()
        current = con.execute("""
            SELECT e.id, s.section_school_code,
                   coalesce(e.school_uid, u.school_uid) AS school_uid, e.admin,
                   c.building_id
            FROM schoology.enrollments e
            JOIN schoology.sections s ON s.id = e.section_id
            LEFT JOIN schoology.courses c ON c.id = s.course_id
            LEFT JOIN schoology.users u ON u.uid = e.uid
            WHERE s.section_school_code IS NOT NULL
        """).df()
        owned = _owned(con, "enrollment")

    in_scope = enrollments["section_school_code"].isin(section_keys)
    known_user = enrollments["school_uid"].isin(user_keys)
    left_out = enrollments[in_scope & ~known_user]
    exceptions = pd.DataFrame({
        "sis_key": left_out["section_school_code"] + "|" + left_out["school_uid"],
        "severity": "error",
        "reason": "the user is neither synced nor already in Schoology",
        "fix": "turn on sync_users for the user's school in schools.csv, or fix the user's "
               "record (see provisioning.exceptions for that user)",
    })
    desired = enrollments[in_scope & known_user].drop_duplicates(
        ["section_school_code", "school_uid"]
    ).copy()
    desired["enrollment_key"] = desired["section_school_code"] + "|" + desired["school_uid"]
    desired["building_id"] = desired["section_school_code"].map(section_buildings)
    current["enrollment_key"] = (
        current["section_school_code"] + "|" + current["school_uid"].fillna("")
    )
    creates, updates = diff_records(desired, current, key="enrollment_key", fields=["admin"])
    # A leaver's enrollments stay: deactivation keeps them as history, and a returning student
    # gets them back. Only members who are still synced lose enrollments they no longer have.
    gone = current[
        ~current["enrollment_key"].isin(desired["enrollment_key"])
        & current["enrollment_key"].isin(owned)
        & current["school_uid"].isin(users_in_sync["school_uid"])
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
