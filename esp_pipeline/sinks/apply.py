"""The apply job: send the plan tables to Schoology in dependency order.

It reads only the provisioning plan tables (never the SIS) and records one sync-log row per
API outcome. Creates are safe to resend after a lost response because Schoology rejects a second
object with the same unique key (school_uid, course_code, section_school_code, grading period
title, one enrollment per section and user), so a retried or restarted run cannot duplicate.
"""


import json
from collections import defaultdict
from collections.abc import Callable, Sequence

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource
from pydantic import Field

from esp_pipeline.resources.http import ApiError, WriteOutcomeUnknown
from esp_pipeline.resources.schoology import (
    MAX_BULK_ITEMS,
    BulkItemResult,
    SchoologyClient,
    SchoologyResource,
    as_int,
)
from esp_pipeline.warehouse import ensure_schemas, table_exists

SYNC_LOG_FIELDS = ["run_id", "entity", "action", "sis_key", "schoology_id", "http_method",
                   "endpoint", "response_code", "outcome", "message"]
USER_SEND_FIELDS = ["school_uid", "name_first", "name_middle", "name_last", "username",
                    "primary_email", "role_id", "building_id", "additional_buildings"]


class ApplySettings(dg.ConfigurableResource):
    """Run-time switches of the apply job."""

    dry_run: bool = Field(
        default=False, description="Log what would change and write nothing to Schoology."
    )


class Applier:
    """Sends plan rows and records each outcome in log.sync_log (and ownership in log.owned)."""

    def __init__(self, context: dg.OpExecutionContext, client: SchoologyClient, con, dry_run: bool):
        self.context = context
        self.client = client
        self.con = con
        self.dry_run = dry_run
        self.run_id = context.run_id
        self.counts: dict[tuple[str, str, str], int] = defaultdict(int)
        self._log_rows: list[tuple] = []
        self._owned_rows: list[tuple] = []
        self._disowned_rows: list[tuple] = []
        ensure_schemas(con)

    def plan(self, entity: str) -> pd.DataFrame:
        table = f"provisioning.{entity}_plan"
        if not table_exists(self.con, table):
            raise dg.Failure(f"{table} is missing: materialize the provisioning assets first.")
        plan = self.con.execute(f"SELECT * FROM {table} ORDER BY action, sis_key").df()
        plan["payload"] = plan["payload"].map(lambda p: json.loads(p) if p else {})
        return plan

    def id_map(self, entity: str, snapshot_sql: str) -> dict[str, str]:
        """SIS key → Schoology id: objects this pipeline recorded, then the latest snapshot."""
        ids = dict(self.con.execute(
            "SELECT sis_key, schoology_id FROM log.owned WHERE entity = ?", [entity]
        ).fetchall())
        ids.update({k: v for k, v in self.con.execute(snapshot_sql).fetchall() if k})
        return ids

    def record(self, entity: str, action: str, sis_key: str, schoology_id: str | None,
               method: str, endpoint: str, code: int | None, outcome: str, message: str = "") -> None:
        self.counts[(entity, action, outcome)] += 1
        self._log_rows.append(
            (self.run_id, entity, action, sis_key, schoology_id, method, endpoint, code, outcome,
             message[:500])
        )
        if outcome == "failed":
            self.context.log.error(
                "%s %s %s failed (HTTP %s): %s", entity, action, sis_key, code, message[:200]
            )

    def own(self, entity: str, sis_key: str, schoology_id: str) -> None:
        self._owned_rows.append((entity, sis_key, schoology_id, self.run_id))

    def disown(self, entity: str, sis_key: str) -> None:
        self._disowned_rows.append((entity, sis_key))

    def flush(self) -> None:
        """Write buffered outcomes in one transaction, after every chunk sent."""
        if not (self._log_rows or self._owned_rows or self._disowned_rows):
            return
        # DuckDB inserts row by row through executemany are slow; a registered frame is one scan.
        log_rows = pd.DataFrame(self._log_rows, columns=SYNC_LOG_FIELDS)
        owned_rows = pd.DataFrame(self._owned_rows, columns=["entity", "sis_key", "schoology_id",
                                                             "run_id"])
        disowned_rows = pd.DataFrame(self._disowned_rows, columns=["entity", "sis_key"])
        self.con.execute("BEGIN TRANSACTION")
        self.con.register("log_rows", log_rows)
        self.con.register("owned_rows", owned_rows)
        self.con.register("disowned_rows", disowned_rows)
        self.con.execute(
            f"INSERT INTO log.sync_log ({', '.join(SYNC_LOG_FIELDS)}) SELECT * FROM log_rows"
        )
        self.con.execute(
            "INSERT OR REPLACE INTO log.owned (entity, sis_key, schoology_id, run_id) "
            "SELECT * FROM owned_rows"
        )
        self.con.execute(
            "DELETE FROM log.owned o USING disowned_rows d "
            "WHERE o.entity = d.entity AND o.sis_key = d.sis_key"
        )
        for name in ("log_rows", "owned_rows", "disowned_rows"):
            self.con.unregister(name)
        self.con.execute("COMMIT")
        self._log_rows, self._owned_rows, self._disowned_rows = [], [], []

    def send(
        self,
        entity: str,
        action: str,
        rows: Sequence[tuple[str, str | None, dict]],
        call: Callable[[list[dict]], list[BulkItemResult]],
        method: str,
        endpoint: str,
        on_success: Callable[[str, str | None, BulkItemResult], None] | None = None,
    ) -> None:
        """Send (sis_key, schoology_id, item) rows in chunks of 50 through `call`.

        A chunk that fails as a whole is logged item by item and the next chunk still goes.
        """
        for start in range(0, len(rows), MAX_BULK_ITEMS):
            chunk = list(rows[start : start + MAX_BULK_ITEMS])
            if self.dry_run:
                for sis_key, schoology_id, _ in chunk:
                    self.record(entity, action, sis_key, schoology_id, method, endpoint, None,
                                "dry_run", "would send")
                self.flush()
                continue
            try:
                results = call([item for _, _, item in chunk])
            except WriteOutcomeUnknown as error:
                for sis_key, schoology_id, _ in chunk:
                    self.record(entity, action, sis_key, schoology_id, method, endpoint,
                                error.status, "unknown", str(error))
                self.flush()
                continue
            except ApiError as error:
                for sis_key, schoology_id, _ in chunk:
                    self.record(entity, action, sis_key, schoology_id, method, endpoint,
                                error.status, "failed", str(error))
                self.flush()
                continue
            for (sis_key, schoology_id, _), result in zip(chunk, results):
                if result.ok:
                    result_id = _result_id(result) or schoology_id
                    self.record(entity, action, sis_key, result_id, method, endpoint,
                                result.response_code, "ok")
                    if on_success:
                        on_success(sis_key, result_id, result)
                else:
                    self.record(entity, action, sis_key, schoology_id, method, endpoint,
                                result.response_code, "failed", result.message)
            self.flush()

    def summary(self, entity: str) -> dict[str, int]:
        return {f"{action}_{outcome}": n for (e, action, outcome), n in sorted(self.counts.items())
                if e == entity}


