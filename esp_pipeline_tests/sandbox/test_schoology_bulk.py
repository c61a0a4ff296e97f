"""Bulk endpoints of the sandbox Schoology server: limits, per-item results and upserts."""

from __future__ import annotations


def user_items(client, prefix: str, count: int) -> list[dict]:
    return [client.user_body(f"{prefix}-{number}") for number in range(count)]


def bulk_users(items: list[dict]) -> dict:
    return {"users": {"user": items}}


def test_bulk_51_users_rejected(schoology):
    response = schoology.post("users", json=bulk_users(user_items(schoology, "MANY", 51)))

    assert response.status_code == 400
    assert "at most 50" in response.json()["message"]
    assert len(schoology.state.users()) == 1


def test_bulk_50_users_accepted(schoology):
    response = schoology.post("users", json=bulk_users(user_items(schoology, "FIFTY", 50)))

    assert response.status_code == 207
    assert [item["response_code"] for item in response.json()["user"]] == [200] * 50


def test_bulk_mixed_results_in_input_order(schoology):
    schoology.create_user("EXISTING")
    items = [
        schoology.user_body("NEW-1"),
        {"school_uid": "BROKEN", "name_first": "No"},
        schoology.user_body("EXISTING", username="someone-else"),
        schoology.user_body("NEW-2"),
    ]

    response = schoology.post("users", json=bulk_users(items))

    assert response.status_code == 207
    results = response.json()["user"]
    assert [r["response_code"] for r in results] == [200, 400, 400, 200]
    assert [r["school_uid"] for r in results] == ["NEW-1", "BROKEN", "EXISTING", "NEW-2"]
    assert results[0]["location"] == schoology.url(f"users/{results[0]['id']}")
    assert "location" not in results[1]
    assert "name_last" in results[1]["message"]
    assert "update_existing" in results[2]["message"]


def test_bulk_users_update_existing_off(schoology):
    first = schoology.post("users", json=bulk_users(user_items(schoology, "RUN", 3)))
    second = schoology.post("users", json=bulk_users(user_items(schoology, "RUN", 3)))

    assert [r["response_code"] for r in first.json()["user"]] == [200, 200, 200]
    assert [r["response_code"] for r in second.json()["user"]] == [400, 400, 400]
    assert len(schoology.state.users()) == 4


def test_bulk_users_update_existing_on(schoology):
    first = schoology.post("users", json=bulk_users(user_items(schoology, "UPS", 3)))
    changed = user_items(schoology, "UPS", 3)
    for item in changed:
        item["name_last"] = "Changed"

    second = schoology.post(
        "users", params={"update_existing": 1}, json=bulk_users(changed)
    )

    assert second.status_code == 207
    assert [r["response_code"] for r in second.json()["user"]] == [200, 200, 200]
    assert [r["id"] for r in second.json()["user"]] == [r["id"] for r in first.json()["user"]]
    assert len(schoology.state.users()) == 4
    upserted = [u for u in schoology.state.users() if u["school_uid"].startswith("UPS")]
    assert {u["name_last"] for u in upserted} == {"Changed"}


def test_bulk_users_put(schoology):
    user = schoology.create_user("PUT-1")
    items = [{"id": user["id"], "name_first": "Renamed"}, {"id": 3199999999, "name_first": "X"}]

    response = schoology.put("users", json=bulk_users(items))

    assert response.status_code == 207
    assert [r["response_code"] for r in response.json()["user"]] == [200, 404]
    assert schoology.get(f"users/{user['id']}").json()["name_first"] == "Renamed"


def test_bulk_users_delete(schoology):
    first = schoology.create_user("BD-1")
    second = schoology.create_user("BD-2")
    uids = f"{first['id']},3199999999,{second['id']}"

    response = schoology.delete("users", params={"uids": uids})

    assert response.status_code == 207
    results = response.json()["user"]
    assert [r["response_code"] for r in results] == [200, 404, 200]
    assert [r["uid"] for r in results] == [first["uid"], "3199999999", second["uid"]]
    assert len(schoology.state.users()) == 1


def test_bulk_delete_51_ids_rejected(schoology):
    uids = ",".join(str(3100000100 + number) for number in range(51))

    response = schoology.delete("users", params={"uids": uids})

    assert response.status_code == 400


