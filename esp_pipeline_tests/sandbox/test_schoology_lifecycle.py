"""User deactivation and reactivation, e-mail conflicts, past sections and X-Schoology-Run-As."""

from __future__ import annotations

import datetime

import pytest


@pytest.fixture
def enrolled_student(schoology):
    """A student enrolled in one current section; returns (student, section_id, enrollment_id)."""
    period = schoology.create_grading_period()
    section_id = schoology.create_section(schoology.create_course("LIFE"), "LIFE-01", [period])
    student = schoology.create_user("S-LIFE")
    enrollment_id = schoology.enroll(section_id, student["uid"])
    return student, section_id, enrollment_id


# -- deactivation ------------------------------------------------------------------------------


def test_delete_keeping_enrollments(schoology, enrolled_student):
    student, section_id, _ = enrolled_student

    response = schoology.delete(
        f"users/{student['id']}",
        params={"option_keep_enrollments": 1, "email_notification": 0, "option_comment": "left"},
    )

    assert response.status_code == 204
    assert schoology.get(f"users/{student['id']}").status_code == 404
    record = schoology.state.deactivations()[-1]
    assert record["uid"] == student["id"]
    assert record["option_keep_enrollments"] == 1
    assert record["email_notification"] == 0
    assert record["option_comment"] == "left"
    assert record["enrollments_destroyed"] == 0
    assert schoology.get(f"sections/{section_id}/enrollments").json()["enrollment"] == []
    assert len(schoology.state.kept_enrollments()[student["id"]]) == 1


def test_delete_default_options(schoology, enrolled_student):
    student, _, _ = enrolled_student

    schoology.delete(f"users/{student['id']}")

    record = schoology.state.deactivations()[-1]
    assert record["option_keep_enrollments"] == 0
    assert record["email_notification"] == 1
    assert record["enrollments_destroyed"] == 1
    assert schoology.state.kept_enrollments() == {}
    assert schoology.state.enrollments() == []


def test_bulk_delete_records_options(schoology):
    first = schoology.create_user("BDO-1")
    second = schoology.create_user("BDO-2")

    response = schoology.delete(
        "users",
        params={
            "uids": f"{first['id']},{second['id']}",
            "option_keep_enrollments": 1,
            "email_notification": 0,
        },
    )

    assert response.status_code == 207
    records = schoology.state.deactivations()
    assert [r["uid"] for r in records] == [first["id"], second["id"]]
    assert {r["option_keep_enrollments"] for r in records} == {1}
    assert {r["email_notification"] for r in records} == {0}


def test_inactive_users_listed(schoology, enrolled_student):
    student, _, _ = enrolled_student
    schoology.delete(f"users/{student['id']}")

    listing = schoology.get("users/inactive")
    single = schoology.get(f"users/inactive/{student['id']}")
    active = schoology.get("users").json()

    assert listing.status_code == 200
    body = listing.json()
    assert body["total"] == 1
    entry = body["user"][0]
    assert entry["uid"] == student["id"]
    assert entry["school_uid"] == "S-LIFE"
    assert entry["name"] == "FirstS-LIFE Last"
    assert entry["modified_by_uid"] == schoology.state.admin_uid
    assert isinstance(entry["inactive_timestamp"], int)
    assert single.status_code == 200
    assert "S-LIFE" not in [u["school_uid"] for u in active["user"]]


def test_inactive_user_unknown_is_404(schoology):
    user = schoology.create_user("ACTIVE-1")

    response = schoology.get(f"users/inactive/{user['id']}")

    assert response.status_code == 404


def test_reactivate_with_reenroll(schoology, enrolled_student):
    student, section_id, enrollment_id = enrolled_student
    schoology.delete(f"users/{student['id']}", params={"option_keep_enrollments": 1})

    response = schoology.put(
        "users/reactivate", json={"user": [{"uid": student["id"], "option_reenroll": 1}]}
    )

    assert response.status_code == 207
    result = response.json()["user"][0]
    assert result["response_code"] == 200
    assert result["location"] == schoology.url(f"users/{student['id']}")
    assert schoology.get(f"users/{student['id']}").status_code == 200
    enrollments = schoology.get(f"sections/{section_id}/enrollments").json()["enrollment"]
    assert [e["id"] for e in enrollments] == [enrollment_id]


