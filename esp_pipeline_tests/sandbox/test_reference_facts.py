"""The behaviours both sandboxes must get right, one test group per behaviour.

Each claim below lists the tests that fail when the sandbox breaks it. Tests in other modules
are named `module::test`, and the rest are in this module. The eSchoolPLUS web path (session login,
scheduled definitions, Windows-1252 files) is not covered here.

Schoology 1: two-legged OAuth 1.0a verification
  PLAINTEXT accepted as `secret&` and as `secret%26`
      test_schoology_oauth::test_plaintext_with_raw_ampersand
      test_schoology_oauth::test_schoolopy_plaintext_header_accepted
      TestSchoologyOAuth::test_plaintext_both_forms_accepted
  PLAINTEXT with a wrong secret rejected
      TestSchoologyOAuth::test_plaintext_wrong_secret_rejected
  HMAC-SHA1 covers the method, the URL path and the query
      TestSchoologyOAuth::test_signature_for_other_method_rejected
      TestSchoologyOAuth::test_signature_for_other_path_rejected
      test_schoology_oauth::test_worked_hmac_example_signed_other_url
  HMAC-SHA1 covers exactly the oauth params sent (oauth_token only when sent)
      TestSchoologyOAuth::test_token_signed_and_sent_accepted
      TestSchoologyOAuth::test_token_sent_but_unsigned_rejected
      TestSchoologyOAuth::test_token_signed_but_unsent_rejected
  a client that leaves the JSON body unsigned succeeds
      test_schoology_oauth::test_requests_oauthlib_with_json_body
      TestSchoologyOAuth::test_unsigned_json_body_accepted
  a client that signs the JSON body fails
      TestSchoologyOAuth::test_signed_json_body_rejected
  a reused nonce and timestamp pair is rejected with 401
      test_schoology_oauth::test_replayed_nonce_rejected
  a timestamp going backwards is rejected with 401
      test_schoology_oauth::test_backwards_timestamp_rejected
  users/ext/{school_uid} and users/me return 303
      test_schoology_oauth::test_ext_lookup_answers_303
      test_schoology_oauth::test_users_me_redirects_to_key_owner
  re-sending the header on either redirect fails as a duplicate nonce
      test_schoology_oauth::test_redirect_with_resent_header_is_replay
      TestSchoologyOAuth::test_users_me_resent_header_is_replay
  signing again before following either redirect succeeds
      test_schoology_oauth::test_redirect_signed_again_succeeds
      TestSchoologyOAuth::test_users_me_signed_again_succeeds
  the worked example signature hc0vKw/LA4nW2GohMTxF+yvo3Kc= verifies
      test_schoology_oauth::test_worked_hmac_example_verifies

Schoology 2: status codes and envelopes
  GET 200, POST 201, PUT 204 empty, DELETE 204 empty (users, courses, sections,
  enrollments, grading periods, assignments)
      TestSchoologyStatusCodes::test_single_object_status_codes
  bulk calls return 207
      test_schoology_bulk::test_bulk_50_users_accepted (and the other bulk tests there)
  list envelopes keyed user, course, section, enrollment, assignment and the plural
  gradingperiods, with total, links.self and links.next
      TestSchoologyEnvelopes::test_list_envelope_shape
  bulk enrollment results wrapped as enrollments.enrollment
      test_schoology_bulk::test_bulk_enrollments_wrapped_twice

Schoology 3: paging
  start/limit with a default of 20
      test_schoology_paging::test_default_page_is_20
  limit capped at 200
      test_schoology_paging::test_limit_above_200_is_capped
  absolute links.next, present only while rows remain
      test_schoology_paging::test_next_link_is_absolute_and_followable
      test_schoology_paging::test_last_page_has_no_next
      TestSchoologyEnvelopes::test_list_envelope_shape

Schoology 4: bulk upserts
  at most 50 items
      test_schoology_bulk::test_bulk_51_users_rejected
      test_schoology_bulk::test_bulk_enrollments_51_rejected
      TestSchoologyBulk::test_bulk_51_items_rejected (courses, sections)
  per-item response_code in input order while the call stays 207
      test_schoology_bulk::test_bulk_mixed_results_in_input_order
  update_existing=1 keyed by school_uid (users) and course_code (courses)
      test_schoology_bulk::test_bulk_users_update_existing_on
      test_schoology_bulk::test_bulk_courses_upsert_by_course_code
  update_existing=1 keyed by section_code plus grading_periods (sections)
      test_schoology_bulk::test_bulk_sections_207_and_upsert
      TestSchoologyBulk::test_section_upsert_keys_on_periods
  school_uid, course_code and section_school_code unique per school
      test_schoology_routes::test_school_uid_unique_single_post
      test_schoology_routes::test_course_code_unique_per_building
      test_schoology_routes::test_section_school_code_unique
      TestSchoologyBulk::test_school_uid_unique_across_buildings
  e-mail unique across the platform
      test_schoology_routes::test_email_unique_platform_wide
      test_schoology_lifecycle::test_foreign_email_fails_without_flags
      TestSchoologyBulk::test_email_unique_across_buildings
  ignore_email_conflicts and email_conflict_resolution=1 or 2
      test_schoology_lifecycle::test_foreign_email_ignored
      test_schoology_lifecycle::test_foreign_email_resolution_username
      test_schoology_lifecycle::test_foreign_email_merge_claimed_domain
      test_schoology_lifecycle::test_foreign_email_merge_unclaimed_fails
      test_schoology_lifecycle::test_same_school_email_conflict_always_fails

Schoology 5: grade read model
  grades.grade[] keyed by enrollment_id and assignment_id
      test_schoology_grades::test_grades_row_shape
      TestSchoologyGrades::test_one_grade_row_per_pair
  period[] and final_grade[].period[] with p<id>, a<id>, other and final
      test_schoology_grades::test_grades_period_ids_all_kinds
  null grades with timestamp 0
      test_schoology_grades::test_ungraded_rows_null_with_zero_timestamp
  exception codes
      test_schoology_grades::test_exception_codes_null_the_grade
  the timestamp filter for incremental pulls
      test_schoology_grades::test_timestamp_filter_returns_changed_rows
  sections hidden after their grading periods end unless include_past=1
      test_schoology_lifecycle::test_past_sections_hidden_by_default
      test_schoology_lifecycle::test_past_sections_by_school_code
      test_schoology_grades::test_past_sections_hidden_from_user_sections

eSchoolPLUS 1: signing
  the signature covers every query parameter (limit, offset, filter, sort, orderBy, fields)
      TestESchoolPlusSigning::test_signed_query_parameter_accepted
      TestESchoolPlusSigning::test_changed_query_parameter_rejected
      TestESchoolPlusSigning::test_unsigned_query_parameter_rejected
      test_eschoolplus_server::test_query_is_signed
  a client that leaves the JSON body unsigned succeeds
      TestESchoolPlusSigning::test_unsigned_json_body_accepted
      test_eschoolplus_gradebook::test_put_line_item_creates_then_updates
  a client that signs the JSON body fails
      TestESchoolPlusSigning::test_signed_json_body_rejected
  one signature method per profile: HMAC-SHA1 by default, or HMAC-SHA256
      test_eschoolplus_oauth2::test_signature_method_per_profile
      test_eschoolplus_server::test_signature_method_profile
  a bad signature, a stale timestamp or a reused nonce is rejected with 401
      test_eschoolplus_server::test_bad_signature_rejected
      test_eschoolplus_server::test_timestamp_window
      test_eschoolplus_server::test_reused_nonce_rejected

eSchoolPLUS 2: collections
  users for /students and /teachers, orgs for /schools, academicSessions for /terms and
  /gradingPeriods
      test_eschoolplus_server::test_collection_totals
      test_eschoolplus_flavour::test_grading_periods_under_terms
  limit/offset paging in a stable order with X-Total-Count
      test_eschoolplus_server::test_paging_covers_every_user_once
      test_eschoolplus_oauth2::test_sha256_client_pages_every_rostering_endpoint
  the two-predicate filter grammar
      test_eschoolplus_filters (every test)
      test_eschoolplus_server::test_bad_query_rejected
  statusInfoSet errors
      test_eschoolplus_server::test_bad_query_rejected
      test_eschoolplus_server::test_unknown_id_not_found

eSchoolPLUS 3: write idempotency
  PUT lineItems and results create with 201 and update with 200
      test_eschoolplus_gradebook::test_put_line_item_creates_then_updates
      test_eschoolplus_gradebook::test_put_result_creates_then_updates
  the caller's sourcedId is kept, at most 64 characters
      test_eschoolplus_gradebook::test_sourced_id_length_limit
  at most one result per lineItem and student
      test_eschoolplus_gradebook::test_second_result_for_student_conflicts
  results only for students enrolled in the lineItem's class
      test_eschoolplus_gradebook::test_result_needs_active_enrollment
  POST collections return sourcedIdPairs
      test_eschoolplus_gradebook::test_post_line_items_for_class_returns_pairs
      test_eschoolplus_gradebook::test_post_results_for_line_item

eSchoolPLUS 4: eSchool keys and time model
  a school's sourcedId is its building number
      TestESchoolPlusKeys::test_school_id_is_building_number
  a class's sourcedId is its numeric section key
      TestESchoolPlusKeys::test_class_id_is_section_key
  a class's terms contain its marking periods
      TestESchoolPlusKeys::test_class_terms_contain_grading_periods
  student and staff ids padded to char(10) (with pad_ids)
      test_eschoolplus_flavour::test_pad_ids_pads_user_sourced_ids
  a school year is named by its ending calendar year
      test_eschoolplus_flavour::test_school_year_is_ending_year
  several teachers per section, one primary
      test_eschoolplus_flavour::test_primary_and_secondary_teachers
      test_eschoolplus_server::test_enrollment_primary_flags
  each teacher enrollment carries its own dates
      TestESchoolPlusKeys::test_co_teacher_has_own_dates
      TestESchoolPlusKeys::test_dropped_co_teacher_ends
  dropped and withdrawn students carry end dates, then tobedeleted in deltas
      test_eschoolplus_flavour::test_withdraw_student_shows_in_deltas
      test_eschoolplus_flavour::test_drop_enrollment_shows_in_deltas
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest
import requests
from oauthlib.oauth1 import Client
from oauthlib.oauth1.rfc5849 import signature
from requests_oauthlib import OAuth1

from esp_pipeline.sandbox.districts import generate_district
from esp_pipeline.sandbox.eschoolplus import ESchoolPlusConfig, ESchoolPlusSandbox
from esp_pipeline.sandbox.oauth1 import REPLAY_MESSAGE

HIGH_SCHOOL_BUILDING = 2908525002
MIDDLE_SCHOOL_BUILDING = 2908525003


def oauth_header(
    method: str,
    url: str,
    key: str,
    secret: str,
    *,
    sign_token: bool = False,
    send_token: bool = False,
    body_params: tuple[tuple[str, str], ...] = (),
) -> str:
    """Build a two-legged HMAC-SHA1 `Authorization` header by hand.

    `sign_token` and `send_token` put an empty oauth_token into the base string and into the
    header independently, so a test can send a header whose signature covers other parameters
    than the ones sent. `body_params` are signed but never sent, as by a client that wrongly
    signs its JSON body.
    """
    oauth_params = [
        ("oauth_consumer_key", key),
        ("oauth_nonce", uuid.uuid4().hex),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", str(int(time.time()))),
        ("oauth_version", "1.0"),
    ]
    token = [("oauth_token", "")]
    query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    signed = oauth_params + (token if sign_token else []) + query + list(body_params)
    base_string = signature.signature_base_string(
        method, signature.base_string_uri(url), signature.normalize_parameters(signed)
    )
    sent = oauth_params + (token if send_token else [])
    signer = Client(key, client_secret=secret)
    sent.append(("oauth_signature", signature.sign_hmac_sha1_with_client(base_string, signer)))
    return "OAuth " + ", ".join(f'{name}="{quote(value, safe="~")}"' for name, value in sent)


def plaintext_header(key: str, signature_value: str) -> str:
    """Build a PLAINTEXT header whose oauth_signature is sent exactly as given."""
    return (
        f'OAuth oauth_consumer_key="{key}", oauth_token="", oauth_nonce="{uuid.uuid4().hex}", '
        f'oauth_timestamp="{int(time.time())}", oauth_signature_method="PLAINTEXT", '
        f'oauth_version="1.0", oauth_signature="{signature_value}"'
    )


def signed_body_params(body: dict, style: str) -> tuple[tuple[str, str], ...]:
    """Return what a client that signs its JSON body adds to the base string.

    "fields" signs the top-level fields as if they were form fields. "raw" signs the JSON text
    as one parameter, which is how a form parser reads a body that is not form-encoded.
    """
    if style == "fields":
        return tuple((name, str(value)) for name, value in body.items())
    return ((json.dumps(body), ""),)


# -- Schoology ----------------------------------------------------------------------------------


@dataclass
class SeededSection:
    """A section in a current grading period with one enrolled student."""

    period: int
    course_id: int
    section_id: str
    student: dict
    enrollment_id: str


def seed_section(client, code: str = "FACT") -> SeededSection:
    period = client.create_grading_period()
    course_id = client.create_course(code)
    section_id = client.create_section(course_id, code + "-01", [period])
    student = client.create_user("S-" + code)
    enrollment_id = client.enroll(section_id, student["uid"])
    return SeededSection(period, course_id, section_id, student, enrollment_id)


def schoology_header(client, method: str, path: str, **options) -> str:
    """Sign `method path` for the sandbox's own key with `oauth_header`."""
    config = client.sandbox.config
    return oauth_header(
        method, client.url(path), config.consumer_key, config.consumer_secret, **options
    )


