"""Fault injection in both sandboxes, observed by a real HTTP client on loopback."""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

import pytest
import requests
from requests_oauthlib import OAuth1

from esp_pipeline.sandbox.cli import main as sandbox_main
from esp_pipeline.sandbox.districts import generate_district
from esp_pipeline.sandbox.eschoolplus import ESchoolPlusConfig, ESchoolPlusSandbox
from esp_pipeline.sandbox.faults import (
    FaultInjector,
    FaultRule,
    add_fault_arguments,
    install_faults,
    parse_fault_spec,
)
from esp_pipeline.sandbox.schoology import SchoologySandbox

ESP_KEY = "OneRoster_FAULTS"
ESP_SECRET = "faults-secret"


# --- clients ----------------------------------------------------------------------------------


class ESchoolPlusClient:
    """Signed GETs against a running eSchoolPLUS sandbox."""

    def __init__(self, sandbox: ESchoolPlusSandbox, server_url: str) -> None:
        self.sandbox = sandbox
        self.root = server_url + sandbox.oneroster_path
        self.auth = OAuth1(ESP_KEY, ESP_SECRET)

    def get(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return requests.get(self.root + "/" + path.lstrip("/"), auth=self.auth, **kwargs)


@pytest.fixture(scope="module")
def small_district():
    return generate_district(seed=7, schools=1, students=40)


@pytest.fixture
def eschoolplus(small_district):
    config = ESchoolPlusConfig(
        consumer_key=ESP_KEY, consumer_secret=ESP_SECRET, district_code="SANDBOX"
    )
    sandbox = ESchoolPlusSandbox(small_district, config)
    with sandbox.serve(port=0) as server:
        yield ESchoolPlusClient(sandbox, server.url)


def school_uids(schoology) -> set[str]:
    return {user["school_uid"] for user in schoology.state.users()}


def bulk_users(items: list[dict]) -> dict:
    return {"users": {"user": items}}


def status_info_minor(response: requests.Response) -> str:
    entry = response.json()["statusInfoSet"][0]
    assert entry["imsx_codeMajor"] == "failure"
    assert entry["imsx_description"]
    return entry["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"]


# --- status -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_schoology_status_body_and_state(schoology, status):
    schoology.sandbox.faults.add(
        FaultRule("status", method="POST", route="/v1/users*", status=status, retry_after=7)
    )

    response = schoology.post("users", json=schoology.user_body("ST-1"))

    assert response.status_code == status
    assert response.json()["response_code"] == status
    assert response.json()["message"]
    if status == 429:
        assert response.headers["Retry-After"] == "7"
    else:
        assert "Retry-After" not in response.headers
    assert "ST-1" not in school_uids(schoology)


@pytest.mark.parametrize("status, minor", [
    (429, "server_busy"), (500, "internal_server_error"),
    (502, "internal_server_error"), (503, "server_busy"),
])
def test_eschoolplus_status_body(eschoolplus, status, minor):
    eschoolplus.sandbox.faults.add(FaultRule("status", route="*/users", status=status))

    response = eschoolplus.get("users")

    assert response.status_code == status
    assert status_info_minor(response) == minor
    assert ("Retry-After" in response.headers) == (status == 429)


def test_status_times_stops_after_n(schoology):
    faults = schoology.sandbox.faults
    faults.add(FaultRule("status", method="POST", route="/v1/users*", status=503, times=2))

    statuses = [
        schoology.post("users", json=schoology.user_body(f"TIMES-{n}")).status_code
        for n in range(4)
    ]

    assert statuses == [503, 503, 201, 201]
    assert school_uids(schoology) >= {"TIMES-2", "TIMES-3"}
    assert not school_uids(schoology) & {"TIMES-0", "TIMES-1"}
    assert [(f.kind, f.method, f.path, f.status) for f in faults.injected] == [
        ("status", "POST", "/v1/users", 503),
        ("status", "POST", "/v1/users", 503),
    ]


def test_status_recorded_in_request_log(schoology):
    schoology.sandbox.faults.add(FaultRule("status", route="/v1/roles", status=502, times=1))
    before = time.time()

    schoology.get("roles")
    schoology.get("roles")

    records = schoology.sandbox.request_log.snapshot()
    assert [(r.route, r.status) for r in records] == [("<fault:status>", 502), ("/v1/roles", 200)]
    assert schoology.sandbox.faults.injected[0].timestamp >= before


def test_status_ignores_other_methods(schoology):
    schoology.sandbox.faults.add(FaultRule("status", method="POST", route="/v1/users*"))

    response = schoology.get("users")

    assert response.status_code == 200
    assert schoology.sandbox.faults.injected == []


def test_route_regular_expression(schoology):
    user = schoology.create_user("RE-1")
    schoology.sandbox.faults.add(FaultRule("status", route=r"^/v1/users/\d+$", status=500))

    single = schoology.get(f"users/{user['id']}")
    listing = schoology.get("users")

    assert single.status_code == 500
    assert listing.status_code == 200


# --- status_after -----------------------------------------------------------------------------


def test_status_after_applies_change(schoology):
    schoology.sandbox.faults.add(
        FaultRule("status_after", method="POST", route="/v1/users", status=502, times=1)
    )

    failed = schoology.post("users", json=schoology.user_body("AFTER-1"))
    retried = schoology.post("users", json=schoology.user_body("AFTER-1"))

    assert failed.status_code == 502
    assert failed.json()["response_code"] == 502
    assert "AFTER-1" in school_uids(schoology)
    # A blind retry of the create now collides with the user the failed call created.
    assert retried.status_code == 400
    assert schoology.sandbox.faults.injected[0].detail == {"app_status": 201}


def test_eschoolplus_status_after(eschoolplus):
    eschoolplus.sandbox.faults.add(FaultRule("status_after", route="*/users", status=500))

    response = eschoolplus.get("users")

    assert response.status_code == 500
    assert status_info_minor(response) == "internal_server_error"
    # The app handled the request and logged its own 200 before the fault replaced the response.
    assert [r.status for r in eschoolplus.sandbox.request_log.snapshot()] == [200]


# --- dropped connections ----------------------------------------------------------------------


def test_drop_connection_before_app(schoology):
    schoology.sandbox.faults.add(
        FaultRule("drop_connection", method="POST", route="/v1/users", times=1)
    )

    with pytest.raises(requests.ConnectionError):
        schoology.post("users", json=schoology.user_body("DROP-1"))
    after = schoology.post("users", json=schoology.user_body("DROP-2"))

    assert "DROP-1" not in school_uids(schoology)
    assert after.status_code == 201
    injected = schoology.sandbox.faults.injected
    assert [(f.kind, f.status) for f in injected] == [("drop_connection", None)]
    assert schoology.sandbox.request_log.snapshot()[0].route == "<fault:drop_connection>"


def test_drop_connection_after_app(schoology):
    schoology.sandbox.faults.add(
        FaultRule("drop_connection_after", method="POST", route="/v1/users", times=1)
    )

    with pytest.raises(requests.ConnectionError):
        schoology.post("users", json=schoology.user_body("DROPA-1"))

    assert "DROPA-1" in school_uids(schoology)


@pytest.mark.parametrize("kind", ["drop_connection", "drop_connection_after"])
def test_eschoolplus_drop_connection(eschoolplus, kind):
    eschoolplus.sandbox.faults.add(FaultRule(kind, route="*/users", times=1))

    with pytest.raises(requests.ConnectionError):
        eschoolplus.get("users")
    after = eschoolplus.get("users")

    assert after.status_code == 200


# --- slow -------------------------------------------------------------------------------------


def test_slow_times_out_client_but_applies(schoology):
    schoology.sandbox.faults.add(
        FaultRule("slow", method="POST", route="/v1/users", seconds=1.0, times=1)
    )

    with pytest.raises(requests.Timeout):
        schoology.post("users", json=schoology.user_body("SLOW-1"), timeout=0.3)

    assert "SLOW-1" in school_uids(schoology)


def test_slow_answers_after_delay(eschoolplus):
    eschoolplus.sandbox.faults.add(FaultRule("slow", route="*/orgs", seconds=0.4))

    started = time.perf_counter()
    response = eschoolplus.get("orgs")
    elapsed = time.perf_counter() - started

    assert response.status_code == 200
    assert elapsed >= 0.4
    assert response.json()["orgs"]


def test_eschoolplus_slow_times_out(eschoolplus):
    eschoolplus.sandbox.faults.add(FaultRule("slow", route="*/users", seconds=1.0))

    with pytest.raises(requests.Timeout):
        eschoolplus.get("users", timeout=0.3)


# --- short pages ------------------------------------------------------------------------------


def test_schoology_short_page_keeps_total_and_next(schoology):
    for number in range(5):
        schoology.create_user(f"PAGE-{number}")
    normal = schoology.get("users", params={"limit": 4}).json()
    schoology.sandbox.faults.add(FaultRule("short_page", route="/v1/users", rows=2))

    short = schoology.get("users", params={"limit": 4}).json()

    assert len(normal["user"]) == 4
    assert short["user"] == normal["user"][:2]
    assert short["total"] == normal["total"] == "6"
    assert short["links"] == normal["links"]
    assert "next" in short["links"]
    assert schoology.sandbox.faults.injected[0].detail == {"rows_removed": 2}


def test_eschoolplus_short_page_keeps_headers(eschoolplus):
    normal = eschoolplus.get("users", params={"limit": 10})
    eschoolplus.sandbox.faults.add(FaultRule("short_page", route="*/users", rows=3))

    short = eschoolplus.get("users", params={"limit": 10})

    assert short.status_code == 200
    assert len(normal.json()["users"]) == 10
    assert short.json()["users"] == normal.json()["users"][:7]
    assert short.headers["X-Total-Count"] == normal.headers["X-Total-Count"]
    assert short.headers["Link"] == normal.headers["Link"]
    assert 'rel="next"' in short.headers["Link"]


def test_short_page_skips_writes(schoology):
    schoology.sandbox.faults.add(FaultRule("short_page", route="/v1/users*"))

    created = schoology.post("users", json=schoology.user_body("SP-W"))

    assert created.status_code == 201
    assert schoology.sandbox.faults.injected == []


# --- truncated bodies -------------------------------------------------------------------------


def test_truncated_body_full_length_breaks_read(schoology):
    schoology.sandbox.faults.add(FaultRule("truncated_body", route="/v1/roles", body_share=0.5))

    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        schoology.get("roles")

    detail = schoology.sandbox.faults.injected[0].detail
    assert 0 < detail["bytes_sent"] < detail["bytes_total"]


def test_truncated_body_cut_length_fails_to_parse(schoology):
    normal = schoology.get("roles")
    schoology.sandbox.faults.add(
        FaultRule("truncated_body", route="/v1/roles", body_share=0.5, full_length=False)
    )

    cut = schoology.get("roles")

    assert cut.status_code == 200
    assert len(cut.content) == len(normal.content) // 2
    assert normal.content.startswith(cut.content)
    with pytest.raises(requests.JSONDecodeError):
        cut.json()


def test_eschoolplus_truncated_body_cut_length(eschoolplus):
    eschoolplus.sandbox.faults.add(
        FaultRule("truncated_body", route="*/users", body_share=0.3, full_length=False)
    )

    cut = eschoolplus.get("users")

    assert cut.status_code == 200
    assert cut.headers["X-Total-Count"] == "43"
    with pytest.raises(requests.JSONDecodeError):
        cut.json()


def test_eschoolplus_truncated_body_full_length(eschoolplus):
    eschoolplus.sandbox.faults.add(FaultRule("truncated_body", route="*/orgs"))

    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        eschoolplus.get("orgs")


# --- bulk item failures -----------------------------------------------------------------------


def test_bulk_failure_in_input_order(schoology):
    faults = schoology.sandbox.faults
    faults.add(FaultRule("bulk_item_failure", method="POST", route="/v1/users", count=2))
    items = [schoology.user_body(f"BULK-{n}") for n in range(6)]

    response = schoology.post("users", json=bulk_users(items))

    assert response.status_code == 207
    results = response.json()["user"]
    failed = faults.injected[0].detail["failed_items"]
    assert len(failed) == 2
    assert [r["school_uid"] for r in results] == [item["school_uid"] for item in items]
    for position, result in enumerate(results):
        expected_code = 500 if position in failed else 200
        assert result["response_code"] == expected_code, (position, result)
    assert all("message" in results[position] for position in failed)
    stored = school_uids(schoology)
    for position, item in enumerate(items):
        assert (item["school_uid"] in stored) == (position not in failed), position


def test_bulk_failure_share_and_code(schoology):
    schoology.sandbox.faults.add(
        FaultRule("bulk_item_failure", route="/v1/users", share=0.5, response_code=503,
                  message="try later")
    )
    items = [schoology.user_body(f"SHARE-{n}") for n in range(8)]

    results = schoology.post("users", json=bulk_users(items)).json()["user"]

    failed = [r for r in results if r["response_code"] != 200]
    assert len(failed) == 4
    assert {(r["response_code"], r["message"]) for r in failed} == {(503, "try later")}


def test_bulk_failure_every_item(schoology):
    schoology.sandbox.faults.add(FaultRule("bulk_item_failure", route="/v1/users", count=5))
    items = [schoology.user_body(f"ALL-{n}") for n in range(3)]

    response = schoology.post("users", json=bulk_users(items))

    assert response.status_code == 207
    assert [r["response_code"] for r in response.json()["user"]] == [500, 500, 500]
    assert [r["school_uid"] for r in response.json()["user"]] == ["ALL-0", "ALL-1", "ALL-2"]
    assert not {"ALL-0", "ALL-1", "ALL-2"} & school_uids(schoology)
    assert schoology.sandbox.request_log.snapshot()[-1].route == "<fault:bulk_item_failure>"


def test_bulk_failure_on_put(schoology):
    users = [schoology.create_user(f"PUT-{n}") for n in range(4)]
    faults = schoology.sandbox.faults
    faults.add(FaultRule("bulk_item_failure", method="PUT", route="/v1/users", count=1))
    items = [{"id": user["id"], "name_last": "Changed"} for user in users]

    response = schoology.put("users", json=bulk_users(items))

    results = response.json()["user"]
    (failed,) = faults.injected[0].detail["failed_items"]
    assert [str(r["id"]) for r in results] == [str(user["id"]) for user in users]
    assert results[failed]["response_code"] == 500
    last_names = {u["school_uid"]: u["name_last"] for u in schoology.state.users()}
    for position, user in enumerate(users):
        expected = "Last" if position == failed else "Changed"
        assert last_names[user["school_uid"]] == expected, position


def test_bulk_failure_enrollments_wrapped(schoology):
    period = schoology.create_grading_period()
    course = schoology.create_course("BIO-1")
    section = schoology.create_section(course, "BIO-1-01", [period])
    uids = [schoology.create_user(f"ENR-{n}")["id"] for n in range(5)]
    faults = schoology.sandbox.faults
    faults.add(FaultRule("bulk_item_failure", route="/v1/sections/*/enrollments", count=2))
    items = [{"uid": str(uid), "admin": 0, "status": 1} for uid in uids]

    response = schoology.post(
        f"sections/{section}/enrollments", json={"enrollments": {"enrollment": items}}
    )

    assert response.status_code == 207
    results = response.json()["enrollments"]["enrollment"]
    failed = faults.injected[0].detail["failed_items"]
    assert [str(r["uid"]) for r in results] == [str(uid) for uid in uids]
    assert [r["response_code"] for r in results] == [
        500 if position in failed else 200 for position in range(5)
    ]
    enrolled = {e["uid"] for e in schoology.state.enrollments()}
    for position, uid in enumerate(uids):
        assert (uid in enrolled) == (position not in failed), position


def test_bulk_failure_skips_single_create(schoology):
    schoology.sandbox.faults.add(FaultRule("bulk_item_failure", route="/v1/users"))

    response = schoology.post("users", json=schoology.user_body("ONE"))

    assert response.status_code == 201
    assert schoology.sandbox.faults.injected == []


# --- schedules and seeds ----------------------------------------------------------------------


def test_every_and_after(schoology):
    faults = schoology.sandbox.faults
    faults.add(FaultRule("status", route="/v1/roles", every=3, status=500))
    faults.add(FaultRule("status", route="/v1/schools", after=2, times=1, status=502))

    roles = [schoology.get("roles").status_code for _ in range(7)]
    schools = [schoology.get("schools").status_code for _ in range(5)]

    assert roles == [200, 200, 500, 200, 200, 500, 200]
    assert schools == [200, 200, 502, 200, 200]


def test_first_firing_rule_wins(schoology):
    faults = schoology.sandbox.faults
    faults.add(FaultRule("status", route="/v1/roles", status=502, times=1))
    faults.add(FaultRule("status", route="/v1/roles", status=503, times=1))

    statuses = [schoology.get("roles").status_code for _ in range(3)]

    assert statuses == [502, 503, 200]


def fault_sequence(seed: int, requests_sent: int = 30) -> list[tuple]:
    sandbox = SchoologySandbox()
    sandbox.faults.seed = seed
    sandbox.faults.add(FaultRule("status", route="/v1/users*", probability=0.3, status=503))
    sandbox.faults.add(FaultRule("short_page", route="/v1/users*", probability=0.5))
    client = requests.Session()
    client.auth = OAuth1(sandbox.config.consumer_key, sandbox.config.consumer_secret)
    with sandbox.serve(port=0) as server:
        for _ in range(requests_sent):
            client.get(server.url + "/v1/users", timeout=10)
    return [(f.request, f.kind, f.status) for f in sandbox.faults.injected]


def test_same_seed_same_faults():
    first = fault_sequence(seed=11)
    second = fault_sequence(seed=11)
    other = fault_sequence(seed=12)

    assert first == second
    assert {kind for _, kind, _ in first} == {"status", "short_page"}
    assert first != other


def test_reset_replays_sequence(schoology):
    faults = schoology.sandbox.faults
    faults.seed = 5
    faults.add(FaultRule("status", route="/v1/roles", probability=0.5))
    first = [schoology.get("roles").status_code for _ in range(12)]

    faults.reset()
    second = [schoology.get("roles").status_code for _ in range(12)]

    assert first == second
    assert set(first) == {200, 503}


def test_bulk_choice_follows_seed(schoology_factory):
    def failed_items(seed: int) -> list[int]:
        client = schoology_factory()
        client.sandbox.faults.seed = seed
        client.sandbox.faults.add(FaultRule("bulk_item_failure", route="/v1/users", count=3))
        items = [client.user_body(f"SEED-{n}") for n in range(10)]
        client.post("users", json=bulk_users(items))
        return client.sandbox.faults.injected[0].detail["failed_items"]

    assert failed_items(3) == failed_items(3)
    assert failed_items(3) != failed_items(4)


def test_clear_removes_rules(schoology):
    faults = schoology.sandbox.faults
    faults.add(FaultRule("status", route="/v1/roles"))
    schoology.get("roles")

    faults.clear()

    assert faults.rules == []
    assert faults.injected == []
    assert schoology.get("roles").status_code == 200


def test_plan_given_to_constructor():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    injector = FaultInjector(app, [FaultRule("status", times=1)], seed=3)

    assert [rule.kind for rule in injector.rules] == ["status"]
    assert injector.seed == 3


@pytest.mark.parametrize("settings, message", [
    ({"kind": "explode"}, "invalid fault kind"),
    ({"kind": "status", "status": 200}, "expected 400-599"),
    ({"kind": "status_after", "status": 429}, "expected 500-599"),
    ({"kind": "status", "every": 2, "probability": 0.5}, "not both"),
    ({"kind": "status", "times": 0}, "invalid times"),
    ({"kind": "truncated_body", "body_share": 1.0}, "invalid body_share"),
    ({"kind": "status", "route": "^(unclosed"}, "invalid route regular expression"),
])
def test_rule_validation(settings, message):
    with pytest.raises(ValueError, match=message):
        FaultRule(**settings)


# --- command line -----------------------------------------------------------------------------


def test_parse_spec_status():
    sandbox, rule = parse_fault_spec("schoology:POST:/v1/users*:status=503:times=2")

    assert sandbox == "schoology"
    assert rule == FaultRule("status", method="POST", route="/v1/users*", status=503, times=2)


@pytest.mark.parametrize("spec, expected", [
    ("eschoolplus:GET:*/users:short_page=3", {"kind": "short_page", "rows": 3}),
    ("schoology:*:*:slow=2.5:probability=0.1", {"kind": "slow", "seconds": 2.5,
                                                 "probability": 0.1}),
    ("schoology:get:/v1/roles:truncated_body=0.25:full_length=false",
     {"kind": "truncated_body", "method": "GET", "body_share": 0.25, "full_length": False}),
    ("schoology:POST:/v1/users:bulk_item_failure:share=0.5:response_code=503",
     {"kind": "bulk_item_failure", "share": 0.5, "response_code": 503}),
    ("schoology:PUT:/v1/users:drop_connection_after:every=3:after=1",
     {"kind": "drop_connection_after", "every": 3, "after": 1}),
    ("schoology:POST:/v1/users:status=429:retry_after=30:message=slow down",
     {"kind": "status", "status": 429, "retry_after": 30, "message": "slow down"}),
    (r"schoology:GET:^/v1/users/\d+$:status_after=500",
     {"kind": "status_after", "route": r"^/v1/users/\d+$", "status": 500}),
])
def test_parse_spec_kinds(spec, expected):
    _, rule = parse_fault_spec(spec)

    for name, value in expected.items():
        assert getattr(rule, name) == value, name


@pytest.mark.parametrize("spec, message", [
    ("schoology:POST:/v1/users", "expected SANDBOX:METHOD:ROUTE:KIND"),
    ("canvas:POST:/v1/users:status=503", "invalid sandbox 'canvas'"),
    ("schoology:POST:/v1/users:stat=503", "invalid fault kind 'stat'"),
    ("schoology:POST:/v1/users:status=abc", "invalid status='abc'"),
    ("schoology:POST:/v1/users:status=503:tims=2", "invalid option 'tims=2'"),
    ("schoology:POST:/v1/users:status=503:times", "invalid option 'times'"),
    ("schoology:POST:/v1/users:drop_connection=1", "drop_connection takes no value"),
    ("schoology:POST:/v1/users:status=302", "expected 400-599"),
    ("schoology:POST::status=503", "missing route"),
    ("schoology:PO ST:/v1/users:status=503", "invalid method"),
    ("schoology:GET:/v1/roles:truncated_body:full_length=maybe", "expected true or false"),
])
def test_parse_spec_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_fault_spec(spec)


def test_cli_rejects_bad_spec(capsys):
    with pytest.raises(SystemExit) as exit_info:
        sandbox_main(["--fault", "schoology:POST:/v1/users:status=abc"])

    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "argument --fault: invalid status='abc'" in error
    assert "expected a whole number" in error


def test_cli_help_documents_spec(capsys):
    with pytest.raises(SystemExit):
        sandbox_main(["--help"])

    help_text = " ".join(capsys.readouterr().out.split())
    assert "SANDBOX:METHOD:ROUTE:KIND[=VALUE][:OPTION=VALUE...]" in help_text
    assert "schoology:POST:/v1/users*:status=503:times=2" in help_text
    assert "--fault-seed" in help_text


def test_install_faults_from_arguments(small_district):
    parser = argparse.ArgumentParser()
    add_fault_arguments(parser)
    args = parser.parse_args([
        "--fault", "schoology:POST:/v1/users*:status=503:times=2",
        "--fault", "eschoolplus:GET:*/users:short_page=2",
        "--fault-seed", "9",
    ])
    sandboxes = SimpleNamespace(
        schoology=SchoologySandbox(), eschoolplus=ESchoolPlusSandbox(small_district)
    )

    lines = install_faults(args, sandboxes)

    assert sandboxes.schoology.faults.seed == 9
    assert sandboxes.eschoolplus.faults.seed == 9
    assert [rule.kind for rule in sandboxes.schoology.faults.rules] == ["status"]
    assert [rule.rows for rule in sandboxes.eschoolplus.faults.rules] == [2]
    assert lines == [
        "schoology: status POST /v1/users* status=503 times=2",
        "eschoolplus: short_page GET */users rows=2",
    ]
