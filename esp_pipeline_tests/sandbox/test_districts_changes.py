"""Day-by-day change scripts: each change kind, replay windows, files, generation and sandboxes."""

from __future__ import annotations

import collections
import copy
import datetime as dt

import pytest
import requests
from requests_oauthlib import OAuth1

from esp_pipeline.sandbox.districts import (
    AddStudent,
    AddTerm,
    ChangeError,
    ChangeSchedule,
    CorrectName,
    EnrollStudent,
    ReenrollStudent,
    WithdrawStudent,
    apply_changes,
    apply_changes_to_sandbox,
    dump_change_script,
    generate_change_script,
    generate_district,
    load_change_script,
)
from esp_pipeline.sandbox.eschoolplus import ESchoolPlusConfig, ESchoolPlusSandbox

DAY = dt.date(2026, 8, 20)
NOON = dt.datetime(2026, 8, 20, 12, tzinfo=dt.timezone.utc)
KEY = "OneRoster_CHANGES"
SECRET = "changes-secret"


@pytest.fixture(scope="module")
def base():
    return generate_district(seed=3, students=300, school_year=2027)


@pytest.fixture
def district(base):
    return copy.deepcopy(base)


def enrollment(district, class_id, user_id):
    matches = [e for e in district.enrollments if e.class_id == class_id and e.user_id == user_id]
    assert len(matches) == 1
    return matches[0]


def user(district, user_id):
    return next(u for u in district.users if u.sourced_id == user_id)


def student_classes(district, student_id, status="active"):
    return sorted(
        e.class_id for e in district.enrollments
        if e.user_id == student_id and e.status == status
    )


def swap_pair(district, student_id):
    """Return (held section, other section) sharing school, period and term with it."""
    held = set(student_classes(district, student_id))
    classes = {c.sourced_id: c for c in district.classes}
    for class_id in sorted(held):
        mine = classes[class_id]
        if mine.class_type != "scheduled":
            continue
        for other in district.classes:
            if (
                other.sourced_id not in held
                and other.school_id == mine.school_id
                and other.periods == mine.periods
                and other.term_ids == mine.term_ids
            ):
                return class_id, other.sourced_id
    raise AssertionError(f"no swap for {student_id}")


def test_enroll_adds_enrollment(district):
    student = district.students[0]
    target = next(c for c in district.classes if c.school_id != student.org_ids[0])
    count = len(district.enrollments)
    apply_changes(district, [EnrollStudent(date=DAY, student_id=student.sourced_id,
                                           class_id=target.sourced_id)])
    assert len(district.enrollments) == count + 1
    added = enrollment(district, target.sourced_id, student.sourced_id)
    assert added.sourced_id == f"{target.sourced_id}-{student.sourced_id}"
    assert added.status == "active"
    assert added.begin_date == DAY
    assert added.school_id == target.school_id
    assert added.date_last_modified == NOON
    # A section at another school adds that school to the student's orgs.
    assert student.org_ids[-1] == target.school_id
    assert student.date_last_modified == NOON
    assert district.loaded_at == NOON


def test_enroll_before_term_starts(district):
    student = district.students[0]
    spring = next(c for c in district.classes
                  if c.term_ids[0].endswith("S2") and c.school_id == student.org_ids[0]
                  and c.sourced_id not in student_classes(district, student.sourced_id))
    apply_changes(district, [EnrollStudent(date=DAY, student_id=student.sourced_id,
                                           class_id=spring.sourced_id)])
    added = enrollment(district, spring.sourced_id, student.sourced_id)
    assert added.begin_date == dt.date(2027, 1, 6)


def test_enroll_twice_rejected(district):
    student = district.students[0]
    held = student_classes(district, student.sourced_id)[0]
    with pytest.raises(ChangeError, match=r"change 0 \(enroll on 2026-08-20\): .*already enrolled"):
        apply_changes(district, [EnrollStudent(date=DAY, student_id=student.sourced_id,
                                               class_id=held)])


def test_withdraw_ends_enrollments(district):
    student = district.students[5]
    held = student_classes(district, student.sourced_id)
    apply_changes(district, [WithdrawStudent(date=DAY, student_id=student.sourced_id,
                                             status="inactive")])
    assert student.status == "inactive"
    assert student.enabled_user is False
    assert student.date_last_modified == NOON
    assert student_classes(district, student.sourced_id) == []
    for class_id in held:
        ended = enrollment(district, class_id, student.sourced_id)
        assert ended.status == "inactive"
        assert ended.end_date == max(DAY, ended.begin_date)
        assert ended.date_last_modified == NOON


