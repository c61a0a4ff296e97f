"""Reported real-world sync failures, replayed over HTTP against both sandboxes.

Each test sets up SIS rows and Schoology state, runs the real plan and apply jobs, and asserts the
final Schoology state.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from esp_pipeline.assets.gates import SyncPolicy
from esp_pipeline.sinks.apply import ApplySettings
from esp_pipeline_tests.districts import seed_handmade_user, small_district, write_mappings
from esp_pipeline_tests.harness import sync_harness

pytestmark = pytest.mark.slow


@pytest.fixture
def small(tmp_path):
    district = small_district()
    with sync_harness(district, tmp_path / "mappings", tmp_path) as harness:
        write_mappings(district, harness.sandboxes, harness.mappings)
        yield harness


def users_by_school_uid(harness) -> dict[str, dict]:
    users = harness.sandboxes.schoology.state.users(include_inactive=True)
    counts = Counter(u["school_uid"] for u in users)
    duplicated = [k for k, n in counts.items() if n > 1 and k]
    assert duplicated == []
    return {u["school_uid"]: u for u in users}


def teachers(district):
    return sorted(u.sourced_id for u in district.users if u.role == "teacher")


def students(district):
    return sorted(u.sourced_id for u in district.users if u.role == "student")


def log_rows(harness, sis_key: str) -> list[tuple]:
    return harness.query(
        "SELECT action, outcome, message FROM log.sync_log WHERE sis_key = ? ORDER BY logged_at",
        [sis_key],
    )


def test_foreign_email_fails_only_that_teacher(small):
    district = small.sandboxes.eschoolplus.district
    blocked, *others = teachers(district)[:3]
    email = next(u.email for u in district.users if u.sourced_id == blocked)
    small.sandboxes.schoology.state.add_foreign_email(email, "Other District", claimed=False)

    result = small.sync(raise_on_error=False)

    users = users_by_school_uid(small)
    assert blocked not in users
    for teacher in others:
        assert teacher in users
    (action, outcome, message), = log_rows(small, blocked)
    assert (action, outcome) == ("create", "failed")
    assert "another Schoology organisation" in message
    assert email not in message
    assert "@" not in message
    assert not result.apply.success


def test_handmade_account_is_linked(small):
    district = small.sandboxes.eschoolplus.district
    student = next(u for u in district.users if u.role == "student")
    student_role = small.sandboxes.schoology.state.role_id("Student")
    uid = seed_handmade_user(small.sandboxes, name_first="Typed", name_last="ByHand",
                             primary_email=student.email, role_id=student_role)

    small.sync()

    users = users_by_school_uid(small)
    assert users[student.sourced_id]["id"] == uid
    assert users[student.sourced_id]["name_first"] == student.given_name
    report = small.query("SELECT status, candidates FROM provisioning.data_prep_report "
                         "WHERE sis_key = ?", [student.sourced_id])
    assert report == [("linked_by_email", str(uid))]


def test_two_accounts_with_one_email_are_ambiguous(small):
    district = small.sandboxes.eschoolplus.district
    student = next(u for u in district.users if u.role == "student")
    role = small.sandboxes.schoology.state.role_id("Student")
    first = seed_handmade_user(small.sandboxes, name_first="A", name_last="One",
                               primary_email=student.email, role_id=role)
    second = seed_handmade_user(small.sandboxes, name_first="B", name_last="Two",
                                primary_email=student.email.upper(), role_id=role)

    small.sync(raise_on_error=False)

    users = small.sandboxes.schoology.state.users()
    assert not [u for u in users if u["school_uid"] == student.sourced_id]
    assert {u["id"] for u in users if u["primary_email"].lower() == student.email.lower()} == {
        first, second}
    report = small.query("SELECT status, candidates FROM provisioning.data_prep_report "
                         "WHERE sis_key = ?", [student.sourced_id])
    assert report == [("ambiguous", f"{min(first, second)},{max(first, second)}")]
    exceptions = small.query("SELECT severity FROM provisioning.exceptions WHERE sis_key = ?",
                             [student.sourced_id])
    assert exceptions == [("error",)]


def test_renamed_student_is_updated_in_place(small):
    small.sync()
    student = students(small.sandboxes.eschoolplus.district)[0]
    before = users_by_school_uid(small)[student]
    small.sandboxes.eschoolplus.update_user(student, given_name="Zoë", family_name="O'Neil-Ng",
                                            username="zoe.oneilng", email="zoe.oneilng@example.org")

    result = small.sync()

    after = users_by_school_uid(small)[student]
    assert after["id"] == before["id"]
    assert (after["name_first"], after["name_last"], after["username"]) == (
        "Zoë", "O'Neil-Ng", "zoe.oneilng")
    assert after["primary_email"] == "zoe.oneilng@example.org"
    assert small.query("SELECT action, changed_fields FROM provisioning.user_plan") == [
        ("update", "name_first,name_last,username,primary_email")]
    assert result.write_requests == 1


def test_teacher_without_staff_id_waits(small):
    district = small.sandboxes.eschoolplus.district
    teacher = teachers(district)[0]
    small.sandboxes.eschoolplus.update_user(teacher, identifier="")
    teacher_classes = {e.class_id for e in district.enrollments if e.user_id == teacher}

    small.sync(raise_on_error=False)

    assert teacher not in users_by_school_uid(small)
    quarantined = small.query("SELECT rule FROM eschoolplus.quarantine WHERE sourced_id = ?",
                              [teacher])
    assert quarantined == [("teacher without a staff identifier",)]
    sections = {s["section_school_code"] for s in small.sandboxes.schoology.state.sections()}
    assert teacher_classes <= sections
    students_enrolled = len(small.sandboxes.schoology.state.enrollments())
    assert students_enrolled > 0

    small.sandboxes.eschoolplus.update_user(teacher, identifier="T-" + teacher)
    small.sync()
    small.sync()

    users = users_by_school_uid(small)
    assert teacher in users
    uid = users[teacher]["id"]
    section_ids = {s["id"]: s["section_school_code"]
                   for s in small.sandboxes.schoology.state.sections()}
    taught = {section_ids[e["section_id"]] for e in small.sandboxes.schoology.state.enrollments()
              if e["uid"] == uid and int(e["admin"]) == 1}
    assert taught == teacher_classes


def test_empty_class_feed_removes_nothing(tmp_path):
    district = small_district(students=400, seed=11)
    with sync_harness(district, tmp_path / "mappings", tmp_path) as harness:
        write_mappings(district, harness.sandboxes, harness.mappings)
        harness.sync()
        synced = [s for s in harness.sandboxes.schoology.state.sections() if int(s["active"]) == 1]
        assert len(synced) >= 120
        school = district.schools[0].sourced_id
        for school_class in list(district.classes):
            if school_class.school_id == school:
                harness.sandboxes.eschoolplus.delete_class(school_class.sourced_id)

        result = harness.sync(raise_on_error=False)

        assert result.write_requests == 0
        still_active = [s for s in harness.sandboxes.schoology.state.sections()
                        if int(s["active"]) == 1]
        assert len(still_active) == len(synced)
        (message,) = harness.query("SELECT message FROM provisioning.gates "
                                   "WHERE gate = 'feed' AND entity = 'section' AND NOT passed")[0]
        assert f"school {school}" in message
        assert f"holds {len(synced)} synced" in message
        assert "lists 0 active classes" in message
        assert not result.apply.success


def test_deletion_gate_holds_mass_leavers(tmp_path):
    district = small_district(students=501, seed=5)
    policy = SyncPolicy(deactivation_max_share=0.10, deactivation_min_allowed=5)
    with sync_harness(district, tmp_path / "mappings", tmp_path) as harness:
        harness.sync_policy = policy
        write_mappings(district, harness.sandboxes, harness.mappings)
        harness.sync()
        esp = harness.sandboxes.eschoolplus
        pupils = students(district)
        synced_users = len(users_by_school_uid(harness)) - 1  # less the API key's admin

        allowed = int(0.10 * synced_users)
        first_leavers = pupils[:45]
        assert len(first_leavers) <= allowed
        for student in first_leavers:
            esp.withdraw_student(student, on=dt.date(2026, 9, 1))
        harness.sync()
        users = users_by_school_uid(harness)
        assert all(not users[s]["active"] for s in first_leavers)

        second_leavers = pupils[45:105]
        renamed = pupils[200]
        for student in second_leavers:
            esp.withdraw_student(student, on=dt.date(2026, 9, 2))
        esp.update_user(renamed, given_name="Renamed")
        result = harness.sync(raise_on_error=False)
        users = users_by_school_uid(harness)
        assert all(users[s]["active"] for s in second_leavers)
        assert users[renamed]["name_first"] == "Renamed"
        assert not result.apply.success
        (message,) = harness.query("SELECT message FROM provisioning.gates "
                                   "WHERE gate = 'deletion' AND entity = 'user'")[0]
        assert "60 planned" in message
        assert "exceeded by" in message
        assert "pass_deletion_gates: [user]" in message

        override = ApplySettings(pass_deletion_gates=["user"])
        harness.sync(override)
        users = users_by_school_uid(harness)
        assert all(not users[s]["active"] for s in second_leavers)
        recorded = harness.query("SELECT count(*) FROM log.sync_log WHERE outcome = 'override'")
        assert recorded == [(1,)]

        third_leavers = pupils[105:165]
        for student in third_leavers:
            esp.withdraw_student(student, on=dt.date(2026, 9, 3))
        harness.sync(raise_on_error=False)
        users = users_by_school_uid(harness)
        assert all(users[s]["active"] for s in third_leavers)


def test_handmade_members_survive_nightly_syncs(small):
    small.sync()
    state = small.sandboxes.schoology.state
    sections = state.sections()
    target = sections[0]
    members = {e["uid"] for e in state.enrollments() if e["section_id"] == target["id"]}
    users = users_by_school_uid(small)
    teacher_role = state.role_id("Teacher")
    co_teacher = next(u for u in users.values()
                      if u["role_id"] == teacher_role and u["id"] not in members)
    student_role = state.role_id("Student")
    guest = next(u for u in users.values()
                 if u["role_id"] == student_role and u["id"] not in members)
    client = small.definitions().resources["schoology"].get_client()
    for uid, admin in ((co_teacher["id"], 1), (guest["id"], 0)):
        client.session.request(
            "POST", client.url(f"sections/{target['id']}/enrollments"),
            json={"uid": uid, "admin": admin, "status": 1}, idempotent=False)

    for _ in range(2):
        small.sync()

    kept = {(e["uid"], int(e["admin"])) for e in state.enrollments()
            if e["section_id"] == target["id"]}
    assert (co_teacher["id"], 1) in kept
    assert (guest["id"], 0) in kept


def test_withdrawn_student_returns_to_same_account(small):
    small.sync()
    state = small.sandboxes.schoology.state
    student = students(small.sandboxes.eschoolplus.district)[1]
    account = users_by_school_uid(small)[student]
    enrolled = sorted(e["section_id"] for e in state.enrollments() if e["uid"] == account["id"])
    assert enrolled

    small.sandboxes.eschoolplus.withdraw_student(student, on=dt.date(2026, 9, 1))
    small.sync()
    assert users_by_school_uid(small)[student]["active"] is False
    deactivation = [d for d in state.deactivations() if d.get("uid") == account["id"]]
    assert deactivation
    assert int(deactivation[-1]["option_keep_enrollments"]) == 1
    assert int(deactivation[-1]["email_notification"]) == 0

    small.sandboxes.eschoolplus.reinstate_student(student)
    small.sync()
    second = small.sync()

    back = users_by_school_uid(small)[student]
    assert back["id"] == account["id"]
    assert back["active"] is True
    now = sorted(e["section_id"] for e in state.enrollments() if e["uid"] == account["id"])
    assert now == enrolled
    assert second.write_requests == 0


def test_unmapped_term_stops_before_any_write(small):
    terms = small.mappings / "terms.csv"
    lines = terms.read_text(encoding="utf-8").splitlines()
    terms.write_text("\n".join(line for line in lines if ",S2," not in line) + "\n",
                     encoding="utf-8")

    result = small.sync(raise_on_error=False)

    assert result.write_requests == 0
    assert result.apply is None
    failure = result.plan.failure_data_for_node("mappings__terms").error.message
    assert str(terms) in failure
    assert "S2" in failure
    assert "2027" in failure


def test_term_mapped_twice_stops_before_any_write(small):
    terms = small.mappings / "terms.csv"
    with open(terms, "a", encoding="utf-8") as handle:
        handle.write("2027,Y1,Another Title,\n")

    result = small.sync(raise_on_error=False)

    assert result.write_requests == 0
    assert result.apply is None
    failure = result.plan.failure_data_for_node("mappings__terms").error.message
    assert str(terms) in failure
    assert "Y1" in failure


def test_bom_crlf_and_padded_ids_read_correctly(tmp_path):
    roster = tmp_path / "roster"
    roster.mkdir()
    (roster / "schools.csv").write_text(
        "School_id,School_name\r\n0016,Zero Sixteen School\r\n", encoding="utf-8")
    (roster / "teachers.csv").write_text(
        "School_id,Teacher_id,Teacher_number,Last_name,First_name,Teacher_email,Username\n"
        "0016,T1,T1,Okafor,Ada,ada@example.org,ada.okafor\n", encoding="utf-8")
    (roster / "students.csv").write_text(
        "School_id,Student_id,Student_number,Last_name,First_name,Grade,Student_email,Username\n"
        "0016,0001234,0001234,Nguyen,Bao,9,bao@example.org,bao.nguyen\n"
        "0016,0001235,0001235,Silva,Ana,9,ana@example.org,ana.silva\n", encoding="utf-8")
    (roster / "sections.csv").write_text(
        "School_id,Section_id,Teacher_id,Name,Grade,Course_name,Course_number,Period,Term_name,"
        "Term_start,Term_end\n"
        "0016,S1,T1,Algebra - 1,9,Algebra,101,1,Y1,8/14/26,5/29/27\n", encoding="utf-8")
    (roster / "enrollments.csv").write_text(
        "School_id,Student_id,Section_id\n0016,0001234,S1\n0016,0001235,S1\n", encoding="utf-8")
    from esp_pipeline.sandbox.districts import load_clever_folder

    district = load_clever_folder(roster)
    with sync_harness(district, tmp_path / "mappings", tmp_path) as harness:
        building = harness.sandboxes.schoology.state.building_ids_by_code()["0016"]
        harness.mappings.mkdir()
        (harness.mappings / "schools.csv").write_bytes(
            "\ufeffsis_school_id,schoology_building_id,sync_users,sync_courses,sync_sections\r\n"
            f"\"0016 \",{building},Yes,YES,yes\r\n".encode("utf-8"))
        (harness.mappings / "terms.csv").write_bytes(
            "\ufeffschool_year,sis_term_code,grading_period_title\r\n"
            " 2027 , Y1 ,2026-27 Full Year\r\n".encode("utf-8"))

        harness.sync()

        users = users_by_school_uid(harness)
        assert {"0001234", "0001235", "T1"} <= set(users)
        assert users["0001234"]["building_id"] == building
        sections = harness.sandboxes.schoology.state.sections()
        assert [s["section_school_code"] for s in sections] == ["S1"]


def test_dry_run_writes_nothing(small):
    result = small.sync(ApplySettings(dry_run=True))

    assert result.write_requests == 0
    assert result.apply.success
    outcomes = small.query("SELECT DISTINCT outcome FROM log.sync_log")
    assert outcomes == [("dry_run",)]
    planned = sum(small.plan_counts().values())
    logged = small.query("SELECT count(*) FROM log.sync_log")[0][0]
    assert logged == planned
    assert small.query("SELECT count(*) FROM log.owned") == [(0,)]


def test_emptied_username_is_cleared_once(small):
    small.sync()
    student = students(small.sandboxes.eschoolplus.district)[2]
    small.sandboxes.eschoolplus.update_user(student, username="")

    small.sync()
    second = small.sync()

    assert users_by_school_uid(small)[student]["username"] == ""
    assert second.write_requests == 0


def test_term_row_for_unknown_school_stops(small):
    terms = small.mappings / "terms.csv"
    with open(terms, "a", encoding="utf-8") as handle:
        handle.write("2027,S2,Extra Semester,99\n")

    result = small.sync(raise_on_error=False)

    assert result.write_requests == 0
    assert result.apply is None
    failure = result.plan.failure_data_for_node("mappings__terms").error.message
    assert 'column sis_school_id, value "99"' in failure
    assert "The SIS has no school with id 99." in failure


def test_gate_override_rejects_unknown_entity():
    with pytest.raises(ValueError) as failure:
        ApplySettings(pass_deletion_gates=["users"])
    assert "users is not a gated entity" in str(failure.value)
