"""Status codes, envelopes and field types of the sandbox Schoology routes."""

from __future__ import annotations

import pytest

DISTRICT_ID = 2908525001


def test_every_response_has_marker_header(schoology):
    responses = [
        schoology.get("schools"),
        schoology.get("users/999"),
        schoology.post("users", json={}),
        schoology.get("no/such/route"),
    ]

    for response in responses:
        assert response.headers.get("X-Schoology") == "API", response.request.url


def test_schools_list_and_get(schoology):
    listing = schoology.get("schools")
    school = schoology.get(f"schools/{DISTRICT_ID}")

    assert listing.status_code == 200
    assert [entry["id"] for entry in listing.json()["school"]] == [str(DISTRICT_ID)]
    assert listing.json()["total"] == "1"
    assert school.status_code == 200
    assert school.json()["title"] == schoology.sandbox.config.district_title


def test_buildings_in_constructor_order(schoology):
    response = schoology.get(f"schools/{DISTRICT_ID}/buildings")

    assert response.status_code == 200
    buildings = response.json()["building"]
    assert [(b["id"], b["title"], b["building_code"]) for b in buildings] == [
        ("2908525002", "City High School", "02M800"),
        ("2908525003", "Riverside Middle School", "02M400"),
    ]


def test_building_addressed_as_school(schoology):
    response = schoology.get("schools/2908525003")

    assert response.status_code == 200
    assert response.json()["building_code"] == "02M400"


def test_unknown_school_is_404(schoology):
    response = schoology.get("schools/1234")

    assert response.status_code == 404
    assert response.json()["response_code"] == 404


def test_roles_have_string_ids(schoology):
    response = schoology.get("roles")

    assert response.status_code == 200
    roles = response.json()["role"]
    assert [role["title"] for role in roles] == ["Student", "Teacher", "Parent", "School Admin"]
    assert all(isinstance(role["id"], str) for role in roles)
    assert [role["faculty"] for role in roles] == [0, 1, 0, 1]
    assert schoology.get(f"roles/{roles[1]['id']}").json()["title"] == "Teacher"


def test_fresh_sandbox_holds_only_admin(schoology):
    users = schoology.get("users").json()

    assert users["total"] == "1"
    assert users["user"][0]["school_uid"] == schoology.sandbox.config.admin_school_uid
    assert schoology.state.courses() == []
    assert schoology.state.sections() == []
    assert schoology.state.enrollments() == []
    assert schoology.state.grading_periods() == []


def test_user_create_returns_201_with_links(schoology):
    body = schoology.user_body("S-1001", primary_email="s1001@district.example")

    response = schoology.post("users", json=body)

    assert response.status_code == 201
    user = response.json()
    assert user["uid"] == str(user["id"])
    assert isinstance(user["id"], int)
    assert user["school_id"] == DISTRICT_ID
    assert user["building_id"] == DISTRICT_ID
    assert user["name_display"] == "FirstS-1001 Last"
    assert user["links"]["self"] == schoology.url(f"users/{user['id']}")
    assert user["synced"] == 0


def test_user_create_missing_fields_is_400(schoology):
    response = schoology.post("users", json={"school_uid": "S-X", "name_first": "A"})

    assert response.status_code == 400
    assert "name_last" in response.json()["message"]
    assert "role_id" in response.json()["message"]


def test_user_create_needs_username_or_email(schoology):
    body = schoology.user_body("S-NOLOGIN")
    del body["username"]

    response = schoology.post("users", json=body)

    assert response.status_code == 400
    assert "username or primary_email" in response.json()["message"]


def test_user_create_unknown_role_is_400(schoology):
    response = schoology.post("users", json=schoology.user_body("S-R", role_id=12345))

    assert response.status_code == 400
    assert "role_id" in response.json()["message"]


def test_user_get_put_delete(schoology):
    user = schoology.create_user("S-2001")

    fetched = schoology.get(f"users/{user['id']}")
    updated = schoology.put(f"users/{user['id']}", json={"name_last": "Renamed"})
    after_update = schoology.get(f"users/{user['id']}")
    deleted = schoology.delete(f"users/{user['id']}")
    after_delete = schoology.get(f"users/{user['id']}")

    assert fetched.status_code == 200
    assert fetched.json()["school_uid"] == "S-2001"
    assert updated.status_code == 204
    assert updated.content == b""
    assert after_update.json()["name_last"] == "Renamed"
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert after_delete.status_code == 404