def test_withdraw_twice_rejected(district):
    student_id = district.students[5].sourced_id
    changes = [WithdrawStudent(date=DAY, student_id=student_id),
               WithdrawStudent(date=DAY, student_id=student_id)]
    with pytest.raises(ChangeError, match=r"change 1 \(withdraw .*tobedeleted, not active"):
        apply_changes(district, changes)


def test_reenroll_restores_sections(district):
    student = district.students[6]
    held = student_classes(district, student.sourced_id)
    later = dt.date(2026, 9, 1)
    apply_changes(district, [
        WithdrawStudent(date=DAY, student_id=student.sourced_id),
        ReenrollStudent(date=later, student_id=student.sourced_id, class_ids=tuple(held)),
    ])
    assert student.status == "active"
    assert student.enabled_user is True
    assert student_classes(district, student.sourced_id) == held
    for class_id in held:
        back = enrollment(district, class_id, student.sourced_id)
        assert back.begin_date >= later
        assert back.date_last_modified == dt.datetime(2026, 9, 1, 12, tzinfo=dt.timezone.utc)


def test_reenroll_active_rejected(district):
    with pytest.raises(ChangeError, match="is active, not withdrawn"):
        apply_changes(district, [ReenrollStudent(date=DAY,
                                                 student_id=district.students[0].sourced_id)])


def test_change_schedule_swaps_section(district):
    student = district.students[10]
    drop, add = swap_pair(district, student.sourced_id)
    apply_changes(district, [ChangeSchedule(date=DAY, student_id=student.sourced_id,
                                            drop_class_id=drop, add_class_id=add)])
    dropped = enrollment(district, drop, student.sourced_id)
    assert dropped.status == "tobedeleted"
    assert dropped.end_date == DAY
    added = enrollment(district, add, student.sourced_id)
    assert added.status == "active"
    assert drop not in student_classes(district, student.sourced_id)
    assert add in student_classes(district, student.sourced_id)


def test_change_schedule_back_reuses_enrollment(district):
    student = district.students[10]
    drop, add = swap_pair(district, student.sourced_id)
    later = dt.date(2026, 8, 24)
    apply_changes(district, [
        ChangeSchedule(date=DAY, student_id=student.sourced_id, drop_class_id=drop,
                       add_class_id=add),
        ChangeSchedule(date=later, student_id=student.sourced_id, drop_class_id=add,
                       add_class_id=drop),
    ])
    back = enrollment(district, drop, student.sourced_id)
    assert back.status == "active"
    assert back.begin_date == later


def test_change_schedule_unknown_drop_rejected(district):
    student = district.students[10]
    with pytest.raises(ChangeError, match="has no active enrollment in class 'nope'"):
        apply_changes(district, [ChangeSchedule(date=DAY, student_id=student.sourced_id,
                                                drop_class_id="nope", add_class_id="nope2")])


def test_correct_name(district):
    teacher = district.teachers[0]
    apply_changes(district, [CorrectName(date=DAY, user_id=teacher.sourced_id,
                                         family_name="Núñez-O'Brien")])
    assert teacher.family_name == "Núñez-O'Brien"
    assert teacher.given_name
    assert teacher.date_last_modified == NOON
    with pytest.raises(ChangeError, match="sets none of"):
        apply_changes(district, [CorrectName(date=DAY, user_id=teacher.sourced_id)])


def test_add_term(district):
    apply_changes(district, [AddTerm(date=DAY, sourced_id="10-2027-Q2", school_id="10",
                                     title="Q2", start_date=dt.date(2026, 10, 19),
                                     end_date=dt.date(2026, 12, 19), parent_id="10-2027")])
    term = next(s for s in district.sessions if s.sourced_id == "10-2027-Q2")
    assert term.type == "term"
    assert term.school_year == "2027"
    assert term.school_id == "10"
    assert term.date_last_modified == NOON
    with pytest.raises(ChangeError, match="already exists"):
        apply_changes(district, [AddTerm(date=DAY, sourced_id="10-2027-Q2", school_id="10",
                                         title="Q2", start_date=DAY, end_date=DAY)])


