"""Safety gates computed from the plans: deletion thresholds and empty or short SIS feeds.

Each gate is an asset check with ERROR severity, so the UI shows a failed gate in red. Its
decision lands in provisioning.gates, which the apply job reads and obeys. A failed deletion gate
blocks that building's deactivations while creates and updates still apply. A failed feed gate
blocks every change in that building. The checks are not Dagster-blocking (`blocking=True`),
because that fails the whole plan run, and then neither the schedule's apply nor the creates and
updates that the gate should let through would run.
"""

import math

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource
from pydantic import Field

from esp_pipeline.warehouse import ensure_schemas, markdown_preview, replace_table

GROUP = "provisioning"
GATES_KEY = dg.AssetKey([GROUP, "sync_gates"])

GATE_COLUMNS = {
    "plan_run_id": "VARCHAR", "gate": "VARCHAR", "entity": "VARCHAR", "scope": "VARCHAR",
    "planned": "INTEGER", "base": "INTEGER", "allowed": "INTEGER", "passed": "BOOLEAN",
    "message": "VARCHAR",
}

# Plan action that removes something, per entity, and how to count what the pipeline manages in
# each building (the base the share applies to).
REMOVALS = {
    "user": ("deactivate", """
        SELECT u.building_id AS scope, count(*) AS base FROM schoology.users u
        JOIN log.owned o ON o.entity = 'user' AND o.sis_key = u.school_uid
        WHERE u.active GROUP BY 1"""),
    "section": ("deactivate", """
        SELECT c.building_id AS scope, count(*) AS base FROM schoology.sections s
        JOIN schoology.courses c ON c.id = s.course_id
        JOIN log.owned o ON o.entity = 'section' AND o.sis_key = s.section_school_code
        WHERE coalesce(s.active, 1) = 1 GROUP BY 1"""),
    "enrollment": ("delete", """
        SELECT c.building_id AS scope, count(*) AS base FROM schoology.enrollments e
        JOIN schoology.sections s ON s.id = e.section_id
        JOIN schoology.courses c ON c.id = s.course_id
        JOIN schoology.users u ON u.uid = e.uid
        JOIN log.owned o ON o.entity = 'enrollment'
             AND o.sis_key = s.section_school_code || '|' || u.school_uid
        GROUP BY 1"""),
}


class SyncPolicy(dg.ConfigurableResource):
    """Thresholds of the safety gates."""

    deactivation_max_share: float = Field(
        default=0.10,
        description="Largest share (0-1) of a building's synced users, sections or enrollments "
        "that one sync may deactivate or remove.",
    )
    deactivation_min_allowed: int = Field(
        default=5, description="Removals always allowed per building and entity, whatever the share."
    )
    feed_min_share: float = Field(
        default=0.5,
        description="A school's SIS feed counts as short when it lists fewer classes or users "
        "than this share of what the pipeline has synced from it.",
    )


def _deletion_gates(con, policy: SyncPolicy, run_id: str) -> list[dict]:
    rows = []
    for entity, (action, base_sql) in REMOVALS.items():
        planned = dict(con.execute(
            f"SELECT scope, count(*) FROM provisioning.{entity}_plan WHERE action = ? GROUP BY 1",
            [action],
        ).fetchall())
        bases = dict(con.execute(base_sql).fetchall())
        for scope, count in sorted(planned.items()):
            base = int(bases.get(scope, 0))
            allowed = max(policy.deactivation_min_allowed,
                          math.floor(policy.deactivation_max_share * base))
            passed = count <= allowed
            message = (
                f"{entity} {action}s in building {scope}: {count} planned, gate allows "
                f"{allowed} ({policy.deactivation_max_share:.0%} of {base} synced, at least "
                f"{policy.deactivation_min_allowed})"
            )
            if not passed:
                message += (
                    f"; exceeded by {count - allowed}. Creates and updates still apply. If the "
                    f"removals are expected, apply them once by launching apply_job with "
                    f"resources.apply_settings.config.pass_deletion_gates: [{entity}]"
                )
            rows.append({"plan_run_id": run_id, "gate": "deletion", "entity": entity,
                         "scope": scope, "planned": count, "base": base, "allowed": allowed,
                         "passed": passed, "message": message})
    return rows


