"""Run the real pipeline against both sandboxes over HTTP, for integration tests."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from esp_pipeline.assets.mappings import MappingFilesResource
from esp_pipeline.definitions import build_definitions
from esp_pipeline.resources.eschoolplus import ESchoolPlusResource
from esp_pipeline.resources.schoology import SchoologyResource
from esp_pipeline.sandbox.districts import District
from esp_pipeline.sandbox.launch import RunningSandboxes, running_sandboxes
from esp_pipeline.assets.gates import SyncPolicy
from esp_pipeline.sinks.apply import ApplySettings
from esp_pipeline.warehouse import WarehouseResource

REPO_ROOT = Path(__file__).resolve().parents[1]
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def shared_dir() -> Path:
    """The read-only folder of reference data that sits beside the repository."""
    return Path(os.environ.get("ESP_SHARED_DIR", REPO_ROOT.parent / "shared"))


def sample_district_folder() -> Path:
    folder = shared_dir() / "data" / "clever-sample-district"
    if not (folder / "students.csv").exists():
        pytest.fail(
            f"public sample district not found at {folder}; set ESP_SHARED_DIR to the folder "
            "that holds data/clever-sample-district"
        )
    return folder


def sandbox_resources(
    sandboxes: RunningSandboxes,
    database: Path,
    mappings: Path,
    *,
    apply_settings: ApplySettings | None = None,
    sync_policy: SyncPolicy | None = None,
    timeout_seconds: float = 60.0,
) -> dict[str, object]:
    return {
        "eschoolplus": ESchoolPlusResource(
            base_url=sandboxes.oneroster_root,
            consumer_key=sandboxes.eschoolplus_key,
            consumer_secret=sandboxes.eschoolplus_secret,
            timeout_seconds=timeout_seconds,
        ),
        "schoology": SchoologyResource(
            base_url=sandboxes.schoology_base_url,
            consumer_key=sandboxes.schoology_key,
            consumer_secret=sandboxes.schoology_secret,
            timeout_seconds=timeout_seconds,
        ),
        "warehouse": WarehouseResource(database=str(database)),
        "mapping_files": MappingFilesResource(directory=str(mappings)),
        "apply_settings": apply_settings or ApplySettings(),
        "sync_policy": sync_policy or SyncPolicy(),
    }


@dataclass
class SyncResult:
    plan: dg.ExecuteInProcessResult
    apply: dg.ExecuteInProcessResult | None
    write_requests: int


@dataclass
class SyncHarness:
    sandboxes: RunningSandboxes
    database: Path
    mappings: Path
    instance: dg.DagsterInstance
    results: list[SyncResult] = field(default_factory=list)
    sync_policy: SyncPolicy | None = None
    timeout_seconds: float = 60.0

    def definitions(self, apply_settings: ApplySettings | None = None) -> dg.Definitions:
        return build_definitions(
            sandbox_resources(self.sandboxes, self.database, self.mappings,
                              apply_settings=apply_settings, sync_policy=self.sync_policy,
                              timeout_seconds=self.timeout_seconds)
        )

    def sync(
        self, apply_settings: ApplySettings | None = None, *, raise_on_error: bool = True
    ) -> SyncResult:
        """Run the plan job and, if it succeeds, the apply job; count Schoology writes."""
        defs = self.definitions(apply_settings)
        writes_before = len(self.sandboxes.schoology.request_log.writes())
        plan = defs.resolve_job_def("plan_job").execute_in_process(
            instance=self.instance, run_config=QUIET, raise_on_error=raise_on_error
        )
        apply = None
        if plan.success:
            apply = defs.resolve_job_def("apply_job").execute_in_process(
                instance=self.instance, run_config=QUIET, raise_on_error=raise_on_error
            )
        writes = len(self.sandboxes.schoology.request_log.writes()) - writes_before
        result = SyncResult(plan, apply, writes)
        self.results.append(result)
        return result

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.database), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def plan_counts(self) -> dict[str, int]:
        counts = {}
        for entity in ("grading_period", "course", "section", "user", "enrollment"):
            counts[entity] = self.query(f"SELECT count(*) FROM provisioning.{entity}_plan")[0][0]
        return counts


@contextlib.contextmanager
def sync_harness(
    district: District, mappings: Path, tmp_path: Path, **sandbox_options
) -> Iterator[SyncHarness]:
    with running_sandboxes(district, **sandbox_options) as sandboxes, dg.instance_for_test() as instance:
        yield SyncHarness(sandboxes, tmp_path / "warehouse.duckdb", mappings, instance)
