"""Retry behaviour of the pipeline's HTTP clients against the sandbox Schoology's faults."""

from __future__ import annotations

import time

import pytest

from esp_pipeline.resources.http import RetryPolicy, SignedSession, WriteOutcomeUnknown
from esp_pipeline.resources.schoology import SchoologyClient
from esp_pipeline.sandbox.faults import FaultRule
from esp_pipeline.sandbox.schoology import SchoologyConfig, SchoologySandbox


@pytest.fixture
def sandbox():
    sandbox = SchoologySandbox(
        SchoologyConfig(consumer_key="key", consumer_secret="secret", rate_limit_capacity=0),
        buildings=[{"title": "North", "building_code": "N"}],
    )
    with sandbox.serve() as server:
        sandbox.base_url = server.url + "/v1"
        yield sandbox


def client_for(sandbox, **policy) -> SchoologyClient:
    session = SignedSession("key", "secret", timeout_seconds=2.0,
                            retry_policy=RetryPolicy(**policy))
    return SchoologyClient(sandbox.base_url, session)


def user(school_uid: str, role_id: int) -> dict:
    return {"school_uid": school_uid, "name_first": "Ada", "name_last": "Okafor",
            "primary_email": f"{school_uid}@example.org", "role_id": role_id}


def requests_to(sandbox, method: str, route: str) -> int:
    return sum(1 for r in sandbox.request_log.snapshot()
               if r.method == method and r.path.startswith(route))


def test_retry_after_is_honoured(sandbox):
    sandbox.faults.add(FaultRule("status", status=429, retry_after=2, route="/v1/roles", times=1))
    client = client_for(sandbox)

    started = time.monotonic()
    body = client.get("roles")

    assert time.monotonic() - started >= 2.0
    assert body["role"]
    assert requests_to(sandbox, "GET", "/v1/roles") == 2


def test_retry_after_is_capped(sandbox):
    sandbox.faults.add(FaultRule("status", status=429, retry_after=60, route="/v1/roles", times=1))
    client = client_for(sandbox, retry_after_max_seconds=0.5)

    started = time.monotonic()
    client.get("roles")

    assert time.monotonic() - started < 5.0


def test_backoff_is_capped(sandbox):
    sandbox.faults.add(FaultRule("status", status=503, route="/v1/roles", times=4))
    client = client_for(sandbox, max_attempts=5, backoff_initial_seconds=0.2,
                        backoff_max_seconds=0.3)

    started = time.monotonic()
    client.get("roles")

    assert time.monotonic() - started < 4 * 0.3 + 1.0
    assert requests_to(sandbox, "GET", "/v1/roles") == 5


def test_gives_up_after_max_attempts(sandbox):
    sandbox.faults.add(FaultRule("status", status=500, route="/v1/roles", times=10))
    client = client_for(sandbox, max_attempts=3, backoff_initial_seconds=0.01)

    with pytest.raises(Exception) as failure:
        client.get("roles")

    assert "HTTP 500" in str(failure.value)
    assert requests_to(sandbox, "GET", "/v1/roles") == 3


@pytest.mark.parametrize("kind", ["status_after", "drop_connection_after"])
def test_non_idempotent_write_is_not_repeated(sandbox, kind):
    sandbox.faults.add(FaultRule(kind, status=500, method="POST", route="/v1/users", times=1))
    client = client_for(sandbox, backoff_initial_seconds=0.01)
    role = sandbox.state.role_id("Student")

    with pytest.raises(WriteOutcomeUnknown):
        client.session.request("POST", client.url("users"), json=user("S-1", role),
                               idempotent=False)

    assert requests_to(sandbox, "POST", "/v1/users") == 1
    assert sandbox.state.find_user(school_uid="S-1") is not None


def test_refused_write_is_sent_again(sandbox):
    sandbox.faults.add(FaultRule("status", status=429, retry_after=1, method="POST",
                                 route="/v1/users", times=1))
    client = client_for(sandbox)
    role = sandbox.state.role_id("Student")

    client.session.request("POST", client.url("users"), json=user("S-2", role), idempotent=False)

    assert requests_to(sandbox, "POST", "/v1/users") == 2
    matches = [u for u in sandbox.state.users() if u["school_uid"] == "S-2"]
    assert len(matches) == 1


def test_keyed_bulk_create_survives_lost_answer(sandbox):
    sandbox.faults.add(FaultRule("drop_connection_after", method="POST", route="/v1/users",
                                 times=1))
    client = client_for(sandbox, backoff_initial_seconds=0.01)
    role = sandbox.state.role_id("Student")
    items = [user(f"S-{n}", role) for n in range(10, 15)]

    results = list(client.bulk("POST", "users", items, request_keys=("users", "user"),
                               response_keys=("user",), params={"update_existing": 1},
                               idempotent=True))

    assert [r.response_code for r in results] == [200] * 5
    created = [u for u in sandbox.state.users() if u["school_uid"].startswith("S-1")]
    assert len(created) == 5
