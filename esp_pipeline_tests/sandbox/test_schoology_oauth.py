"""OAuth 1.0a behaviour of the sandbox Schoology server, exercised over real HTTP."""

from __future__ import annotations

import time

import requests
import schoolopy
from oauthlib.oauth1 import SIGNATURE_PLAINTEXT, Client
from requests_oauthlib import OAuth1

from esp_pipeline.sandbox.oauth1 import REPLAY_MESSAGE

# Worked example of Schoology's HMAC-SHA1 signing: GET https://api.schoology.com/v1/users
# ?start=0&limit=200 with an empty oauth_token yields this signature.
WORKED_EXAMPLE_HEADER = (
    'OAuth realm="Schoology API", oauth_consumer_key="ck_test", oauth_token="", '
    'oauth_nonce="abc123", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA1", '
    'oauth_version="1.0", oauth_signature="hc0vKw%2FLA4nW2GohMTxF%2Byvo3Kc%3D"'
)


def sign(client, method: str, path: str, **client_options) -> dict:
    """Return headers signed by oauthlib for one request to the sandbox."""
    config = client.sandbox.config
    signer = Client(config.consumer_key, client_secret=config.consumer_secret, **client_options)
    _, headers, _ = signer.sign(client.url(path), http_method=method)
    return headers


def test_worked_hmac_example_verifies(schoology_factory):
    client = schoology_factory(
        consumer_key="ck_test",
        consumer_secret="cs_test",
        oauth_past_window_seconds=10**10,
    )
    headers = {"Authorization": WORKED_EXAMPLE_HEADER, "Host": "api.schoology.com"}

    response = requests.get(client.url("users?start=0&limit=200"), headers=headers, timeout=10)

    assert response.status_code == 200, response.text
    assert response.json()["user"][0]["uid"] == str(client.state.users()[0]["id"])


def test_worked_hmac_example_wrong_signature(schoology_factory):
    client = schoology_factory(
        consumer_key="ck_test", consumer_secret="cs_test", oauth_past_window_seconds=10**10
    )
    header = WORKED_EXAMPLE_HEADER.replace("hc0vKw", "hc0vKX")

    response = requests.get(
        client.url("users?start=0&limit=200"),
        headers={"Authorization": header, "Host": "api.schoology.com"},
        timeout=10,
    )

    assert response.status_code == 401
    assert response.json() == {"response_code": 401, "message": "invalid signature"}


def test_worked_hmac_example_signed_other_url(schoology_factory):
    client = schoology_factory(
        consumer_key="ck_test", consumer_secret="cs_test", oauth_past_window_seconds=10**10
    )

    response = requests.get(
        client.url("users?start=0&limit=100"),
        headers={"Authorization": WORKED_EXAMPLE_HEADER, "Host": "api.schoology.com"},
        timeout=10,
    )

    assert response.status_code == 401
    assert response.json()["message"] == "invalid signature"


def test_wrong_secret_rejected(schoology):
    auth = OAuth1(schoology.sandbox.config.consumer_key, "not-the-secret")

    response = requests.get(schoology.url("users"), auth=auth, timeout=10)

    assert response.status_code == 401
    assert response.headers["X-Schoology"] == "API"
    assert response.json()["message"] == "invalid signature"


def test_unknown_key_rejected(schoology):
    auth = OAuth1("someone-else", schoology.sandbox.config.consumer_secret)

    response = requests.get(schoology.url("users"), auth=auth, timeout=10)

    assert response.status_code == 401
    assert response.json()["message"] == "unknown consumer key"


def test_missing_header_rejected(schoology):
    response = requests.get(schoology.url("users"), timeout=10)

    assert response.status_code == 401
    assert response.json()["response_code"] == 401


def test_replayed_nonce_rejected(schoology):
    headers = sign(schoology, "GET", "roles")

    first = requests.get(schoology.url("roles"), headers=headers, timeout=10)
    second = requests.get(schoology.url("roles"), headers=headers, timeout=10)

    assert first.status_code == 200
    assert second.status_code == 401
    assert second.json()["message"] == REPLAY_MESSAGE


