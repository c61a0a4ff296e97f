"""The daily sync: a timezone-aware schedule for the plan job, then apply when planning succeeds."""


import dagster as dg

from esp_pipeline.sinks.apply import apply_job

plan_job = dg.define_asset_job(
    "plan_job",
    selection=dg.AssetSelection.groups("eschoolplus", "schoology", "mappings", "provisioning"),
    description="Extract eSchoolPLUS, snapshot Schoology, check the mappings and build the plans.",
    executor_def=dg.in_process_executor,
)

daily_sync_schedule = dg.ScheduleDefinition(
    name="daily_sync_schedule",
    job=plan_job,
    cron_schedule="0 5 * * *",
    execution_timezone="America/Chicago",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    tags={"esp_pipeline/trigger": "daily_sync_schedule"},
    description="Plan every morning at 05:00 district time; the apply sensor applies the plan.",
)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[plan_job],
    request_job=apply_job,
    name="apply_after_plan_sensor",
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Start the apply job when a scheduled plan run succeeds (manual plans are left "
    "for a person to read and apply).",
)
def apply_after_plan_sensor(context: dg.RunStatusSensorContext):
    if context.dagster_run.tags.get("esp_pipeline/trigger") != "daily_sync_schedule":
        return dg.SkipReason("plan run was not started by the daily schedule")
    return dg.RunRequest(run_key=context.dagster_run.run_id)
