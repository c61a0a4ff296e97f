"""Consumer profiles on the eSchoolPLUS sandbox: OAuth 1.0a HMAC-SHA1 or HMAC-SHA256, and OAuth 2.0
client credentials with scopes, over real HTTP."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from urllib.parse import quote_plus

import pytest
import requests
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256
from requests_oauthlib import OAuth1

from esp_pipeline.sandbox.districts import generate_district
from esp_pipeline.sandbox.eschoolplus import (
    GRADEBOOK_CREATEPUT,
    GRADEBOOK_DELETE,
    GRADEBOOK_READONLY,
    ROSTER_READONLY,
    ConsumerProfile,
    ESchoolPlusConfig,
    ESchoolPlusSandbox,
)

SHA1_KEY, SHA1_SECRET = "OneRoster_SHA1", "sha1-secret"
SHA256_KEY, SHA256_SECRET = "OneRoster_SHA256", "sha256-secret"
OAUTH2_KEY, OAUTH2_SECRET = "OneRoster_OAUTH2", "oauth2 secret:with/odd+chars"
ROSTER_ONLY_KEY, ROSTER_ONLY_SECRET = "OneRoster_ROSTER", "roster-secret"

Get = Callable[..., requests.Response]


def make_sandbox(**overrides) -> ESchoolPlusSandbox:
    district = generate_district(seed=1, schools=2, students=30, teachers=6, school_year=2026)
    settings = {
        "consumer_key": SHA1_KEY,
        "consumer_secret": SHA1_SECRET,
        "profiles": [
            ConsumerProfile(SHA256_KEY, SHA256_SECRET, signature_method="HMAC-SHA256"),
            ConsumerProfile(OAUTH2_KEY, OAUTH2_SECRET, auth_method="oauth2"),
            ConsumerProfile(
                ROSTER_ONLY_KEY, ROSTER_ONLY_SECRET, auth_method="oauth2", scopes=(ROSTER_READONLY,)
            ),
        ],
    }
    settings.update(overrides)
    return ESchoolPlusSandbox(district, ESchoolPlusConfig(**settings))


@pytest.fixture(scope="module")
def served():
    """A sandbox with SHA1, SHA256 and OAuth 2.0 profiles that no test changes."""
    sandbox = make_sandbox()
    with sandbox.serve() as server:
        yield sandbox, server.url


def oneroster(sandbox: ESchoolPlusSandbox, url: str) -> str:
    return url + sandbox.oneroster_path


def token_url(sandbox: ESchoolPlusSandbox, url: str) -> str:
    return url + sandbox.config.token_path


def fetch_token(
    sandbox: ESchoolPlusSandbox, url: str, key: str, secret: str, scopes: list[str] | None = None
) -> requests.Response:
    """Request a client credentials token, authenticating with HTTP Basic."""
    data = {"grant_type": "client_credentials"}
    if scopes is not None:
        data["scope"] = " ".join(scopes)
    return requests.post(token_url(sandbox, url), data=data, auth=(key, secret), timeout=30)


def bearer_get(token: str) -> Get:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return lambda url, **kwargs: session.get(url, timeout=30, **kwargs)


def oauth1_get(key: str, secret: str, method: str) -> Get:
    auth = OAuth1(key, secret, signature_method=method)
    return lambda url, **kwargs: requests.get(url, auth=auth, timeout=30, **kwargs)


def status_description(response: requests.Response) -> str:
    entry = response.json()["statusInfoSet"][0]
    assert entry["imsx_codeMajor"] == "failure"
    return entry["imsx_description"]


def status_minor(response: requests.Response) -> str:
    entry = response.json()["statusInfoSet"][0]
    return entry["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"]


# --- paging through every rostering endpoint --------------------------------------------------------


def page_through(get: Get, url: str, envelope: str, limit: int) -> list[dict]:
    """Fetch every page of a collection; check the pages neither overlap nor miss items."""
    items: list[dict] = []
    offset = 0
    while True:
        response = get(url, params={"limit": limit, "offset": offset})
        assert response.status_code == 200, (url, response.text)
        total = int(response.headers["X-Total-Count"])
        items.extend(response.json()[envelope])
        offset += limit
        if offset >= total:
            break
    ids = [item["sourcedId"] for item in items]
    assert len(ids) == total, url
    assert len(set(ids)) == total, url
    return items


def crawl_rostering(sandbox: ESchoolPlusSandbox, root: str, get: Get) -> int:
    """Page through every rostering collection, top-level and nested under each parent, and
    check that each union of ids equals the district. Returns the number of collections read."""
    district = sandbox.district
    store = sandbox.store
    schools = {s.sourced_id for s in district.schools}
    grading_periods = set(store.grading_period_ids)
    terms = {s.sourced_id for s in district.sessions if s.type == "term"}
    sessions = {s.sourced_id for s in district.sessions} | grading_periods
    courses = {c.sourced_id for c in district.courses}
    classes = {c.sourced_id for c in district.classes}
    students = {u.sourced_id for u in district.users if u.role == "student"}
    teachers = {u.sourced_id for u in district.users if u.role == "teacher"}
    enrollments = {e.sourced_id: e for e in district.enrollments}
    student_pairs = {(e.class_id, e.user_id) for e in enrollments.values() if e.role == "student"}
    teacher_pairs = {(e.class_id, e.user_id) for e in enrollments.values() if e.role == "teacher"}
    assert grading_periods
    reads = 0

    def ids(path: str, envelope: str, limit: int = 7) -> set[str]:
        nonlocal reads
        reads += 1
        return {item["sourcedId"] for item in page_through(get, f"{root}/{path}", envelope, limit)}

    top_level = [
        ("orgs", "orgs", schools | {district.org.sourced_id}),
        ("schools", "orgs", schools),
        ("academicSessions", "academicSessions", sessions),
        ("terms", "academicSessions", terms),
        ("gradingPeriods", "academicSessions", grading_periods),
        ("courses", "courses", courses),
        ("classes", "classes", classes),
        ("users", "users", students | teachers),
        ("students", "users", students),
        ("teachers", "users", teachers),
        ("enrollments", "enrollments", set(enrollments)),
    ]
    for path, envelope, expected in top_level:
        assert ids(path, envelope) == expected, path
        first = sorted(expected)[0]
        single = get(f"{root}/{path}/{first}")
        assert single.status_code == 200, (path, single.text)

    per_school = [
        ("terms", "academicSessions", terms),
        ("courses", "courses", courses),
        ("classes", "classes", classes),
        ("students", "users", students),
        ("teachers", "users", teachers),
        ("enrollments", "enrollments", set(enrollments)),
    ]
    for path, envelope, expected in per_school:
        union = set().union(*(ids(f"schools/{s}/{path}", envelope) for s in schools))
        assert union == expected, f"schools/*/{path}"

    assert set().union(*(ids(f"terms/{t}/classes", "classes") for t in terms)) == classes
    assert (
        set().union(*(ids(f"terms/{t}/gradingPeriods", "academicSessions") for t in terms))
        == grading_periods
    )
    assert set().union(*(ids(f"courses/{c}/classes", "classes") for c in courses)) == classes

    class_students, class_teachers, class_enrollments = set(), set(), set()
    for school_class in district.classes:
        cid, sid = school_class.sourced_id, school_class.school_id
        class_students |= {(cid, u) for u in ids(f"classes/{cid}/students", "users")}
        class_teachers |= {(cid, u) for u in ids(f"classes/{cid}/teachers", "users")}
        in_school = ids(f"schools/{sid}/classes/{cid}/students", "users")
        assert in_school == {u for c, u in class_students if c == cid}
        in_school = ids(f"schools/{sid}/classes/{cid}/teachers", "users")
        assert in_school == {u for c, u in class_teachers if c == cid}
        class_enrollments |= ids(f"schools/{sid}/classes/{cid}/enrollments", "enrollments")
    assert class_students == student_pairs
    assert class_teachers == teacher_pairs
    assert class_enrollments == set(enrollments)

    user_pairs = set()
    for user in district.users:
        by_role = "students" if user.role == "student" else "teachers"
        user_classes = ids(f"users/{user.sourced_id}/classes", "classes")
        assert ids(f"{by_role}/{user.sourced_id}/classes", "classes") == user_classes
        user_pairs |= {(c, user.sourced_id) for c in user_classes}
    assert user_pairs == student_pairs | teacher_pairs
    return reads


def test_sha256_client_pages_every_rostering_endpoint(served):
    sandbox, url = served
    get = oauth1_get(SHA256_KEY, SHA256_SECRET, SIGNATURE_HMAC_SHA256)
    reads = crawl_rostering(sandbox, oneroster(sandbox, url), get)
    assert reads > 100
    statuses = {r.status for r in sandbox.request_log.snapshot() if r.consumer_key == SHA256_KEY}
    assert statuses == {200}


def test_oauth2_client_pages_every_rostering_endpoint(served):
    sandbox, url = served
    response = fetch_token(sandbox, url, OAUTH2_KEY, OAUTH2_SECRET, [ROSTER_READONLY])
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3600
    assert token["scope"] == ROSTER_READONLY
    reads = crawl_rostering(sandbox, oneroster(sandbox, url), bearer_get(token["access_token"]))
    assert reads > 100


# --- OAuth 2.0 tokens -------------------------------------------------------------------------------


def test_token_with_form_credentials(served):
    sandbox, url = served
    response = requests.post(
        token_url(sandbox, url),
        data={"grant_type": "client_credentials", "client_id": OAUTH2_KEY,
              "client_secret": OAUTH2_SECRET},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert set(response.json()["scope"].split()) == {
        ROSTER_READONLY, GRADEBOOK_READONLY, GRADEBOOK_CREATEPUT, GRADEBOOK_DELETE
    }
    users = bearer_get(response.json()["access_token"])(oneroster(sandbox, url) + "/users")
    assert users.status_code == 200


def test_token_with_form_encoded_basic_auth(served):
    sandbox, url = served
    # RFC 6749 section 2.3.1: the id and secret are form-encoded before Base64.
    credentials = f"{quote_plus(OAUTH2_KEY)}:{quote_plus(OAUTH2_SECRET)}"
    header = "Basic " + base64.b64encode(credentials.encode()).decode()
    response = requests.post(
        token_url(sandbox, url), data={"grant_type": "client_credentials"},
        headers={"Authorization": header}, timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["access_token"]


@pytest.mark.parametrize(
    ("key", "secret", "scopes", "status", "error"),
    [
        (OAUTH2_KEY, "wrong", None, 401, "invalid_client"),
        ("nobody", "x", None, 401, "invalid_client"),
        (SHA1_KEY, SHA1_SECRET, None, 400, "unauthorized_client"),
        (ROSTER_ONLY_KEY, ROSTER_ONLY_SECRET, [GRADEBOOK_READONLY], 400, "invalid_scope"),
        (OAUTH2_KEY, OAUTH2_SECRET, ["https://example.org/scope/other"], 400, "invalid_scope"),
    ],
)
def test_token_request_rejected(served, key, secret, scopes, status, error):
    sandbox, url = served
    response = fetch_token(sandbox, url, key, secret, scopes)
    assert response.status_code == status
    assert response.json()["error"] == error


def test_token_request_needs_client_credentials_grant(served):
    sandbox, url = served
    response = requests.post(
        token_url(sandbox, url), data={"grant_type": "password"},
        auth=(OAUTH2_KEY, OAUTH2_SECRET), timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_expired_token_rejected():
    sandbox = make_sandbox(oauth2_token_lifetime_seconds=1)
    with sandbox.serve() as server:
        token = fetch_token(sandbox, server.url, OAUTH2_KEY, OAUTH2_SECRET).json()
        assert token["expires_in"] == 1
        get = bearer_get(token["access_token"])
        users_url = oneroster(sandbox, server.url) + "/users"
        assert get(users_url).status_code == 200
        time.sleep(1.1)
        expired = get(users_url)
    assert expired.status_code == 401
    assert status_minor(expired) == "unauthorized"
    assert status_description(expired) == "OAuth 2.0 check failed: bearer token expired"
    assert expired.headers["WWW-Authenticate"].startswith('Bearer realm="PLUS360", error="invalid_token"')


def test_unknown_bearer_token_rejected(served):
    sandbox, url = served
    response = bearer_get("not-a-token")(oneroster(sandbox, url) + "/users")
    assert response.status_code == 401
    assert status_description(response) == "OAuth 2.0 check failed: unknown bearer token"


# --- scopes -----------------------------------------------------------------------------------------


def test_roster_scope_cannot_read_gradebook(served):
    sandbox, url = served
    token = fetch_token(sandbox, url, OAUTH2_KEY, OAUTH2_SECRET, [ROSTER_READONLY]).json()
    get = bearer_get(token["access_token"])
    root = oneroster(sandbox, url)
    assert get(f"{root}/classes").status_code == 200
    response = get(f"{root}/lineItems")
    assert response.status_code == 403
    assert status_minor(response) == "forbidden"
    assert status_description(response) == f"this request needs the scope {GRADEBOOK_READONLY}"


def test_gradebook_scopes_enforced_per_method(served):
    sandbox, url = served
    root = oneroster(sandbox, url)
    reader = fetch_token(sandbox, url, OAUTH2_KEY, OAUTH2_SECRET, [GRADEBOOK_READONLY]).json()
    headers = {"Authorization": f"Bearer {reader['access_token']}"}
    assert requests.get(f"{root}/categories", headers=headers, timeout=30).status_code == 200
    assert requests.get(f"{root}/users", headers=headers, timeout=30).status_code == 403
    put = requests.put(f"{root}/lineItems/li-x", json={"lineItem": {}}, headers=headers, timeout=30)
    assert put.status_code == 403
    assert GRADEBOOK_CREATEPUT in status_description(put)

    writer = fetch_token(
        sandbox, url, OAUTH2_KEY, OAUTH2_SECRET, [GRADEBOOK_READONLY, GRADEBOOK_CREATEPUT]
    ).json()
    headers = {"Authorization": f"Bearer {writer['access_token']}"}
    school_class = next(c for c in sandbox.district.classes if c.term_ids)
    term = sandbox.store.sessions[school_class.term_ids[0]]
    body = {"lineItem": {
        "title": "Essay 1", "assignDate": term.start_date.isoformat(),
        "dueDate": term.start_date.isoformat(), "resultValueMax": 10,
        "class": {"sourcedId": school_class.sourced_id}, "category": {"sourcedId": "HW"},
    }}
    put = requests.put(f"{root}/lineItems/bearer-1", json=body, headers=headers, timeout=30)
    assert put.status_code == 201, put.text
    delete = requests.delete(f"{root}/lineItems/bearer-1", headers=headers, timeout=30)
    assert delete.status_code == 403
    assert GRADEBOOK_DELETE in status_description(delete)
    post = requests.post(
        f"{root}/classes/{school_class.sourced_id}/lineItems", json={"lineItems": []},
        headers=headers, timeout=30,
    )
    assert post.status_code == 400
    assert [item.sourced_id for item in sandbox.gradebook.line_items()] == ["bearer-1"]


def test_oauth1_profile_scopes_limit_routes():
    profile = ConsumerProfile("OneRoster_LIMITED", "limited", scopes=(ROSTER_READONLY,))
    sandbox = make_sandbox(profiles=[profile])
    with sandbox.serve() as server:
        root = oneroster(sandbox, server.url)
        get = oauth1_get("OneRoster_LIMITED", "limited", SIGNATURE_HMAC_SHA1)
        assert get(f"{root}/users").status_code == 200
        response = get(f"{root}/results")
    assert response.status_code == 403
    assert status_minor(response) == "forbidden"


# --- OAuth 1.0a signature methods per profile --------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "secret", "client_method", "accepted"),
    [
        (SHA1_KEY, SHA1_SECRET, SIGNATURE_HMAC_SHA1, True),
        (SHA1_KEY, SHA1_SECRET, SIGNATURE_HMAC_SHA256, False),
        (SHA256_KEY, SHA256_SECRET, SIGNATURE_HMAC_SHA256, True),
        (SHA256_KEY, SHA256_SECRET, SIGNATURE_HMAC_SHA1, False),
    ],
)
def test_signature_method_per_profile(served, key, secret, client_method, accepted):
    sandbox, url = served
    get = oauth1_get(key, secret, client_method)
    response = get(oneroster(sandbox, url) + "/orgs", params={"filter": "type='school'"})
    assert (response.status_code == 200) is accepted
    if not accepted:
        assert response.status_code == 401
        assert f"signature method {client_method} is not enabled" in status_description(response)


def test_oauth2_profile_rejects_oauth1_signature(served):
    sandbox, url = served
    get = oauth1_get(OAUTH2_KEY, OAUTH2_SECRET, SIGNATURE_HMAC_SHA1)
    response = get(oneroster(sandbox, url) + "/orgs")
    assert response.status_code == 401
    assert "is set to OAuth 2.0" in status_description(response)


def test_inactive_profile_rejected():
    profile = ConsumerProfile("OneRoster_OFF", "off", active=False)
    oauth2_profile = ConsumerProfile("OneRoster_OFF2", "off2", auth_method="oauth2", active=False)
    sandbox = make_sandbox(profiles=[profile, oauth2_profile])
    with sandbox.serve() as server:
        response = oauth1_get("OneRoster_OFF", "off", SIGNATURE_HMAC_SHA1)(
            oneroster(sandbox, server.url) + "/orgs"
        )
        token = fetch_token(sandbox, server.url, "OneRoster_OFF2", "off2")
    assert response.status_code == 401
    assert status_description(response) == "consumer profile OneRoster_OFF is inactive"
    assert token.status_code == 401


def test_profile_config_validated():
    with pytest.raises(ValueError, match="auth_method"):
        ConsumerProfile("k", "s", auth_method="saml")
    with pytest.raises(ValueError, match="unknown scopes"):
        ConsumerProfile("k", "s", scopes=("roster",))
    with pytest.raises(ValueError, match="unique"):
        ESchoolPlusConfig(consumer_key="k", profiles=[ConsumerProfile("k", "s")])