def get_with_header(client, path: str, header: str) -> requests.Response:
    return requests.get(client.url(path), headers={"Authorization": header}, timeout=10)


class TestSchoologyOAuth:
    """Two-legged OAuth 1.0a as Schoology verifies it.

    PLAINTEXT is the percent-decoded `secret&`. HMAC-SHA1 signs the method, the URL, the query
    and exactly the oauth parameters that were sent, never a JSON body. users/me and
    users/ext/{school_uid} return 303, so a client that re-sends its header on the redirect is
    rejected with the duplicate-nonce 401.
    """

    @pytest.mark.parametrize("ampersand", ["&", "%26"])
    def test_plaintext_both_forms_accepted(self, schoology, ampersand):
        config = schoology.sandbox.config
        header = plaintext_header(config.consumer_key, config.consumer_secret + ampersand)

        response = get_with_header(schoology, "roles", header)

        assert response.status_code == 200, response.text

    @pytest.mark.parametrize("ampersand", ["&", "%26"])
    def test_plaintext_wrong_secret_rejected(self, schoology, ampersand):
        key = schoology.sandbox.config.consumer_key
        header = plaintext_header(key, "not-the-secret" + ampersand)

        response = get_with_header(schoology, "roles", header)

        assert response.status_code == 401
        assert response.json()["message"] == "invalid signature"

    def test_signature_for_other_method_rejected(self, schoology):
        header = schoology_header(schoology, "POST", "roles")

        response = get_with_header(schoology, "roles", header)

        assert response.status_code == 401
        assert response.json()["message"] == "invalid signature"

    def test_signature_for_other_path_rejected(self, schoology):
        header = schoology_header(schoology, "GET", "users")

        response = get_with_header(schoology, "roles", header)

        assert response.status_code == 401
        assert response.json()["message"] == "invalid signature"

    def test_token_signed_and_sent_accepted(self, schoology):
        path = "users?start=0&limit=200"
        header = schoology_header(schoology, "GET", path, sign_token=True, send_token=True)

        response = get_with_header(schoology, path, header)

        assert response.status_code == 200, response.text

    def test_token_sent_but_unsigned_rejected(self, schoology):
        path = "users?start=0&limit=200"
        header = schoology_header(schoology, "GET", path, sign_token=False, send_token=True)

        response = get_with_header(schoology, path, header)

        assert response.status_code == 401
        assert response.json()["message"] == "invalid signature"

    def test_token_signed_but_unsent_rejected(self, schoology):
        path = "users?start=0&limit=200"
        header = schoology_header(schoology, "GET", path, sign_token=True, send_token=False)

        response = get_with_header(schoology, path, header)

        assert response.status_code == 401
        assert response.json()["message"] == "invalid signature"

    def test_unsigned_json_body_accepted(self, schoology):
        body = {"title": "Chemistry", "course_code": "CHEM"}
        header = schoology_header(schoology, "POST", "courses")

        response = requests.post(
            schoology.url("courses"), json=body, headers={"Authorization": header}, timeout=10
        )

        assert response.status_code == 201, response.text

    @pytest.mark.parametrize("style", ["fields", "raw"])
    def test_signed_json_body_rejected(self, schoology, style):
        body = {"title": "Chemistry", "course_code": "CHEM"}
        header = schoology_header(
            schoology, "POST", "courses", body_params=signed_body_params(body, style)
        )

        response = requests.post(
            schoology.url("courses"), json=body, headers={"Authorization": header}, timeout=10
        )

        assert response.status_code == 401
        assert response.json()["message"] == "invalid signature"
        assert schoology.state.courses() == []

    def test_users_me_resent_header_is_replay(self, schoology):
        header = schoology_header(schoology, "GET", "users/me")

        # requests re-sends a header it was given on a redirect to the same host.
        response = requests.get(
            schoology.url("users/me"),
            headers={"Authorization": header},
            allow_redirects=True,
            timeout=10,
        )

        assert [step.status_code for step in response.history] == [303]
        assert response.status_code == 401
        assert response.json()["message"] == REPLAY_MESSAGE

    def test_users_me_signed_again_succeeds(self, schoology):
        redirect = schoology.get("users/me")

        followed = schoology.session.get(redirect.headers["Location"], timeout=10)

        assert redirect.status_code == 303
        assert followed.status_code == 200
        assert followed.json()["id"] == schoology.state.admin_uid


