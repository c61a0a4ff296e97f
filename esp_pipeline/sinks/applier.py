"""The ledger-backed writer behind the apply job's ops.

`Applier` sends plan rows in chunks, records one sync-log row per API outcome, keeps
`log.owned` and `log.ledger` in step, and keeps back the rows behind failed gates.
"""

import json
import re
import time
from collections import defaultdict
from collections.abc import Callable, Sequence

import dagster as dg
import pandas as pd
from pydantic import Field, field_validator

from esp_pipeline.resources.http import ApiError, TransientError, WriteOutcomeUnknown, json_body
from esp_pipeline.resources.schoology import (
    MAX_BULK_ITEMS,
    BulkItemResult,
    SchoologyClient,
    as_int,
)
from esp_pipeline.warehouse import ensure_schemas, table_exists

PLAN_ENTITIES = ("grading_period", "course", "section", "user", "enrollment")
SYNC_LOG_FIELDS = ["run_id", "entity", "action", "sis_key", "schoology_id", "http_method",
                   "endpoint", "response_code", "outcome", "message"]
USER_SEND_FIELDS = ["school_uid", "name_first", "name_middle", "name_last", "username",
                    "primary_email", "role_id", "building_id", "additional_buildings"]
REMOVAL_ACTIONS = {"deactivate", "delete"}
GATED_ENTITIES = {"user", "section", "enrollment"}
# Per-item codes worth sending again in the same run: the server refused or failed the item.
RETRYABLE_ITEM_CODES = {429, 500, 502, 503, 504}
EMAIL_PATTERN = re.compile(r"[\w.+'-]+@[\w-]+(\.[\w-]+)+")

LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS log.ledger (
    plan_run_id VARCHAR,
    entity VARCHAR,
    action VARCHAR,
    sis_key VARCHAR,
    state VARCHAR,
    schoology_id VARCHAR,
    apply_run_id VARCHAR,
    updated_at TIMESTAMP DEFAULT current_timestamp,
    PRIMARY KEY (plan_run_id, entity, action, sis_key)
)
"""


class ApplySettings(dg.ConfigurableResource):
    """Run-time switches of the apply job; set them in the launchpad for one run."""

    dry_run: bool = Field(
        default=False, description="Log what would change and write nothing to Schoology."
    )
    pass_deletion_gates: list[str] = Field(
        default_factory=list,
        description="Entities (user, section, enrollment) whose failed deletion gates this one "
        "run passes; the override is recorded in log.sync_log.",
    )
    pass_feed_gates: list[str] = Field(
        default_factory=list,
        description="Schoology building ids whose failed feed gates this one run passes; "
        "recorded in log.sync_log.",
    )
    item_attempts: int = Field(
        default=3, description="Attempts per chunk when Schoology fails items transiently."
    )

    @field_validator("pass_deletion_gates")
    @classmethod
    def _known_entities(cls, entities: list[str]) -> list[str]:
        unknown = sorted(set(entities) - GATED_ENTITIES)
        if unknown:
            raise ValueError(
                f"pass_deletion_gates: {', '.join(unknown)} is not a gated entity; use "
                f"{', '.join(sorted(GATED_ENTITIES))}"
            )
        return entities


def redact(message: str) -> str:
    """Remove e-mail addresses from a message before it reaches logs or the warehouse."""
    return EMAIL_PATTERN.sub("<e-mail>", message)


def explain(message: str) -> str:
    """Add the fix to Schoology item errors a district can act on."""
    lowered = message.lower()
    if "e-mail" in lowered and ("another organisation" in lowered or "organization" in lowered
                               or "different organ" in lowered):
        return (f"{message}. Fix: the e-mail belongs to an account in another Schoology "
                "organisation; change the user's e-mail in the SIS, or ask Schoology support to "
                "release it")
    if "e-mail" in lowered and "already used" in lowered:
        return (f"{message}. Fix: another account in this district has the e-mail; merge the "
                "accounts or correct the e-mail in the SIS")
    return message


class Applier:
    """Sends plan rows, records each outcome in log.sync_log, ownership in log.owned and
    progress in log.ledger."""

    def __init__(self, context: dg.OpExecutionContext, client: SchoologyClient, con,
                 settings: ApplySettings):
        self.context = context
        self.client = client
        self.con = con
        self.settings = settings
        self.dry_run = settings.dry_run
        self.run_id = context.run.run_id
        self.counts: dict[tuple[str, str, str], int] = defaultdict(int)
        self._log_rows: list[tuple] = []
        self._owned_rows: list[tuple] = []
        self._disowned_rows: list[tuple] = []
        self._ledger_rows: list[tuple] = []
        ensure_schemas(con)
        con.execute(LEDGER_DDL)
        self.plan_run_id = self._plan_run_id()
        self.held = self._held_scopes()

    # ------------------------------------------------------------ plan and gates

    def _plan_run_id(self) -> str:
        """Return the run that wrote the plans; all plan tables must come from the same one."""
        run_ids = set()
        for entity in PLAN_ENTITIES:
            table = f"provisioning.{entity}_plan"
            if not table_exists(self.con, table):
                raise dg.Failure(f"{table} is missing: run plan_job (materialize the "
                                 "provisioning assets) before apply_job.")
            run_ids |= {r[0] for r in self.con.execute(
                f"SELECT DISTINCT plan_run_id FROM {table}").fetchall()}
        if table_exists(self.con, "provisioning.gates"):
            run_ids |= {r[0] for r in self.con.execute(
                "SELECT DISTINCT plan_run_id FROM provisioning.gates").fetchall()}
        run_ids.discard(None)
        if len(run_ids) > 1:
            raise dg.Failure(
                "the plan tables come from different plan runs "
                f"({', '.join(sorted(run_ids))}), so they may contradict each other. Run "
                "plan_job again to write a complete plan, then apply_job."
            )
        return run_ids.pop() if run_ids else ""

    def _held_scopes(self) -> dict[tuple[str, str], str]:
        """(gate kind or entity, scope) → message, for failed gates not passed by this run."""
        if not table_exists(self.con, "provisioning.gates"):
            return {}
        held = {}
        for gate, entity, scope, message in self.con.execute(
            "SELECT gate, entity, scope, message FROM provisioning.gates WHERE NOT passed"
        ).fetchall():
            if gate == "feed":
                if scope in self.settings.pass_feed_gates:
                    continue
                held[("feed", scope)] = message
            elif entity not in self.settings.pass_deletion_gates:
                held[(entity, scope)] = message
        return held

    def record_overrides(self) -> None:
        """Write one sync-log row per failed gate this run passes on purpose.

        An override that matches no failed gate is logged as a warning, so a mistyped building
        id does not pass silently.
        """
        if not table_exists(self.con, "provisioning.gates"):
            return
        failed_scopes = {r[0] for r in self.con.execute(
            "SELECT scope FROM provisioning.gates WHERE gate = 'feed' AND NOT passed").fetchall()}
        for building in self.settings.pass_feed_gates:
            if building not in failed_scopes:
                self.context.log.warning(
                    "pass_feed_gates lists building %s, but no feed gate failed there; it has "
                    "no effect", building)
        for gate, entity, scope, message in self.con.execute(
            "SELECT gate, entity, scope, message FROM provisioning.gates WHERE NOT passed"
        ).fetchall():
            passed = (gate == "feed" and scope in self.settings.pass_feed_gates) or (
                gate == "deletion" and entity in self.settings.pass_deletion_gates)
            if passed:
                self.context.log.warning("gate passed once by run config: %s", message)
                self.record(entity, "gate_override", f"{gate}:{scope}", None, "", "", None,
                            "override", message)
        self.flush()

    def plan(self, entity: str) -> pd.DataFrame:
        """Return this entity's plan rows still to apply, holding rows behind failed gates."""
        plan = self.con.execute(
            f"SELECT * FROM provisioning.{entity}_plan ORDER BY action, sis_key"
        ).df()
        plan["payload"] = plan["payload"].map(lambda p: json.loads(p) if p else {})
        done = {(a, k) for a, k in self.con.execute(
            "SELECT action, sis_key FROM log.ledger WHERE plan_run_id = ? AND entity = ? "
            "AND state = 'done'", [self.plan_run_id, entity]).fetchall()}
        if done:
            self.context.log.info("%s: %d rows already applied by an earlier run of this plan",
                                  entity, len(done))
        keep = []
        for row in plan.itertuples():
            if (row.action, row.sis_key) in done:
                keep.append(False)
                continue
            reason = self.held.get(("feed", row.scope))
            if reason is None and row.action in REMOVAL_ACTIONS:
                reason = self.held.get((entity, row.scope))
            if reason:
                self.record(entity, row.action, row.sis_key, row.schoology_id, "", "", None,
                            "held", reason)
                keep.append(False)
            else:
                keep.append(True)
        self.flush()
        return plan[keep] if len(plan) else plan

    def id_map(self, entity: str, snapshot_sql: str) -> dict[str, str]:
        """SIS key → Schoology id: objects this pipeline recorded, then the latest snapshot."""
        ids = dict(self.con.execute(
            "SELECT sis_key, schoology_id FROM log.owned WHERE entity = ?", [entity]
        ).fetchall())
        ids.update({k: v for k, v in self.con.execute(snapshot_sql).fetchall() if k})
        return ids

    # ------------------------------------------------------------ outcomes

    def record(self, entity: str, action: str, sis_key: str, schoology_id: str | None,
               method: str, endpoint: str, code: int | None, outcome: str,
               message: str = "") -> None:
        message = redact(message)
        self.counts[(entity, action, outcome)] += 1
        self._log_rows.append((self.run_id, entity, action, sis_key, schoology_id, method,
                               endpoint, code, outcome, message[:1000]))
        if outcome in ("ok", "failed", "unknown"):
            state = {"ok": "done", "failed": "failed", "unknown": "intended"}[outcome]
            self._ledger_rows.append((self.plan_run_id, entity, action, sis_key, state,
                                      schoology_id, self.run_id))
        if outcome == "failed":
            status = f"HTTP {code}" if code is not None else "not sent"
            self.context.log.error("%s %s %s failed (%s): %s", entity, action, sis_key,
                                   status, message[:300])

    def unresolved(self, entity: str, sis_key: str, method: str, endpoint: str,
                   message: str) -> None:
        """Record a create whose parent has no Schoology id yet.

        In a dry run the parent is never created, so the row is what the run would send.
        """
        if self.dry_run:
            self.record(entity, "create", sis_key, None, method, endpoint, None, "dry_run",
                        "would send once its parent exists")
        else:
            self.record(entity, "create", sis_key, None, method, endpoint, None, "failed",
                        message)

    def intend(self, entity: str, action: str, keys: Sequence[str]) -> None:
        """Mark rows as about to be sent, committed before the request goes out."""
        self._ledger_rows.extend((self.plan_run_id, entity, action, k, "intended", None,
                                  self.run_id) for k in keys)
        self.flush()

    def own(self, entity: str, sis_key: str, schoology_id: str) -> None:
        self._owned_rows.append((entity, sis_key, schoology_id, self.run_id))

    def disown(self, entity: str, sis_key: str) -> None:
        self._disowned_rows.append((entity, sis_key))

    def flush(self) -> None:
        """Write buffered outcomes in one transaction."""
        if not (self._log_rows or self._owned_rows or self._disowned_rows or self._ledger_rows):
            return
        # DuckDB inserts row by row through executemany are slow; a registered frame is one scan.
        # Only buffers that hold rows are written: most flushes carry ledger rows alone.
        statements = []
        if self._log_rows:
            statements.append((
                "log_rows", pd.DataFrame(self._log_rows, columns=SYNC_LOG_FIELDS),
                f"INSERT INTO log.sync_log ({', '.join(SYNC_LOG_FIELDS)}) SELECT * FROM log_rows",
            ))
        if self._owned_rows:
            statements.append((
                "owned_rows",
                pd.DataFrame(self._owned_rows,
                             columns=["entity", "sis_key", "schoology_id", "run_id"]),
                "INSERT OR REPLACE INTO log.owned (entity, sis_key, schoology_id, run_id) "
                "SELECT * FROM owned_rows",
            ))
        if self._disowned_rows:
            statements.append((
                "disowned_rows", pd.DataFrame(self._disowned_rows, columns=["entity", "sis_key"]),
                "DELETE FROM log.owned o USING disowned_rows d "
                "WHERE o.entity = d.entity AND o.sis_key = d.sis_key",
            ))
        if self._ledger_rows:
            ledger = pd.DataFrame(
                self._ledger_rows,
                columns=["plan_run_id", "entity", "action", "sis_key", "state", "schoology_id",
                         "apply_run_id"],
            )
            # Later rows of the same key win, so keep only the last one per key.
            ledger = ledger.drop_duplicates(["plan_run_id", "entity", "action", "sis_key"],
                                            keep="last")
            statements.append((
                "ledger_rows", ledger,
                "INSERT OR REPLACE INTO log.ledger (plan_run_id, entity, action, sis_key, state, "
                "schoology_id, apply_run_id) SELECT * FROM ledger_rows",
            ))

        self.con.execute("BEGIN TRANSACTION")
        for name, frame, sql in statements:
            self.con.register(name, frame)
            self.con.execute(sql)
            self.con.unregister(name)
        self.con.execute("COMMIT")
        self._log_rows, self._owned_rows, self._disowned_rows = [], [], []
        self._ledger_rows = []

    # ------------------------------------------------------------ sending

    def send(
        self,
        entity: str,
        action: str,
        rows: Sequence[tuple[str, str | None, dict]],
        call: Callable[[list[dict]], list[BulkItemResult]],
        method: str,
        endpoint: str,
        on_success: Callable[[str, str | None, BulkItemResult], None] | None = None,
        already_done: Callable[[BulkItemResult], bool] | None = None,
    ) -> None:
        """Send (sis_key, schoology_id, item) rows in chunks of 50 through `call`.

        A chunk whose outcome is unknown, and items that fail with a transient code, are sent
        again (up to `item_attempts` times). The keys make resending safe. `already_done` separates
        a failure that means the change is in place (a 404 on a removal, say) from a real one.
        """
        for start in range(0, len(rows), MAX_BULK_ITEMS):
            pending = list(rows[start : start + MAX_BULK_ITEMS])
            if self.dry_run:
                for sis_key, schoology_id, _ in pending:
                    self.record(entity, action, sis_key, schoology_id, method, endpoint, None,
                                "dry_run", "would send")
                self.flush()
                continue
            self.intend(entity, action, [sis_key for sis_key, _, _ in pending])
            for attempt in range(1, self.settings.item_attempts + 1):
                last = attempt == self.settings.item_attempts
                pending = self._send_chunk(entity, action, pending, call, method, endpoint,
                                           on_success, already_done, last)
                self.flush()
                if not pending:
                    break
                time.sleep(min(2.0 ** attempt, 10.0))

    def _send_chunk(self, entity, action, chunk, call, method, endpoint, on_success,
                    already_done, last) -> list:
        """Send one chunk; return the rows worth another attempt."""
        try:
            results = call([item for _, _, item in chunk])
        except (WriteOutcomeUnknown, TransientError) as error:
            if last:
                for sis_key, schoology_id, _ in chunk:
                    self.record(entity, action, sis_key, schoology_id, method, endpoint,
                                error.status, "unknown", str(error))
                return []
            self.context.log.warning("%s %s: chunk of %d will be sent again: %s",
                                     entity, action, len(chunk), redact(str(error)))
            return chunk
        except ApiError as error:
            for sis_key, schoology_id, _ in chunk:
                self.record(entity, action, sis_key, schoology_id, method, endpoint,
                            error.status, "failed", explain(str(error)))
            return []
        retry = []
        for row, result in zip(chunk, results):
            sis_key, schoology_id, _ = row
            if result.ok or (already_done is not None and already_done(result)):
                result_id = _result_id(result) or schoology_id
                self.record(entity, action, sis_key, result_id, method, endpoint,
                            result.response_code, "ok")
                if on_success:
                    on_success(sis_key, result_id, result)
            elif result.response_code in RETRYABLE_ITEM_CODES and not last:
                retry.append(row)
            else:
                self.record(entity, action, sis_key, schoology_id, method, endpoint,
                            result.response_code, "failed", explain(result.message))
        return retry

    def summary(self, entity: str) -> dict[str, int]:
        return {f"{action}_{outcome}": n for (e, action, outcome), n in sorted(self.counts.items())
                if e == entity}


