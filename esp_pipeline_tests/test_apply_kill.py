"""Kill the apply job with SIGKILL at many points; each restart must converge without duplicates.

The apply job runs in a child process so that it can be killed for real, mid-request or
mid-transaction, while both sandboxes keep running in the test process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from esp_pipeline_tests.districts import small_district, write_mappings
from esp_pipeline_tests.harness import REPO_ROOT, sync_harness
from esp_pipeline_tests.schoology_state import duplicates, fingerprint

pytestmark = pytest.mark.slow

# Kill points, as counts of write requests Schoology has received when the signal is sent.
KILL_POINTS = [1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 18, 22, 26, 30, 35, 40, 46, 52, 58, 64, 70]


@pytest.fixture(scope="module")
def district():
    return small_district(students=60, seed=5)


@pytest.fixture(scope="module")
def clean(district, tmp_path_factory):
    """The state and write count of an uninterrupted sync."""
    folder = tmp_path_factory.mktemp("clean")
    with sync_harness(district, folder / "mappings", folder) as harness:
        write_mappings(district, harness.sandboxes, harness.mappings)
        result = harness.sync()
        return fingerprint(harness.sandboxes), result.write_requests


def start_apply(harness) -> subprocess.Popen:
    environment = {
        **os.environ,
        **harness.sandboxes.environment(),
        "ESP_PIPELINE_DUCKDB_PATH": str(harness.database),
        "ESP_PIPELINE_MAPPINGS_DIR": str(harness.mappings),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "esp_pipeline_tests.apply_runner"],
        cwd=REPO_ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )


def kill_after_writes(harness, process: subprocess.Popen, writes: int) -> int:
    """SIGKILL the child once Schoology has seen `writes` write requests; return the count."""
    log = harness.sandboxes.schoology.request_log
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if len(log.writes()) >= writes:
            break
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return len(log.writes())


def test_kill_points_cover_the_apply(clean):
    _, total_writes = clean
    assert len(KILL_POINTS) >= 20
    assert max(KILL_POINTS) < total_writes


@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_killed_apply_converges(kill_at, district, clean, tmp_path):
    expected, _ = clean
    with sync_harness(district, tmp_path / "mappings", tmp_path) as harness:
        write_mappings(district, harness.sandboxes, harness.mappings)
        plan = harness.definitions().resolve_job_def("plan_job").execute_in_process(
            instance=harness.instance, run_config={"loggers": {"console": {
                "config": {"log_level": "ERROR"}}}})
        assert plan.success

        child = start_apply(harness)
        killed_at = kill_after_writes(harness, child, kill_at)
        assert child.returncode == -signal.SIGKILL
        assert killed_at >= kill_at

        restart = start_apply(harness)
        output = restart.communicate(timeout=300)[0].decode(errors="replace")
        assert restart.returncode == 0, output[-3000:]

        actual = fingerprint(harness.sandboxes)
        assert duplicates(actual) == {}
        for part in expected:
            assert actual[part] == expected[part], part
        again = harness.sync()
        assert again.write_requests == 0