def test_reactivate_without_reenroll(schoology, enrolled_student):
    student, section_id, _ = enrolled_student
    schoology.delete(f"users/{student['id']}", params={"option_keep_enrollments": 1})

    response = schoology.put("users/reactivate", json={"user": [{"uid": student["id"]}]})

    assert response.json()["user"][0]["response_code"] == 200
    assert schoology.get(f"sections/{section_id}/enrollments").json()["enrollment"] == []
    assert schoology.state.kept_enrollments() == {}


def test_reactivate_destroyed_enrollments_stay_gone(schoology, enrolled_student):
    student, section_id, _ = enrolled_student
    schoology.delete(f"users/{student['id']}")

    schoology.put("users/reactivate", json={"user": [{"uid": student["id"], "option_reenroll": 1}]})

    assert schoology.get(f"sections/{section_id}/enrollments").json()["enrollment"] == []


def test_reactivate_mixed_items(schoology):
    active = schoology.create_user("RA-ACTIVE")
    inactive = schoology.create_user("RA-INACTIVE")
    schoology.delete(f"users/{inactive['id']}")
    items = [{"uid": active["id"]}, {"uid": inactive["id"]}, {"option_reenroll": 1}]

    response = schoology.put("users/reactivate", json={"user": items})

    assert [r["response_code"] for r in response.json()["user"]] == [404, 200, 400]


def test_inactive_school_uid_blocks_create(schoology):
    user = schoology.create_user("GONE-1")
    schoology.delete(f"users/{user['id']}")

    response = schoology.post(
        "users",
        params={"update_existing": 1},
        json={"users": {"user": [schoology.user_body("GONE-1", username="gone-again")]}},
    )

    result = response.json()["user"][0]
    assert result["response_code"] == 400
    assert "users/reactivate" in result["message"]


def test_deactivated_email_reusable(schoology):
    user = schoology.create_user("MAIL-1", primary_email="shared@district.example")
    schoology.delete(f"users/{user['id']}")

    response = schoology.post(
        "users", json=schoology.user_body("MAIL-2", primary_email="shared@district.example")
    )

    assert response.status_code == 201


# -- e-mail conflicts with other organisations ------------------------------------------------

FOREIGN_EMAIL = "pat.jones@elsewhere.example"
CLAIMED_EMAIL = "sam.lee@district.example"


@pytest.fixture
def conflicted(schoology_factory):
    return schoology_factory(foreign_emails={FOREIGN_EMAIL: False, CLAIMED_EMAIL: True})


def post_one(client, body: dict, **params) -> dict:
    response = client.post("users", params=params, json={"users": {"user": [body]}})
    assert response.status_code == 207
    return response.json()["user"][0]


def test_foreign_email_fails_without_flags(conflicted):
    body = conflicted.user_body("EC-1", primary_email=FOREIGN_EMAIL)

    result = post_one(conflicted, body)

    assert result["response_code"] == 400
    assert "another organisation" in result["message"]


def test_foreign_email_ignored(conflicted):
    body = conflicted.user_body("EC-2", primary_email=FOREIGN_EMAIL)
    del body["username"]

    result = post_one(conflicted, body, ignore_email_conflicts=1)

    assert result["response_code"] == 200
    user = conflicted.state.find_user(school_uid="EC-2")
    assert user["primary_email"] == ""
    assert user["username"] == "EC-2"


def test_foreign_email_resolution_username(conflicted):
    body = conflicted.user_body("EC-3", primary_email=FOREIGN_EMAIL)
    del body["username"]

    result = post_one(conflicted, body, email_conflict_resolution=1)

    assert result["response_code"] == 200
    user = conflicted.state.find_user(school_uid="EC-3")
    assert user["primary_email"] == ""
    assert user["username"] == "pat.jones"