def _result_id(result: BulkItemResult) -> str | None:
    value = result.body.get("id") or result.body.get("uid")
    if value is None and result.body.get("location"):
        value = str(result.body["location"]).rstrip("/").rsplit("/", 1)[-1]
    number = as_int(value) if value is not None and str(value).isdigit() else None
    return None if number is None else str(number)


def _clean(item: dict) -> dict:
    return {k: v for k, v in item.items() if v is not None}


def _bulk(client: SchoologyClient, method: str, path: str, request_keys, response_keys,
          params: dict | None = None) -> Callable[[list[dict]], list[BulkItemResult]]:
    def call(items: list[dict]) -> list[BulkItemResult]:
        return list(client.bulk(method, path, items, request_keys=request_keys,
                                response_keys=response_keys, params=params, idempotent=True))
    return call


def _delete(client: SchoologyClient, path: str, id_param: str, response_keys,
            params: dict | None = None) -> Callable[[list[dict]], list[BulkItemResult]]:
    def call(items: list[dict]) -> list[BulkItemResult]:
        ids = [item["id"] for item in items]
        return list(client.bulk_delete(path, id_param, ids, response_keys=response_keys,
                                       params=params))
    return call


def _done(context: dg.OpExecutionContext, applier: Applier, entity: str) -> dg.Output:
    applier.flush()
    counts = applier.summary(entity)
    context.log.info("%s: %s", entity, counts or "nothing to apply")
    return dg.Output(None, metadata={k: dg.MetadataValue.int(v) for k, v in counts.items()})


AFTER = {"after": dg.In(dg.Nothing)}
NOTHING_OUT = dg.Out(dg.Nothing)


@dg.op(ins=AFTER, out=NOTHING_OUT, tags={"kind": "schoology"})
def apply_grading_periods(context: dg.OpExecutionContext, schoology: SchoologyResource,
                          warehouse: DuckDBResource, apply_settings: ApplySettings):
    """Create grading periods named in terms.csv and correct their dates."""
    client = schoology.get_client(logger=context.log)
    with warehouse.get_connection() as con:
        applier = Applier(context, client, con, apply_settings.dry_run)
        plan = applier.plan("grading_period")
        for row in plan.itertuples():
            item = {"title": row.payload["title"], "start": row.payload["start"],
                    "end": row.payload["end"]}
            if row.action == "create":
                call = _single(client, "POST", "gradingperiods", idempotent=True)
                rows = [(row.sis_key, None, item)]
                applier.send("grading_period", "create", rows, call, "POST", "gradingperiods",
                             on_success=lambda k, i, r: applier.own("grading_period", k, i))
            elif row.action == "update":
                call = _single(client, "PUT", f"gradingperiods/{row.schoology_id}", idempotent=True)
                applier.send("grading_period", "update", [(row.sis_key, row.schoology_id, item)],
                             call, "PUT", "gradingperiods/{id}")
        return _done(context, applier, "grading_period")