def test_user_unknown_id_is_404(schoology):
    for method in ("get", "put", "delete"):
        kwargs = {"json": {"name_last": "X"}} if method == "put" else {}
        response = getattr(schoology, method)("users/3199999999", **kwargs)
        assert response.status_code == 404, method
        assert response.json() == {
            "response_code": 404,
            "message": "user 3199999999 not found",
        }


def test_user_filters(schoology):
    high_school, middle_school = 2908525002, 2908525003
    schoology.create_user("S-A", building_id=high_school)
    schoology.create_user("S-B", building_id=middle_school)
    schoology.create_user("T-C", role="Teacher", building_id=high_school)
    teacher_role = schoology.role_id("Teacher")

    by_building = schoology.get("users", params={"building_id": high_school}).json()
    by_role = schoology.get("users", params={"role_ids": str(teacher_role)}).json()
    by_uid = schoology.get("users", params={"school_uids": "S-B,T-C"}).json()

    assert [u["school_uid"] for u in by_building["user"]] == ["S-A", "T-C"]
    assert [u["school_uid"] for u in by_role["user"]] == ["T-C"]
    assert [u["school_uid"] for u in by_uid["user"]] == ["S-B", "T-C"]


def test_school_uid_unique_single_post(schoology):
    schoology.create_user("S-DUP")

    response = schoology.post("users", json=schoology.user_body("S-DUP", username="other"))

    assert response.status_code == 400
    assert "S-DUP" in response.json()["message"]


def test_email_unique_platform_wide(schoology):
    schoology.create_user("S-E1", primary_email="Same@District.example")

    response = schoology.post(
        "users", json=schoology.user_body("S-E2", primary_email="same@district.example")
    )

    assert response.status_code == 400
    assert "e-mail" in response.json()["message"]


def test_course_crud(schoology):
    created = schoology.post(
        "courses", json={"title": "Algebra", "course_code": "ALG-1", "building_id": 2908525002}
    )
    course_id = created.json()["id"]

    fetched = schoology.get(f"courses/{course_id}")
    updated = schoology.put(f"courses/{course_id}", json={"title": "Algebra I"})
    listed = schoology.get("courses")
    deleted = schoology.delete(f"courses/{course_id}")

    assert created.status_code == 201
    assert isinstance(course_id, int)
    assert created.json()["building_id"] == "2908525002"
    assert created.json()["links"]["self"] == schoology.url(f"courses/{course_id}")
    assert fetched.status_code == 200
    assert updated.status_code == 204
    assert listed.json()["course"][0]["title"] == "Algebra I"
    assert listed.json()["total"] == "1"
    assert deleted.status_code == 204
    assert schoology.get(f"courses/{course_id}").status_code == 404


def test_course_code_unique_per_building(schoology):
    first = schoology.post(
        "courses", json={"title": "A", "course_code": "C-1", "building_id": 2908525002}
    )
    same_building = schoology.post(
        "courses", json={"title": "B", "course_code": "C-1", "building_id": 2908525002}
    )
    other_building = schoology.post(
        "courses", json={"title": "C", "course_code": "C-1", "building_id": 2908525003}
    )

    assert first.status_code == 201
    assert same_building.status_code == 400
    assert other_building.status_code == 201


def test_course_missing_code_is_400(schoology):
    response = schoology.post("courses", json={"title": "No code"})

    assert response.status_code == 400
    assert "course_code" in response.json()["message"]


def test_section_crud_and_types(schoology):
    period = schoology.create_grading_period()
    course_id = schoology.create_course("BIO-1")

    created = schoology.post(
        f"courses/{course_id}/sections",
        json={
            "section_title": "Biology P1",
            "section_school_code": "BIO-1-01",
            "grading_periods": [period],
        },
    )
    section_id = created.json()["id"]
    updated = schoology.put(f"sections/{section_id}", json={"title": "Biology Period 1"})
    fetched = schoology.get(f"sections/{section_id}")
    listed = schoology.get(f"courses/{course_id}/sections")
    deleted = schoology.delete(f"sections/{section_id}")

    assert created.status_code == 201
    section = created.json()
    assert isinstance(section["id"], str)
    assert section["course_id"] == str(course_id)
    assert section["synced"] == "0"
    assert section["active"] == 1
    assert section["grading_periods"] == [period]
    assert section["links"]["self"] == schoology.url(f"sections/{section_id}")
    assert updated.status_code == 204
    assert fetched.json()["section_title"] == "Biology Period 1"
    assert listed.json()["section"][0]["id"] == section_id
    assert listed.json()["total"] == "1"
    assert deleted.status_code == 204
    assert schoology.get(f"sections/{section_id}").status_code == 404


