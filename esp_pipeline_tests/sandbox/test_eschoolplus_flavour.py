"""eSchoolPLUS-specific data on the sandbox over real HTTP: padded char(10) ids, school years
named by their ending year, marking periods, several teachers per section, enrollment dates,
and tobedeleted deltas after withdrawals and drops."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from requests_oauthlib import OAuth1

from esp_pipeline.sandbox.districts import generate_district, load_clever_folder
from esp_pipeline.sandbox.districts.model import format_timestamp
from esp_pipeline.sandbox.eschoolplus import ESchoolPlusConfig, ESchoolPlusSandbox

KEY = "OneRoster_FLAVOUR"
SECRET = "flavour-secret"
REPO_ROOT = Path(__file__).resolve().parents[2]
# Every generated record carries this stamp: July 1 before the 2025-26 school year.
LOADED = "2025-07-01T00:00:00.000Z"


@dataclass
class Served:
    sandbox: ESchoolPlusSandbox
    root: str

    def get(self, path: str, **params) -> requests.Response:
        response = requests.get(
            f"{self.root}/{path}", params=params, auth=OAuth1(KEY, SECRET), timeout=30
        )
        assert response.status_code == 200, (path, response.text)
        return response

    def items(self, path: str, envelope: str, **params) -> list[dict]:
        params.setdefault("limit", 5000)
        return self.get(path, **params).json()[envelope]

    def delta(self, path: str, envelope: str, since: str) -> list[dict]:
        return self.items(path, envelope, filter=f"dateLastModified>'{since}'")


def serve(**overrides) -> Iterator[Served]:
    district = generate_district(
        seed=7, schools=2, students=60, teachers=8, school_year=2026, co_teacher_rate=0.5
    )
    sandbox = ESchoolPlusSandbox(
        district, ESchoolPlusConfig(consumer_key=KEY, consumer_secret=SECRET, **overrides)
    )
    with sandbox.serve() as server:
        yield Served(sandbox, server.url + sandbox.oneroster_path)


@pytest.fixture
def served() -> Iterator[Served]:
    yield from serve()


@pytest.fixture
def padded() -> Iterator[Served]:
    yield from serve(pad_ids=True)


def first_student_class(served: Served) -> tuple[str, str]:
    """Return a (class, student) pair where the student is in at least two classes."""
    store = served.sandbox.store
    for class_id in sorted(store.class_students):
        for student in store.class_students[class_id]:
            if len(store.user_classes[student]) >= 2:
                return class_id, student
    raise AssertionError("no student with two classes")


# --- padded ids -------------------------------------------------------------------------------------


def test_pad_ids_pads_user_sourced_ids(padded):
    users = padded.items("users", "users")
    district_ids = {user.sourced_id for user in padded.sandbox.district.users}
    assert {user["sourcedId"].rstrip(" ") for user in users} == district_ids
    for user in users:
        assert len(user["sourcedId"]) == 10, user["sourcedId"]
        assert user["sourcedId"].endswith(" "), user["sourcedId"]


def test_pad_ids_pads_user_refs_and_hrefs(padded):
    enrollment = padded.items("enrollments", "enrollments", limit=1)[0]
    user_ref = enrollment["user"]
    assert len(user_ref["sourcedId"]) == 10
    assert user_ref["href"].endswith("/users/" + quote(user_ref["sourcedId"], safe=""))
    by_href = requests.get(user_ref["href"], auth=OAuth1(KEY, SECRET), timeout=30)
    assert by_href.status_code == 200
    assert by_href.json()["user"]["sourcedId"] == user_ref["sourcedId"]
    trimmed = padded.get(f"users/{user_ref['sourcedId'].rstrip()}").json()["user"]
    assert trimmed["sourcedId"] == user_ref["sourcedId"]


def test_pad_ids_leaves_other_ids_alone(padded):
    for path, envelope in (("orgs", "orgs"), ("classes", "classes"), ("courses", "courses")):
        for item in padded.items(path, envelope):
            assert item["sourcedId"] == item["sourcedId"].strip(), path


def test_pad_ids_result_accepts_padded_student(padded):
    class_id, student = first_student_class(padded)
    school_class = padded.sandbox.store.classes[class_id]
    term = padded.sandbox.store.sessions[school_class.term_ids[0]]
    padded.sandbox.gradebook.put_line_item("li-1", {
        "title": "Quiz", "assignDate": term.start_date.isoformat(),
        "dueDate": term.start_date.isoformat(), "resultValueMax": 10,
        "class": {"sourcedId": class_id}, "category": {"sourcedId": "QZ"},
    })
    body = {"result": {
        "lineItem": {"sourcedId": "li-1"}, "student": {"sourcedId": student.ljust(10)},
        "score": 9, "scoreStatus": "fully graded", "scoreDate": term.start_date.isoformat(),
    }}
    response = requests.put(f"{padded.root}/results/r-1", json=body, auth=OAuth1(KEY, SECRET),
                            timeout=30)
    assert response.status_code == 201, response.text
    assert response.json()["result"]["student"]["sourcedId"] == student.ljust(10)
    assert padded.sandbox.gradebook.results()[0].student_id == student


def test_ids_unpadded_by_default(served):
    users = served.items("users", "users")
    assert all(user["sourcedId"] == user["sourcedId"].strip() for user in users)


# --- school years, marking periods, teachers, enrollment dates ---------------------------------------


def test_school_year_is_ending_year(served):
    sessions = served.items("academicSessions", "academicSessions")
    assert {session["schoolYear"] for session in sessions} == {"2026"}
    years = [s for s in sessions if s["type"] == "schoolYear"]
    assert {s["title"] for s in years} == {"2025-2026"}
    assert {s["startDate"][:4] for s in years} == {"2025"}


def test_grading_periods_under_terms(served):
    store = served.sandbox.store
    district_terms = {s.sourced_id for s in served.sandbox.district.sessions if s.type == "term"}
    assert {t["sourcedId"] for t in served.items("terms", "academicSessions")} == district_terms
    periods = served.items("gradingPeriods", "academicSessions")
    # Per school: 4 under the full-year term and 2 under each semester.
    assert len(periods) == 2 * (4 + 2 + 2)
    for period in periods:
        assert period["type"] == "gradingPeriod"
        term = store.sessions[period["parent"]["sourcedId"]]
        assert term.type == "term"
        assert term.start_date.isoformat() <= period["startDate"] <= period["endDate"]
        assert period["endDate"] <= term.end_date.isoformat()

    spring = next(t for t in sorted(district_terms) if t.endswith("-S2"))
    under_spring = served.items(f"terms/{spring}/gradingPeriods", "academicSessions")
    assert [p["title"] for p in under_spring] == ["3", "4"]
    assert [p["sourcedId"] for p in under_spring] == [f"{spring}-3", f"{spring}-4"]
    full_year = spring.replace("-S2", "-Y1")
    quarters = served.items(f"terms/{full_year}/gradingPeriods", "academicSessions")
    assert [p["title"] for p in quarters] == ["1", "2", "3", "4"]
    for earlier, later in zip(quarters, quarters[1:]):
        day_after = dt.date.fromisoformat(earlier["endDate"]) + dt.timedelta(days=1)
        assert later["startDate"] == day_after.isoformat()
    term = served.get(f"terms/{full_year}").json()["academicSession"]
    assert {child["sourcedId"] for child in term["children"]} == {p["sourcedId"] for p in quarters}
    all_sessions = {s["sourcedId"] for s in served.items("academicSessions", "academicSessions")}
    assert {p["sourcedId"] for p in periods} <= all_sessions


def test_grading_periods_derived_for_clever_sample():
    shared = Path(os.environ.get("ESP_SHARED_DIR") or REPO_ROOT.parent / "shared")
    folder = shared / "data" / "clever-sample-district"
    if not (folder / "sections.csv").is_file():
        pytest.skip(f"Clever sample district not found at {folder}; set ESP_SHARED_DIR")
    district = load_clever_folder(folder)
    sessions_before = len(district.sessions)
    sandbox = ESchoolPlusSandbox(district, ESchoolPlusConfig(consumer_key=KEY, consumer_secret=SECRET))
    periods = [sandbox.store.sessions[i] for i in sandbox.store.grading_period_ids]
    assert len(periods) == 5 * 4
    assert {p.parent_id for p in periods} == {"02M800-2016-Y1", "13K123-2016-Y1", "27Q321-2016-Y1",
                                              "27Q321-2016-S1", "27Q321-2016-S2"}
    assert len(district.sessions) == sessions_before


def test_grading_periods_can_be_turned_off():
    district = generate_district(seed=7, schools=1, students=20, teachers=3, school_year=2026)
    config = ESchoolPlusConfig(consumer_key=KEY, consumer_secret=SECRET,
                               grading_periods_per_semester=0)
    assert ESchoolPlusSandbox(district, config).store.grading_period_ids == []


def test_primary_and_secondary_teachers(served):
    store = served.sandbox.store
    shared = next(c for c in sorted(store.class_teachers) if len(store.class_teachers[c]) >= 2)
    teachers = served.items(f"classes/{shared}/teachers", "users")
    assert len(teachers) >= 2
    assert all(t["role"] == "teacher" for t in teachers)
    school_id = store.classes[shared].school_id
    enrollments = served.items(f"schools/{school_id}/classes/{shared}/enrollments", "enrollments",
                               filter="role='teacher'")
    flags = sorted(e["primary"] for e in enrollments)
    assert flags.count("true") == 1
    assert flags.count("false") == len(flags) - 1
    assert {e["user"]["sourcedId"] for e in enrollments} == {t["sourcedId"] for t in teachers}


def test_enrollment_dates_follow_terms(served):
    store = served.sandbox.store
    for enrollment in served.items("enrollments", "enrollments", limit=50):
        school_class = store.classes[enrollment["class"]["sourcedId"]]
        term = store.sessions[school_class.term_ids[0]]
        assert enrollment["beginDate"] == term.start_date.isoformat()
        assert enrollment["endDate"] == term.end_date.isoformat()


# --- tobedeleted deltas -----------------------------------------------------------------------------


def test_withdraw_student_shows_in_deltas(served):
    class_id, student = first_student_class(served)
    withdrawn_on = dt.date(2025, 11, 3)
    assert served.delta("users", "users", LOADED) == []
    served.sandbox.withdraw_student(student, on=withdrawn_on)

    users = served.delta("users", "users", LOADED)
    assert [(u["sourcedId"], u["status"]) for u in users] == [(student, "tobedeleted")]
    assert users[0]["dateLastModified"] > LOADED
    enrollments = served.delta("enrollments", "enrollments", LOADED)
    expected = {e.sourced_id for e in served.sandbox.store.enrollments.values()
                if e.user_id == student}
    assert {e["sourcedId"] for e in enrollments} == expected
    assert len(enrollments) >= 2
    assert {e["status"] for e in enrollments} == {"tobedeleted"}
    assert {e["endDate"] for e in enrollments} == {withdrawn_on.isoformat()}
    assert served.delta("classes", "classes", LOADED) == []

    members = {u["sourcedId"] for u in served.items(f"classes/{class_id}/students", "users")}
    assert student not in members
    assert served.items(f"users/{student}/classes", "classes") == []
    active = served.items("users", "users", filter="status='active'")
    assert student not in {u["sourcedId"] for u in active}


def test_reinstate_student_shows_in_deltas(served):
    class_id, student = first_student_class(served)
    original_end = served.sandbox.store.enrollments[f"{class_id}-{student}"].end_date
    served.sandbox.withdraw_student(student, on=dt.date(2025, 11, 3))
    withdrawn_at = served.delta("users", "users", LOADED)[0]["dateLastModified"]

    served.sandbox.reinstate_student(student)
    users = served.delta("users", "users", withdrawn_at)
    assert [(u["sourcedId"], u["status"]) for u in users] == [(student, "active")]
    enrollments = served.delta("enrollments", "enrollments", withdrawn_at)
    assert {e["status"] for e in enrollments} == {"active"}
    restored = next(e for e in enrollments if e["class"]["sourcedId"] == class_id)
    assert restored["endDate"] == original_end.isoformat()
    members = {u["sourcedId"] for u in served.items(f"classes/{class_id}/students", "users")}
    assert student in members
    with pytest.raises(ValueError, match="not withdrawn"):
        served.sandbox.reinstate_student(student)


def test_drop_enrollment_shows_in_deltas(served):
    class_id, student = first_student_class(served)
    served.sandbox.drop_enrollment(class_id, student, on=dt.date(2025, 10, 1))
    enrollments = served.delta("enrollments", "enrollments", LOADED)
    assert [(e["sourcedId"], e["status"], e["endDate"]) for e in enrollments] == [
        (f"{class_id}-{student}", "tobedeleted", "2025-10-01")
    ]
    assert served.delta("users", "users", LOADED) == []
    members = {u["sourcedId"] for u in served.items(f"classes/{class_id}/students", "users")}
    assert student not in members
    with pytest.raises(KeyError):
        served.sandbox.drop_enrollment(class_id, student, on=dt.date(2025, 10, 2))


def test_add_enrollment_shows_in_deltas(served):
    store = served.sandbox.store
    class_id, student = first_student_class(served)
    school_id = store.classes[class_id].school_id
    target = next(
        c for c in store.school_classes[school_id] if student not in store.class_students[c]
    )
    before = format_timestamp(dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1))
    served.sandbox.add_enrollment(target, student, on=dt.date(2025, 9, 15))
    enrollments = served.delta("enrollments", "enrollments", before)
    assert [(e["sourcedId"], e["status"], e["role"], e["beginDate"]) for e in enrollments] == [
        (f"{target}-{student}", "active", "student", "2025-09-15")
    ]
    assert student in {u["sourcedId"] for u in served.items(f"classes/{target}/students", "users")}
    with pytest.raises(ValueError, match="already enrolled"):
        served.sandbox.add_enrollment(target, student)


def test_drop_then_add_reuses_enrollment(served):
    class_id, student = first_student_class(served)
    served.sandbox.drop_enrollment(class_id, student, on=dt.date(2025, 10, 1))
    dropped_at = served.delta("enrollments", "enrollments", LOADED)[0]["dateLastModified"]
    served.sandbox.add_enrollment(class_id, student, on=dt.date(2026, 1, 12))
    enrollments = served.delta("enrollments", "enrollments", dropped_at)
    assert [(e["sourcedId"], e["status"], e["beginDate"]) for e in enrollments] == [
        (f"{class_id}-{student}", "active", "2026-01-12")
    ]
    total = served.get("enrollments", limit=1).headers["X-Total-Count"]
    assert int(total) == len(served.sandbox.district.enrollments)


def test_delete_class_shows_in_deltas(served):
    store = served.sandbox.store
    class_id = next(c for c in sorted(store.class_students) if store.class_students[c])
    member_count = len(store.class_enrollments[class_id])
    served.sandbox.delete_class(class_id, on=dt.date(2025, 9, 30))
    classes = served.delta("classes", "classes", LOADED)
    assert [(c["sourcedId"], c["status"]) for c in classes] == [(class_id, "tobedeleted")]
    enrollments = served.delta("enrollments", "enrollments", LOADED)
    assert len(enrollments) == member_count
    assert {e["class"]["sourcedId"] for e in enrollments} == {class_id}
    assert {e["status"] for e in enrollments} == {"tobedeleted"}
    assert served.items(f"classes/{class_id}/students", "users") == []


def test_withdraw_unknown_student_raises(served):
    teacher = served.sandbox.store.teacher_ids[0]
    with pytest.raises(KeyError):
        served.sandbox.withdraw_student(teacher)
    with pytest.raises(KeyError):
        served.sandbox.withdraw_student("no-such-student")
