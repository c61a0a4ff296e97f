"""The apply sensor chains apply_job only after a scheduled plan run."""

from __future__ import annotations

import uuid

import dagster as dg

from esp_pipeline.automation.schedules import apply_after_plan_sensor, daily_sync_schedule


def evaluate_sensor(instance: dg.DagsterInstance, tags: dict[str, str]):
    run = dg.DagsterRun(job_name="plan_job", run_id=str(uuid.uuid4()), tags=tags)
    context = dg.build_run_status_sensor_context(
        sensor_name=apply_after_plan_sensor.name,
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=dg.DagsterEvent(
            event_type_value="PIPELINE_SUCCESS", job_name="plan_job"
        ),
    )
    return apply_after_plan_sensor(context), run


def test_scheduled_plan_starts_apply():
    with dg.instance_for_test() as instance:
        request, run = evaluate_sensor(
            instance, {"esp_pipeline/trigger": "daily_sync_schedule"}
        )
    assert isinstance(request, dg.RunRequest)
    assert request.run_key == run.run_id


def test_manual_plan_waits_for_a_person():
    with dg.instance_for_test() as instance:
        result, _ = evaluate_sensor(instance, {})
    assert isinstance(result, dg.SkipReason)


def test_schedule_tags_its_runs():
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance)
        request = daily_sync_schedule.evaluate_tick(context).run_requests[0]
    assert request.tags["esp_pipeline/trigger"] == "daily_sync_schedule"
