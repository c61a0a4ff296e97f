"""Fixtures that run sandbox servers on loopback for the sandbox tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any, Callable

import pytest
import requests
from requests_oauthlib import OAuth1

from esp_pipeline.sandbox.schoology import SchoologyConfig, SchoologySandbox

SCHOOLOGY_KEY = "ck_sandbox_test"
SCHOOLOGY_SECRET = "cs_sandbox_test"
SCHOOLOGY_BUILDINGS = [
    {"title": "City High School", "building_code": "02M800"},
    {"title": "Riverside Middle School", "building_code": "02M400"},
]


class SchoologyTestClient:
    """A requests session signed with HMAC-SHA1 for one running sandbox Schoology server."""

    def __init__(self, sandbox: SchoologySandbox, server_url: str) -> None:
        self.sandbox = sandbox
        self.state = sandbox.state
        self.server_url = server_url
        self.api_base = server_url + "/v1/"
        self.session = requests.Session()
        self.session.auth = OAuth1(
            sandbox.config.consumer_key,
            sandbox.config.consumer_secret,
            signature_type="auth_header",
        )

    def url(self, path: str) -> str:
        return self.api_base + path.lstrip("/")

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        kwargs.setdefault("allow_redirects", False)
        return self.session.request(method, self.url(path), **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    # -- seeding through the API ---------------------------------------------------------------

    def role_id(self, title: str) -> int:
        return self.state.role_id(title)

    def user_body(self, school_uid: str, role: str = "Student", **fields: Any) -> dict:
        body = {
            "school_uid": school_uid,
            "name_first": "First" + school_uid,
            "name_last": "Last",
            "role_id": self.role_id(role),
            "username": "user-" + school_uid.lower(),
        }
        body.update(fields)
        return body

    def create_user(self, school_uid: str, role: str = "Student", **fields: Any) -> dict:
        response = self.post("users", json=self.user_body(school_uid, role, **fields))
        assert response.status_code == 201, response.text
        return response.json()

    def create_grading_period(
        self, title: str = "Full Year", start: str = "2025-08-01", end: str = "2099-06-30"
    ) -> int:
        response = self.post("gradingperiods", json={"title": title, "start": start, "end": end})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def create_course(self, course_code: str = "MATH-1", **fields: Any) -> int:
        body = {"title": "Course " + course_code, "course_code": course_code, **fields}
        response = self.post("courses", json=body)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def create_section(self, course_id: int, school_code: str, grading_periods: list[int]) -> str:
        body = {
            "title": "Section " + school_code,
            "section_school_code": school_code,
            "grading_periods": grading_periods,
        }
        response = self.post(f"courses/{course_id}/sections", json=body)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def enroll(self, section_id: str, uid: str | int, admin: int = 0) -> str:
        body = {"uid": str(uid), "admin": admin, "status": 1}
        response = self.post(f"sections/{section_id}/enrollments", json=body)
        assert response.status_code == 201, response.text
        return response.json()["id"]


@pytest.fixture
def schoology_factory() -> Iterator[Callable[..., SchoologyTestClient]]:
    """Start sandbox Schoology servers on demand; all of them stop when the test ends.

    Call it with SchoologyConfig overrides, e.g. `schoology_factory(rate_limit_capacity=5)`.
    Rate limiting is off unless a test sets a capacity.
    """
    with ExitStack() as stack:

        def start(buildings: list[dict] | None = None, **overrides: Any) -> SchoologyTestClient:
            settings = {
                "consumer_key": SCHOOLOGY_KEY,
                "consumer_secret": SCHOOLOGY_SECRET,
                "rate_limit_capacity": 0,
                **overrides,
            }
            sandbox = SchoologySandbox(
                SchoologyConfig(**settings),
                buildings=SCHOOLOGY_BUILDINGS if buildings is None else buildings,
            )
            server = stack.enter_context(sandbox.serve(port=0))
            return SchoologyTestClient(sandbox, server.url)

        yield start


@pytest.fixture
def schoology(schoology_factory) -> SchoologyTestClient:
    """A running sandbox Schoology server with default settings and rate limiting off."""
    return schoology_factory()
