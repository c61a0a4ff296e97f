"""The Dagster definitions load, as `dagster dev` would load them, and keep their contracts."""

from __future__ import annotations

import os
import subprocess
import sys
from zoneinfo import ZoneInfo

import dagster as dg

from esp_pipeline.automation.schedules import daily_sync_schedule
from esp_pipeline.definitions import defs
from esp_pipeline_tests.harness import REPO_ROOT


def test_definitions_validate():
    dg.Definitions.validate_loadable(defs)


def test_asset_keys_are_grouped_by_prefix():
    for key in defs.resolve_asset_graph().get_all_asset_keys():
        group = defs.resolve_assets_def(key).group_names_by_key[key]
        assert key.path[0] == group, key


def test_dagster_cli_loads_workspace_without_secrets():
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("ESCHOOLPLUS_", "SCHOOLOGY_", "ESP_PIPELINE_"))}
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_daily_schedule_runs_in_district_time():
    """The schedule must follow the district's clock across daylight-saving changes."""
    assert daily_sync_schedule.execution_timezone == "America/Chicago"
    ZoneInfo(daily_sync_schedule.execution_timezone)
    assert daily_sync_schedule.cron_schedule == "0 5 * * *"


def test_secrets_come_from_environment_variables():
    resources = defs.resources
    for name, field in (("eschoolplus", "consumer_secret"), ("schoology", "consumer_secret")):
        value = getattr(resources[name], field)
        assert isinstance(value, dg.EnvVar), f"{name}.{field} must be an EnvVar, not a literal"
