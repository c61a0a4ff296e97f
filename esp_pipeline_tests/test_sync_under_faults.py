"""Full syncs of the sample district while the sandboxes misbehave.

For each fault kind, the sync must end in the same Schoology state as a sync without faults,
with no object created twice. The faults are seeded, so a failure replays exactly.
"""

from __future__ import annotations

import pytest

from esp_pipeline.sandbox.districts import load_clever_folder
from esp_pipeline.sandbox.faults import FaultRule
from esp_pipeline_tests.harness import REPO_ROOT, sample_district_folder, sync_harness
from esp_pipeline_tests.schoology_state import duplicates, fingerprint

MAPPINGS = REPO_ROOT / "esp_pipeline_tests" / "fixtures" / "sample_district"

pytestmark = pytest.mark.slow

# (schoology rules, eschoolplus rules) per fault kind. Each rule fires a bounded number of
# times, spread over reads and writes.
FAULTS = {
    "429 bursts": (
        [FaultRule("status", status=429, retry_after=1, every=9, times=12)],
        [FaultRule("status", status=429, retry_after=1, every=2, times=3)],
    ),
    "500 before processing": (
        [FaultRule("status", status=500, every=11, times=8)],
        [FaultRule("status", status=500, times=2)],
    ),
    "502 and 503": (
        [FaultRule("status", status=502, method="POST", every=3, times=4),
         FaultRule("status", status=503, method="GET", every=13, times=6)],
        [FaultRule("status", status=503, every=3, times=2)],
    ),
    "500 after processing": (
        [FaultRule("status_after", status=500, method="POST", every=4, times=6),
         FaultRule("status_after", status=500, method="PUT", times=2)],
        [],
    ),
    "dropped connections": (
        [FaultRule("drop_connection", every=17, times=5),
         FaultRule("drop_connection_after", method="POST", every=5, times=5)],
        [FaultRule("drop_connection", times=2)],
    ),
    "slow responses past the timeout": (
        [FaultRule("slow", seconds=3.0, method="POST", every=6, times=3),
         FaultRule("slow", seconds=3.0, method="GET", every=40, times=2)],
        [FaultRule("slow", seconds=3.0, times=1)],
    ),
    "pages cut short": (
        [FaultRule("short_page", route="/v1/users", rows=7, times=2),
         FaultRule("short_page", route="/v1/sections/*/enrollments", rows=3, every=9, times=6)],
        [FaultRule("short_page", route="*/classes", rows=40, times=2),
         FaultRule("short_page", route="*/enrollments", rows=100, times=2)],
    ),
    "truncated bodies": (
        [FaultRule("truncated_body", method="GET", every=23, times=4),
         FaultRule("truncated_body", method="POST", every=7, times=3, full_length=False)],
        [FaultRule("truncated_body", times=2)],
    ),
    "bulk item failures": (
        [FaultRule("bulk_item_failure", route="/v1/enrollments", share=0.2, every=3, times=8),
         FaultRule("bulk_item_failure", route="/v1/users", count=5, every=3, times=4),
         FaultRule("bulk_item_failure", route="/v1/courses*", count=3, every=3, times=2)],
        [],
    ),
}


@pytest.fixture(scope="module")
def district():
    return load_clever_folder(sample_district_folder())


@pytest.fixture(scope="module")
def expected(district, tmp_path_factory):
    with sync_harness(district, MAPPINGS, tmp_path_factory.mktemp("clean")) as harness:
        harness.sync()
        return fingerprint(harness.sandboxes)


@pytest.mark.parametrize("kind", list(FAULTS))
def test_sync_under_faults_matches_clean_sync(kind, district, expected, tmp_path):
    schoology_rules, eschoolplus_rules = FAULTS[kind]
    with sync_harness(district, MAPPINGS, tmp_path) as harness:
        harness.timeout_seconds = 2.0
        for rule in schoology_rules:
            harness.sandboxes.schoology.faults.add(rule)
        for rule in eschoolplus_rules:
            harness.sandboxes.eschoolplus.faults.add(rule)

        result = harness.sync(raise_on_error=False)

        injected = (len(harness.sandboxes.schoology.faults.injected)
                    + len(harness.sandboxes.eschoolplus.faults.injected))
        assert injected > 0
        assert result.plan.success
        assert result.apply.success
        actual = fingerprint(harness.sandboxes)
        assert duplicates(actual) == {}
        for part in expected:
            assert actual[part] == expected[part], part
