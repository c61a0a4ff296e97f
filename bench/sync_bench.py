"""Time the whole sync (plan_job, then apply_job) against both sandboxes on loopback.

For each district size the script starts one child process per trial, so that every trial gets
its own peak RSS, a fresh DuckDB file and a hard timeout (the child is killed when it runs over).
A trial:
  1. generates the district with `generate_district(seed, students, school_year=2027)`, or the
     W2 preset with `generate_preset("W2")`.
  2. starts both sandboxes on 127.0.0.1 (free ports) and writes mapping files for every school
     and term, as the integration tests do.
  3. runs two syncs with the definitions that `dagster dev` loads (`build_definitions` over
     `resources_from_environment`). The second sync reads an unchanged SIS.
  4. sends a sample of one-object POSTs (users, then one enrollment per new user) to the same
     sandbox through the pipeline's SignedSession, as the baseline for the bulk design.
Per sync it records:
  - wall time per job, and step durations from the Dagster event log (STEP_SUCCESS duration_ms).
  - requests per endpoint, objects per write request and server-side handling time, from both
    sandboxes' request logs.
  - the DuckDB file size and peak RSS.

Sandboxes and pipeline share one process (servers in background threads), as in the demo and
the tests, so peak RSS covers both and the servers compete with the pipeline for the GIL.

Run from the repository root:
    .venv/bin/python bench/sync_bench.py --sizes 1000,5000 --repeats 3
    .venv/bin/python bench/sync_bench.py --sizes W2 --repeats 1 --timeout 1200
    .venv/bin/python bench/sync_bench.py --sizes 300 --rate-limit 50   # unthrottled, then throttled
    .venv/bin/python bench/sync_bench.py --sizes 5000 --profile /tmp/sync.prof
    .venv/bin/python bench/sync_bench.py --from-json a.json b.json   # one report of both
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import logging
import os
import platform
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHOOL_YEAR = 2027
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
# The sandbox Schoology's default rate limit: 50 credits per 5 s window, GET 1, write 3.
BUCKET_CAPACITY = 50
BUCKET_SECONDS = 5.0
READ_COST = 1
WRITE_COST = 3
READ_METHODS = ("GET", "HEAD", "OPTIONS")
# Mean extra sleep per window: the sandbox rounds Retry-After up to whole seconds.
RETRY_AFTER_ROUNDING = 0.5


# ---------------------------------------------------------------------------------- trial

def current_rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_district(size: str, seed: int):
    from esp_pipeline.sandbox.districts import generate_district, generate_preset

    if size.upper() == "W2":
        return generate_preset("W2", seed=seed, school_year=SCHOOL_YEAR)
    return generate_district(seed=seed, students=int(size), school_year=SCHOOL_YEAR)


def endpoint_counts(records) -> dict[str, dict]:
    """Group request-log records by `METHOD route`: requests, objects, server ms, 429s."""
    table: dict[str, dict] = defaultdict(lambda: {"requests": 0, "objects": 0,
                                                  "server_ms": 0.0, "status_429": 0})
    for record in records:
        row = table[f"{record.method} {record.route}"]
        row["requests"] += 1
        row["objects"] += record.items
        row["server_ms"] += record.latency_ms
        row["status_429"] += record.status == 429
    return {key: dict(value) for key, value in sorted(table.items())}


def bucket_windows(methods: list[str]) -> tuple[int, int]:
    """Return (credits, windows) that the requests, sent in order, need under the bucket.

    A window has BUCKET_CAPACITY credits, and a request that does not fit opens the next
    window, so credits left over when a write does not fit are lost, as in the sandbox.
    """
    credits = 0
    windows = 1 if methods else 0
    left = BUCKET_CAPACITY
    for method in methods:
        cost = READ_COST if method in READ_METHODS else WRITE_COST
        credits += cost
        if cost > left:
            windows += 1
            left = BUCKET_CAPACITY
        left -= cost
    return credits, windows


def step_durations(result) -> dict[str, float]:
    """Seconds per step, from the STEP_SUCCESS events of an ExecuteInProcessResult."""
    durations = {}
    for event in result.all_events:
        if event.event_type_value == "STEP_SUCCESS":
            durations[event.step_key] = event.event_specific_data.duration_ms / 1000
    return durations


def duckdb_bytes(database: Path) -> int:
    wal = database.with_name(database.name + ".wal")
    return sum(path.stat().st_size for path in (database, wal) if path.exists())


def run_job(defs, name: str, instance) -> dict:
    started = time.perf_counter()
    result = defs.resolve_job_def(name).execute_in_process(
        instance=instance, run_config=QUIET, raise_on_error=False
    )
    wall = time.perf_counter() - started
    failures = [event.step_key for event in result.all_events
                if event.event_type_value == "STEP_FAILURE"]
    return {"seconds": wall, "success": result.success, "failed_steps": failures,
            "steps": step_durations(result), "run_id": result.run_id}


def run_sync(defs, instance, sandboxes, database: Path) -> dict:
    """Run plan_job, then apply_job, and return times, request counts and the warehouse size."""
    sync: dict = {"jobs": {}, "schoology": {}, "eschoolplus": {}}
    schoology_log = sandboxes.schoology.request_log
    eschoolplus_log = sandboxes.eschoolplus.request_log
    methods: list[str] = []
    started = time.perf_counter()
    for name in ("plan_job", "apply_job"):
        sgy_before = len(schoology_log.snapshot())
        esp_before = len(eschoolplus_log.snapshot())
        job = run_job(defs, name, instance)

        sgy_records = schoology_log.snapshot()[sgy_before:]
        esp_records = eschoolplus_log.snapshot()[esp_before:]
        methods += [r.method for r in sgy_records if r.status != 429]
        job["schoology"] = endpoint_counts(sgy_records)
        job["eschoolplus"] = endpoint_counts(esp_records)
        sync["jobs"][name] = job
        print(f"    {name}: {job['seconds']:.1f} s, success={job['success']}, "
              f"{len(sgy_records)} Schoology and {len(esp_records)} eSchoolPLUS requests",
              flush=True)
        if not job["success"]:
            break

    sync["seconds"] = time.perf_counter() - started
    sync["credits"], sync["windows"] = bucket_windows(methods)
    sync["reads"] = sum(1 for m in methods if m in READ_METHODS)
    sync["writes"] = len(methods) - sync["reads"]
    sync["duckdb_bytes"] = duckdb_bytes(database)
    sync["peak_rss_mib"] = peak_rss_mib()
    apply_run = sync["jobs"].get("apply_job", {}).get("run_id")
    sync["outcomes"] = sync_outcomes(database, apply_run) if apply_run else {}
    return sync


def sync_outcomes(database: Path, run_id: str) -> dict[str, int]:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute(
            "SELECT entity || ' ' || action || ' ' || outcome, count(*) FROM log.sync_log "
            "WHERE run_id = ? GROUP BY 1 ORDER BY 1", [run_id]).fetchall()
    return dict(rows)


def single_object_baseline(sandboxes, sample: int) -> dict:
    """Time `sample` one-object user creates, then one single enrollment per new user.

    Both go through the pipeline's SignedSession (OAuth signing, retries) to the same sandbox,
    after the syncs, so the state already contains the whole district.
    """
    from esp_pipeline.resources.http import RetryPolicy, SignedSession, json_body

    session = SignedSession(sandboxes.schoology_key, sandboxes.schoology_secret,
                            timeout_seconds=60, retry_policy=RetryPolicy(max_attempts=2),
                            default_headers={"Accept": "application/json"})
    base = sandboxes.schoology_base_url
    state = sandboxes.schoology.state
    section_ids = [section["id"] for section in state.sections()][:sample]
    role_id = next(u["role_id"] for u in state.users() if u["school_uid"] != "sandbox-api-admin")
    uids = []
    started = time.perf_counter()
    for index in range(sample):
        response = session.request("POST", f"{base}/users", idempotent=False, json={
            "school_uid": f"bench-single-{index}", "name_first": "Bench",
            "name_last": f"Single{index}", "username": f"bench.single.{index}",
            "primary_email": f"bench.single.{index}@bench.example", "role_id": role_id,
        })
        uids.append(int(json_body(response)["id"]))
    users_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for index, uid in enumerate(uids):
        section_id = section_ids[index % len(section_ids)]
        session.request("POST", f"{base}/sections/{section_id}/enrollments", idempotent=False,
                        json={"uid": uid, "admin": 0, "status": 1})
    enrollments_seconds = time.perf_counter() - started
    session.close()
    return {"sample": sample, "user_seconds": users_seconds,
            "enrollment_seconds": enrollments_seconds}


def write_mappings(district, sandboxes, folder: Path) -> None:
    # The same files as esp_pipeline_tests/districts.py writes: every school, every term.
    import csv

    folder.mkdir(parents=True, exist_ok=True)
    buildings = sandboxes.schoology.state.building_ids_by_code()
    with open(folder / "schools.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sis_school_id", "schoology_building_id", "sync_users", "sync_courses",
                         "sync_sections"])
        for school in district.schools:
            writer.writerow([school.sourced_id, buildings[school.sourced_id], "yes", "yes", "yes"])
    with open(folder / "terms.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["school_year", "sis_term_code", "grading_period_title", "sis_school_id"])
        for year, code in sorted({(t.school_year, t.title) for t in district.terms}):
            writer.writerow([year, code, f"{year} {code}", ""])


def run_trial(args: argparse.Namespace) -> dict:
    import dagster as dg

    from esp_pipeline.sandbox.launch import running_sandboxes

    trial: dict = {"size": args.trial, "seed": args.seed, "rate_limit": args.rate_limit}
    started = time.perf_counter()
    district = make_district(args.trial, args.seed)
    trial["generate_seconds"] = time.perf_counter() - started
    trial["district"] = district.summary()
    trial["district"]["users"] = len(district.users)
    trial["district"]["enrollments"] = len(district.enrollments)
    print(f"  district {args.trial}: {trial['district']}", flush=True)

    # The parent deletes this folder too, because a killed trial cannot.
    workdir = Path(args.trial_output).with_suffix(".work")
    workdir.mkdir()
    database = workdir / "warehouse.duckdb"
    started = time.perf_counter()
    with running_sandboxes(district, schoology_rate_limit=args.rate_limit) as sandboxes:
        trial["sandbox_start_seconds"] = time.perf_counter() - started
        trial["rss_after_setup_mib"] = current_rss_mib()
        write_mappings(district, sandboxes, workdir / "mappings")
        os.environ.update(sandboxes.environment())
        os.environ["ESP_PIPELINE_DUCKDB_PATH"] = str(database)
        os.environ["ESP_PIPELINE_MAPPINGS_DIR"] = str(workdir / "mappings")
        from esp_pipeline.definitions import build_definitions, resources_from_environment

        defs = build_definitions(resources_from_environment())
        profiler = cProfile.Profile() if args.profile else None
        trial["syncs"] = []
        with dg.DagsterInstance.ephemeral() as instance:
            for number in (1, 2):
                print(f"  sync {number}:", flush=True)
                if profiler and number == 1:
                    profiler.enable()
                trial["syncs"].append(run_sync(defs, instance, sandboxes, database))
                if profiler and number == 1:
                    profiler.disable()
                    profiler.dump_stats(args.profile)
                if not trial["syncs"][-1]["jobs"]["plan_job"]["success"]:
                    break
        if args.baseline_sample and not args.rate_limit:
            trial["baseline"] = single_object_baseline(sandboxes, args.baseline_sample)
    trial["peak_rss_mib"] = peak_rss_mib()
    shutil.rmtree(workdir)
    return trial


# ---------------------------------------------------------------------------------- report

def fmt(values: list[float], digits: int = 1) -> str:
    """Median, with min-max when there is more than one value."""
    if not values:
        return "-"
    median = statistics.median(values)
    if len(values) == 1:
        return f"{median:,.{digits}f}"
    return f"{median:,.{digits}f} ({min(values):,.{digits}f}-{max(values):,.{digits}f})"


def per_thousand(trial: dict) -> float:
    return trial["district"]["students"] / 1000


def write_endpoints(job: dict) -> dict[str, dict]:
    return {k: v for k, v in job["schoology"].items() if k.split()[0] not in READ_METHODS}


def objects_written(sync: dict) -> int:
    apply = sync["jobs"].get("apply_job", {"schoology": {}})
    return sum(v["objects"] for v in write_endpoints(apply).values())


def server_seconds(sync: dict) -> float:
    return sum(row["server_ms"] for job in sync["jobs"].values()
               for api in ("schoology", "eschoolplus") for row in job[api].values()) / 1000


def estimate_throttled(sync: dict) -> float:
    """Estimated sync seconds under the 50-credit bucket, from an unthrottled sync.

    The client spends a window's credits in well under 5 s, gets a 429 and sleeps for
    Retry-After, which is the rest of the window rounded up to whole seconds (0.5 s too long on
    average). So every window but the last lasts about 5.5 s, and the last one does its share
    of the unthrottled work. A sync whose unthrottled work is slower than the bucket keeps its
    unthrottled time.
    """
    windows = sync["windows"]
    if windows <= 1:
        return sync["seconds"]
    throttled = (windows - 1) * (BUCKET_SECONDS + RETRY_AFTER_ROUNDING) + sync["seconds"] / windows
    return max(sync["seconds"], throttled)


def group_trials(trials: list[dict]) -> tuple[dict[str, list[dict]], dict[str, list[dict]]]:
    """Group trials by size label, and return all trials and those that finished both syncs."""
    by_size: dict[str, list[dict]] = defaultdict(list)
    for trial in trials:
        label = f"{trial['size']}" + (" (rate limit)" if trial["rate_limit"] else "")
        by_size[label].append(trial)
    complete = {size: [t for t in group if len(t.get("syncs", [])) == 2]
                for size, group in by_size.items()}
    return by_size, complete


def district_table(by_size: dict, complete: dict) -> list[str]:
    out = ["| district | students | users | courses | sections | enrollments | trials done |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for size, group in by_size.items():
        district = next((t["district"] for t in group if "district" in t), None)
        if district is None:
            cells = ["-"] * 5
        else:
            cells = [f"{district[key]:,}" for key in
                     ("students", "users", "courses", "classes", "enrollments")]
        out.append(f"| {size} | " + " | ".join(cells)
                   + f" | {len(complete[size])} of {len(group)} |")
    for size, group in by_size.items():
        for trial in group:
            if trial.get("error"):
                out.append(f"\n{size}: {trial['error']}")
    return out


def wall_table(complete: dict) -> list[str]:
    out = ["Wall time in seconds, median (min-max) over trials. Server share is the sandboxes' "
           "request handling time (their request logs) over the sync's wall time:", "",
           "| district | sync 1 plan_job | sync 1 apply_job | sync 1 total | s per 1,000 "
           "students | server share | sync 2 plan_job | sync 2 apply_job | sync 2 per 1,000 |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for size, group in complete.items():
        if not group:
            continue
        first = [t["syncs"][0] for t in group]
        second = [t["syncs"][1] for t in group]
        cells = [
            fmt([s["jobs"]["plan_job"]["seconds"] for s in first]),
            fmt([s["jobs"]["apply_job"]["seconds"] for s in first]),
            fmt([s["seconds"] for s in first]),
            fmt([s["seconds"] / per_thousand(t) for s, t in zip(first, group)], 2),
            fmt([100 * server_seconds(s) / s["seconds"] for s in first], 0) + " %",
            fmt([s["jobs"]["plan_job"]["seconds"] for s in second]),
            fmt([s["jobs"]["apply_job"]["seconds"] for s in second]),
            fmt([s["seconds"] / per_thousand(t) for s, t in zip(second, group)], 2),
        ]
        out.append(f"| {size} | " + " | ".join(cells) + " |")
    return out


def step_table(complete: dict, number: int) -> list[str]:
    sizes = list(complete)
    out = [f"Step durations of sync {number + 1} (Dagster STEP_SUCCESS), seconds, median over "
           "trials:", "", "| step | " + " | ".join(sizes) + " |",
           "| --- |" + " ---: |" * len(sizes)]
    steps: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for size in sizes:
        for trial in complete[size]:
            for job in trial["syncs"][number]["jobs"].values():
                for step, seconds in job["steps"].items():
                    steps[step][size].append(seconds)
    for step, per_size in steps.items():
        cells = [f"{statistics.median(per_size[s]):.2f}" if per_size[s] else "-" for s in sizes]
        out.append(f"| {step} | " + " | ".join(cells) + " |")
    overhead = []
    for size in sizes:
        values = [sum(job["seconds"] - sum(job["steps"].values())
                      for job in trial["syncs"][number]["jobs"].values())
                  for trial in complete[size]]
        overhead.append(f"{statistics.median(values):.2f}" if values else "-")
    out.append("| (job time outside steps) | " + " | ".join(overhead) + " |")
    return out


def endpoint_table(complete: dict, number: int) -> list[str]:
    sizes = list(complete)
    out = [f"Requests of sync {number + 1} per endpoint, first trial: requests (objects per "
           "write request), server ms per request:", "",
           "| endpoint | " + " | ".join(sizes) + " |", "| --- |" + " ---: |" * len(sizes)]
    rows: dict[str, dict[str, str]] = defaultdict(dict)
    eschoolplus = []
    for size in sizes:
        if not complete[size]:
            eschoolplus.append("-")
            continue
        sync = complete[size][0]["syncs"][number]
        for job in sync["jobs"].values():
            for endpoint, v in job["schoology"].items():
                per_request = v["objects"] / v["requests"]
                objects = ("" if endpoint.split()[0] in READ_METHODS
                           else f" ({per_request:.1f})")
                rows[endpoint][size] = (f"{v['requests']:,}{objects}, "
                                        f"{v['server_ms'] / v['requests']:.1f} ms")
        esp_rows = [v for job in sync["jobs"].values() for v in job["eschoolplus"].values()]
        count = sum(v["requests"] for v in esp_rows)
        server_ms = sum(v["server_ms"] for v in esp_rows)
        eschoolplus.append(f"{count:,}, {server_ms / max(count, 1):.1f} ms")
    for endpoint in sorted(rows):
        cells = [rows[endpoint].get(s, "-") for s in sizes]
        out.append(f"| Schoology {endpoint} | " + " | ".join(cells) + " |")
    out.append("| eSchoolPLUS, all endpoints | " + " | ".join(eschoolplus) + " |")
    return out


def ratio_table(complete: dict) -> list[str]:
    out = ["Ratios, first trial of each size (sync 1 unless marked):", "",
           "| district | objects written | write requests | objects per write request | "
           "Schoology requests per object written | sync 2 Schoology requests per 1,000 "
           "students | sync 2 writes | peak RSS MiB | RSS after setup MiB | DuckDB MiB | "
           "DuckDB KiB per 1,000 students |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for size, group in complete.items():
        if not group:
            continue
        trial = group[0]
        first, second = trial["syncs"]
        objects = objects_written(first)
        requests_total = first["reads"] + first["writes"]
        out.append(
            f"| {size} | {objects:,} | {first['writes']:,} | "
            f"{objects / max(first['writes'], 1):.1f} | {requests_total / max(objects, 1):.3f} | "
            f"{(second['reads'] + second['writes']) / per_thousand(trial):.0f} | "
            f"{second['writes']} | {trial['peak_rss_mib']:.0f} | "
            f"{trial['rss_after_setup_mib']:.0f} | {second['duckdb_bytes'] / 2**20:.1f} | "
            f"{second['duckdb_bytes'] / 1024 / per_thousand(trial):.0f} |")
    return out


def baseline_table(complete: dict) -> list[str]:
    """Compare sync 1's bulk user and enrollment creates with one POST per object.

    The single-object time is the sampled time per POST times the number of creates, so it
    counts HTTP only. The bulk time is the apply_users and apply_enrollments steps, which also
    write the ledger and sync log.
    """
    rows = []
    sample = None
    for size, group in complete.items():
        group = [t for t in group if t.get("baseline")]
        if not group:
            continue
        trial = group[0]
        sample = trial["baseline"]["sample"]
        apply = trial["syncs"][0]["jobs"]["apply_job"]
        creates = {k: v for k, v in write_endpoints(apply).items()
                   if k.startswith("POST") and (k.endswith("/users") or "enrollments" in k)}
        users = sum(v["objects"] for k, v in creates.items() if k.endswith("/users"))
        enrollments = sum(v["objects"] for k, v in creates.items() if "enrollments" in k)
        bulk_requests = sum(v["requests"] for v in creates.values())
        bulk_seconds = (apply["steps"].get("apply_users", 0)
                        + apply["steps"].get("apply_enrollments", 0))
        user_ms = [1000 * t["baseline"]["user_seconds"] / t["baseline"]["sample"] for t in group]
        enrollment_ms = [1000 * t["baseline"]["enrollment_seconds"] / t["baseline"]["sample"]
                         for t in group]
        single_seconds = (users * statistics.median(user_ms)
                          + enrollments * statistics.median(enrollment_ms)) / 1000
        rows.append(
            f"| {size} | {users:,} + {enrollments:,} | {bulk_requests:,} | "
            f"{users + enrollments:,} | {(users + enrollments) / bulk_requests:.0f} | "
            f"{fmt(user_ms)} | {fmt(enrollment_ms)} | {bulk_seconds:.1f} | "
            f"{single_seconds:.1f} | {single_seconds / max(bulk_seconds, 1e-9):.1f} |")
    if not rows:
        return []
    return ["Bulk creates against a one-object-per-request client (user and enrollment creates "
            "of sync 1). The single-object time is an extrapolation from a timed sample of "
            f"{sample} POSTs of each kind per trial, HTTP only:", "",
            "| district | creates (users + enrollments) | bulk requests | single-object "
            "requests | single / bulk requests (and write credits) | ms per single user POST "
            "| ms per single enrollment POST | bulk: apply_users + apply_enrollments s | "
            "single-object s (extrapolated) | single / bulk time |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |", *rows]


def rate_limit_table(complete: dict) -> list[str]:
    out = ["Schoology rate limit (50 credits per 5 s, GET 1, write 3), estimated from the "
           "unthrottled request sequence: estimate = 5.5 s x (windows - 1) + unthrottled time / "
           "windows. Computed, not run, except where a measured time is shown:", "",
           "| district | sync | GET | writes | credits | windows | unthrottled s | estimated "
           "throttled s | measured s | measured / estimated |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for size, group in complete.items():
        if not group or size.endswith("(rate limit)"):
            continue
        limited = complete.get(f"{size} (rate limit)", [])
        for number, sync in enumerate(group[0]["syncs"]):
            estimate = estimate_throttled(sync)
            measured = [t["syncs"][number]["seconds"] for t in limited]
            ratio = f"{statistics.median(measured) / estimate:.2f}" if measured else "-"
            out.append(
                f"| {size} | {number + 1} | {sync['reads']:,} | {sync['writes']:,} | "
                f"{sync['credits']:,} | {sync['windows']:,} | {sync['seconds']:.1f} | "
                f"{estimate:,.0f} ({estimate / 3600:.2f} h) | {fmt(measured)} | {ratio} |")
    return out


def report(trials: list[dict], meta: dict) -> str:
    """Render every table of the trials as Markdown."""
    by_size, complete = group_trials(trials)
    sections = [
        [f"Command: `{meta['command']}`  ",
         f"Date: {meta['date']}, commit {meta.get('commit', '?')}, Python {meta['python']}, "
         f"{meta['cpus']} CPUs, load average at start {meta['load']}"],
        district_table(by_size, complete),
        wall_table(complete),
        step_table(complete, 0),
        step_table(complete, 1),
        endpoint_table(complete, 0),
        endpoint_table(complete, 1),
        ratio_table(complete),
        baseline_table(complete),
        rate_limit_table(complete),
    ]
    return "\n\n".join("\n".join(section) for section in sections if section)


# ---------------------------------------------------------------------------------- driver

def run_child(args: argparse.Namespace, size: str, rate_limit: int, profile: str | None) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        output = handle.name
    command = [sys.executable, __file__, "--trial", size, "--seed", str(args.seed),
               "--rate-limit", str(rate_limit), "--baseline-sample", str(args.baseline_sample),
               "--trial-output", output]
    if profile:
        command += ["--profile", profile]
    started = time.perf_counter()
    try:
        completed = subprocess.run(command, timeout=args.timeout, cwd=REPO_ROOT)
    except subprocess.TimeoutExpired:
        Path(output).unlink(missing_ok=True)
        shutil.rmtree(Path(output).with_suffix(".work"), ignore_errors=True)
        return {"size": size, "rate_limit": rate_limit,
                "error": f"timed out after {args.timeout:.0f} s, so the trial process was "
                "killed"}
    shutil.rmtree(Path(output).with_suffix(".work"), ignore_errors=True)
    if completed.returncode != 0:
        Path(output).unlink(missing_ok=True)
        return {"size": size, "rate_limit": rate_limit,
                "error": f"trial process exited with status {completed.returncode}"}
    trial = json.loads(Path(output).read_text(encoding="utf-8"))
    Path(output).unlink()
    trial["process_seconds"] = time.perf_counter() - started
    return trial


def print_profile(path: str, limit: int) -> None:
    """Print the pipeline's own functions by cumulative time, and own time per package."""
    stats = pstats.Stats(path)
    total = stats.total_tt
    print(f"\nprofile of sync 1 (main thread only), {total:.1f} s of profiled time")
    print("\n| function (esp_pipeline, not the sandbox) | cumulative s | share |")
    print("| --- | ---: | ---: |")
    own = []
    for (filename, line, name), (_, _, tottime, cumtime, _) in stats.stats.items():
        if "/esp_pipeline/" in filename and "/sandbox/" not in filename:
            own.append((cumtime, f"{filename.split('/esp_pipeline/')[1]}:{line} {name}"))
    for cumtime, label in sorted(own, reverse=True)[:limit]:
        print(f"| {label} | {cumtime:.1f} | {100 * cumtime / total:.0f} % |")
    packages: dict[str, float] = defaultdict(float)
    for (filename, _, name), (_, _, tottime, _, _) in stats.stats.items():
        packages[package_of(filename, name)] += tottime
    print("\n| own time by package | s | share |")
    print("| --- | ---: | ---: |")
    for package, seconds in sorted(packages.items(), key=lambda kv: -kv[1])[:limit]:
        print(f"| {package} | {seconds:.1f} | {100 * seconds / total:.0f} % |")