def test_add_student_then_enroll(district):
    homeroom = next(c for c in district.classes if c.class_type == "homeroom")
    apply_changes(district, [
        AddStudent(date=DAY, student_id="2000001", school_id=homeroom.school_id,
                   grade=homeroom.grades[0], given_name="Zoë", family_name="D'Angelo",
                   username="zoed01"),
        EnrollStudent(date=DAY, student_id="2000001", class_id=homeroom.sourced_id),
    ])
    new = user(district, "2000001")
    assert new.role == "student"
    assert new.org_ids == [homeroom.school_id]
    assert new.date_last_modified == NOON
    assert student_classes(district, "2000001") == [homeroom.sourced_id]


def test_window_applies_each_day_once(district, base):
    student_id = district.students[5].sourced_id
    later = dt.date(2026, 8, 21)
    script = [
        CorrectName(date=later, user_id=student_id, given_name="Second"),
        CorrectName(date=DAY, user_id=student_id, given_name="First"),
    ]
    assert apply_changes(district, script, up_to=DAY) == [script[1]]
    assert user(district, student_id).given_name == "First"
    assert apply_changes(district, script, after=DAY, up_to=later) == [script[0]]
    assert user(district, student_id).given_name == "Second"
    assert apply_changes(district, script, after=later) == []


def test_same_day_changes_stamped_in_order(district):
    first, second = district.students[1], district.students[2]
    apply_changes(district, [
        CorrectName(date=DAY, user_id=first.sourced_id, given_name="A"),
        CorrectName(date=DAY, user_id=second.sourced_id, given_name="B"),
    ])
    assert second.date_last_modified - first.date_last_modified == dt.timedelta(milliseconds=1)


def test_script_file_round_trip(tmp_path, base):
    script = generate_change_script(base, seed=4, school_days=10)
    kinds = {change.kind for change in script}
    assert {"change_schedule", "withdraw", "add_student", "enroll", "add_term"} <= kinds
    for name in ("script.json", "script.yaml"):
        path = dump_change_script(script, tmp_path / name)
        assert load_change_script(path) == script