def test_section_requires_grading_period_and_code(schoology):
    course_id = schoology.create_course("REQ-1")
    period = schoology.create_grading_period()

    no_period = schoology.post(
        f"courses/{course_id}/sections", json={"title": "S", "section_school_code": "X"}
    )
    no_code = schoology.post(
        f"courses/{course_id}/sections", json={"title": "S", "grading_periods": [period]}
    )
    unknown_period = schoology.post(
        f"courses/{course_id}/sections",
        json={"title": "S", "section_school_code": "X", "grading_periods": [1]},
    )

    assert no_period.status_code == 400
    assert no_code.status_code == 400
    assert unknown_period.status_code == 400


def test_section_school_code_unique(schoology):
    period = schoology.create_grading_period()
    first_course = schoology.create_course("U-1")
    second_course = schoology.create_course("U-2")
    schoology.create_section(first_course, "SSC-1", [period])

    response = schoology.post(
        f"courses/{second_course}/sections",
        json={"title": "Dup", "section_school_code": "SSC-1", "grading_periods": [period]},
    )

    assert response.status_code == 400
    assert "SSC-1" in response.json()["message"]


def test_sections_by_school_codes(schoology):
    period = schoology.create_grading_period()
    course_id = schoology.create_course("LOOK-1")
    first = schoology.create_section(course_id, "LOOK-1-01", [period])
    schoology.create_section(course_id, "LOOK-1-02", [period])
    third = schoology.create_section(course_id, "LOOK-1-03", [period])

    response = schoology.get("sections", params={"section_school_codes": "LOOK-1-03,LOOK-1-01"})

    assert response.status_code == 200
    assert [s["id"] for s in response.json()["section"]] == [first, third]


def test_deleting_course_removes_sections_and_enrollments(schoology):
    period = schoology.create_grading_period()
    course_id = schoology.create_course("DEL-1")
    section_id = schoology.create_section(course_id, "DEL-1-01", [period])
    student = schoology.create_user("S-DEL")
    schoology.enroll(section_id, student["uid"])

    response = schoology.delete(f"courses/{course_id}")

    assert response.status_code == 204
    assert schoology.state.sections() == []
    assert schoology.state.enrollments() == []


def test_enrollment_crud_and_types(schoology):
    period = schoology.create_grading_period()
    section_id = schoology.create_section(schoology.create_course("ENR-1"), "ENR-1-01", [period])
    student = schoology.create_user("S-ENR")

    created = schoology.post(
        f"sections/{section_id}/enrollments",
        json={"uid": student["uid"], "admin": "0", "status": "1"},
    )
    enrollment_id = created.json()["id"]
    listed = schoology.get(f"sections/{section_id}/enrollments")
    updated = schoology.put(
        f"sections/{section_id}/enrollments/{enrollment_id}", json={"status": 5}
    )
    fetched = schoology.get(f"sections/{section_id}/enrollments/{enrollment_id}")
    deleted = schoology.delete(f"sections/{section_id}/enrollments/{enrollment_id}")

    assert created.status_code == 201
    assert created.json()["status"] == 1
    item = listed.json()["enrollment"][0]
    assert item["id"] == enrollment_id
    assert item["uid"] == student["uid"]
    assert item["school_uid"] == "S-ENR"
    assert item["admin"] == 0
    assert item["status"] == "1"
    assert listed.json()["total"] == "1"
    assert updated.status_code == 204
    assert fetched.json()["status"] == "5"
    assert deleted.status_code == 204
    assert schoology.get(f"sections/{section_id}/enrollments/{enrollment_id}").status_code == 404


def test_enrollment_filters(schoology):
    period = schoology.create_grading_period()
    section_id = schoology.create_section(schoology.create_course("FLT-1"), "FLT-1-01", [period])
    teacher = schoology.create_user("T-FLT", role="Teacher")
    student = schoology.create_user("S-FLT")
    schoology.enroll(section_id, teacher["uid"], admin=1)
    schoology.enroll(section_id, student["uid"])

    admins = schoology.get(f"sections/{section_id}/enrollments", params={"type": "admin"}).json()
    by_uid = schoology.get(
        f"sections/{section_id}/enrollments", params={"uid": student["uid"]}
    ).json()
    by_status = schoology.get(
        f"sections/{section_id}/enrollments", params={"enrollment_status": "2"}
    ).json()

    assert [e["uid"] for e in admins["enrollment"]] == [teacher["uid"]]
    assert [e["uid"] for e in by_uid["enrollment"]] == [student["uid"]]
    assert by_status["enrollment"] == []
    assert by_status["total"] == "0"