def test_bulk_body_wrapper_required(schoology):
    response = schoology.post("users", json={"users": [schoology.user_body("W-1")]})

    assert response.status_code == 400
    assert '{"users": {"user": [...]}}' in response.json()["message"]


def test_bulk_courses_upsert_by_course_code(schoology):
    items = [
        {"title": "Chemistry", "course_code": "CHEM"},
        {"title": "Physics", "course_code": "PHYS"},
    ]
    first = schoology.post("courses", json={"courses": {"course": items}})
    items[0]["title"] = "Chemistry I"

    without_flag = schoology.post("courses", json={"courses": {"course": items}})
    with_flag = schoology.post(
        "courses", params={"update_existing": "1"}, json={"courses": {"course": items}}
    )

    assert first.status_code == 207
    assert [r["response_code"] for r in first.json()["course"]] == [200, 200]
    assert [r["course_code"] for r in first.json()["course"]] == ["CHEM", "PHYS"]
    assert [r["response_code"] for r in without_flag.json()["course"]] == [400, 400]
    assert [r["response_code"] for r in with_flag.json()["course"]] == [200, 200]
    first_ids = [r["id"] for r in first.json()["course"]]
    assert [r["id"] for r in with_flag.json()["course"]] == first_ids
    assert [c["title"] for c in schoology.state.courses()] == ["Chemistry I", "Physics"]


def test_bulk_courses_put_and_delete(schoology):
    chem = schoology.create_course("CHEM")
    phys = schoology.create_course("PHYS")

    put = schoology.put(
        "courses", json={"courses": {"course": [{"id": chem, "title": "Chem"}, {"title": "no id"}]}}
    )
    deleted = schoology.delete("courses", params={"course_ids": f"{chem},{phys},2941249999"})

    assert put.status_code == 207
    assert [r["response_code"] for r in put.json()["course"]] == [200, 400]
    assert deleted.status_code == 207
    assert [r["response_code"] for r in deleted.json()["course"]] == [200, 200, 404]
    assert schoology.state.courses() == []


def test_bulk_course_with_embedded_sections(schoology):
    period = schoology.create_grading_period()
    course = {
        "title": "History",
        "course_code": "HIST",
        "sections": {
            "section": [
                {"title": "H1", "section_school_code": "HIST-01", "grading_periods": [period]}
            ]
        },
    }

    response = schoology.post("courses", json={"courses": {"course": [course]}})

    assert response.status_code == 207
    result = response.json()["course"][0]
    assert result["response_code"] == 200
    assert result["sections"]["section"][0]["response_code"] == 200
    assert [s["section_school_code"] for s in schoology.state.sections()] == ["HIST-01"]


def test_bulk_sections_207_and_upsert(schoology):
    period = schoology.create_grading_period()
    course_id = schoology.create_course("ART")
    items = [
        {"title": "Art 1", "section_school_code": "ART-01", "grading_periods": [period]},
        {"title": "Art 2", "section_code": "2", "grading_periods": [period]},
        {"title": "Missing periods", "section_school_code": "ART-03"},
    ]

    first = schoology.post(f"courses/{course_id}/sections", json={"sections": {"section": items}})
    again = schoology.post(
        f"courses/{course_id}/sections",
        params={"update_existing": 1},
        json={"sections": {"section": items[:2]}},
    )
    without_flag = schoology.post(
        f"courses/{course_id}/sections", json={"sections": {"section": items[:2]}}
    )

    assert first.status_code == 207
    results = first.json()["section"]
    assert [r["response_code"] for r in results] == [200, 200, 400]
    assert results[0]["section_school_code"] == "ART-01"
    assert results[0]["grading_periods"] == [period]
    assert results[0]["location"] == schoology.url(f"sections/{results[0]['id']}")
    assert [r["response_code"] for r in again.json()["section"]] == [200, 200]
    assert [r["id"] for r in again.json()["section"]] == [r["id"] for r in results[:2]]
    assert [r["response_code"] for r in without_flag.json()["section"]] == [400, 400]
    assert len(schoology.state.sections()) == 2


