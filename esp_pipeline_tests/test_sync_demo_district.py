"""End to end: the generated demo district with the shipped mappings/ folder."""

from __future__ import annotations

from collections import Counter

import pytest

from esp_pipeline.sandbox.cli import DEMO_SCHOOL_YEAR, DEMO_SEED
from esp_pipeline.sandbox.districts import generate_district
from esp_pipeline_tests.harness import REPO_ROOT, sync_harness

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def district():
    return generate_district(seed=DEMO_SEED, school_year=DEMO_SCHOOL_YEAR)


@pytest.fixture(scope="module")
def harness(district, tmp_path_factory):
    with sync_harness(district, REPO_ROOT / "mappings", tmp_path_factory.mktemp("demo")) as h:
        h.sync()
        yield h


def test_demo_sync_creates_the_district(harness, district):
    state = harness.sandboxes.schoology.state
    school_uids = Counter(u["school_uid"] for u in state.users())
    active_users = {u.sourced_id for u in district.users if u.status == "active"}
    assert active_users <= set(school_uids)
    assert max(school_uids.values()) == 1
    sections = Counter(s["section_school_code"] for s in state.sections())
    assert set(sections) == {c.sourced_id for c in district.classes if c.status == "active"}
    assert max(sections.values()) == 1
    pairs = {(e.class_id, e.user_id) for e in district.enrollments if e.status == "active"}
    assert len(state.enrollments()) == len(pairs)


def test_demo_second_sync_is_empty(harness):
    result = harness.sync()
    assert result.write_requests == 0
    assert set(harness.plan_counts().values()) == {0}
