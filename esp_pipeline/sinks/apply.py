"""The apply job: send the plan tables to Schoology in dependency order.

It reads only the provisioning plan and gate tables (never the SIS) and records one sync-log row
per API outcome. Writes go through a ledger: each chunk is marked `intended` before it is sent and
`done` or `failed` after, in the same transaction as its sync-log rows. A run killed at any point
and started again skips what is `done` and resends what was only `intended`. Resending is safe
because every create is keyed: users, courses, sections and enrollments go out with
`update_existing=1` (an upsert on school_uid, course_code, section code, or section and user), a
grading period title is unique, and a delete or deactivation that already happened returns 404.
"""

from collections import defaultdict

import dagster as dg
from dagster_duckdb import DuckDBResource

from esp_pipeline.resources.http import ApiError, TransientError, json_body
from esp_pipeline.resources.schoology import BulkItemResult, SchoologyClient, SchoologyResource
from esp_pipeline.sinks.applier import (
    USER_SEND_FIELDS,
    Applier,
    ApplySettings,
    already_gone,
    bulk_call,
    delete_call,
    drop_none,
    op_output,
)
from esp_pipeline.warehouse import ensure_schemas

AFTER = {"after": dg.In(dg.Nothing)}
NOTHING_OUT = dg.Out(dg.Nothing)


@dg.op(ins=AFTER, out=NOTHING_OUT, tags={"kind": "schoology"})
def apply_grading_periods(context: dg.OpExecutionContext, schoology: SchoologyResource,
                          warehouse: DuckDBResource, apply_settings: ApplySettings):
    """Create grading periods named in terms.csv and correct their dates."""
    client = schoology.get_client(logger=context.log)
    with warehouse.get_connection() as con:
        applier = Applier(context, client, con, apply_settings)
        applier.record_overrides()
        plan = applier.plan("grading_period")
        existing: dict[str, str] = {}

        def title_exists(result: BulkItemResult) -> bool:
            # A resent create finds its own earlier success: the title is unique.
            if not existing:
                existing.update({g.get("title"): str(g.get("id")) for g in
                                 client.iter_pages("gradingperiods", "gradingperiods")})
            title = result.item.get("title")
            if title in existing:
                result.body.setdefault("id", existing[title])
                return True
            return False

        for row in plan.itertuples():
            item = {"title": row.payload["title"], "start": row.payload["start"],
                    "end": row.payload["end"]}
            if row.action == "create":
                applier.send("grading_period", "create", [(row.sis_key, None, item)],
                             _single(client, "POST", "gradingperiods"), "POST", "gradingperiods",
                             on_success=lambda k, i, r: applier.own("grading_period", k, i),
                             already_done=title_exists)
            elif row.action == "update":
                applier.send("grading_period", "update", [(row.sis_key, row.schoology_id, item)],
                             _single(client, "PUT", f"gradingperiods/{row.schoology_id}"),
                             "PUT", "gradingperiods/{id}")
        return op_output(context, applier, "grading_period")


def _single(client: SchoologyClient, method: str, path: str):
    """Wrap a single-object write so it looks like a one-item bulk call.

    An HTTP error becomes that item's result, so the caller can tell "already exists" from a
    real failure.
    """
    def call(items: list[dict]) -> list[BulkItemResult]:
        try:
            response = client.session.request(method, client.url(path), json=items[0],
                                              idempotent=True)
        except TransientError:
            raise
        except ApiError as error:
            if error.status is None:
                raise
            return [BulkItemResult(items[0], error.status, {"message": str(error)})]
        return [BulkItemResult(items[0], 200, json_body(response))]
    return call


@dg.op(ins=AFTER, out=NOTHING_OUT, tags={"kind": "schoology"})
def apply_courses(context: dg.OpExecutionContext, schoology: SchoologyResource,
                  warehouse: DuckDBResource, apply_settings: ApplySettings):
    """Create and update courses; courses are never deleted by the pipeline."""
    client = schoology.get_client(logger=context.log)
    with warehouse.get_connection() as con:
        applier = Applier(context, client, con, apply_settings)
        plan = applier.plan("course")
        creates = [(r.sis_key, None, {**r.payload, "synced": 1})
                   for r in plan.itertuples() if r.action == "create"]
        applier.send("course", "create", creates,
                     bulk_call(client, "POST", "courses", ("courses", "course"), ("course",),
                           {"update_existing": 1}),
                     "POST", "courses",
                     on_success=lambda k, i, r: applier.own("course", k, i))
        updates = [(r.sis_key, r.schoology_id,
                    {"id": r.schoology_id, "title": r.payload["title"],
                     "building_id": r.payload["building_id"]})
                   for r in plan.itertuples() if r.action == "update"]
        applier.send("course", "update", updates,
                     bulk_call(client, "PUT", "courses", ("courses", "course"), ("course",)),
                     "PUT", "courses")
        return op_output(context, applier, "course")