def test_backwards_timestamp_rejected(schoology):
    now = int(time.time())
    newer = sign(schoology, "GET", "roles", timestamp=str(now), nonce="nonce-newer")
    older = sign(schoology, "GET", "roles", timestamp=str(now - 30), nonce="nonce-older")

    first = requests.get(schoology.url("roles"), headers=newer, timeout=10)
    second = requests.get(schoology.url("roles"), headers=older, timeout=10)

    assert first.status_code == 200
    assert second.status_code == 401
    assert "earlier" in second.json()["message"]


def test_plaintext_with_raw_ampersand(schoology):
    config = schoology.sandbox.config
    header = (
        f'OAuth realm="", oauth_consumer_key="{config.consumer_key}", oauth_token="", '
        f'oauth_nonce="n{time.time_ns()}", oauth_timestamp="{int(time.time())}", '
        f'oauth_signature_method="PLAINTEXT", oauth_version="1.0", '
        f'oauth_signature="{config.consumer_secret}&"'
    )

    response = requests.get(schoology.url("roles"), headers={"Authorization": header}, timeout=10)

    assert response.status_code == 200, response.text


def test_plaintext_rejected_when_disabled(schoology_factory):
    client = schoology_factory(signature_methods=("HMAC-SHA1",))
    headers = sign(client, "GET", "roles", signature_method=SIGNATURE_PLAINTEXT)

    response = requests.get(client.url("roles"), headers=headers, timeout=10)

    assert response.status_code == 401
    assert "PLAINTEXT" in response.json()["message"]


def test_ext_lookup_answers_303(schoology):
    user = schoology.create_user("S-303")

    response = schoology.get("users/ext/S-303")

    assert response.status_code == 303
    assert response.headers["Location"] == schoology.url(f"users/{user['id']}")


def test_redirect_with_resent_header_is_replay(schoology):
    schoology.create_user("S-REDIRECT")
    headers = sign(schoology, "GET", "users/ext/S-REDIRECT")

    response = requests.get(
        schoology.url("users/ext/S-REDIRECT"), headers=headers, allow_redirects=True, timeout=10
    )

    assert [step.status_code for step in response.history] == [303]
    assert response.status_code == 401
    assert response.json()["message"] == REPLAY_MESSAGE


def test_redirect_signed_again_succeeds(schoology):
    user = schoology.create_user("S-RESIGN")

    redirect = schoology.get("users/ext/S-RESIGN")
    followed = schoology.session.get(redirect.headers["Location"], timeout=10)

    assert followed.status_code == 200
    assert followed.json()["school_uid"] == "S-RESIGN"
    assert followed.json()["id"] == user["id"]


def test_users_me_redirects_to_key_owner(schoology):
    response = schoology.get("users/me")

    assert response.status_code == 303
    admin_uid = schoology.sandbox.state.admin_uid
    assert response.headers["Location"] == schoology.url(f"users/{admin_uid}")


def test_requests_oauthlib_with_json_body(schoology):
    # requests-oauthlib leaves a JSON body out of the signature, as Schoology expects.
    body = schoology.user_body("S-JSON")

    response = schoology.post("users", json=body)

    assert response.status_code == 201, response.text
    assert response.json()["school_uid"] == "S-JSON"


def test_schoolopy_lists_users_and_sections(schoology):
    grading_period = schoology.create_grading_period()
    course_id = schoology.create_course("SPY-1")
    section_id = schoology.create_section(course_id, "SPY-1-01", [grading_period])
    schoology.create_user("S-SPY")
    config = schoology.sandbox.config
    api = schoolopy.Schoology(
        schoolopy.Auth(config.consumer_key, config.consumer_secret),
        api_host=schoology.server_url + "/v1/",
    )

    users = api.get_users()
    sections = api.get_course_sections(course_id)

    assert sorted(user["school_uid"] for user in users) == ["S-SPY", config.admin_school_uid]
    assert [section["id"] for section in sections] == [section_id]


def test_schoolopy_plaintext_header_accepted(schoology):
    config = schoology.sandbox.config
    auth = schoolopy.Auth(config.consumer_key, config.consumer_secret)

    response = requests.get(schoology.url("roles"), headers=auth._request_header(), timeout=10)

    assert response.status_code == 200, response.text
    assert [role["title"] for role in response.json()["role"]] == [
        "Student",
        "Teacher",
        "Parent",
        "School Admin",
    ]