@dataclass(frozen=True)
class SingleResource:
    """How to create, address and change one kind of Schoology object.

    `create_body` builds the POST body from the client and a seeded section. The paths take
    `{course_id}`, `{section_id}` and, for the item, `{id}`.
    """

    name: str
    collection: str
    item: str
    create_body: Callable[[Any, SeededSection], dict]
    update_body: dict


SINGLE_RESOURCES = [
    SingleResource(
        "user",
        "users",
        "users/{id}",
        lambda client, seeded: client.user_body("S-STATUS"),
        {"name_last": "Changed"},
    ),
    SingleResource(
        "course",
        "courses",
        "courses/{id}",
        lambda client, seeded: {"title": "Biology", "course_code": "BIO"},
        {"title": "Biology I"},
    ),
    SingleResource(
        "section",
        "courses/{course_id}/sections",
        "sections/{id}",
        lambda client, seeded: {
            "title": "Biology P2",
            "section_school_code": "BIO-02",
            "grading_periods": [seeded.period],
        },
        {"title": "Biology Period 2"},
    ),
    SingleResource(
        "enrollment",
        "sections/{section_id}/enrollments",
        "sections/{section_id}/enrollments/{id}",
        lambda client, seeded: {
            "uid": client.create_user("S-EXTRA")["uid"],
            "admin": 0,
            "status": 1,
        },
        {"status": 5},
    ),
    SingleResource(
        "grading period",
        "gradingperiods",
        "gradingperiods/{id}",
        lambda client, seeded: {"title": "Summer", "start": "2026-06-01", "end": "2099-08-01"},
        {"title": "Summer term"},
    ),
    SingleResource(
        "assignment",
        "sections/{section_id}/assignments",
        "sections/{section_id}/assignments/{id}",
        lambda client, seeded: {"title": "Quiz 1"},
        {"title": "Quiz 1 (retake)"},
    ),
]


