"""`esp-sync demo`: run the real sync against both sandboxes, then print what changed.

This module is the only one that imports both the pipeline and the sandbox: it starts the
sandboxes, points the pipeline's environment variables at them and runs the same Dagster jobs
that `dagster dev` and the daily schedule run.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb

from esp_pipeline.sandbox.cli import add_district_arguments, district_from_arguments
from esp_pipeline.sandbox.launch import running_sandboxes

log = logging.getLogger(__name__)


QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


class SyncFailed(Exception):
    """A job of the sync failed; the message carries the failing steps' errors."""


def run_job(defs: dg.Definitions, name: str, instance: dg.DagsterInstance) -> str:
    """Run one job in process; return its run id or raise SyncFailed with each step's error."""
    result = defs.resolve_job_def(name).execute_in_process(
        instance=instance, run_config=QUIET, raise_on_error=False
    )
    if result.success:
        return result.run_id
    messages = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            cause = error.cause if error and error.cause else error
            text = cause.message.strip() if cause else "unknown error"
            messages.append(f"step {event.step_key} failed:\n{text}")
    raise SyncFailed(f"{name} failed (run {result.run_id}).\n" + "\n\n".join(messages))


def run_sync(defs: dg.Definitions, instance: dg.DagsterInstance) -> tuple[str, str]:
    """Run the plan job, then the apply job; return both run ids."""
    return run_job(defs, "plan_job", instance), run_job(defs, "apply_job", instance)


def summarise(database: Path, apply_run_id: str) -> str:
    with duckdb.connect(str(database), read_only=True) as con:
        plans = con.execute("""
            SELECT 'grading periods' AS entity, action, count(*) AS n FROM provisioning.grading_period_plan GROUP BY ALL
            UNION ALL SELECT 'courses', action, count(*) FROM provisioning.course_plan GROUP BY ALL
            UNION ALL SELECT 'sections', action, count(*) FROM provisioning.section_plan GROUP BY ALL
            UNION ALL SELECT 'users', action, count(*) FROM provisioning.user_plan GROUP BY ALL
            UNION ALL SELECT 'enrollments', action, count(*) FROM provisioning.enrollment_plan GROUP BY ALL
            ORDER BY 1, 2
        """).fetchall()
        outcomes = con.execute(
            "SELECT outcome, count(*) FROM log.sync_log WHERE run_id = ? GROUP BY ALL ORDER BY 1",
            [apply_run_id],
        ).fetchall()
        exceptions = con.execute(
            "SELECT entity, severity, count(*) FROM provisioning.exceptions GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    lines = ["  planned changes:"]
    lines += [f"    {entity:<16} {action:<11} {n:>6}" for entity, action, n in plans] or [
        "    none: Schoology already matches the SIS"
    ]
    lines.append("  API outcomes: " + (", ".join(f"{o} {n}" for o, n in outcomes) or "no writes"))
    if exceptions:
        lines.append("  data problems (see provisioning.exceptions; error = left out, "
                     "warning = synced without a field): "
                     + ", ".join(f"{e} {s} {n}" for e, s, n in exceptions))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="esp-sync demo",
        description="Start both sandboxes, run plan_job and apply_job against them, print a "
        "summary of what changed, stop the sandboxes, and leave the DuckDB file to inspect.",
    )
    add_district_arguments(parser)
    parser.add_argument("--mappings", type=Path, default=Path("mappings"),
                        help="folder with schools.csv and terms.csv (default %(default)s)")
    parser.add_argument("--database", type=Path, default=Path("data/demo.duckdb"),
                        help="DuckDB file of the demo; replaced at start, because each demo "
                        "starts empty sandboxes (default %(default)s)")
    parser.add_argument("--syncs", type=int, default=2,
                        help="how many syncs to run in a row; the second shows that an "
                        "unchanged SIS makes no changes (default %(default)s)")
    parser.add_argument("--schoology-rate-limit", type=int, default=0,
                        help="sandbox Schoology credits per 5 s (GET 1, write 3); "
                        "0 = off (default %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")

    if args.syncs < 1:
        parser.error(f"--syncs {args.syncs}: give at least 1")
    district = district_from_arguments(args, parser)
    for name in ("schools.csv", "terms.csv"):
        if not (args.mappings / name).is_file():
            parser.error(f"--mappings {args.mappings}: {name} not found there")
    args.database.parent.mkdir(parents=True, exist_ok=True)
    for stale in (args.database, args.database.with_name(args.database.name + ".wal")):
        stale.unlink(missing_ok=True)
    print(f"district: {district.summary()}")

    with running_sandboxes(district, schoology_rate_limit=args.schoology_rate_limit) as sandboxes:
        os.environ.update(sandboxes.environment())
        os.environ["ESP_PIPELINE_DUCKDB_PATH"] = str(args.database.resolve())
        os.environ["ESP_PIPELINE_MAPPINGS_DIR"] = str(args.mappings.resolve())
        from esp_pipeline.definitions import build_definitions, resources_from_environment

        defs = build_definitions(resources_from_environment())
        with dg.DagsterInstance.ephemeral() as instance:
            for number in range(1, args.syncs + 1):
                writes_before = len(sandboxes.schoology.request_log.writes())
                started = time.monotonic()
                try:
                    _, apply_run_id = run_sync(defs, instance)
                except SyncFailed as error:
                    print(f"sync {number}: {error}", file=sys.stderr)
                    return 1
                writes = len(sandboxes.schoology.request_log.writes()) - writes_before
                print(f"sync {number}: {time.monotonic() - started:.1f} s, "
                      f"{writes} write requests to Schoology")
                print(summarise(args.database, apply_run_id))
    print(f"warehouse left at {args.database}; read it with, for example:\n"
          f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{args.database}', "
          f"read_only=True).sql('SELECT * FROM log.sync_log LIMIT 5'))\"")
    return 0


if __name__ == "__main__":
    sys.exit(main())
