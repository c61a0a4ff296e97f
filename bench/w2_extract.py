"""Time a full OneRoster extract of the W2 district from the sandbox eSchoolPLUS on loopback.

The script measures four steps in one process:
  (a) generating the district with `generate_preset("W2")`.
  (b) building the sandbox's lookup tables, which ESchoolPlusSandbox does on construction.
  (c) reading every rostering collection with the project's OneRosterClient and SignedSession.
  (d) replaying one school day of generated churn into the running sandbox, then reading the
      changed records back with a dateLastModified filter.
Peak RSS comes from resource.getrusage and covers the server and the client together, because
both run in this process (the server in a background thread).

Run from the repository root:
    .venv/bin/python bench/w2_extract.py [--page-size 5000] [--seed 1] [--json results.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import platform
import resource
import sys
import time

from esp_pipeline.resources.eschoolplus import OneRosterClient
from esp_pipeline.resources.http import RetryPolicy, SignedSession
from esp_pipeline.sandbox.districts import (
    apply_changes_to_sandbox,
    generate_change_script,
    generate_preset,
)
from esp_pipeline.sandbox.districts.model import format_timestamp
from esp_pipeline.sandbox.eschoolplus import ESchoolPlusConfig, ESchoolPlusSandbox

KEY = "bench-key"
SECRET = "bench-secret"
COLLECTIONS = (
    ("orgs", "orgs"),
    ("academicSessions", "academicSessions"),
    ("courses", "courses"),
    ("classes", "classes"),
    ("users", "users"),
    ("enrollments", "enrollments"),
)


def peak_rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, results: dict, action):
    started = time.perf_counter()
    value = action()
    seconds = time.perf_counter() - started
    results[label] = {"seconds": round(seconds, 3), "peak_rss_mib": round(peak_rss_mib(), 1)}
    print(f"{label:<28} {seconds:8.2f} s   peak RSS {peak_rss_mib():8.1f} MiB", flush=True)
    return value


def extract(client: OneRosterClient, results: dict, filter_expression: str | None = None) -> dict:
    counts = {}
    for path, envelope in COLLECTIONS:
        started = time.perf_counter()
        count = sum(1 for _ in client.iter_collection(path, envelope,
                                                      filter_expression=filter_expression))
        seconds = time.perf_counter() - started
        counts[path] = count
        rate = count / seconds if seconds else 0.0
        results[path] = {"records": count, "seconds": round(seconds, 3),
                         "records_per_second": round(rate)}
        print(f"  {path:<26} {count:8d} records {seconds:8.2f} s {rate:10.0f} records/s",
              flush=True)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--school-year", type=int, default=2027,
                        help="ending calendar year of the school year (default 2027)")
    parser.add_argument("--page-size", type=int, default=5000,
                        help="records per request, the OneRoster `limit` (default 5000)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    results: dict = {
        "command": " ".join(sys.argv),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "page_size": args.page_size,
    }
    district = timed("generate W2", results, lambda: generate_preset(
        "W2", seed=args.seed, school_year=args.school_year))
    results["district"] = district.summary()
    results["district"]["enrollments"] = len(district.enrollments)
    print("  " + ", ".join(f"{k}={v}" for k, v in results["district"].items()))

    config = ESchoolPlusConfig(consumer_key=KEY, consumer_secret=SECRET)
    sandbox = timed("sandbox load and index", results,
                    lambda: ESchoolPlusSandbox(district, config))

    with sandbox.serve(port=0) as server:
        session = SignedSession(KEY, SECRET, timeout_seconds=300,
                                retry_policy=RetryPolicy(max_attempts=2),
                                default_headers={"Accept": "application/json"})
        client = OneRosterClient(server.url + sandbox.oneroster_path, session, args.page_size)
        full: dict = {}
        print("full extract:")
        counts = timed("full extract", results, lambda: extract(client, full))
        total = sum(counts.values())
        seconds = results["full extract"]["seconds"]
        results["full extract"].update(records=total, records_per_second=round(total / seconds),
                                       requests=session.request_count, collections=full)
        print(f"  total {total} records, {total / seconds:.0f} records/s, "
              f"{session.request_count} requests")

        first_day = min(term.start_date for term in district.terms)
        script = timed("generate 1-day script", results,
                       lambda: generate_change_script(district, seed=args.seed, start=first_day,
                                                      school_days=1))
        since = format_timestamp(district.loaded_at)
        applied = timed("apply day and reindex", results,
                        lambda: apply_changes_to_sandbox(sandbox, script))
        results["apply day and reindex"]["changes"] = len(applied)
        delta: dict = {}
        print(f"delta extract (dateLastModified>'{since}', {len(applied)} changes applied):")
        timed("delta extract", results,
              lambda: extract(client, delta, f"dateLastModified>'{since}'"))
        results["delta extract"]["collections"] = delta
        session.close()

    results["peak_rss_mib"] = round(peak_rss_mib(), 1)
    print(f"peak RSS {results['peak_rss_mib']} MiB")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