def _single(client: SchoologyClient, method: str, path: str, *, idempotent: bool):
    """Wrap a single-object write so it looks like a one-item bulk call."""
    def call(items: list[dict]) -> list[BulkItemResult]:
        response = client.session.request(method, client.url(path), json=items[0],
                                          idempotent=idempotent)
        body = response.json() if response.content else {}
        return [BulkItemResult(items[0], 200, body)]
    return call


@dg.op(ins=AFTER, out=NOTHING_OUT, tags={"kind": "schoology"})
def apply_courses(context: dg.OpExecutionContext, schoology: SchoologyResource,
                  warehouse: DuckDBResource, apply_settings: ApplySettings):
    """Create and update courses; courses are never deleted by the pipeline."""
    client = schoology.get_client(logger=context.log)
    with warehouse.get_connection() as con:
        applier = Applier(context, client, con, apply_settings.dry_run)
        plan = applier.plan("course")
        creates = [(r.sis_key, None, {**r.payload, "synced": 1})
                   for r in plan.itertuples() if r.action == "create"]
        applier.send("course", "create", creates,
                     _bulk(client, "POST", "courses", ("courses", "course"), ("course",),
                           {"update_existing": 1}),
                     "POST", "courses",
                     on_success=lambda k, i, r: applier.own("course", k, i))
        updates = [(r.sis_key, r.schoology_id,
                    {"id": r.schoology_id, "title": r.payload["title"],
                     "building_id": r.payload["building_id"]})
                   for r in plan.itertuples() if r.action == "update"]
        applier.send("course", "update", updates,
                     _bulk(client, "PUT", "courses", ("courses", "course"), ("course",)),
                     "PUT", "courses")
        return _done(context, applier, "course")


@dg.op(ins=AFTER, out=NOTHING_OUT, tags={"kind": "schoology"})
def apply_sections(context: dg.OpExecutionContext, schoology: SchoologyResource,
                   warehouse: DuckDBResource, apply_settings: ApplySettings):
    """Create, update and deactivate (active=0) course sections."""
    client = schoology.get_client(logger=context.log)
    with warehouse.get_connection() as con:
        applier = Applier(context, client, con, apply_settings.dry_run)
        plan = applier.plan("section")
        course_ids = applier.id_map("course", "SELECT course_code, id FROM schoology.courses")
        period_ids = applier.id_map("grading_period", "SELECT title, id FROM schoology.grading_periods")

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
                applier.record("section", "create", r.sis_key, None, "POST",
                               "courses/{id}/sections", None, "failed",
                               f"course {r.payload['course_code']} has no Schoology id; "
                               "see the course step's failures")
                continue
            by_course[course_id].append((r.sis_key, None, section_item(r.payload)))
        for course_id, rows in by_course.items():
            applier.send("section", "create", rows,
                         _bulk(client, "POST", f"courses/{course_id}/sections",
                               ("sections", "section"), ("section",), {"update_existing": 1}),
                         "POST", "courses/{id}/sections",
                         on_success=lambda k, i, r: applier.own("section", k, i))
        updates = [(r.sis_key, r.schoology_id, {"id": r.schoology_id, **section_item(r.payload)})
                   for r in plan.itertuples() if r.action == "update"]
        applier.send("section", "update", updates,
                     _bulk(client, "PUT", "sections", ("sections", "section"), ("section",)),
                     "PUT", "sections")
        deactivations = [(r.sis_key, r.schoology_id, {"id": r.schoology_id, "active": 0})
                         for r in plan.itertuples() if r.action == "deactivate"]
        applier.send("section", "deactivate", deactivations,
                     _bulk(client, "PUT", "sections", ("sections", "section"), ("section",)),
                     "PUT", "sections")
        return _done(context, applier, "section")