class TestSchoologyStatusCodes:
    """GET returns 200, POST 201 with the object, PUT and DELETE 204 with an empty body."""

    @pytest.mark.parametrize("resource", SINGLE_RESOURCES, ids=lambda r: r.name)
    def test_single_object_status_codes(self, schoology, resource):
        seeded = seed_section(schoology)
        ids = {"course_id": seeded.course_id, "section_id": seeded.section_id}
        body = resource.create_body(schoology, seeded)

        created = schoology.post(resource.collection.format(**ids), json=body)
        item_path = resource.item.format(id=created.json().get("id"), **ids)
        fetched = schoology.get(item_path)
        updated = schoology.put(item_path, json=resource.update_body)
        deleted = schoology.delete(item_path)

        assert created.status_code == 201, created.text
        assert created.json()["links"]["self"] == schoology.url(item_path)
        assert fetched.status_code == 200
        assert updated.status_code == 204
        assert updated.content == b""
        assert deleted.status_code == 204
        assert deleted.content == b""
        assert schoology.get(item_path).status_code == 404


@dataclass(frozen=True)
class ListedCollection:
    """A paged Schoology collection, its array key and whether `total` is a number."""

    path: str
    key: str
    total_is_number: bool


LISTED_COLLECTIONS = [
    ListedCollection("users", "user", False),
    ListedCollection("courses", "course", False),
    ListedCollection("courses/{course_id}/sections", "section", False),
    ListedCollection("sections/{section_id}/enrollments", "enrollment", False),
    ListedCollection("sections/{section_id}/assignments", "assignment", True),
    ListedCollection("gradingperiods", "gradingperiods", True),
]


