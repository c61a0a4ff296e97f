"""`esp-sandbox`: serve both sandboxes on loopback until interrupted."""

from __future__ import annotations

import argparse
import logging
import shlex
import signal
import sys
import threading
from pathlib import Path

from esp_pipeline.sandbox.districts import (
    District,
    DistrictLoadError,
    generate_district,
    load_clever_folder,
)
from esp_pipeline.sandbox.faults import add_fault_arguments, install_faults
from esp_pipeline.sandbox.launch import running_sandboxes

DEMO_SEED = 2026
# Fixed so that the shipped mappings/terms.csv keeps matching the demo district in any year.
DEMO_SCHOOL_YEAR = 2027


def add_district_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--roster-folder",
        type=Path,
        help="folder of Clever-format roster CSVs (schools, teachers, students, sections, "
        "enrollments); default: the generated demo district",
    )
    parser.add_argument("--seed", type=int, default=DEMO_SEED,
                        help="seed of the generated district (default %(default)s)")
    parser.add_argument("--students", type=int, default=None,
                        help="students in the generated district (default 1000, the demo size)")


def district_from_arguments(args: argparse.Namespace, parser: argparse.ArgumentParser) -> District:
    """Load or generate the district the options name; bad options end in parser.error."""
    if args.roster_folder:
        if args.students is not None:
            parser.error("--students applies to the generated district; leave it out with "
                         "--roster-folder")
        folder = args.roster_folder
        if not folder.is_dir():
            parser.error(f"--roster-folder {folder}: no such folder. Give the folder that holds "
                         "schools.csv, teachers.csv, students.csv, sections.csv and "
                         "enrollments.csv")
        try:
            return load_clever_folder(folder)
        except DistrictLoadError as error:
            parser.error(f"--roster-folder {folder}: {error}")
    if args.students is not None and args.students < 1:
        parser.error(f"--students {args.students}: give a positive number of students")
    try:
        if args.students:
            return generate_district(
                seed=args.seed, students=args.students, school_year=DEMO_SCHOOL_YEAR
            )
        return generate_district(seed=args.seed, school_year=DEMO_SCHOOL_YEAR)
    except ValueError as error:
        parser.error(str(error))


def write_env_file(path: Path, environment: dict[str, str]) -> None:
    """Write or update `NAME=value` lines in an env file, keeping the lines for other names."""
    kept = []
    if path.exists():
        kept = [line for line in path.read_text(encoding="utf-8").splitlines()
                if line.split("=", 1)[0].strip() not in environment]
    lines = kept + [f"{name}={value}" for name, value in environment.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="esp-sandbox",
        description="Serve a sandbox eSchoolPLUS and a sandbox Schoology on 127.0.0.1 and print "
        "the environment variables that point the pipeline at them.",
    )
    add_district_arguments(parser)
    parser.add_argument("--eschoolplus-port", type=int, default=0,
                        help="port of the sandbox eSchoolPLUS (default 0: a free port)")
    parser.add_argument("--schoology-port", type=int, default=0,
                        help="port of the sandbox Schoology (default 0: a free port)")
    parser.add_argument("--schoology-rate-limit", type=int, default=50,
                        help="Schoology credits per 5 s per key; GET costs 1, writes 3; "
                        "0 turns limiting off (default %(default)s)")
    parser.add_argument("--secret", help="fixed consumer secret for both sandboxes "
                        "(default: a random one per start)")
    parser.add_argument("--env-file", type=Path,
                        help="also write the variables to this file (for example .env, which "
                        "`dagster dev` reads from its working directory)")
    add_fault_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    district = district_from_arguments(args, parser)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with running_sandboxes(
        district,
        eschoolplus_port=args.eschoolplus_port,
        schoology_port=args.schoology_port,
        schoology_rate_limit=args.schoology_rate_limit,
        secret=args.secret,
    ) as sandboxes:
        print(f"# district: {district.summary()}", flush=True)
        for line in install_faults(args, sandboxes):
            print(f"# fault: {line}", flush=True)
        environment = sandboxes.environment()
        for name, value in environment.items():
            print(f"export {name}={shlex.quote(value)}", flush=True)
        if args.env_file:
            write_env_file(args.env_file, environment)
            print(f"# wrote {args.env_file}", flush=True)
        print("# serving; stop with Ctrl-C or SIGTERM", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