@dg.op(ins=AFTER, out=NOTHING_OUT, tags={"kind": "schoology"})
def apply_sections(context: dg.OpExecutionContext, schoology: SchoologyResource,
                   warehouse: DuckDBResource, apply_settings: ApplySettings):
    """Create, update and deactivate (active=0) course sections."""
    client = schoology.get_client(logger=context.log)
    with warehouse.get_connection() as con:
        applier = Applier(context, client, con, apply_settings)
        plan = applier.plan("section")
        course_ids = applier.id_map("course", "SELECT course_code, id FROM schoology.courses")
        period_ids = applier.id_map("grading_period",
                                    "SELECT title, id FROM schoology.grading_periods")

        def section_item(payload: dict) -> dict:
            return {
                "title": payload["title"],
                "section_school_code": payload["section_school_code"],
                "section_code": payload["section_school_code"],
                "grading_periods": [int(period_ids[t]) for t in payload["grading_period_titles"]
                                    if t in period_ids],
                "synced": 1,
                "active": 1,
            }

        by_course: dict[str, list] = defaultdict(list)
        for r in plan.itertuples():
            if r.action != "create":
                continue
            course_id = course_ids.get(r.payload["course_code"])
            if course_id is None:
                applier.unresolved("section", r.sis_key, "POST", "courses/{id}/sections",
                                   f"course {r.payload['course_code']} has no Schoology id; "
                                   "see the course step's failures")
                continue
            by_course[course_id].append((r.sis_key, None, section_item(r.payload)))
        for course_id, rows in by_course.items():
            applier.send("section", "create", rows,
                         bulk_call(client, "POST", f"courses/{course_id}/sections",
                               ("sections", "section"), ("section",), {"update_existing": 1}),
                         "POST", "courses/{id}/sections",
                         on_success=lambda k, i, r: applier.own("section", k, i))
        updates = [(r.sis_key, r.schoology_id, {"id": r.schoology_id, **section_item(r.payload)})
                   for r in plan.itertuples() if r.action == "update"]
        applier.send("section", "update", updates,
                     bulk_call(client, "PUT", "sections", ("sections", "section"), ("section",)),
                     "PUT", "sections")
        deactivations = [(r.sis_key, r.schoology_id, {"id": r.schoology_id, "active": 0})
                         for r in plan.itertuples() if r.action == "deactivate"]
        applier.send("section", "deactivate", deactivations,
                     bulk_call(client, "PUT", "sections", ("sections", "section"), ("section",)),
                     "PUT", "sections")
        return op_output(context, applier, "section")


@dg.op(ins=AFTER, out=NOTHING_OUT, tags={"kind": "schoology"})
def apply_users(context: dg.OpExecutionContext, schoology: SchoologyResource,
                warehouse: DuckDBResource, apply_settings: ApplySettings):
    """Create, link, update, reactivate and deactivate users.

    Deactivation keeps enrollments and sends no e-mail; reactivation restores enrollments.
    """
    client = schoology.get_client(logger=context.log)
    with warehouse.get_connection() as con:
        applier = Applier(context, client, con, apply_settings)
        plan = applier.plan("user")

        def user_item(payload: dict, clear_blanks: bool) -> dict:
            item = {f: payload.get(f) for f in USER_SEND_FIELDS}
            if clear_blanks:
                # An update must send a field the SIS emptied as "", because a field left out
                # keeps its old value in Schoology and the plan would ask for it again forever.
                return {**{f: "" if v is None else v for f, v in item.items()}, "synced": 1}
            return drop_none({**item, "synced": 1})

        def rows_for(*actions: str, extra: dict | None = None, with_id: bool = True):
            return [(r.sis_key, r.schoology_id,
                     {**({"id": r.schoology_id} if with_id else {}),
                      **user_item(r.payload, clear_blanks=with_id), **(extra or {})})
                    for r in plan.itertuples() if r.action in actions]

        applier.send("user", "create", rows_for("create", extra={"email_login_info": 0},
                                                with_id=False),
                     bulk_call(client, "POST", "users", ("users", "user"), ("user",),
                           {"update_existing": 1}),
                     "POST", "users", on_success=lambda k, i, r: applier.own("user", k, i))
        applier.send("user", "link", rows_for("link"),
                     bulk_call(client, "PUT", "users", ("users", "user"), ("user",)),
                     "PUT", "users", on_success=lambda k, i, r: applier.own("user", k, i))
        returning = [(r.sis_key, r.schoology_id, {"uid": int(r.schoology_id), "option_reenroll": 1})
                     for r in plan.itertuples() if r.action == "reactivate"]
        applier.send("user", "reactivate", returning,
                     bulk_call(client, "PUT", "users/reactivate", ("user",), ("user",)),
                     "PUT", "users/reactivate",
                     on_success=lambda k, i, r: applier.own("user", k, i))
        applier.send("user", "update", rows_for("update", "reactivate"),
                     bulk_call(client, "PUT", "users", ("users", "user"), ("user",)), "PUT", "users")
        leavers = [(r.sis_key, r.schoology_id, {"id": r.schoology_id})
                   for r in plan.itertuples() if r.action == "deactivate"]
        applier.send("user", "deactivate", leavers,
                     delete_call(client, "users", "uids", ("user",),
                             {"option_keep_enrollments": 1, "email_notification": 0}),
                     "DELETE", "users", already_done=already_gone)
        return op_output(context, applier, "user")