def package_of(filename: str, name: str) -> str:
    if filename == "~":
        # Built-ins: split the socket waits (the pipeline waiting for a server) from the rest.
        if "recv" in name or "poll" in name or "select" in name or "acquire" in name:
            return f"waiting: {name.strip('<>')}"
        return "built-in: " + name.strip("<>").split(" of ")[0].split(".")[-1]
    if "/esp_pipeline/sandbox/" in filename:
        return "esp_pipeline.sandbox"
    if "/esp_pipeline/" in filename:
        return "esp_pipeline"
    if "site-packages/" in filename:
        return filename.split("site-packages/")[1].split("/")[0]
    return "stdlib: " + Path(filename).stem


def git_commit() -> str:
    """Return HEAD's short hash, marked `+changes` when the working tree differs from it."""
    def git(*arguments: str) -> str:
        return subprocess.run(["git", *arguments], cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=30).stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + (" +changes" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000",
                        help="comma-separated student counts, or W2 for the W2 preset "
                        "(default %(default)s)")
    parser.add_argument("--repeats", type=int, default=1, help="trials per size (default 1)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--rate-limit", type=int, default=0,
                        help="sandbox Schoology credits per 5 s for extra throttled trials of "
                        "every size; 0 runs none (default 0)")
    parser.add_argument("--baseline-sample", type=int, default=200,
                        help="one-object POSTs of each kind timed after the syncs; 0 skips "
                        "the baseline (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="seconds after which a trial process is killed (default %(default)s)")
    parser.add_argument("--profile", help="cProfile sync 1 of the first size's first trial "
                        "into this file and print the hot spots")
    parser.add_argument("--json", help="also write every trial's results to this JSON file")
    parser.add_argument("--from-json", nargs="+", metavar="FILE",
                        help="run nothing; print the tables for the trials in these --json "
                        "files together (the header shows the first file's command)")
    parser.add_argument("--trial", help=argparse.SUPPRESS)
    parser.add_argument("--trial-output", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")

    if args.from_json:
        runs = [json.loads(Path(name).read_text(encoding="utf-8")) for name in args.from_json]
        print(report([trial for run in runs for trial in run["trials"]], runs[0]["meta"]))
        return 0
    if args.trial:
        trial = run_trial(args)
        Path(args.trial_output).write_text(json.dumps(trial), encoding="utf-8")
        return 0

    meta = {"command": " ".join(["bench/sync_bench.py", *sys.argv[1:]]),
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "python": platform.python_version(), "cpus": os.cpu_count(),
            "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "commit": git_commit()}
    trials = []
    for size in args.sizes.split(","):
        for repeat in range(args.repeats):
            profile = args.profile if (repeat == 0 and not trials) else None
            print(f"trial {size} #{repeat + 1}" + (" (profiled)" if profile else ""), flush=True)
            trials.append(run_child(args, size, 0, profile))
            if args.rate_limit:
                print(f"trial {size} #{repeat + 1} with rate limit {args.rate_limit}", flush=True)
                trials.append(run_child(args, size, args.rate_limit, None))
    meta["load_at_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print()
    print(report(trials, meta))
    print(f"\nLoad average at end: {meta['load_at_end']}")
    if args.profile and Path(args.profile).exists():
        print_profile(args.profile, 15)
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "trials": trials}, indent=1),
                                   encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
