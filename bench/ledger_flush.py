"""Time each statement of one apply-ledger flush as the ledger tables grow.

The statements copy those of `Applier.flush` in esp_pipeline/sinks/applier.py: register four
pandas frames, insert the sync-log rows, upsert log.owned, delete disowned rows (an empty frame
here, as in a first sync) and upsert log.ledger, all in one transaction. Each flush writes 50
enrollment rows, as one bulk chunk does, into a fresh DuckDB file. Keep the SQL in step with
the pipeline's when that changes.

Run from the repository root:
    .venv/bin/python bench/ledger_flush.py [--rows 40000] [--database /tmp/ledger.duckdb]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd

from esp_pipeline.sinks.applier import LEDGER_DDL, SYNC_LOG_FIELDS
from esp_pipeline.warehouse import ensure_schemas

CHUNK = 50
STATEMENTS = (
    ("sync_log insert",
     f"INSERT INTO log.sync_log ({', '.join(SYNC_LOG_FIELDS)}) SELECT * FROM log_rows"),
    ("owned upsert",
     "INSERT OR REPLACE INTO log.owned (entity, sis_key, schoology_id, run_id) "
     "SELECT * FROM owned_rows"),
    ("owned delete",
     "DELETE FROM log.owned o USING disowned_rows d "
     "WHERE o.entity = d.entity AND o.sis_key = d.sis_key"),
    ("ledger upsert",
     "INSERT OR REPLACE INTO log.ledger (plan_run_id, entity, action, sis_key, state, "
     "schoology_id, apply_run_id) SELECT * FROM ledger_rows"),
)


def chunk_frames(start: int) -> dict[str, pd.DataFrame]:
    keys = [f"section{start + i}|user{start + i}" for i in range(CHUNK)]
    return {
        "log_rows": pd.DataFrame(
            [("apply-run", "enrollment", "create", key, str(i), "POST", "enrollments", 200,
              "ok", "") for i, key in enumerate(keys)], columns=SYNC_LOG_FIELDS),
        "owned_rows": pd.DataFrame(
            [("enrollment", key, str(i), "apply-run") for i, key in enumerate(keys)],
            columns=["entity", "sis_key", "schoology_id", "run_id"]),
        "disowned_rows": pd.DataFrame([], columns=["entity", "sis_key"]),
        "ledger_rows": pd.DataFrame(
            [("plan-run", "enrollment", "create", key, "done", str(i), "apply-run")
             for i, key in enumerate(keys)],
            columns=["plan_run_id", "entity", "action", "sis_key", "state", "schoology_id",
                     "apply_run_id"]),
    }


def flush(con: duckdb.DuckDBPyConnection, start: int) -> dict[str, float]:
    """Write one chunk as Applier.flush does; return milliseconds per stage."""
    timings = {}
    started = time.perf_counter()
    frames = chunk_frames(start)
    timings["build frames"] = time.perf_counter() - started

    started = time.perf_counter()
    con.execute("BEGIN TRANSACTION")
    for name, frame in frames.items():
        con.register(name, frame)
    timings["begin and register"] = time.perf_counter() - started

    for label, sql in STATEMENTS:
        started = time.perf_counter()
        con.execute(sql)
        timings[label] = time.perf_counter() - started

    started = time.perf_counter()
    for name in frames:
        con.unregister(name)
    con.execute("COMMIT")
    timings["unregister and commit"] = time.perf_counter() - started
    return {label: seconds * 1000 for label, seconds in timings.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40_000,
                        help="rows written in chunks of 50 (default %(default)s)")
    parser.add_argument("--database", type=Path, default=Path("/tmp/ledger-flush.duckdb"),
                        help="DuckDB file, replaced at start (default %(default)s)")
    args = parser.parse_args(argv)

    for stale in (args.database, args.database.with_name(args.database.name + ".wal")):
        stale.unlink(missing_ok=True)
    con = duckdb.connect(str(args.database))
    ensure_schemas(con)
    con.execute(LEDGER_DDL)

    # Print the mean of 20 flushes around each quarter of the run, to smooth out noise.
    marks = {args.rows * q // 4 // CHUNK * CHUNK for q in range(4)} | {args.rows - 20 * CHUNK}
    window: list[dict[str, float]] = []
    header_printed = False
    for start in range(0, args.rows, CHUNK):
        timings = flush(con, start)
        if any(mark <= start < mark + 20 * CHUNK for mark in marks):
            window.append(timings)
        if window and (len(window) == 20 or start + CHUNK >= args.rows):
            if not header_printed:
                print("| rows already written | " + " | ".join(timings) + " | total |")
                print("| ---: |" + " ---: |" * (len(timings) + 1))
                header_printed = True
            means = {k: sum(t[k] for t in window) / len(window) for k in timings}
            first_row = start - (len(window) - 1) * CHUNK
            print(f"| {first_row:,} | " + " | ".join(f"{v:.1f} ms" for v in means.values())
                  + f" | {sum(means.values()):.1f} ms |", flush=True)
            window = []
    con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