def _feed_gates(con, policy: SyncPolicy, run_id: str) -> list[dict]:
    counts = con.execute("""
        WITH schools AS (SELECT * FROM mappings.schools),
        sis_classes AS (
            SELECT school_sourced_id AS sis_school_id, count(*) AS n FROM eschoolplus.classes
            WHERE status = 'active' GROUP BY 1),
        sis_users AS (
            SELECT unnest(org_sourced_ids) AS sis_school_id, count(*) AS n FROM eschoolplus.users
            WHERE status = 'active' AND role IN ('student', 'teacher') GROUP BY 1),
        synced_sections AS (
            SELECT c.building_id, count(*) AS n FROM schoology.sections s
            JOIN schoology.courses c ON c.id = s.course_id
            JOIN log.owned o ON o.entity = 'section' AND o.sis_key = s.section_school_code
            WHERE coalesce(s.active, 1) = 1 GROUP BY 1),
        synced_users AS (
            SELECT u.building_id, count(*) AS n FROM schoology.users u
            JOIN log.owned o ON o.entity = 'user' AND o.sis_key = u.school_uid
            WHERE u.active GROUP BY 1)
        SELECT m.sis_school_id, m.schoology_building_id,
               coalesce(sc.n, 0), coalesce(ss.n, 0), coalesce(su.n, 0), coalesce(yu.n, 0)
        FROM schools m
        LEFT JOIN sis_classes sc ON sc.sis_school_id = m.sis_school_id
        LEFT JOIN synced_sections ss ON ss.building_id = m.schoology_building_id
        LEFT JOIN sis_users su ON su.sis_school_id = m.sis_school_id
        LEFT JOIN synced_users yu ON yu.building_id = m.schoology_building_id
        ORDER BY 1
    """).fetchall()
    rows = []
    for school, building, sis_classes, synced_sections, sis_users, synced_users in counts:
        for entity, sis_count, synced in (("section", sis_classes, synced_sections),
                                          ("user", sis_users, synced_users)):
            if synced == 0:
                continue
            minimum = math.ceil(policy.feed_min_share * synced)
            passed = sis_count >= minimum
            noun = "classes" if entity == "section" else "students and teachers"
            message = (
                f"school {school} (building {building}): the SIS lists {sis_count} active "
                f"{noun}; Schoology holds {synced} synced from it"
            )
            if not passed:
                message += (
                    f". The feed looks empty or cut short (below {policy.feed_min_share:.0%}), so "
                    f"no change is applied in this building. Check the eSchoolPLUS API profile "
                    f"and the school's schedule; if the drop is real, apply once with "
                    f"resources.apply_settings.config.pass_feed_gates: ['{building}']"
                )
            rows.append({"plan_run_id": run_id, "gate": "feed", "entity": entity,
                         "scope": building, "planned": sis_count, "base": synced,
                         "allowed": minimum, "passed": passed, "message": message})
    return rows


@dg.asset(
    key=GATES_KEY,
    group_name=GROUP,
    kinds={"duckdb"},
    deps=[dg.AssetKey([GROUP, f"{e}_plan"]) for e in ("section", "user", "enrollment")],
    description="Deletion thresholds and empty-feed checks per building; apply_job holds what "
    "a failed gate covers.",
    check_specs=[
        dg.AssetCheckSpec("deletion_gates", asset=GATES_KEY,
                          description="No building deactivates or removes more than allowed."),
        dg.AssetCheckSpec("feed_gates", asset=GATES_KEY,
                          description="No school's SIS feed is empty or cut short."),
    ],
)
def sync_gates(context: dg.AssetExecutionContext, warehouse: DuckDBResource,
               sync_policy: SyncPolicy):
    run_id = context.run.run_id
    with warehouse.get_connection() as con:
        ensure_schemas(con)
        gates = pd.DataFrame(
            _deletion_gates(con, sync_policy, run_id) + _feed_gates(con, sync_policy, run_id),
            columns=list(GATE_COLUMNS),
        )
        replace_table(con, f"{GROUP}.gates", gates, GATE_COLUMNS)
    failed = gates[~gates["passed"].astype(bool)]
    for message in failed["message"]:
        context.log.error(message)
    yield dg.MaterializeResult(metadata={
        "dagster/row_count": len(gates),
        "failed": len(failed),
        "gates": dg.MetadataValue.md(markdown_preview(gates.drop(columns=["plan_run_id"]))),
    })
    for gate in ("deletion", "feed"):
        bad = failed[failed["gate"] == gate]
        yield dg.AssetCheckResult(
            check_name=f"{gate}_gates",
            passed=bad.empty,
            severity=dg.AssetCheckSeverity.ERROR,
            description="\n".join(bad["message"]) or f"every {gate} gate passed",
            metadata={"failed": len(bad)},
        )


gate_assets = [sync_gates]