class TestSchoologyEnvelopes:
    """A list envelope contains its rows under the singular key (gradingperiods is plural),
    `total` and an absolute `links.self`. `links.next` is absolute and present only while rows
    remain."""

    @staticmethod
    def seed_two_of_each(client) -> dict:
        """Create two of each listed object, counting the key's admin as one of the two users;
        return the ids the collection paths need."""
        seeded = seed_section(client)
        client.create_grading_period("Second")
        client.create_course("SECOND")
        client.create_section(seeded.course_id, "FACT-02", [seeded.period])
        # The key's admin is the second user, so enrolling it adds no third user.
        client.enroll(seeded.section_id, client.state.admin_uid, admin=1)
        for title in ("Quiz 1", "Quiz 2"):
            path = f"sections/{seeded.section_id}/assignments"
            response = client.post(path, json={"title": title})
            assert response.status_code == 201, response.text
        return {"course_id": seeded.course_id, "section_id": seeded.section_id}

    @pytest.mark.parametrize("collection", LISTED_COLLECTIONS, ids=lambda c: c.key)
    def test_list_envelope_shape(self, schoology, collection):
        path = collection.path.format(**self.seed_two_of_each(schoology))

        first = schoology.get(path, params={"limit": 1}).json()
        last = schoology.get(path, params={"start": 1, "limit": 1}).json()

        assert set(first) == {collection.key, "total", "links"}
        assert len(first[collection.key]) == 1
        expected_total = 2 if collection.total_is_number else "2"
        assert first["total"] == expected_total
        assert first["links"]["self"] == schoology.url(path) + "?start=0&limit=1"
        assert first["links"]["next"] == schoology.url(path) + "?start=1&limit=1"
        assert len(last[collection.key]) == 1
        assert "next" not in last["links"]