def test_bulk_sections_put_and_delete(schoology):
    period = schoology.create_grading_period()
    course_id = schoology.create_course("MUS")
    first = schoology.create_section(course_id, "MUS-01", [period])
    second = schoology.create_section(course_id, "MUS-02", [period])

    put = schoology.put(
        "sections",
        json={
            "sections": {
                "section": [
                    {"id": first, "title": "Music 1"},
                    {"id": second, "section_school_code": "MUS-01"},
                ]
            }
        },
    )
    deleted = schoology.delete("sections", params={"section_ids": f"{first},{second}"})

    assert put.status_code == 207
    assert [r["response_code"] for r in put.json()["section"]] == [200, 400]
    assert deleted.status_code == 207
    assert [r["response_code"] for r in deleted.json()["section"]] == [200, 200]
    assert schoology.state.sections() == []


def test_bulk_enrollments_wrapped_twice(schoology):
    period = schoology.create_grading_period()
    section_id = schoology.create_section(schoology.create_course("ENB"), "ENB-01", [period])
    student = schoology.create_user("S-ENB")
    teacher = schoology.create_user("T-ENB", role="Teacher")
    items = [
        {"uid": student["uid"], "admin": 0, "status": 1},
        {"uid": "3199999999", "admin": 0, "status": 1},
        {"uid": teacher["uid"], "admin": 1, "status": 1},
        {"uid": student["uid"], "admin": 0, "status": 1},
    ]

    response = schoology.post(
        f"sections/{section_id}/enrollments", json={"enrollments": {"enrollment": items}}
    )

    assert response.status_code == 207
    results = response.json()["enrollments"]["enrollment"]
    assert [r["response_code"] for r in results] == [200, 400, 200, 400]
    assert results[0]["uid"] == student["id"]
    assert results[0]["location"] == schoology.url(
        f"sections/{section_id}/enrollments/{results[0]['id']}"
    )
    assert len(schoology.state.enrollments()) == 2


def test_bulk_enrollments_51_rejected(schoology):
    period = schoology.create_grading_period()
    section_id = schoology.create_section(schoology.create_course("E51"), "E51-01", [period])
    items = [{"uid": str(3100000001), "admin": 0, "status": 1}] * 51

    response = schoology.post(
        f"sections/{section_id}/enrollments", json={"enrollments": {"enrollment": items}}
    )

    assert response.status_code == 400


def test_multi_realm_enrollments(schoology):
    period = schoology.create_grading_period()
    course_id = schoology.create_course("MR")
    first = schoology.create_section(course_id, "MR-01", [period])
    second = schoology.create_section(course_id, "MR-02", [period])
    student = schoology.create_user("S-MR")
    member = {"uid": student["uid"], "admin": 0, "status": 1}
    items = [
        {"realm": "section", "section_id": first, **member},
        {"realm": "section", "section_id": second, **member},
        {"realm": "group", "group_id": 1, **member},
        {"realm": "section", "section_id": 2942199999, **member},
    ]

    response = schoology.post("enrollments", json={"enrollments": {"enrollment": items}})
    update = schoology.post(
        "enrollments",
        params={"update_existing": 1},
        json={"enrollments": {"enrollment": [{**items[0], "admin": 1}]}},
    )

    assert response.status_code == 207
    results = response.json()["enrollments"]["enrollment"]
    assert [r["response_code"] for r in results] == [200, 200, 400, 400]
    assert [r.get("realm_id") for r in results[:2]] == [first, second]
    assert update.json()["enrollments"]["enrollment"][0]["response_code"] == 200
    assert update.json()["enrollments"]["enrollment"][0]["id"] == results[0]["id"]
    assert [e["admin"] for e in schoology.state.enrollments()] == [1, 0]


def test_multi_realm_enrollments_51_rejected(schoology):
    items = [{"realm": "section", "section_id": 1, "uid": 1, "admin": 0, "status": 1}] * 51

    response = schoology.post("enrollments", json={"enrollments": {"enrollment": items}})

    assert response.status_code == 400


def test_bulk_enrollments_delete(schoology):
    period = schoology.create_grading_period()
    section_id = schoology.create_section(schoology.create_course("EDEL"), "EDEL-01", [period])
    enrollment_id = schoology.enroll(section_id, schoology.create_user("S-EDEL")["uid"])

    response = schoology.delete("enrollments", params={"enrollment_ids": f"{enrollment_id},1"})

    assert response.status_code == 207
    results = response.json()["enrollments"]["enrollment"]
    assert [r["response_code"] for r in results] == [200, 404]
    assert schoology.state.enrollments() == []
