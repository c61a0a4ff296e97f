"""The eSchoolPLUS sandbox over real HTTP on loopback, signed by requests-oauthlib."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pytest
import requests
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256
from requests_oauthlib import OAuth1

from esp_pipeline.sandbox.districts import generate_district, load_clever_folder
from esp_pipeline.sandbox.eschoolplus import ESchoolPlusConfig, ESchoolPlusSandbox

REPO_ROOT = Path(__file__).resolve().parents[2]
KEY = "OneRoster_TEST_1"
SECRET = "test-secret"


def clever_sample_dir() -> Path:
    shared = Path(os.environ.get("ESP_SHARED_DIR") or REPO_ROOT.parent / "shared")
    folder = shared / "data" / "clever-sample-district"
    if not (folder / "sections.csv").is_file():
        pytest.skip(f"Clever sample district not found at {folder}; set ESP_SHARED_DIR")
    return folder


def make_config(**overrides) -> ESchoolPlusConfig:
    settings = {"consumer_key": KEY, "consumer_secret": SECRET, "district_code": "SANDBOX"}
    settings.update(overrides)
    return ESchoolPlusConfig(**settings)


@pytest.fixture(scope="module")
def sample_district():
    return load_clever_folder(clever_sample_dir())


@pytest.fixture(scope="module")
def served(sample_district):
    """A sandbox over the Clever sample that no test mutates, and its OneRoster root URL."""
    sandbox = ESchoolPlusSandbox(sample_district, make_config())
    with sandbox.serve(port=0) as server:
        yield sandbox, server.url + sandbox.oneroster_path


@pytest.fixture
def auth():
    return OAuth1(KEY, SECRET)


def status_minor(response: requests.Response) -> str:
    entry = response.json()["statusInfoSet"][0]
    assert entry["imsx_codeMajor"] == "failure"
    assert entry["imsx_severity"] == "error"
    assert entry["imsx_description"]
    return entry["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"]


def fetch_all(url: str, envelope: str, limit: int, params: dict | None = None) -> list[dict]:
    items: list[dict] = []
    offset = 0
    while True:
        query = dict(params or {}, limit=limit, offset=offset)
        response = requests.get(url, params=query, auth=OAuth1(KEY, SECRET), timeout=30)
        assert response.status_code == 200, response.text
        page = response.json()[envelope]
        items.extend(page)
        offset += limit
        if offset >= int(response.headers["X-Total-Count"]):
            return items


# --- collections and paging -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "envelope", "expected"),
    [
        ("orgs", "orgs", 4),
        ("schools", "orgs", 3),
        # 3 school years, 5 terms and the 4 grading periods derived under each full-year term
        ("academicSessions", "academicSessions", 3 + 5 + 20),
        ("terms", "academicSessions", 5),
        ("courses", "courses", 323),
        ("classes", "classes", 379),
        ("users", "users", 1093),
        ("students", "users", 1004),
        ("teachers", "users", 89),
        ("enrollments", "enrollments", 8971 + 460),
    ],
)
def test_collection_totals(served, auth, path, envelope, expected):
    _, root = served
    response = requests.get(f"{root}/{path}", params={"limit": 5}, auth=auth, timeout=30)
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == str(expected)
    assert len(response.json()[envelope]) == min(5, expected)


def test_paging_covers_every_user_once(served):
    _, root = served
    users = fetch_all(f"{root}/users", "users", limit=97)
    ids = [user["sourcedId"] for user in users]
    assert len(ids) == 1093
    assert len(set(ids)) == 1093
    assert ids == sorted(ids)


def test_paging_covers_every_enrollment_once(served):
    _, root = served
    enrollments = fetch_all(f"{root}/enrollments", "enrollments", limit=5000)
    ids = [enrollment["sourcedId"] for enrollment in enrollments]
    assert len(ids) == 9431
    assert len(set(ids)) == 9431


def test_link_header_next_and_last(served, auth):
    _, root = served
    response = requests.get(
        f"{root}/users", params={"limit": 100, "offset": 100, "filter": "role='student'"},
        auth=auth, timeout=30,
    )
    links = requests.utils.parse_header_links(response.headers["Link"])
    by_rel = {link["rel"]: link["url"] for link in links}
    assert "offset=200" in by_rel["next"]
    assert "offset=1000" in by_rel["last"]
    assert "offset=0" in by_rel["prev"]
    followed = requests.get(by_rel["next"], auth=auth, timeout=30)
    assert followed.status_code == 200
    assert followed.json()["users"][0]["role"] == "student"


def test_limit_above_max_is_clamped(sample_district, auth):
    sandbox = ESchoolPlusSandbox(sample_district, make_config(max_limit=50, default_limit=20))
    with sandbox.serve() as server:
        response = requests.get(
            server.url + sandbox.oneroster_path + "/users", params={"limit": 5000},
            auth=auth, timeout=30,
        )
    assert response.status_code == 200
    assert len(response.json()["users"]) == 50


def test_bad_limit_rejected(served, auth):
    _, root = served
    response = requests.get(f"{root}/users", params={"limit": "ten"}, auth=auth, timeout=30)
    assert response.status_code == 400
    assert status_minor(response) == "invalid_data"


def test_bare_root_serves_same_resources(served, auth):
    sandbox, root = served
    bare = root.replace("/ims/oneroster/v1p1", "")
    assert bare.endswith("/plus360api/v1/SANDBOX")
    response = requests.get(f"{bare}/classes/581", auth=auth, timeout=30)
    assert response.status_code == 200
    assert response.json()["class"]["school"]["href"] == f"{bare}/orgs/02M800"


# --- record shapes ----------------------------------------------------------------------------


def test_school_org_shape(served, auth):
    _, root = served
    org = requests.get(f"{root}/schools/02M800", auth=auth, timeout=30).json()["org"]
    assert org["type"] == "school"
    assert org["identifier"] == "02M800"
    assert org["name"] == "City High School"
    assert org["parent"] == {"href": f"{root}/orgs/1", "sourcedId": "1", "type": "org"}
    assert org["status"] == "active"
    assert org["dateLastModified"] == "2015-08-01T00:00:00.000Z"


def test_term_shape(served, auth):
    _, root = served
    term = requests.get(f"{root}/terms/27Q321-2016-S2", auth=auth, timeout=30).json()[
        "academicSession"
    ]
    assert term["type"] == "term"
    assert term["title"] == "S2"
    assert term["schoolYear"] == "2016"
    assert term["startDate"] == "2015-08-01"
    assert term["endDate"] == "2016-06-01"
    assert term["parent"]["sourcedId"] == "27Q321-2016"


def test_class_and_teachers_for_class(served, auth):
    _, root = served
    school_class = requests.get(f"{root}/classes/581", auth=auth, timeout=30).json()["class"]
    assert school_class["classType"] == "scheduled"
    assert school_class["terms"][0]["sourcedId"] == "02M800-2016-Y1"
    assert school_class["periods"] == ["0"]
    assert school_class["course"]["href"].startswith(f"{root}/courses/02M800-")
    teachers = requests.get(f"{root}/classes/581/teachers", auth=auth, timeout=30).json()["users"]
    assert sorted(t["sourcedId"] for t in teachers) == ["86", "87", "88", "89"]
    assert all(t["role"] == "teacher" for t in teachers)


def test_enrollment_primary_flags(served, auth):
    _, root = served
    response = requests.get(
        f"{root}/schools/02M800/classes/581/enrollments",
        params={"filter": "role='teacher'"}, auth=auth, timeout=30,
    )
    flags = {e["user"]["sourcedId"]: e["primary"] for e in response.json()["enrollments"]}
    assert flags == {"86": "true", "87": "false", "88": "false", "89": "false"}
    enrollment = requests.get(f"{root}/enrollments/581-86", auth=auth, timeout=30).json()[
        "enrollment"
    ]
    assert enrollment["beginDate"] == "2015-08-01"
    assert enrollment["endDate"] == "2016-06-01"
    assert enrollment["school"]["sourcedId"] == "02M800"


def test_nested_school_routes(served, auth):
    _, root = served
    expected = {"classes": "classes", "courses": "courses", "students": "users",
                "teachers": "users", "enrollments": "enrollments", "terms": "academicSessions"}
    for path, envelope in expected.items():
        response = requests.get(f"{root}/schools/13K123/{path}", auth=auth, timeout=30)
        assert response.status_code == 200, path
        assert int(response.headers["X-Total-Count"]) > 0, path
        assert envelope in response.json(), path


def test_class_in_other_school_not_found(served, auth):
    _, root = served
    response = requests.get(f"{root}/schools/13K123/classes/581/enrollments", auth=auth, timeout=30)
    assert response.status_code == 404
    assert status_minor(response) == "unknownobject"


def test_unknown_id_not_found(served, auth):
    _, root = served
    for path in ("users/nope", "classes/0", "students/86", "schools/1", "terms/02M800-2016"):
        response = requests.get(f"{root}/{path}", auth=auth, timeout=30)
        assert response.status_code == 404, path
        assert status_minor(response) == "unknownobject", path


def test_fields_selection(served, auth):
    _, root = served
    response = requests.get(
        f"{root}/users", params={"fields": "sourcedId,username", "limit": 3}, auth=auth, timeout=30
    )
    assert [sorted(user) for user in response.json()["users"]] == [["sourcedId", "username"]] * 3


# --- filter and sort ----------------------------------------------------------------------------


def test_filter_status(served, auth):
    _, root = served
    active = requests.get(f"{root}/users", params={"filter": "status='active'"}, auth=auth,
                          timeout=30)
    assert active.headers["X-Total-Count"] == "1093"
    deleted = requests.get(f"{root}/users", params={"filter": "status='tobedeleted'"}, auth=auth,
                           timeout=30)
    assert deleted.headers["X-Total-Count"] == "0"


def test_filter_quotes_spaces_and_operators_signed(served, auth):
    _, root = served
    params = {"filter": "title='Driver''s Education' OR title~'group guidance'"}
    response = requests.get(f"{root}/courses", params=params, auth=auth, timeout=30)
    assert response.status_code == 200, response.text
    titles = {course["title"] for course in response.json()["courses"]}
    assert titles == {"Driver's Education", "Group Guidance"}
    params = {"filter": "dateLastModified>='2015-08-01T00:00:00Z' AND role='teacher'"}
    response = requests.get(f"{root}/users", params=params, auth=auth, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["X-Total-Count"] == "89"


def test_filter_dotted_field(served, auth):
    _, root = served
    params = {"filter": "school.sourcedId='27Q321'", "limit": 1000}
    response = requests.get(f"{root}/classes", params=params, auth=auth, timeout=30)
    classes = response.json()["classes"]
    assert classes
    assert {c["school"]["sourcedId"] for c in classes} == {"27Q321"}


def test_sort_descending(served, auth):
    _, root = served
    params = {"sort": "familyName", "orderBy": "desc", "filter": "role='teacher'", "limit": 100}
    users = requests.get(f"{root}/users", params=params, auth=auth, timeout=30).json()["users"]
    names = [user["familyName"] for user in users]
    assert names == sorted(names, reverse=True)


@pytest.mark.parametrize(
    ("params", "code_minor"),
    [
        ({"filter": "shoeSize='9'"}, "invalid_filter_field"),
        ({"filter": "orgs.colour='x'"}, "invalid_filter_field"),
        ({"filter": "status=active"}, "invalid_filter_field"),
        ({"filter": "status='active' AND role='student' OR role='teacher'"}, "invalid_filter_field"),
        ({"filter": "dateLastModified>'yesterday'"}, "invalid_filter_field"),
        ({"sort": "shoeSize"}, "invalid_sort_field"),
        ({"fields": "sourcedId,shoeSize"}, "invalid_selection_field"),
    ],
)
def test_bad_query_rejected(served, auth, params, code_minor):
    _, root = served
    response = requests.get(f"{root}/users", params=params, auth=auth, timeout=30)
    assert response.status_code == 400
    assert status_minor(response) == code_minor


def test_update_user_seen_by_delta_filter(sample_district, auth):
    district = load_clever_folder(clever_sample_dir())
    sandbox = ESchoolPlusSandbox(district, make_config())
    loaded = "2015-08-01T00:00:00.000Z"
    with sandbox.serve() as server:
        root = server.url + sandbox.oneroster_path
        sandbox.update_user("738733110", given_name="Dianne", username="dianne.s")
        response = requests.get(
            f"{root}/users", params={"filter": f"dateLastModified>'{loaded}'"}, auth=auth, timeout=30
        )
        users = response.json()["users"]
        assert [user["sourcedId"] for user in users] == ["738733110"]
        assert users[0]["givenName"] == "Dianne"
        assert users[0]["username"] == "dianne.s"
        changed_at = dt.datetime.fromisoformat(users[0]["dateLastModified"].replace("Z", "+00:00"))
        assert changed_at > dt.datetime(2015, 8, 1, tzinfo=dt.timezone.utc)
        later = requests.get(
            f"{root}/users",
            params={"filter": f"dateLastModified>'{users[0]['dateLastModified']}'"},
            auth=auth, timeout=30,
        )
        assert later.headers["X-Total-Count"] == "0"
    assert sample_district.users is not district.users


# --- OAuth 1.0a ---------------------------------------------------------------------------------


def test_bad_signature_rejected(served):
    _, root = served
    response = requests.get(f"{root}/users", auth=OAuth1(KEY, "wrong"), timeout=30)
    assert response.status_code == 401
    assert status_minor(response) == "unauthorized"
    assert "invalid signature" in response.json()["statusInfoSet"][0]["imsx_description"]


def test_missing_authorization_rejected(served):
    _, root = served
    response = requests.get(f"{root}/users", timeout=30)
    assert response.status_code == 401
    assert status_minor(response) == "unauthorized"


def test_query_is_signed(served, auth):
    _, root = served
    prepared = requests.Request(
        "GET", f"{root}/users", params={"filter": "role='teacher'"}, auth=auth
    ).prepare()
    prepared.url = prepared.url.replace("teacher", "student")
    response = requests.Session().send(prepared, timeout=30)
    assert response.status_code == 401
    assert "invalid signature" in response.json()["statusInfoSet"][0]["imsx_description"]


def test_reused_nonce_rejected(served, auth):
    _, root = served
    prepared = requests.Request("GET", f"{root}/orgs", auth=auth).prepare()
    session = requests.Session()
    assert session.send(prepared, timeout=30).status_code == 200
    replay = session.send(prepared, timeout=30)
    assert replay.status_code == 401
    assert status_minor(replay) == "unauthorized"
    assert "replay" in replay.json()["statusInfoSet"][0]["imsx_description"]


@pytest.mark.parametrize(("offset", "accepted"), [(-900, False), (-300, True), (420, False)])
def test_timestamp_window(served, offset, accepted):
    _, root = served
    timestamp = str(int(time.time()) + offset)
    response = requests.get(f"{root}/orgs", auth=OAuth1(KEY, SECRET, timestamp=timestamp),
                            timeout=30)
    assert (response.status_code == 200) is accepted
    if not accepted:
        assert status_minor(response) == "unauthorized"


@pytest.mark.parametrize(
    ("profile", "client", "accepted"),
    [
        ("HMAC-SHA1", SIGNATURE_HMAC_SHA1, True),
        ("HMAC-SHA1", SIGNATURE_HMAC_SHA256, False),
        ("HMAC-SHA256", SIGNATURE_HMAC_SHA256, True),
        ("HMAC-SHA256", SIGNATURE_HMAC_SHA1, False),
    ],
)
def test_signature_method_profile(profile, client, accepted):
    district = generate_district(seed=1, students=30, teachers=6, school_year=2026)
    sandbox = ESchoolPlusSandbox(district, make_config(signature_method=profile))
    with sandbox.serve() as server:
        response = requests.get(
            server.url + sandbox.oneroster_path + "/orgs",
            params={"filter": "type='school'"},
            auth=OAuth1(KEY, SECRET, signature_method=client),
            timeout=30,
        )
    assert (response.status_code == 200) is accepted
    if not accepted:
        assert status_minor(response) == "unauthorized"
        assert "signature method" in response.json()["statusInfoSet"][0]["imsx_description"]


def test_unsupported_signature_method_config():
    with pytest.raises(ValueError, match="signature_method"):
        make_config(signature_method="PLAINTEXT")


# --- rate limit and request log -----------------------------------------------------------------


def test_rate_limit_answers_429(auth):
    district = generate_district(seed=1, students=30, teachers=6, school_year=2026)
    sandbox = ESchoolPlusSandbox(district, make_config(rate_limit_capacity=2,
                                                       rate_limit_refill_seconds=60))
    with sandbox.serve() as server:
        url = server.url + sandbox.oneroster_path + "/orgs"
        statuses = [requests.get(url, auth=auth, timeout=30).status_code for _ in range(3)]
        limited = requests.get(url, auth=auth, timeout=30)
    assert statuses == [200, 200, 429]
    assert int(limited.headers["Retry-After"]) >= 1
    assert status_minor(limited) == "server_busy"


def test_request_log_records_requests(auth):
    district = generate_district(seed=1, students=30, teachers=6, school_year=2026)
    sandbox = ESchoolPlusSandbox(district, make_config())
    with sandbox.serve() as server:
        root = server.url + sandbox.oneroster_path
        requests.get(f"{root}/students", params={"limit": 7}, auth=auth, timeout=30)
        requests.get(f"{root}/students", auth=OAuth1(KEY, "wrong"), timeout=30)
    records = sandbox.request_log.snapshot()
    assert [(r.status, r.items) for r in records] == [(200, 7), (401, 0)]
    assert records[0].route.endswith("/students")
    assert records[0].consumer_key == KEY
    assert sandbox.request_log.writes() == []