class TestSchoologyBulk:
    """Bulk calls take at most 50 items. Sections upsert on section_code plus grading_periods.
    school_uid is unique per school and e-mail across the platform, whatever the building."""

    @pytest.mark.parametrize("kind", ["courses", "sections"])
    def test_bulk_51_items_rejected(self, schoology, kind):
        period = schoology.create_grading_period()
        course_id = schoology.create_course("BULK")
        if kind == "courses":
            path, singular = "courses", "course"
            items = [{"title": f"C{n}", "course_code": f"C{n}"} for n in range(51)]
        else:
            path, singular = f"courses/{course_id}/sections", "section"
            items = [
                {"title": f"S{n}", "section_school_code": f"S{n}", "grading_periods": [period]}
                for n in range(51)
            ]

        response = schoology.post(path, json={kind: {singular: items}})

        assert response.status_code == 400
        assert "at most 50" in response.json()["message"]
        assert len(schoology.state.courses()) == 1
        assert schoology.state.sections() == []

    def test_section_upsert_keys_on_periods(self, schoology):
        fall = schoology.create_grading_period("Fall", "2025-08-01", "2099-12-20")
        spring = schoology.create_grading_period("Spring", "2026-01-05", "2099-06-30")
        path = f"courses/{schoology.create_course('KEY')}/sections"

        def upsert(title: str, periods: list[int]) -> dict:
            item = {"title": title, "section_code": "1", "grading_periods": periods}
            response = schoology.post(
                path, params={"update_existing": 1}, json={"sections": {"section": [item]}}
            )
            assert response.status_code == 207
            return response.json()["section"][0]

        fall_section = upsert("Period 1 (fall)", [fall])
        spring_section = upsert("Period 1 (spring)", [spring])
        fall_again = upsert("Period 1 (fall, renamed)", [fall])

        assert fall_section["response_code"] == 200
        assert spring_section["response_code"] == 200
        assert spring_section["id"] != fall_section["id"]
        assert fall_again["response_code"] == 200
        assert fall_again["id"] == fall_section["id"]
        titles = {section["id"]: section["title"] for section in schoology.state.sections()}
        assert titles == {
            int(fall_section["id"]): "Period 1 (fall, renamed)",
            int(spring_section["id"]): "Period 1 (spring)",
        }

    def test_school_uid_unique_across_buildings(self, schoology):
        schoology.create_user("S-SHARED", building_id=HIGH_SCHOOL_BUILDING)
        body = schoology.user_body(
            "S-SHARED", username="someone-else", building_id=MIDDLE_SCHOOL_BUILDING
        )

        response = schoology.post("users", json={"users": {"user": [body]}})

        assert response.status_code == 207
        assert response.json()["user"][0]["response_code"] == 400
        assert "S-SHARED" in response.json()["user"][0]["message"]

    def test_email_unique_across_buildings(self, schoology):
        schoology.create_user(
            "S-MAIL-1", primary_email="pat@district.example", building_id=HIGH_SCHOOL_BUILDING
        )
        body = schoology.user_body(
            "S-MAIL-2", primary_email="Pat@District.example", building_id=MIDDLE_SCHOOL_BUILDING
        )

        response = schoology.post("users", json={"users": {"user": [body]}})

        assert response.status_code == 207
        assert response.json()["user"][0]["response_code"] == 400
        assert "e-mail" in response.json()["user"][0]["message"]


class TestSchoologyGrades:
    """`sections/{id}/grades` returns exactly one row per (enrollment_id, assignment_id)."""

    def test_one_grade_row_per_pair(self, schoology):
        seeded = seed_section(schoology)
        second = schoology.create_user("S-SECOND")
        second_enrollment = int(schoology.enroll(seeded.section_id, second["uid"]))
        items = schoology.state.seed_gradebook(
            int(seeded.section_id),
            assignments=[{"title": "Quiz 1"}, {"title": "Quiz 2"}, {"title": "Quiz 3"}],
            grades=[{"uid": seeded.student["id"], "assignment": 1, "grade": 9}],
        )["assignments"]

        response = schoology.get(f"sections/{seeded.section_id}/grades", params={"limit": 200})

        rows = response.json()["grades"]["grade"]
        pairs = [(row["enrollment_id"], row["assignment_id"]) for row in rows]
        enrollments = [int(seeded.enrollment_id), second_enrollment]
        assert response.status_code == 200
        assert len(pairs) == len(set(pairs))
        assert set(pairs) == {(e, a) for e in enrollments for a in items}


# -- eSchoolPLUS --------------------------------------------------------------------------------

ESP_KEY = "OneRoster_FACTS"
ESP_SECRET = "facts-secret"


@dataclass
class ESchoolPlus:
    sandbox: ESchoolPlusSandbox
    root: str

    def get(self, path: str, **params) -> requests.Response:
        return requests.get(
            f"{self.root}/{path}", params=params, auth=OAuth1(ESP_KEY, ESP_SECRET), timeout=30
        )

    def items(self, path: str, envelope: str, **params) -> list[dict]:
        params.setdefault("limit", 5000)
        response = self.get(path, **params)
        assert response.status_code == 200, (path, response.text)
        return response.json()[envelope]


def serve_eschoolplus() -> Iterator[ESchoolPlus]:
    district = generate_district(
        seed=3, schools=2, students=60, teachers=8, school_year=2026, co_teacher_rate=0.5
    )
    sandbox = ESchoolPlusSandbox(
        district, ESchoolPlusConfig(consumer_key=ESP_KEY, consumer_secret=ESP_SECRET)
    )
    with sandbox.serve() as server:
        yield ESchoolPlus(sandbox, server.url + sandbox.oneroster_path)


