"""Paging of sandbox Schoology collections: start/limit, the 200 cap and absolute next links."""

from __future__ import annotations

import pytest
from urllib.parse import parse_qs, urlsplit


def seed_students(client, count: int) -> None:
    """Create `count` students directly in the store; paging tests need many rows quickly."""
    state = client.state
    with state.lock:
        for number in range(count):
            state.create_user(
                {
                    "school_uid": f"P-{number:04d}",
                    "name_first": "Pat",
                    "name_last": f"Student{number}",
                    "role_id": state.role_id("Student"),
                    "username": f"pat{number}",
                }
            )


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_default_page_is_20(schoology):
    seed_students(schoology, 30)

    body = schoology.get("users").json()

    assert len(body["user"]) == 20
    assert body["total"] == "31"
    assert query(body["links"]["self"]) == {"start": ["0"], "limit": ["20"]}
    assert query(body["links"]["next"]) == {"start": ["20"], "limit": ["20"]}


def test_limit_above_200_is_capped(schoology):
    seed_students(schoology, 250)

    response = schoology.get("users", params={"limit": 500})

    assert response.status_code == 200
    body = response.json()
    assert len(body["user"]) == 200
    assert body["total"] == "251"
    assert query(body["links"]["next"]) == {"start": ["200"], "limit": ["200"]}


def test_next_link_is_absolute_and_followable(schoology):
    seed_students(schoology, 44)
    seen = []
    url = schoology.url("users?limit=20")

    while url:
        response = schoology.session.get(url, timeout=10)
        assert response.status_code == 200
        body = response.json()
        seen.extend(user["school_uid"] for user in body["user"])
        url = body["links"].get("next")
        if url:
            assert url.startswith(schoology.server_url + "/v1/users?")

    assert len(seen) == 45
    assert len(set(seen)) == 45


def test_last_page_has_no_next(schoology):
    seed_students(schoology, 39)

    last = schoology.get("users", params={"start": 20, "limit": 20}).json()
    beyond = schoology.get("users", params={"start": 60, "limit": 20}).json()

    assert len(last["user"]) == 20
    assert "next" not in last["links"]
    assert beyond["user"] == []
    assert "next" not in beyond["links"]


def test_rows_ordered_by_id(schoology):
    seed_students(schoology, 25)

    first = schoology.get("users", params={"limit": 10}).json()["user"]
    second = schoology.get("users", params={"start": 10, "limit": 10}).json()["user"]
    ids = [user["id"] for user in first + second]

    assert ids == sorted(ids)


def test_next_keeps_filters(schoology):
    seed_students(schoology, 25)
    role_id = schoology.role_id("Student")

    body = schoology.get("users", params={"role_ids": role_id, "limit": 10}).json()

    assert query(body["links"]["next"])["role_ids"] == [str(role_id)]


def test_empty_page_key_can_be_omitted(schoology_factory):
    client = schoology_factory(omit_key_on_empty_page=True)

    body = client.get("courses").json()

    assert "course" not in body
    assert body["total"] == "0"


def test_enrollments_paged(schoology):
    seed_students(schoology, 25)
    period = schoology.create_grading_period()
    section_id = schoology.create_section(schoology.create_course("PAGE-1"), "PAGE-1-01", [period])
    students = [u for u in schoology.state.users() if u["school_uid"].startswith("P-")]
    items = [{"uid": str(u["id"]), "admin": 0, "status": 1} for u in students]
    response = schoology.post(
        f"sections/{section_id}/enrollments", json={"enrollments": {"enrollment": items}}
    )
    assert response.status_code == 207

    body = schoology.get(f"sections/{section_id}/enrollments").json()

    assert len(body["enrollment"]) == 20
    assert body["total"] == "25"
    assert "next" in body["links"]


def test_grading_periods_total_is_number(schoology):
    schoology.create_grading_period("Q1")
    schoology.create_grading_period("Q2")

    body = schoology.get("gradingperiods").json()

    assert body["total"] == 2
    assert [p["title"] for p in body["gradingperiods"]] == ["Q1", "Q2"]


@pytest.mark.parametrize("params", [{"start": "-1"}, {"start": "abc"}, {"limit": "ten"}])
def test_invalid_paging_is_400(schoology, params):
    response = schoology.get("users", params=params)

    assert response.status_code == 400
