"""The pipeline's eSchoolPLUS client against the sandbox, with each authentication method."""

from __future__ import annotations

import time

import pytest

from esp_pipeline.resources.eschoolplus import ESchoolPlusResource
from esp_pipeline.sandbox.districts import generate_district
from esp_pipeline.sandbox.eschoolplus import ESchoolPlusConfig, ESchoolPlusSandbox


@pytest.fixture(scope="module")
def district():
    return generate_district(seed=3, schools=1, students=40, school_year=2027)


def serve(district, **config):
    sandbox = ESchoolPlusSandbox(
        district, ESchoolPlusConfig(consumer_key="key", consumer_secret="secret", **config)
    )
    return sandbox, sandbox.serve()


def token_requests(sandbox) -> int:
    return sum(1 for r in sandbox.request_log.snapshot() if r.path.endswith("/oauth/token"))


@pytest.mark.parametrize("method", ["HMAC-SHA1", "HMAC-SHA256"])
def test_signed_client_reads_every_user(district, method):
    sandbox, server = serve(district, signature_method=method)
    with server:
        resource = ESchoolPlusResource(base_url=server.url + sandbox.oneroster_path,
                                       consumer_key="key", consumer_secret="secret",
                                       signature_method=method, page_size=7)
        users = resource.get_client().get_all("users", "users")
    assert {u["sourcedId"] for u in users} == {u.sourced_id for u in district.users}


def test_bearer_client_renews_expired_token(district):
    sandbox, server = serve(district, auth_method="oauth2", oauth2_token_lifetime_seconds=1)
    with server:
        resource = ESchoolPlusResource(
            base_url=server.url + sandbox.oneroster_path, consumer_key="key",
            consumer_secret="secret", auth_method="oauth2",
            token_url=server.url + sandbox.config.token_path, page_size=10,
        )
        client = resource.get_client()
        first = client.get_all("users", "users")
        time.sleep(1.5)
        second = client.get_all("classes", "classes")
    assert {u["sourcedId"] for u in first} == {u.sourced_id for u in district.users}
    assert {c["sourcedId"] for c in second} == {c.sourced_id for c in district.classes}
    assert token_requests(sandbox) == 2


def test_bearer_client_needs_token_url():
    resource = ESchoolPlusResource(base_url="http://127.0.0.1:9/x", consumer_key="key",
                                   consumer_secret="secret", auth_method="oauth2")
    with pytest.raises(ValueError) as failure:
        resource.get_client()
    assert "ESCHOOLPLUS_TOKEN_URL" in str(failure.value)