@pytest.fixture(scope="module")
def esp_shared() -> Iterator[ESchoolPlus]:
    """A sandbox that no test changes."""
    yield from serve_eschoolplus()


@pytest.fixture
def esp() -> Iterator[ESchoolPlus]:
    """A sandbox of its own, for tests that change the roster or the gradebook."""
    yield from serve_eschoolplus()


def status_description(response: requests.Response) -> str:
    return response.json()["statusInfoSet"][0]["imsx_description"]


# (parameter, value signed, value sent instead)
QUERY_CHANGES = [
    ("limit", "5", "6"),
    ("offset", "0", "5"),
    ("filter", "role='student'", "role='teacher'"),
    ("sort", "familyName", "givenName"),
    ("orderBy", "asc", "desc"),
    ("fields", "sourcedId,role", "sourcedId,username"),
]


def line_item_body(esp: ESchoolPlus) -> dict:
    """A valid lineItem for the first class that has students, due in its first grading period."""
    store = esp.sandbox.store
    class_id = next(c for c in sorted(store.class_students) if store.class_students[c])
    term_id = store.classes[class_id].term_ids[0]
    period = store.sessions[store.term_grading_periods[term_id][0]]
    day = period.start_date + dt.timedelta(days=3)
    return {
        "title": "Ch 3 Quiz",
        "assignDate": f"{day}T15:00:00.000Z",
        "dueDate": f"{day}T23:59:00.000Z",
        "resultValueMin": 0,
        "resultValueMax": 20,
        "class": {"sourcedId": class_id},
        "category": {"sourcedId": "QZ"},
        "gradingPeriod": {"sourcedId": period.sourced_id},
    }


class TestESchoolPlusSigning:
    """The signature base string covers every query parameter but not the JSON body."""

    @pytest.mark.parametrize(("name", "signed", "sent"), QUERY_CHANGES)
    def test_signed_query_parameter_accepted(self, esp_shared, name, signed, sent):
        url = f"{esp_shared.root}/users?{urlencode({name: signed})}"
        header = oauth_header("GET", url, ESP_KEY, ESP_SECRET)

        response = requests.get(url, headers={"Authorization": header}, timeout=30)

        assert response.status_code == 200, response.text

    @pytest.mark.parametrize(("name", "signed", "sent"), QUERY_CHANGES)
    def test_changed_query_parameter_rejected(self, esp_shared, name, signed, sent):
        signed_url = f"{esp_shared.root}/users?{urlencode({name: signed})}"
        header = oauth_header("GET", signed_url, ESP_KEY, ESP_SECRET)

        response = requests.get(
            f"{esp_shared.root}/users",
            params={name: sent},
            headers={"Authorization": header},
            timeout=30,
        )

        assert response.status_code == 401
        assert "invalid signature" in status_description(response)

    def test_unsigned_query_parameter_rejected(self, esp_shared):
        header = oauth_header("GET", f"{esp_shared.root}/users", ESP_KEY, ESP_SECRET)

        response = requests.get(
            f"{esp_shared.root}/users",
            params={"limit": 3},
            headers={"Authorization": header},
            timeout=30,
        )

        assert response.status_code == 401
        assert "invalid signature" in status_description(response)

    def test_unsigned_json_body_accepted(self, esp):
        url = f"{esp.root}/lineItems/li-unsigned"
        header = oauth_header("PUT", url, ESP_KEY, ESP_SECRET)

        body = {"lineItem": line_item_body(esp)}

        response = requests.put(url, json=body, headers={"Authorization": header}, timeout=30)

        assert response.status_code == 201, response.text

    @pytest.mark.parametrize("style", ["fields", "raw"])
    def test_signed_json_body_rejected(self, esp, style):
        url = f"{esp.root}/lineItems/li-signed"
        body = {"lineItem": line_item_body(esp)}
        header = oauth_header(
            "PUT", url, ESP_KEY, ESP_SECRET, body_params=signed_body_params(body, style)
        )

        response = requests.put(url, json=body, headers={"Authorization": header}, timeout=30)

        assert response.status_code == 401
        assert "invalid signature" in status_description(response)
        assert esp.sandbox.gradebook.line_items() == []


