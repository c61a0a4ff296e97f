"""Dagster definitions of esp-pipeline, loaded by `dagster dev` through workspace.yaml."""

from __future__ import annotations

import os

import dagster as dg

from esp_pipeline.assets.eschoolplus import extract_assets
from esp_pipeline.assets.gates import SyncPolicy, gate_assets
from esp_pipeline.assets.mappings import MappingFilesResource, mapping_assets
from esp_pipeline.assets.provisioning import plan_assets
from esp_pipeline.assets.schoology import snapshot_assets
from esp_pipeline.automation.schedules import apply_after_plan_sensor, daily_sync_schedule, plan_job
from esp_pipeline.resources.eschoolplus import ESchoolPlusResource
from esp_pipeline.resources.schoology import SchoologyResource
from esp_pipeline.sinks.apply import ApplySettings, apply_job
from esp_pipeline.warehouse import WarehouseResource


def resources_from_environment() -> dict[str, object]:
    """Resources configured by environment variables (see .env.example).

    Secrets and URLs are `EnvVar`s, read when a run starts and never shown in the UI.
    """
    return {
        "eschoolplus": ESchoolPlusResource(
            base_url=dg.EnvVar("ESCHOOLPLUS_BASE_URL"),
            consumer_key=dg.EnvVar("ESCHOOLPLUS_CONSUMER_KEY"),
            consumer_secret=dg.EnvVar("ESCHOOLPLUS_CONSUMER_SECRET"),
            signature_method=os.environ.get("ESCHOOLPLUS_SIGNATURE_METHOD", "HMAC-SHA1"),
            auth_method=os.environ.get("ESCHOOLPLUS_AUTH_METHOD", "oauth1"),
            token_url=os.environ.get("ESCHOOLPLUS_TOKEN_URL", ""),
        ),
        "schoology": SchoologyResource(
            base_url=dg.EnvVar("SCHOOLOGY_BASE_URL"),
            consumer_key=dg.EnvVar("SCHOOLOGY_CONSUMER_KEY"),
            consumer_secret=dg.EnvVar("SCHOOLOGY_CONSUMER_SECRET"),
        ),
        "warehouse": WarehouseResource(database=dg.EnvVar("ESP_PIPELINE_DUCKDB_PATH")),
        "mapping_files": MappingFilesResource(
            directory=os.environ.get("ESP_PIPELINE_MAPPINGS_DIR", "mappings")
        ),
        "apply_settings": ApplySettings(),
        "sync_policy": SyncPolicy(),
    }


def build_definitions(resources: dict[str, object]) -> dg.Definitions:
    return dg.Definitions(
        assets=[*extract_assets, *snapshot_assets, *mapping_assets, *plan_assets, *gate_assets],
        jobs=[plan_job, apply_job],
        schedules=[daily_sync_schedule],
        sensors=[apply_after_plan_sensor],
        resources=resources,
    )


defs = build_definitions(resources_from_environment())