def test_handwritten_yaml_script(tmp_path):
    path = tmp_path / "day.yaml"
    path.write_text(
        "changes:\n"
        "  - date: 2026-08-20\n"
        "    kind: reenroll\n"
        "    student_id: '000000042'\n"
        "    class_ids: ['10001', '10002']\n"
        "  - {date: '2026-08-21', kind: correct_name, user_id: '900001', given_name: José}\n",
        encoding="utf-8",
    )
    assert load_change_script(path) == [
        ReenrollStudent(date=DAY, student_id="000000042", class_ids=("10001", "10002")),
        CorrectName(date=dt.date(2026, 8, 21), user_id="900001", given_name="José"),
    ]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("{date: 2026-08-20, kind: teleport}", "unknown kind 'teleport'"),
        ("{date: 2026-08-20, kind: enroll, student_id: '1'}", "needs field 'class_id'"),
        ("{date: 2026-08-32, kind: withdraw, student_id: '1'}", "field date: invalid date"),
        ("{date: 2026-08-20, kind: withdraw, student_id: '1', colour: red}", "no field(s) colour"),
    ],
)
def test_script_file_errors(tmp_path, entry, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(f"changes:\n  - {{date: 2026-08-19, kind: withdraw, student_id: '9'}}\n"
                    f"  - {entry}\n", encoding="utf-8")
    with pytest.raises(ChangeError) as caught:
        load_change_script(path)
    assert str(caught.value).startswith("bad.yaml change 1")
    assert expected in str(caught.value)


def test_generated_script_deterministic(base):
    first = generate_change_script(base, seed=9)
    assert generate_change_script(base, seed=9) == first
    assert generate_change_script(base, seed=10) != first
    days = sorted({change.date for change in first})
    assert len(days) == 20
    assert all(day.weekday() < 5 for day in days)


def test_generated_script_replays_identically(base):
    script = generate_change_script(base, seed=9)
    one, two = copy.deepcopy(base), copy.deepcopy(base)
    apply_changes(one, script)
    apply_changes(two, script)
    assert one == two
    assert one != base


def test_generated_script_day_by_day(base):
    script = generate_change_script(base, seed=9)
    whole, stepped = copy.deepcopy(base), copy.deepcopy(base)
    apply_changes(whole, script)
    previous = None
    for day in sorted({change.date for change in script}):
        apply_changes(stepped, script, after=previous, up_to=day)
        previous = day
    assert stepped == whole


def test_generated_script_keeps_schedules_valid(base):
    district = generate_district(seed=3, students=300, school_year=2027, withdrawn_rate=0.05,
                                 dual_enrollment_rate=0.05)
    script = generate_change_script(district, seed=2, schedule_change_rate=0.02,
                                    withdrawal_rate=0.005, reenroll_chance=0.2)
    counts = collections.Counter(change.kind for change in script)
    assert counts["reenroll"] >= 1
    assert counts["change_schedule"] >= 50
    apply_changes(district, script)
    classes = {c.sourced_id: c for c in district.classes}
    terms = {t.sourced_id: t.title for t in district.sessions}
    booked = collections.defaultdict(set)
    for item in district.enrollments:
        if item.role != "student" or item.status != "active":
            continue
        school_class = classes[item.class_id]
        title = terms[school_class.term_ids[0]]
        for semester in ("S1", "S2") if title == "Y1" else (title,):
            key = (school_class.periods[0], semester)
            assert key not in booked[item.user_id], (item.user_id, key)
            booked[item.user_id].add(key)
    for student in district.students:
        if student.status != "active":
            assert student_classes(district, student.sourced_id) == [], student.sourced_id


def get_signed(url: str, **params) -> requests.Response:
    response = requests.get(url, params=params, auth=OAuth1(KEY, SECRET), timeout=30)
    assert response.status_code == 200, response.text
    return response


def test_sandbox_sees_applied_changes(base):
    district = copy.deepcopy(base)
    sandbox = ESchoolPlusSandbox(
        district, ESchoolPlusConfig(consumer_key=KEY, consumer_secret=SECRET)
    )
    student = district.students[3]
    drop, add = swap_pair(district, student.sourced_id)
    with sandbox.serve(port=0) as server:
        root = server.url + sandbox.oneroster_path
        since = get_signed(f"{root}/users/{student.sourced_id}").json()["user"]["dateLastModified"]
        delta = f"dateLastModified>'{since}'"
        assert get_signed(f"{root}/users", filter=delta).json()["users"] == []

        applied = apply_changes_to_sandbox(sandbox, [
            CorrectName(date=DAY, user_id=student.sourced_id, family_name="Ibáñez"),
            ChangeSchedule(date=DAY, student_id=student.sourced_id, drop_class_id=drop,
                           add_class_id=add),
            AddTerm(date=DAY, sourced_id="10-2027-Q2", school_id="10", title="Q2",
                    start_date=dt.date(2026, 10, 19), end_date=dt.date(2026, 12, 19),
                    parent_id="10-2027"),
        ])
        assert len(applied) == 3

        users = get_signed(f"{root}/users", filter=delta).json()["users"]
        assert [u["sourcedId"] for u in users] == [student.sourced_id]
        assert users[0]["familyName"] == "Ibáñez"
        enrollments = get_signed(f"{root}/enrollments", filter=delta).json()["enrollments"]
        status = {e["class"]["sourcedId"]: e["status"] for e in enrollments}
        assert status == {drop: "tobedeleted", add: "active"}
        members = get_signed(f"{root}/classes/{add}/students").json()["users"]
        assert student.sourced_id in [u["sourcedId"] for u in members]
        members = get_signed(f"{root}/classes/{drop}/students").json()["users"]
        assert student.sourced_id not in [u["sourcedId"] for u in members]
        term = get_signed(f"{root}/terms/10-2027-Q2").json()["academicSession"]
        assert term["parent"]["sourcedId"] == "10-2027"
        terms = get_signed(f"{root}/schools/10/terms").json()["academicSessions"]
        assert "10-2027-Q2" in [t["sourcedId"] for t in terms]


def test_sandbox_reindexes_after_failure(base):
    district = copy.deepcopy(base)
    sandbox = ESchoolPlusSandbox(
        district, ESchoolPlusConfig(consumer_key=KEY, consumer_secret=SECRET)
    )
    homeroom = next(c for c in district.classes if c.class_type == "homeroom")
    with pytest.raises(ChangeError):
        apply_changes_to_sandbox(sandbox, [
            AddStudent(date=DAY, student_id="2000001", school_id=homeroom.school_id,
                       grade=homeroom.grades[0], given_name="Ana", family_name="Peña",
                       username="anap01"),
            EnrollStudent(date=DAY, student_id="2000001", class_id="no-such-class"),
        ])
    with sandbox.serve(port=0) as server:
        root = server.url + sandbox.oneroster_path
        assert get_signed(f"{root}/students/2000001").json()["user"]["givenName"] == "Ana"