class TestESchoolPlusKeys:
    """eSchool keys: a school is a BUILDING number and a class a numeric SECTION_KEY whose terms
    contain the marking periods. Each teacher of a section has its own dated enrollment."""

    def test_school_id_is_building_number(self, esp_shared):
        schools = esp_shared.items("schools", "orgs")

        assert schools
        for school in schools:
            assert school["sourcedId"].isdigit(), school["sourcedId"]
            assert school["identifier"] == school["sourcedId"]

    def test_class_id_is_section_key(self, esp_shared):
        classes = esp_shared.items("classes", "classes")
        school_ids = {school["sourcedId"] for school in esp_shared.items("schools", "orgs")}

        assert classes
        for school_class in classes:
            assert school_class["sourcedId"].isdigit(), school_class["sourcedId"]
            assert school_class["school"]["sourcedId"] in school_ids

    def test_class_terms_contain_grading_periods(self, esp_shared):
        school_class = esp_shared.items("classes", "classes", limit=1)[0]
        [term_ref] = school_class["terms"]
        term_id = term_ref["sourcedId"]

        term = esp_shared.get(f"terms/{term_id}").json()["academicSession"]
        periods = esp_shared.items(f"terms/{term_id}/gradingPeriods", "academicSessions")
        classes_in_term = esp_shared.items(f"terms/{term_id}/classes", "classes")

        assert term["type"] == "term"
        assert periods
        for period in periods:
            assert period["parent"]["sourcedId"] == term_id
            assert term["startDate"] <= period["startDate"] <= period["endDate"] <= term["endDate"]
        assert school_class["sourcedId"] in {c["sourcedId"] for c in classes_in_term}

    @staticmethod
    def add_co_teacher(esp: ESchoolPlus, days_into_term: int) -> tuple[str, str, str, dt.date]:
        """Add a second teacher of the same school to a one-teacher class, starting
        `days_into_term` days after the term starts.

        Returns the class id, its primary teacher, the co-teacher and the co-teacher's first day.
        """
        store = esp.sandbox.store
        class_id = next(
            c for c in sorted(store.class_teachers) if len(store.class_teachers[c]) == 1
        )
        [primary] = store.class_teachers[class_id]
        school_id = store.classes[class_id].school_id
        co_teacher = next(t for t in store.school_teachers[school_id] if t != primary)
        term = store.sessions[store.classes[class_id].term_ids[0]]
        joined = term.start_date + dt.timedelta(days=days_into_term)
        esp.sandbox.add_enrollment(class_id, co_teacher, on=joined, primary=False)
        return class_id, primary, co_teacher, joined

    def teacher_enrollments(self, esp: ESchoolPlus, class_id: str) -> dict[str, dict]:
        school_id = esp.sandbox.store.classes[class_id].school_id
        enrollments = esp.items(
            f"schools/{school_id}/classes/{class_id}/enrollments",
            "enrollments",
            filter="role='teacher'",
        )
        return {enrollment["user"]["sourcedId"]: enrollment for enrollment in enrollments}

    def test_co_teacher_has_own_dates(self, esp):
        class_id, primary, co_teacher, joined = self.add_co_teacher(esp, days_into_term=30)
        term_id = esp.sandbox.store.classes[class_id].term_ids[0]
        term = esp.sandbox.store.sessions[term_id]

        by_teacher = self.teacher_enrollments(esp, class_id)
        teachers = {t["sourcedId"] for t in esp.items(f"classes/{class_id}/teachers", "users")}

        assert teachers == {primary, co_teacher}
        assert by_teacher[primary]["primary"] == "true"
        assert by_teacher[primary]["beginDate"] == term.start_date.isoformat()
        assert by_teacher[primary]["endDate"] == term.end_date.isoformat()
        assert by_teacher[co_teacher]["primary"] == "false"
        assert by_teacher[co_teacher]["beginDate"] == joined.isoformat()
        assert by_teacher[co_teacher]["endDate"] == term.end_date.isoformat()

    def test_dropped_co_teacher_ends(self, esp):
        class_id, primary, co_teacher, joined = self.add_co_teacher(esp, days_into_term=30)
        left = joined + dt.timedelta(days=45)
        esp.sandbox.drop_enrollment(class_id, co_teacher, on=left)

        by_teacher = self.teacher_enrollments(esp, class_id)
        teachers = {t["sourcedId"] for t in esp.items(f"classes/{class_id}/teachers", "users")}

        assert teachers == {primary}
        assert by_teacher[co_teacher]["status"] == "tobedeleted"
        assert by_teacher[co_teacher]["endDate"] == left.isoformat()
        assert by_teacher[primary]["status"] == "active"


def test_eschoolplus_nonce_single_use_across_timestamps():
    """A nonce sent again with a new timestamp is a replay for eSchoolPLUS: it logs every nonce."""
    sandbox = ESchoolPlusSandbox(
        generate_district(seed=1, schools=1, students=5, school_year=2027),
        ESchoolPlusConfig(consumer_key="key", consumer_secret="secret"),
    )
    with sandbox.serve() as server:
        url = server.url + sandbox.oneroster_path + "/orgs"
        now = int(time.time())
        statuses = []
        for timestamp in (now, now + 1):
            client = Client("key", "secret", nonce="fixednonce123", timestamp=str(timestamp))
            signed_url, headers, _ = client.sign(url)
            statuses.append(requests.get(signed_url, headers=headers, timeout=10).status_code)
    assert statuses[0] == 200
    assert statuses[1] == 401