@dg.op(ins=AFTER, out=NOTHING_OUT, tags={"kind": "schoology"})
def apply_enrollments(context: dg.OpExecutionContext, schoology: SchoologyResource,
                      warehouse: DuckDBResource, apply_settings: ApplySettings):
    """Enroll students and every teacher of a section; remove only enrollments it created."""
    client = schoology.get_client(logger=context.log)
    with warehouse.get_connection() as con:
        applier = Applier(context, client, con, apply_settings)
        plan = applier.plan("enrollment")
        section_ids = applier.id_map(
            "section", "SELECT section_school_code, id FROM schoology.sections")
        user_ids = applier.id_map(
            "user", "SELECT school_uid, uid FROM schoology.users WHERE active")
        creates = []
        for r in plan.itertuples():
            if r.action != "create":
                continue
            section_id = section_ids.get(r.payload["section_school_code"])
            uid = user_ids.get(r.payload["school_uid"])
            if section_id is None or uid is None:
                missing = "section" if section_id is None else "user"
                applier.unresolved("enrollment", r.sis_key, "POST", "enrollments",
                                   f"the {missing} has no Schoology id; see that step's failures")
                continue
            creates.append((r.sis_key, None, {"realm": "section", "section_id": int(section_id),
                                              "uid": int(uid), "admin": int(r.payload["admin"]),
                                              "status": 1}))
        applier.send("enrollment", "create", creates,
                     bulk_call(client, "POST", "enrollments", ("enrollments", "enrollment"),
                           ("enrollments", "enrollment"), {"update_existing": 1}),
                     "POST", "enrollments",
                     on_success=lambda k, i, r: applier.own("enrollment", k, i))

        by_section: dict[str, list] = defaultdict(list)
        for r in plan.itertuples():
            if r.action == "update":
                section_id = section_ids[r.payload["section_school_code"]]
                by_section[section_id].append(
                    (r.sis_key, r.schoology_id,
                     {"id": int(r.schoology_id), "admin": int(r.payload["admin"])}))
        for section_id, rows in by_section.items():
            applier.send("enrollment", "update", rows,
                         bulk_call(client, "PUT", f"sections/{section_id}/enrollments",
                               ("enrollments", "enrollment"), ("enrollments", "enrollment")),
                         "PUT", "sections/{id}/enrollments")
        removals = [(r.sis_key, r.schoology_id, {"id": r.schoology_id})
                    for r in plan.itertuples() if r.action == "delete"]
        applier.send("enrollment", "delete", removals,
                     delete_call(client, "enrollments", "enrollment_ids",
                             ("enrollments", "enrollment")),
                     "DELETE", "enrollments",
                     on_success=lambda k, i, r: applier.disown("enrollment", k),
                     already_done=already_gone)
        return op_output(context, applier, "enrollment")


@dg.op(ins=AFTER, tags={"kind": "duckdb"})
def report_apply(context: dg.OpExecutionContext, warehouse: DuckDBResource) -> None:
    """Summarise this run's sync log; fail the run if any item failed, ended unknown or was
    held by a gate, after everything else was applied."""
    with warehouse.get_connection() as con:
        ensure_schemas(con)
        summary = con.execute(
            "SELECT entity, action, outcome, count(*) AS n FROM log.sync_log WHERE run_id = ? "
            "GROUP BY ALL ORDER BY ALL",
            [context.run.run_id],
        ).df()
        held = con.execute(
            "SELECT DISTINCT message FROM log.sync_log WHERE run_id = ? AND outcome = 'held'",
            [context.run.run_id],
        ).fetchall()
    context.add_output_metadata({
        "summary": dg.MetadataValue.md(summary.to_markdown(index=False) if len(summary)
                                       else "_no changes_"),
        "writes": int(summary.loc[summary["outcome"] == "ok", "n"].sum()) if len(summary) else 0,
    })
    bad = summary[summary["outcome"].isin(["failed", "unknown", "held"])]
    if len(bad):
        dry_run = bool((summary["outcome"] == "dry_run").any())
        rest = ("This was a dry run, so nothing was sent." if dry_run else
                "Everything else was applied, and the next sync plans the remainder again.")
        lines = [f"{int(bad['n'].sum())} plan items did not apply; see log.sync_log for run "
                 f"{context.run.run_id} (outcome failed, unknown or held). {rest}"]
        lines += [f"held: {message}" for (message,) in held]
        raise dg.Failure(
            description="\n".join(lines),
            metadata={"not_applied": dg.MetadataValue.md(bad.to_markdown(index=False))},
        )


@dg.job(
    description=(
        "Apply the provisioning plans to Schoology: grading periods, courses, sections, users, "
        "then enrollments. Set resources.apply_settings.config.dry_run to true to only log."
    ),
    executor_def=dg.in_process_executor,
)
def apply_job():
    periods = apply_grading_periods()
    courses = apply_courses(periods)
    sections = apply_sections(courses)
    users = apply_users(sections)
    enrollments = apply_enrollments(users)
    report_apply(enrollments)