def _result_id(result: BulkItemResult) -> str | None:
    value = result.body.get("id") or result.body.get("uid")
    if value is None and result.body.get("location"):
        value = str(result.body["location"]).rstrip("/").rsplit("/", 1)[-1]
    number = as_int(value) if value is not None and str(value).isdigit() else None
    return None if number is None else str(number)


def drop_none(item: dict) -> dict:
    return {k: v for k, v in item.items() if v is not None}


def already_gone(result: BulkItemResult) -> bool:
    return result.response_code == 404


def bulk_call(client: SchoologyClient, method: str, path: str, request_keys, response_keys,
          params: dict | None = None) -> Callable[[list[dict]], list[BulkItemResult]]:
    def call(items: list[dict]) -> list[BulkItemResult]:
        return list(client.bulk(method, path, items, request_keys=request_keys,
                                response_keys=response_keys, params=params, idempotent=True))
    return call


def delete_call(client: SchoologyClient, path: str, id_param: str, response_keys,
            params: dict | None = None) -> Callable[[list[dict]], list[BulkItemResult]]:
    def call(items: list[dict]) -> list[BulkItemResult]:
        ids = [item["id"] for item in items]
        return list(client.bulk_delete(path, id_param, ids, response_keys=response_keys,
                                       params=params))
    return call


def op_output(context: dg.OpExecutionContext, applier: Applier, entity: str) -> dg.Output:
    applier.flush()
    counts = applier.summary(entity)
    context.log.info("%s: %s", entity, counts or "nothing to apply")
    return dg.Output(None, metadata={k: dg.MetadataValue.int(v) for k, v in counts.items()})


