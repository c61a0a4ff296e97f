"""End to end: the public Clever sample district through the real pipeline over HTTP.

The expected counts are derived from the roster files themselves, not typed in, so the test
fails if either the sandbox or the pipeline loses or duplicates a record.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
import requests
import schoolopy
from requests_oauthlib import OAuth1

from esp_pipeline.resources.http import ApiError, SignedSession
from esp_pipeline.sandbox.districts import load_clever_folder
from esp_pipeline_tests.harness import REPO_ROOT, sample_district_folder, sync_harness

MAPPINGS = REPO_ROOT / "esp_pipeline_tests" / "fixtures" / "sample_district"

pytestmark = pytest.mark.slow


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def read_roster(name: str) -> list[dict]:
    return read_csv(sample_district_folder() / name)


@pytest.fixture(scope="module")
def expected() -> dict:
    sections = read_roster("sections.csv")
    teacher_pairs = {
        (s["Section_id"], s[column])
        for s in sections
        for column in ("Teacher_id", "Teacher_2_id", "Teacher_3_id", "Teacher_4_id")
        if s[column]
    }
    student_pairs = {(e["Section_id"], e["Student_id"]) for e in read_roster("enrollments.csv")}
    return {
        "students": {s["Student_id"] for s in read_roster("students.csv")},
        "teachers": {t["Teacher_id"] for t in read_roster("teachers.csv")},
        "sections": {s["Section_id"]: s for s in sections},
        "teacher_pairs": teacher_pairs,
        "student_pairs": student_pairs,
        "grading_periods": {r["grading_period_title"] for r in read_csv(MAPPINGS / "terms.csv")},
    }


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    district = load_clever_folder(sample_district_folder())
    with sync_harness(district, MAPPINGS, tmp_path_factory.mktemp("sample")) as h:
        h.sync()
        yield h


def test_roster_counts_match_public_facts(expected):
    assert len(expected["students"]) == 1004
    assert len(expected["teachers"]) == 89
    assert len(expected["sections"]) == 379
    assert len(expected["student_pairs"]) == 8971


def test_first_sync_creates_every_user_once(harness, expected):
    state = harness.sandboxes.schoology.state
    role_ids = {r["title"]: r["id"] for r in state.roles()}
    synced = [u for u in state.users() if u["school_uid"] != "sandbox-api-admin"]
    uids = Counter(u["school_uid"] for u in synced)
    assert max(uids.values()) == 1
    students = {u["school_uid"] for u in synced if u["role_id"] == role_ids["Student"]}
    teachers = {u["school_uid"] for u in synced if u["role_id"] == role_ids["Teacher"]}
    assert students == expected["students"]
    assert teachers == expected["teachers"]


def test_first_sync_puts_each_section_under_its_course(harness, expected):
    state = harness.sandboxes.schoology.state
    courses = {c["id"]: c for c in state.courses()}
    sections = state.sections()
    codes = Counter(s["section_school_code"] for s in sections)
    assert set(codes) == set(expected["sections"])
    assert max(codes.values()) == 1
    for section in sections:
        roster_row = expected["sections"][section["section_school_code"]]
        course = courses[section["course_id"]]
        assert course["title"] == roster_row["Course_name"]
        assert course["course_code"].startswith(roster_row["School_id"] + "-")


def test_first_sync_enrolls_students_and_every_teacher(harness, expected):
    state = harness.sandboxes.schoology.state
    users = {u["id"]: u["school_uid"] for u in state.users()}
    sections = {s["id"]: s["section_school_code"] for s in state.sections()}
    members = Counter(
        (sections[e["section_id"]], users[e["uid"]], int(e["admin"])) for e in state.enrollments()
    )
    assert max(members.values()) == 1
    teachers = {(s, u) for s, u, admin in members if admin == 1}
    students = {(s, u) for s, u, admin in members if admin == 0}
    assert teachers == expected["teacher_pairs"]
    assert students == expected["student_pairs"]


def test_first_sync_creates_mapped_grading_periods(harness, expected):
    titles = Counter(g["title"] for g in harness.sandboxes.schoology.state.grading_periods())
    assert set(titles) == expected["grading_periods"]
    assert max(titles.values()) == 1


def test_first_sync_logs_every_outcome(harness, expected):
    apply_run = harness.results[0].apply.run_id
    logged = dict(harness.query(
        "SELECT entity, count(*) FROM log.sync_log WHERE run_id = ? AND outcome = 'ok' "
        "GROUP BY ALL", [apply_run]))
    assert logged["user"] == len(expected["students"]) + len(expected["teachers"])
    assert logged["section"] == len(expected["sections"])
    assert logged["enrollment"] == len(expected["student_pairs"]) + len(expected["teacher_pairs"])
    failures = harness.query(
        "SELECT count(*) FROM log.sync_log WHERE run_id = ? AND outcome <> 'ok'", [apply_run])
    assert failures == [(0,)]


def test_second_sync_changes_nothing(harness):
    result = harness.sync()
    assert result.write_requests == 0
    assert harness.plan_counts() == {
        "grading_period": 0, "course": 0, "section": 0, "user": 0, "enrollment": 0
    }


def test_student_rename_yields_one_update(harness, expected):
    student_id = sorted(expected["students"])[0]
    harness.sandboxes.eschoolplus.update_user(student_id, given_name="Renamed")
    before = harness.sandboxes.schoology.state.find_user(school_uid=student_id)

    result = harness.sync()

    assert harness.plan_counts() == {
        "grading_period": 0, "course": 0, "section": 0, "user": 1, "enrollment": 0
    }
    plan = harness.query("SELECT action, sis_key, changed_fields FROM provisioning.user_plan")
    assert plan == [("update", student_id, "name_first")]
    assert result.write_requests == 1
    after = harness.sandboxes.schoology.state.find_user(school_uid=student_id)
    assert after["id"] == before["id"]
    assert after["name_first"] == "Renamed"


def test_schoolopy_lists_pipeline_users_and_sections(harness, expected):
    sandboxes = harness.sandboxes
    client = schoolopy.Schoology(
        schoolopy.Auth(sandboxes.schoology_key, sandboxes.schoology_secret),
        api_host=sandboxes.schoology_base_url + "/",
    )
    client.limit = 200
    school_uids = set()
    start = 0
    while True:
        page = client._get("users", {"start": start})["user"]
        school_uids |= {u["school_uid"] for u in page}
        if len(page) < 200:
            break
        start += 200
    assert expected["students"] | expected["teachers"] <= school_uids

    # The sample's 2015-16 grading periods have ended, so Schoology lists its sections only with
    # include_past=1, which schoolopy's get_course_sections cannot send.
    course = client.get_courses()[0]
    assert client.get_course_sections(course["id"]) == []
    sections = client._get(f"courses/{course['id']}/sections", {"include_past": 1})["section"]
    assert sections
    assert all(s["section_school_code"] in expected["sections"] for s in sections)


def test_schoolopy_plaintext_header_is_accepted(harness):
    sandboxes = harness.sandboxes
    auth = schoolopy.Auth(sandboxes.schoology_key, sandboxes.schoology_secret)
    headers = auth._request_header()
    assert 'oauth_signature_method="PLAINTEXT"' in headers["Authorization"]
    response = requests.get(sandboxes.schoology_base_url + "/users?limit=5", headers=headers,
                            timeout=10)
    assert response.status_code == 200
    assert len(response.json()["user"]) == 5


@pytest.mark.parametrize("system", ["eschoolplus", "schoology"])
def test_wrong_signature_is_refused(harness, system):
    sandboxes = harness.sandboxes
    if system == "eschoolplus":
        url, key = sandboxes.oneroster_root + "/orgs", sandboxes.eschoolplus_key
    else:
        url, key = sandboxes.schoology_base_url + "/users", sandboxes.schoology_key
    response = requests.get(url, auth=OAuth1(key, "not-the-secret"), timeout=10)
    assert response.status_code == 401

    wrong = SignedSession(key, "not-the-secret")
    with pytest.raises(ApiError) as failure:
        wrong.request("GET", url, idempotent=True)
    assert failure.value.status == 401