def test_foreign_email_merge_claimed_domain(conflicted):
    body = conflicted.user_body("EC-4", primary_email=CLAIMED_EMAIL)

    result = post_one(conflicted, body, email_conflict_resolution=2)

    assert result["response_code"] == 200
    user = conflicted.state.find_user(school_uid="EC-4")
    assert user["primary_email"] == CLAIMED_EMAIL
    merge = {
        "email": CLAIMED_EMAIL,
        "organisation": "Another Organization",
        "merged_into_uid": user["id"],
    }
    assert conflicted.state.email_merges() == [merge]
    assert CLAIMED_EMAIL not in conflicted.state.foreign_emails()


def test_foreign_email_merge_unclaimed_fails(conflicted):
    body = conflicted.user_body("EC-5", primary_email=FOREIGN_EMAIL)

    result = post_one(conflicted, body, email_conflict_resolution=2)

    assert result["response_code"] == 400
    assert "not claimed" in result["message"]
    assert conflicted.state.email_merges() == []


def test_same_school_email_conflict_always_fails(conflicted):
    conflicted.create_user("EC-OWNER", primary_email="owner@district.example")
    body = conflicted.user_body("EC-6", primary_email="owner@district.example")

    ignored = post_one(conflicted, body, ignore_email_conflicts=1)
    resolved = post_one(conflicted, body, email_conflict_resolution=1)

    assert ignored["response_code"] == 400
    assert resolved["response_code"] == 400


def test_foreign_email_seeded_at_runtime(schoology):
    schoology.state.add_foreign_email("late@elsewhere.example", organisation="Other District")

    body = schoology.user_body("EC-7", primary_email="late@elsewhere.example")

    result = post_one(schoology, body)

    assert result["response_code"] == 400
    assert "Other District" in result["message"]


def test_foreign_email_on_update(conflicted):
    user = conflicted.create_user("EC-8")

    rejected = conflicted.put(f"users/{user['id']}", json={"primary_email": FOREIGN_EMAIL})
    ignored = conflicted.put(
        f"users/{user['id']}",
        params={"ignore_email_conflicts": 1},
        json={"primary_email": FOREIGN_EMAIL},
    )

    assert rejected.status_code == 400
    assert ignored.status_code == 204
    assert conflicted.state.find_user(school_uid="EC-8")["primary_email"] == ""


def test_invalid_conflict_resolution_is_400(conflicted):
    response = conflicted.post(
        "users",
        params={"email_conflict_resolution": 3},
        json={"users": {"user": [conflicted.user_body("EC-9")]}},
    )

    assert response.status_code == 400


# -- sections of ended grading periods -------------------------------------------------------


@pytest.fixture
def past_and_current(schoology):
    """Create a course with sections in an ended period, a current period and both periods."""
    past = schoology.create_grading_period("2019-2020", "2019-08-01", "2020-06-30")
    current = schoology.create_grading_period("Current", "2025-08-01", "2099-06-30")
    course_id = schoology.create_course("PAST")
    past_section = schoology.create_section(course_id, "PAST-2020", [past])
    current_section = schoology.create_section(course_id, "PAST-NOW", [current])
    both_section = schoology.create_section(course_id, "PAST-BOTH", [past, current])
    return course_id, past_section, current_section, both_section


def test_past_sections_hidden_by_default(schoology, past_and_current):
    course_id, past_section, current_section, both_section = past_and_current

    listed = schoology.get(f"courses/{course_id}/sections").json()
    with_past = schoology.get(f"courses/{course_id}/sections", params={"include_past": 1}).json()

    assert [s["id"] for s in listed["section"]] == [current_section, both_section]
    assert listed["total"] == "2"
    assert [s["id"] for s in with_past["section"]] == [past_section, current_section, both_section]


def test_past_sections_by_school_code(schoology, past_and_current):
    _, past_section, _, _ = past_and_current
    params = {"section_school_codes": "PAST-2020"}

    hidden = schoology.get("sections", params=params).json()
    shown = schoology.get("sections", params={**params, "include_past": 1}).json()

    assert hidden["section"] == []
    assert [s["id"] for s in shown["section"]] == [past_section]


def test_past_section_still_addressable(schoology, past_and_current):
    _, past_section, _, _ = past_and_current

    response = schoology.get(f"sections/{past_section}")

    assert response.status_code == 200
    assert response.json()["section_school_code"] == "PAST-2020"