@dg.op(ins=AFTER, out=NOTHING_OUT, tags={"kind": "schoology"})
def apply_users(context: dg.OpExecutionContext, schoology: SchoologyResource,
                warehouse: DuckDBResource, apply_settings: ApplySettings):
    """Create, update, reactivate and deactivate users (deactivation keeps enrollments, no mail)."""
    client = schoology.get_client(logger=context.log)
    with warehouse.get_connection() as con:
        applier = Applier(context, client, con, apply_settings.dry_run)
        plan = applier.plan("user")

        def user_item(payload: dict) -> dict:
            item = {f: payload.get(f) for f in USER_SEND_FIELDS}
            return _clean({**item, "synced": 1})

        creates = [(r.sis_key, None, {**user_item(r.payload), "email_login_info": 0})
                   for r in plan.itertuples() if r.action == "create"]
        applier.send("user", "create", creates,
                     _bulk(client, "POST", "users", ("users", "user"), ("user",),
                           {"update_existing": 1}),
                     "POST", "users", on_success=lambda k, i, r: applier.own("user", k, i))
        returning = [(r.sis_key, r.schoology_id, {"uid": int(r.schoology_id), "option_reenroll": 1})
                     for r in plan.itertuples() if r.action == "reactivate"]
        applier.send("user", "reactivate", returning,
                     _bulk(client, "PUT", "users/reactivate", ("user",), ("user",)),
                     "PUT", "users/reactivate",
                     on_success=lambda k, i, r: applier.own("user", k, i))
        updates = [(r.sis_key, r.schoology_id, {"id": r.schoology_id, **user_item(r.payload)})
                   for r in plan.itertuples() if r.action in ("update", "reactivate")]
        applier.send("user", "update", updates,
                     _bulk(client, "PUT", "users", ("users", "user"), ("user",)), "PUT", "users")
        leavers = [(r.sis_key, r.schoology_id, {"id": r.schoology_id})
                   for r in plan.itertuples() if r.action == "deactivate"]
        applier.send("user", "deactivate", leavers,
                     _delete(client, "users", "uids", ("user",),
                             {"option_keep_enrollments": 1, "email_notification": 0}),
                     "DELETE", "users")
        return _done(context, applier, "user")


@dg.op(ins=AFTER, out=NOTHING_OUT, tags={"kind": "schoology"})
def apply_enrollments(context: dg.OpExecutionContext, schoology: SchoologyResource,
                      warehouse: DuckDBResource, apply_settings: ApplySettings):
    """Enroll students and every teacher of a section; remove only enrollments it created."""
    client = schoology.get_client(logger=context.log)
    with warehouse.get_connection() as con:
        applier = Applier(context, client, con, apply_settings.dry_run)
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
                applier.record("enrollment", "create", r.sis_key, None, "POST", "enrollments",
                               None, "failed",
                               f"the {missing} has no Schoology id; see that step's failures")
                continue
            creates.append((r.sis_key, None, {"realm": "section", "section_id": int(section_id),
                                              "uid": int(uid), "admin": int(r.payload["admin"]),
                                              "status": 1}))
        applier.send("enrollment", "create", creates,
                     _bulk(client, "POST", "enrollments", ("enrollments", "enrollment"),
                           ("enrollments", "enrollment")),
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
                         _bulk(client, "PUT", f"sections/{section_id}/enrollments",
                               ("enrollments", "enrollment"), ("enrollments", "enrollment")),
                         "PUT", "sections/{id}/enrollments")
        removals = [(r.sis_key, r.schoology_id, {"id": r.schoology_id})
                    for r in plan.itertuples() if r.action == "delete"]
        applier.send("enrollment", "delete", removals,
                     _delete(client, "enrollments", "enrollment_ids",
                             ("enrollments", "enrollment")),
                     "DELETE", "enrollments",
                     on_success=lambda k, i, r: applier.disown("enrollment", k))
        return _done(context, applier, "enrollment")


@dg.op(ins=AFTER, tags={"kind": "duckdb"})
def report_apply(context: dg.OpExecutionContext, warehouse: DuckDBResource) -> None:
    """Summarise this run's sync log; fail the run if any item failed or ended unknown."""
    with warehouse.get_connection() as con:
        ensure_schemas(con)
        summary = con.execute(
            "SELECT entity, action, outcome, count(*) AS n FROM log.sync_log WHERE run_id = ? "
            "GROUP BY ALL ORDER BY ALL",
            [context.run_id],
        ).df()
    context.add_output_metadata({
        "summary": dg.MetadataValue.md(summary.to_markdown(index=False) if len(summary)
                                       else "_no changes_"),
        "writes": int(summary.loc[summary["outcome"] == "ok", "n"].sum()) if len(summary) else 0,
    })
    bad = summary[summary["outcome"].isin(["failed", "unknown"])]
    if len(bad):
        raise dg.Failure(
            description=(
                f"{int(bad['n'].sum())} plan items did not apply; see log.sync_log for run "
                f"{context.run_id} (rows with outcome failed or unknown). The rest was applied, "
                "and the next sync plans the remainder again."
            ),
            metadata={"failed": dg.MetadataValue.md(bad.to_markdown(index=False))},
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