def test_enrollment_one_per_user_and_section(schoology):
    period = schoology.create_grading_period()
    section_id = schoology.create_section(schoology.create_course("ONE-1"), "ONE-1-01", [period])
    student = schoology.create_user("S-ONE")
    schoology.enroll(section_id, student["uid"])

    response = schoology.post(
        f"sections/{section_id}/enrollments", json={"uid": student["uid"], "admin": 0, "status": 1}
    )

    assert response.status_code == 400
    assert len(schoology.state.enrollments()) == 1


def test_enrollment_with_school_uid_fails(schoology):
    period = schoology.create_grading_period()
    section_id = schoology.create_section(schoology.create_course("SUID-1"), "SUID-1-01", [period])
    schoology.create_user("S-SUID")

    response = schoology.post(
        f"sections/{section_id}/enrollments", json={"uid": "S-SUID", "admin": 0, "status": 1}
    )

    assert response.status_code == 400
    assert "not school_uid" in response.json()["message"]


def test_enrollment_in_unknown_section_is_404(schoology):
    student = schoology.create_user("S-NOSEC")

    response = schoology.post(
        "sections/2942199999/enrollments", json={"uid": student["uid"], "admin": 0, "status": 1}
    )

    assert response.status_code == 404


def test_grading_period_crud(schoology):
    created = schoology.post(
        "gradingperiods", json={"title": "Q1", "start": "2025-08-01", "end": "2099-10-31"}
    )
    period_id = created.json()["id"]
    listed = schoology.get("gradingperiods")
    updated = schoology.put(f"gradingperiods/{period_id}", json={"title": "Quarter 1"})
    fetched = schoology.get(f"gradingperiods/{period_id}")
    deleted = schoology.delete(f"gradingperiods/{period_id}")

    assert created.status_code == 201
    assert created.json()["links"]["self"] == schoology.url(f"gradingperiods/{period_id}")
    assert created.json()["active"] == "1"
    assert listed.status_code == 200
    assert listed.json()["total"] == 1
    assert [p["id"] for p in listed.json()["gradingperiods"]] == [period_id]
    assert updated.status_code == 204
    assert fetched.json()["title"] == "Quarter 1"
    assert deleted.status_code == 204
    assert schoology.get(f"gradingperiods/{period_id}").status_code == 404


def test_grading_period_in_use_not_deleted(schoology):
    period = schoology.create_grading_period()
    schoology.create_section(schoology.create_course("GP-1"), "GP-1-01", [period])

    response = schoology.delete(f"gradingperiods/{period}")

    assert response.status_code == 400
    assert "used by 1 section" in response.json()["message"]
    assert schoology.get(f"gradingperiods/{period}").status_code == 200


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"title": "No dates"}, "start"),
        ({"title": "Bad", "start": "2025-13-01", "end": "2026-01-01"}, "YYYY-MM-DD"),
        ({"title": "Reversed", "start": "2026-01-01", "end": "2025-01-01"}, "after end"),
    ],
)
def test_grading_period_validation(schoology, body, expected):
    response = schoology.post("gradingperiods", json=body)

    assert response.status_code == 400
    assert expected in response.json()["message"]


def test_invalid_json_body_is_400(schoology):
    response = schoology.post(
        "users", data="{not json", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert "invalid JSON" in response.json()["message"]


def test_unknown_route_is_json_404(schoology):
    response = schoology.get("widgets")

    assert response.status_code == 404
    assert response.json()["response_code"] == 404


def test_users_of_section(schoology):
    period = schoology.create_grading_period()
    section_id = schoology.create_section(schoology.create_course("MINE-1"), "MINE-1-01", [period])
    student = schoology.create_user("S-MINE")
    schoology.enroll(section_id, student["uid"])

    response = schoology.get(f"users/{student['id']}/sections")

    assert response.status_code == 200
    assert [s["id"] for s in response.json()["section"]] == [section_id]