def test_past_grading_period_inactive(schoology, past_and_current):
    periods = schoology.get("gradingperiods").json()["gradingperiods"]

    assert [(p["title"], p["active"]) for p in periods] == [("2019-2020", "0"), ("Current", "1")]


def test_hiding_past_sections_configurable(schoology_factory):
    client = schoology_factory(hide_past_sections=False)
    past = client.create_grading_period("Old", "2019-08-01", "2020-06-30")
    course_id = client.create_course("CFG")
    section_id = client.create_section(course_id, "CFG-01", [past])

    listed = client.get(f"courses/{course_id}/sections").json()

    assert [s["id"] for s in listed["section"]] == [section_id]


def test_today_setting_moves_boundary(schoology_factory):
    client = schoology_factory(today=datetime.date(2020, 6, 30))
    period = client.create_grading_period("2019-2020", "2019-08-01", "2020-06-30")
    course_id = client.create_course("DAY")
    client.create_section(course_id, "DAY-01", [period])

    on_last_day = client.get(f"courses/{course_id}/sections").json()
    client.sandbox.config.today = datetime.date(2020, 7, 1)
    day_after = client.get(f"courses/{course_id}/sections").json()

    assert on_last_day["total"] == "1"
    assert day_after["total"] == "0"


# -- X-Schoology-Run-As -----------------------------------------------------------------------


def test_run_as_unknown_user_forbidden(schoology):
    response = schoology.get("users", headers={"X-Schoology-Run-As": "3199999999"})

    assert response.status_code == 403
    assert response.json()["response_code"] == 403


def test_run_as_school_uid_forbidden(schoology):
    schoology.create_user("T-RUN", role="Teacher")

    response = schoology.get("users", headers={"X-Schoology-Run-As": "T-RUN"})

    assert response.status_code == 403
    assert "numeric" in response.json()["message"]


def test_run_as_inactive_user_forbidden(schoology):
    teacher = schoology.create_user("T-GONE", role="Teacher")
    schoology.delete(f"users/{teacher['id']}")

    response = schoology.get("roles", headers={"X-Schoology-Run-As": teacher["uid"]})

    assert response.status_code == 403


def test_run_as_teacher_reads_as_teacher(schoology):
    teacher = schoology.create_user("T-ME", role="Teacher")

    me = schoology.get("users/me", headers={"X-Schoology-Run-As": teacher["uid"]})
    listing = schoology.get("users", headers={"X-Schoology-Run-As": teacher["uid"]})

    assert me.status_code == 303
    assert me.headers["Location"] == schoology.url(f"users/{teacher['id']}")
    assert listing.status_code == 200


def test_run_as_teacher_cannot_write(schoology):
    teacher = schoology.create_user("T-WRITE", role="Teacher")

    response = schoology.post(
        "users",
        headers={"X-Schoology-Run-As": teacher["uid"]},
        json=schoology.user_body("S-BY-TEACHER"),
    )

    assert response.status_code == 403
    assert schoology.state.find_user(school_uid="S-BY-TEACHER") is None


def test_run_as_admin_can_write(schoology):
    admin = schoology.create_user("A-RUN", role="School Admin")

    response = schoology.post(
        "users",
        headers={"X-Schoology-Run-As": admin["uid"]},
        json=schoology.user_body("S-BY-ADMIN"),
    )

    assert response.status_code == 201


def test_run_as_disabled(schoology_factory):
    client = schoology_factory(run_as_enabled=False)

    response = client.get("roles", headers={"X-Schoology-Run-As": str(client.state.admin_uid)})

    assert response.status_code == 403
    assert "not enabled" in response.json()["message"]


def test_run_as_deactivation_records_actor(schoology):
    admin = schoology.create_user("A-ACTOR", role="School Admin")
    student = schoology.create_user("S-ACTED")

    schoology.delete(f"users/{student['id']}", headers={"X-Schoology-Run-As": admin["uid"]})

    assert schoology.state.deactivations()[-1]["modified_by_uid"] == admin["id"]
