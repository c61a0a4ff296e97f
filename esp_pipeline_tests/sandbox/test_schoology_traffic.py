"""Rate limiting, the request log and deterministic ids of the sandbox Schoology server."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from esp_pipeline.sandbox.schoology import SchoologyConfig, SchoologySandbox


def test_rate_limit_answers_429(schoology_factory):
    client = schoology_factory(rate_limit_capacity=5, rate_limit_refill_seconds=60)

    statuses = [client.get("roles").status_code for _ in range(6)]
    limited = client.get("roles")

    assert statuses == [200] * 5 + [429]
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["response_code"] == 429
    assert limited.headers["X-Schoology"] == "API"


def test_rate_limit_writes_cost_three(schoology_factory):
    client = schoology_factory(rate_limit_capacity=5, rate_limit_refill_seconds=60)

    dates = {"start": "2025-01-01", "end": "2025-06-30"}

    first = client.post("gradingperiods", json={"title": "A", **dates})
    second = client.post("gradingperiods", json={"title": "B", **dates})
    read = client.get("gradingperiods")

    assert first.status_code == 201
    assert second.status_code == 429
    assert read.status_code == 200


def test_rate_limit_refills(schoology_factory):
    client = schoology_factory(rate_limit_capacity=1, rate_limit_refill_seconds=0.2)

    first = client.get("roles")
    limited = client.get("roles")
    time.sleep(0.25)
    refilled = client.get("roles")

    assert first.status_code == 200
    assert limited.status_code == 429
    assert refilled.status_code == 200


def test_rate_limit_off_by_zero_capacity(schoology):
    statuses = {schoology.get("roles").status_code for _ in range(60)}

    assert statuses == {200}


def test_request_log_records_routes(schoology):
    user = schoology.create_user("LOG-1")
    items = [schoology.user_body(f"LOG-B{number}") for number in range(3)]
    schoology.post("users", json={"users": {"user": items}})
    schoology.get(f"users/{user['id']}")
    schoology.delete("users", params={"uids": f"{user['id']},1,2"})
    schoology.get("users/404404")

    records = schoology.sandbox.request_log.snapshot()

    assert [(r.method, r.route, r.status, r.items) for r in records] == [
        ("POST", "/v1/users", 201, 1),
        ("POST", "/v1/users", 207, 3),
        ("GET", "/v1/users/<id>", 200, 0),
        ("DELETE", "/v1/users", 207, 3),
        ("GET", "/v1/users/<id>", 404, 0),
    ]
    assert records[2].path == f"/v1/users/{user['id']}"
    assert all(r.consumer_key == schoology.sandbox.config.consumer_key for r in records)
    assert all(r.latency_ms >= 0 for r in records)
    assert len(schoology.sandbox.request_log.writes()) == 3


def test_request_log_route_templates(schoology):
    period = schoology.create_grading_period()
    section_id = schoology.create_section(schoology.create_course("TPL"), "TPL-01", [period])
    enrollment_id = schoology.enroll(section_id, schoology.create_user("S-TPL")["uid"])
    schoology.get(f"sections/{section_id}/enrollments/{enrollment_id}")
    schoology.get("users/ext/S-TPL")

    routes = [r.route for r in schoology.sandbox.request_log.snapshot()]

    assert "/v1/courses/<id>/sections" in routes
    assert "/v1/sections/<id>/enrollments/<eid>" in routes
    assert "/v1/users/ext/<school_uid>" in routes


def test_request_log_keeps_rejections(schoology_factory):
    client = schoology_factory(rate_limit_capacity=1, rate_limit_refill_seconds=60)
    client.get("roles")
    client.get("roles")
    client.session.auth = None
    client.get("roles")

    statuses = [r.status for r in client.sandbox.request_log.snapshot()]

    assert statuses == [200, 429, 401]


def build_and_load() -> tuple[SchoologySandbox, list[int]]:
    """Build a sandbox and create one object of each kind through the store."""
    sandbox = SchoologySandbox(
        SchoologyConfig(rate_limit_capacity=0),
        buildings=[
            {"title": "City High School", "building_code": "02M800"},
            {"title": "Riverside Middle School", "building_code": "02M400"},
        ],
    )
    state = sandbox.state
    with state.lock:
        period = state.create_grading_period(
            {"title": "Y", "start": "2025-08-01", "end": "2026-06-30"}
        )
        course, _ = state.create_course({"title": "C", "course_code": "C"})
        section, _ = state.create_section(
            course["id"], {"title": "S", "section_code": "1", "grading_periods": [period["id"]]}
        )
        user, _ = state.create_user(
            {
                "school_uid": "U",
                "name_first": "A",
                "name_last": "B",
                "username": "ab",
                "role_id": state.role_id("Student"),
            }
        )
        enrollment, _ = state.create_enrollment(
            section["id"], {"uid": user["id"], "admin": 0, "status": 1}
        )
    ids = [period["id"], course["id"], section["id"], user["id"], enrollment["id"]]
    return sandbox, ids


def test_ids_deterministic_across_sandboxes():
    first, first_ids = build_and_load()
    second, second_ids = build_and_load()

    assert first_ids == second_ids
    assert first.state.buildings() == second.state.buildings()
    assert first.state.roles() == second.state.roles()
    assert first.state.users() == second.state.users()


def test_documented_id_values():
    sandbox, ids = build_and_load()

    assert sandbox.state.school()["id"] == 2908525001
    assert sandbox.state.building_ids_by_code() == {"02M800": 2908525002, "02M400": 2908525003}
    role_ids = [role["id"] for role in sandbox.state.roles()]
    assert role_ids == [796381001, 796381002, 796381003, 796381004]
    assert sandbox.state.admin_uid == 3100000001
    assert ids == [822639001, 2941242001, 2942191001, 3100000002, 2385759001]


def test_ids_deterministic_over_http(schoology_factory):
    results = []
    for _ in range(2):
        client = schoology_factory()
        user = client.create_user("HTTP-1")
        course = client.create_course("HTTP-C")
        results.append((user["id"], course))

    assert results[0] == results[1]


def test_state_persists_across_servers(schoology_factory):
    client = schoology_factory()
    client.create_user("KEEP-1")
    sandbox = client.sandbox

    with sandbox.serve(port=0) as server:
        listing = client.session.get(server.url + "/v1/users", timeout=10).json()

    assert [u["school_uid"] for u in listing["user"]] == [sandbox.config.admin_school_uid, "KEEP-1"]


def test_concurrent_bulk_writes_are_consistent(schoology):
    def post_batch(batch: int) -> list[int]:
        items = [schoology.user_body(f"CC-{batch}-{number}") for number in range(20)]
        response = schoology.post("users", json={"users": {"user": items}})
        assert response.status_code == 207
        return [int(result["id"]) for result in response.json()["user"]]

    with ThreadPoolExecutor(max_workers=8) as pool:
        batches = list(pool.map(post_batch, range(8)))

    ids = [user_id for batch in batches for user_id in batch]
    assert len(ids) == 160
    assert len(set(ids)) == 160
    assert sorted(ids) == list(range(3100000002, 3100000162))
    assert len(schoology.state.users()) == 161
