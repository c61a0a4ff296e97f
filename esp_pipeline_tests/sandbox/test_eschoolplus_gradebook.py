"""Gradebook write-back on the eSchoolPLUS sandbox over real HTTP, signed with OAuth 1.0a."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from requests_oauthlib import OAuth1

from esp_pipeline.sandbox.districts import generate_district
from esp_pipeline.sandbox.eschoolplus import SCORE_STATUSES, ESchoolPlusConfig, ESchoolPlusSandbox

KEY = "OneRoster_GB_1"
SECRET = "gradebook-secret"


@dataclass
class Gradebook:
    """A running sandbox, its OneRoster root and a science class with its first grading period."""

    sandbox: ESchoolPlusSandbox
    root: str
    class_id: str
    other_class_id: str
    grading_period: dict
    students: list[str]
    outsider: str

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return requests.request(method, f"{self.root}/{path}", auth=OAuth1(KEY, SECRET), **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def put(self, path: str, body: dict) -> requests.Response:
        return self.request("PUT", path, json=body)

    def post(self, path: str, body: dict) -> requests.Response:
        return self.request("POST", path, json=body)

    def delete(self, path: str) -> requests.Response:
        return self.request("DELETE", path)

    def line_item(self, **overrides) -> dict:
        """A valid lineItem body for the science class, due inside its first grading period."""
        start = dt.date.fromisoformat(self.grading_period["start"])
        body = {
            "title": "Ch 3 Quiz",
            "description": "Cells and tissues",
            "assignDate": f"{start + dt.timedelta(days=7)}T15:00:00.000Z",
            "dueDate": f"{start + dt.timedelta(days=10)}T23:59:00.000Z",
            "resultValueMin": 0,
            "resultValueMax": 20,
            "class": {"sourcedId": self.class_id},
            "category": {"sourcedId": "QZ"},
            "gradingPeriod": {"sourcedId": self.grading_period["id"]},
        }
        body.update(overrides)
        return {key: value for key, value in body.items() if value is not None}

    def result(self, line_item_id: str, student: str, **overrides) -> dict:
        body = {
            "lineItem": {"sourcedId": line_item_id},
            "student": {"sourcedId": student},
            "score": 18,
            "scoreStatus": "fully graded",
            "scoreDate": "2025-09-10T10:00:00.000Z",
            "comment": "",
        }
        body.update(overrides)
        return {key: value for key, value in body.items() if value is not None}

    def create_line_item(self, sourced_id: str = "li-1", **overrides) -> dict:
        response = self.put(f"lineItems/{sourced_id}", {"lineItem": self.line_item(**overrides)})
        assert response.status_code == 201, response.text
        return response.json()["lineItem"]


def start_gradebook(**overrides) -> Iterator[Gradebook]:
    district = generate_district(seed=3, schools=2, students=60, teachers=8, school_year=2026)
    settings = {"consumer_key": KEY, "consumer_secret": SECRET}
    settings.update(overrides)
    sandbox = ESchoolPlusSandbox(district, ESchoolPlusConfig(**settings))
    store = sandbox.store
    science = next(
        c for c in district.classes if c.title.startswith("Science") and store.class_students[c.sourced_id]
    )
    other = next(
        c
        for c in district.classes
        if c.title.startswith("Mathematics") and c.school_id == science.school_id
        and set(store.class_students[c.sourced_id]) != set(store.class_students[science.sourced_id])
    )
    period = store.sessions[store.term_grading_periods[science.term_ids[0]][0]]
    outsider = next(
        s for s in store.student_ids if s not in store.class_students[science.sourced_id]
    )
    with sandbox.serve() as server:
        yield Gradebook(
            sandbox=sandbox,
            root=server.url + sandbox.oneroster_path,
            class_id=science.sourced_id,
            other_class_id=other.sourced_id,
            grading_period={
                "id": period.sourced_id,
                "start": period.start_date.isoformat(),
                "end": period.end_date.isoformat(),
            },
            students=store.class_students[science.sourced_id],
            outsider=outsider,
        )


@pytest.fixture
def gb() -> Iterator[Gradebook]:
    yield from start_gradebook()


@pytest.fixture
def gradebook_factory():
    """Start gradebook sandboxes with config overrides; each stops when the test ends."""
    running = []

    def start(**overrides) -> Gradebook:
        generator = start_gradebook(**overrides)
        running.append(generator)
        return next(generator)

    yield start
    for generator in running:
        generator.close()


def status_entries(response: requests.Response) -> list[dict]:
    entries = response.json()["statusInfoSet"]
    for entry in entries:
        assert entry["imsx_codeMajor"] == "failure"
        assert entry["imsx_description"]
    return entries


def description(response: requests.Response) -> str:
    return status_entries(response)[0]["imsx_description"]


def code_minor(response: requests.Response) -> str:
    entry = status_entries(response)[0]
    return entry["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"]


# --- PUT idempotency ------------------------------------------------------------------------------


def test_put_line_item_creates_then_updates(gb):
    first = gb.put("lineItems/li-1", {"lineItem": gb.line_item()})
    assert first.status_code == 201, first.text
    created = first.json()["lineItem"]
    assert created["sourcedId"] == "li-1"
    assert created["title"] == "Ch 3 Quiz"
    assert created["class"]["sourcedId"] == gb.class_id
    assert created["category"]["sourcedId"] == "QZ"
    assert created["gradingPeriod"]["sourcedId"] == gb.grading_period["id"]
    assert created["school"]["sourcedId"] == gb.sandbox.store.classes[gb.class_id].school_id
    assert created["resultValueMax"] == 20
    assert created["assignDate"].endswith("T15:00:00.000Z")

    second = gb.put("lineItems/li-1", {"lineItem": gb.line_item(title="Ch 3 Quiz (retake)")})
    assert second.status_code == 200, second.text
    assert second.json()["lineItem"]["title"] == "Ch 3 Quiz (retake)"
    assert second.json()["lineItem"]["dateLastModified"] > created["dateLastModified"]

    stored = gb.sandbox.gradebook.line_items()
    assert [item.sourced_id for item in stored] == ["li-1"]
    assert stored[0].title == "Ch 3 Quiz (retake)"
    listed = gb.get(f"classes/{gb.class_id}/lineItems")
    assert listed.headers["X-Total-Count"] == "1"
    assert gb.get("lineItems/li-1").json()["lineItem"]["title"] == "Ch 3 Quiz (retake)"


def test_put_result_creates_then_updates(gb):
    gb.create_line_item()
    student = gb.students[0]
    first = gb.put("results/r-1", {"result": gb.result("li-1", student)})
    assert first.status_code == 201, first.text
    assert first.json()["result"]["student"]["sourcedId"] == student
    assert first.json()["result"]["scoreStatus"] == "fully graded"

    second = gb.put("results/r-1", {"result": gb.result("li-1", student, score=19)})
    assert second.status_code == 200, second.text
    assert second.json()["result"]["score"] == 19

    results = gb.sandbox.gradebook.results()
    assert [(r.sourced_id, r.student_id, r.score) for r in results] == [("r-1", student, 19)]
    listed = gb.get(f"classes/{gb.class_id}/lineItems/li-1/results").json()["results"]
    assert [r["sourcedId"] for r in listed] == ["r-1"]


def test_body_sourced_id_must_match_path(gb):
    response = gb.put("lineItems/li-1", {"lineItem": gb.line_item(sourcedId="li-2")})
    assert response.status_code == 422
    assert "does not match" in description(response)


def test_body_without_envelope_rejected(gb):
    response = gb.put("lineItems/li-1", gb.line_item())
    assert response.status_code == 400
    assert "'lineItem'" in description(response)


# --- one result per student -----------------------------------------------------------------------


def test_second_result_for_student_conflicts(gb):
    gb.create_line_item()
    student = gb.students[0]
    assert gb.put("results/r-1", {"result": gb.result("li-1", student)}).status_code == 201
    response = gb.put("results/r-2", {"result": gb.result("li-1", student, score=5)})
    assert response.status_code == 409
    assert "r-1" in description(response)
    results = gb.sandbox.gradebook.results()
    assert [(r.sourced_id, r.score) for r in results] == [("r-1", 18)]


def test_second_result_overwrites_when_configured(gradebook_factory):
    gb = gradebook_factory(duplicate_result="overwrite")
    gb.create_line_item()
    student = gb.students[0]
    assert gb.put("results/r-1", {"result": gb.result("li-1", student)}).status_code == 201
    response = gb.put("results/r-2", {"result": gb.result("li-1", student, score=5)})
    assert response.status_code == 201, response.text
    results = gb.sandbox.gradebook.results()
    assert [(r.sourced_id, r.score) for r in results] == [("r-2", 5)]
    assert gb.get("results/r-1").status_code == 404


# --- enrollment, category and date rules ----------------------------------------------------------


def test_result_needs_active_enrollment(gb):
    gb.create_line_item()
    outsider = gb.put("results/r-1", {"result": gb.result("li-1", gb.outsider)})
    assert outsider.status_code == 422
    assert "not actively enrolled" in description(outsider)

    teacher = gb.sandbox.store.class_teachers[gb.class_id][0]
    as_student = gb.put("results/r-2", {"result": gb.result("li-1", teacher)})
    assert as_student.status_code == 422
    assert f"student {teacher} not found" in description(as_student)

    dropped = gb.students[1]
    gb.sandbox.drop_enrollment(gb.class_id, dropped, on=dt.date(2025, 9, 1))
    response = gb.put("results/r-3", {"result": gb.result("li-1", dropped)})
    assert response.status_code == 422
    assert "not actively enrolled" in description(response)
    assert gb.sandbox.gradebook.results() == []


def test_unknown_category_rejected(gb):
    response = gb.put("lineItems/li-1", {"lineItem": gb.line_item(category={"sourcedId": "ZZ"})})
    assert response.status_code == 422
    assert description(response) == "category ZZ not found"
    assert code_minor(response) == "invalid_data"


def test_category_must_be_set_up_for_class(gb):
    other = gb.other_class_id
    body = gb.line_item(**{"class": {"sourcedId": other}, "category": {"sourcedId": "LAB"}})
    body.pop("gradingPeriod")
    response = gb.put("lineItems/li-1", {"lineItem": body})
    assert response.status_code == 422
    assert description(response) == f"category LAB is not set up for class {other}"
    lab = gb.put("lineItems/li-2", {"lineItem": gb.line_item(category={"sourcedId": "LAB"})})
    assert lab.status_code == 201, lab.text


@pytest.mark.parametrize(
    ("field", "shift_days", "edge"),
    [("assignDate", -1, "start"), ("dueDate", 1, "end")],
)
def test_date_outside_grading_period_rejected(gb, field, shift_days, edge):
    outside = dt.date.fromisoformat(gb.grading_period[edge]) + dt.timedelta(days=shift_days)
    changes = {field: f"{outside}T12:00:00.000Z"}
    if field == "assignDate":
        changes["dueDate"] = gb.line_item()["dueDate"]
    else:
        changes["assignDate"] = gb.line_item()["assignDate"]
    response = gb.put("lineItems/li-1", {"lineItem": gb.line_item(**changes)})
    assert response.status_code == 422
    message = description(response)
    assert message.startswith(f"{field} {outside} is outside grading period {gb.grading_period['id']}")


def test_dates_checked_against_class_terms(gb):
    body = gb.line_item(assignDate="2024-09-01", dueDate="2024-09-05")
    body.pop("gradingPeriod")
    response = gb.put("lineItems/li-1", {"lineItem": body})
    assert response.status_code == 422
    assert "outside the terms of class" in description(response)
    body = gb.line_item()
    body.pop("gradingPeriod")
    assert gb.put("lineItems/li-1", {"lineItem": body}).status_code == 201


def test_grading_period_of_other_term_rejected(gb):
    store = gb.sandbox.store
    own_term = store.classes[gb.class_id].term_ids[0]
    foreign = next(
        gp for gp in store.grading_period_ids if store.sessions[gp].parent_id != own_term
    )
    response = gb.put(
        "lineItems/li-1", {"lineItem": gb.line_item(gradingPeriod={"sourcedId": foreign})}
    )
    assert response.status_code == 422
    assert f"gradingPeriod {foreign} is not a marking period of class" in description(response)


def test_date_check_can_be_turned_off(gradebook_factory):
    gb = gradebook_factory(check_line_item_dates=False)
    body = gb.line_item(assignDate="2024-09-01", dueDate="2024-09-05")
    assert gb.put("lineItems/li-1", {"lineItem": body}).status_code == 201


def test_due_date_before_assign_date_rejected(gb):
    body = gb.line_item(assignDate=gb.line_item()["dueDate"], dueDate=gb.line_item()["assignDate"])
    response = gb.put("lineItems/li-1", {"lineItem": body})
    assert response.status_code == 422
    assert "is before assignDate" in description(response)


# --- field checks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["title", "assignDate", "dueDate", "class", "category",
                                   "resultValueMax"])
def test_line_item_required_field(gb, field):
    body = gb.line_item()
    del body[field]
    response = gb.put("lineItems/li-1", {"lineItem": body})
    assert response.status_code == 422
    assert description(response).startswith(f"{field} is required")


@pytest.mark.parametrize("field", ["lineItem", "student", "scoreStatus", "score", "scoreDate"])
def test_result_required_field(gb, field):
    gb.create_line_item()
    body = gb.result("li-1", gb.students[0])
    del body[field]
    response = gb.put("results/r-1", {"result": body})
    assert response.status_code == 422
    assert description(response).startswith(f"{field} is required")


def test_grading_period_required_when_configured(gradebook_factory):
    gb = gradebook_factory(require_grading_period=True)
    body = gb.line_item()
    del body["gradingPeriod"]
    response = gb.put("lineItems/li-1", {"lineItem": body})
    assert response.status_code == 422
    assert description(response).startswith("gradingPeriod is required")


def test_sourced_id_length_limit(gb):
    assert gb.put("lineItems/" + "a" * 64, {"lineItem": gb.line_item()}).status_code == 201
    response = gb.put("lineItems/" + "b" * 65, {"lineItem": gb.line_item()})
    assert response.status_code == 422
    assert description(response) == "sourcedId is 65 characters; the maximum is 64"
    gb.create_line_item()
    result = gb.put("results/" + "c" * 65, {"result": gb.result("li-1", gb.students[0])})
    assert result.status_code == 422


def test_title_over_255_rejected(gb):
    assert gb.put("lineItems/li-1", {"lineItem": gb.line_item(title="T" * 255)}).status_code == 201
    response = gb.put("lineItems/li-2", {"lineItem": gb.line_item(title="T" * 256)})
    assert response.status_code == 422
    assert description(response) == "title is 256 characters; the maximum is 255"
    assert [item.sourced_id for item in gb.sandbox.gradebook.line_items()] == ["li-1"]


def test_title_over_255_truncated_when_configured(gradebook_factory):
    gb = gradebook_factory(long_title="truncate")
    title = "Unit 4 lab report: " + "x" * 300
    created = gb.create_line_item(title=title)
    assert created["title"] == title[:255]
    assert gb.sandbox.gradebook.line_items()[0].title == title[:255]


@pytest.mark.parametrize("status", SCORE_STATUSES)
def test_score_status_vocabulary_accepted(gb, status):
    gb.create_line_item()
    body = gb.result("li-1", gb.students[0], scoreStatus=status, score=0)
    response = gb.put("results/r-1", {"result": body})
    assert response.status_code == 201, response.text
    assert response.json()["result"]["scoreStatus"] == status


@pytest.mark.parametrize(
    ("status", "hint"),
    [("fully_graded", True), ("Not_Submitted", True), ("graded", False), ("missing", False)],
)
def test_score_status_outside_vocabulary_rejected(gb, status, hint):
    gb.create_line_item()
    response = gb.put("results/r-1", {"result": gb.result("li-1", gb.students[0], scoreStatus=status)})
    assert response.status_code == 422
    message = description(response)
    assert f"scoreStatus {status!r} is not one of" in message
    assert ("use spaces" in message) is hint


@pytest.mark.parametrize("score", ["A+", "abc", True, [18], "NaN"])
def test_non_numeric_score_rejected(gb, score):
    gb.create_line_item()
    response = gb.put("results/r-1", {"result": gb.result("li-1", gb.students[0], score=score)})
    assert response.status_code == 422
    assert description(response).startswith("score must be a")


def test_numeric_string_score_accepted(gb):
    gb.create_line_item()
    response = gb.put("results/r-1", {"result": gb.result("li-1", gb.students[0], score="17.5")})
    assert response.status_code == 201, response.text
    assert response.json()["result"]["score"] == 17.5


def test_score_below_min_rejected(gb):
    gb.create_line_item()
    response = gb.put("results/r-1", {"result": gb.result("li-1", gb.students[0], score=-1)})
    assert response.status_code == 422
    assert "below resultValueMin" in description(response)


def test_extra_credit_round_trip(gb):
    gb.create_line_item(resultValueMax=100)
    body = gb.result("li-1", gb.students[0], score=300)
    assert gb.put("results/r-1", {"result": body}).status_code == 201
    fetched = gb.get("results/r-1").json()["result"]
    assert fetched["score"] == 300
    line_item = gb.get("lineItems/li-1").json()["lineItem"]
    assert line_item["resultValueMax"] == 100
    assert gb.sandbox.gradebook.results()[0].score == 300


def test_extra_credit_rejected_when_configured(gradebook_factory):
    gb = gradebook_factory(reject_score_above_max=True)
    gb.create_line_item(resultValueMax=100)
    response = gb.put("results/r-1", {"result": gb.result("li-1", gb.students[0], score=300)})
    assert response.status_code == 422
    assert "above resultValueMax" in description(response)


# --- POST collections (OneRoster 1.2) -------------------------------------------------------------


def test_post_line_items_for_class_returns_pairs(gb):
    items = [
        {**gb.line_item(title="Quiz 1"), "sourcedId": "post-1"},
        {**gb.line_item(title="Quiz 2"), "sourcedId": "post-2"},
    ]
    for item in items:
        del item["class"]
    response = gb.post(f"classes/{gb.class_id}/lineItems", {"lineItems": items})
    assert response.status_code == 201, response.text
    pairs = response.json()["sourcedIdPairs"]
    assert isinstance(pairs, list)
    assert pairs == [
        {"suppliedSourcedId": "post-1", "allocatedSourcedId": "post-1"},
        {"suppliedSourcedId": "post-2", "allocatedSourcedId": "post-2"},
    ]
    listed = gb.get(f"classes/{gb.class_id}/lineItems").json()["lineItems"]
    assert [item["title"] for item in listed] == ["Quiz 1", "Quiz 2"]


def test_post_line_items_all_or_nothing(gb):
    items = [
        {**gb.line_item(title="Quiz 1"), "sourcedId": "post-1"},
        {**gb.line_item(category={"sourcedId": "ZZ"}), "sourcedId": "post-2"},
        {**gb.line_item(title="T" * 300), "sourcedId": "post-3"},
    ]
    response = gb.post(f"classes/{gb.class_id}/lineItems", {"lineItems": items})
    assert response.status_code == 422
    descriptions = [entry["imsx_description"] for entry in status_entries(response)]
    assert descriptions == [
        "lineItems[1] (post-2): category ZZ not found",
        "lineItems[2] (post-3): title is 300 characters; the maximum is 255",
    ]
    assert gb.sandbox.gradebook.line_items() == []


def test_post_line_items_class_mismatch_rejected(gb):
    item = {**gb.line_item(), "sourcedId": "post-1"}
    response = gb.post(f"classes/{gb.other_class_id}/lineItems", {"lineItems": [item]})
    assert response.status_code == 422
    assert "does not match class" in description(response)


def test_post_line_items_unknown_class_not_found(gb):
    item = {**gb.line_item(), "sourcedId": "post-1"}
    response = gb.post("classes/nope/lineItems", {"lineItems": [item]})
    assert response.status_code == 404
    assert code_minor(response) == "unknownobject"


def test_post_line_items_allocates_ids_when_configured(gradebook_factory):
    gb = gradebook_factory(allocate_sourced_ids=True)
    item = {**gb.line_item(), "sourcedId": "vendor-7"}
    first = gb.post(f"classes/{gb.class_id}/lineItems", {"lineItems": [item]})
    assert first.status_code == 201, first.text
    [pair] = first.json()["sourcedIdPairs"]
    allocated = pair["allocatedSourcedId"]
    assert pair["suppliedSourcedId"] == "vendor-7"
    assert allocated != "vendor-7"
    assert len(allocated) <= 64
    assert gb.get(f"lineItems/{allocated}").status_code == 200
    assert gb.get("lineItems/vendor-7").status_code == 404

    again = gb.post(f"classes/{gb.class_id}/lineItems", {"lineItems": [{**item, "title": "New"}]})
    assert again.json()["sourcedIdPairs"] == [pair]
    assert [i.title for i in gb.sandbox.gradebook.line_items()] == ["New"]


def test_post_line_items_for_school(gb):
    school_id = gb.sandbox.store.classes[gb.class_id].school_id
    item = {**gb.line_item(), "sourcedId": "school-1"}
    response = gb.post(f"schools/{school_id}/lineItems", {"lineItems": [item]})
    assert response.status_code == 201, response.text
    stored = gb.get("lineItems/school-1").json()["lineItem"]
    assert stored["school"]["sourcedId"] == school_id

    other_school = next(s for s in gb.sandbox.store.school_ids if s != school_id)
    response = gb.post(f"schools/{other_school}/lineItems", {"lineItems": [item]})
    assert response.status_code == 422
    assert f"belongs to school {school_id}" in description(response)
    listed = gb.get(f"schools/{school_id}/lineItems")
    assert listed.headers["X-Total-Count"] == "1"


def test_post_results_for_line_item(gb):
    gb.create_line_item()
    results = [
        {**gb.result("li-1", gb.students[0], score=10), "sourcedId": "res-a"},
        {**gb.result("li-1", gb.students[1], score=12), "sourcedId": "res-b"},
    ]
    for result in results:
        del result["lineItem"]
    response = gb.post("lineItems/li-1/results", {"results": results})
    assert response.status_code == 201, response.text
    assert [p["allocatedSourcedId"] for p in response.json()["sourcedIdPairs"]] == ["res-a", "res-b"]
    stored = gb.sandbox.gradebook.results("li-1")
    assert [(r.student_id, r.score) for r in stored] == [(gb.students[0], 10), (gb.students[1], 12)]


def test_post_results_same_student_twice_conflicts(gb):
    gb.create_line_item()
    results = [
        {**gb.result("li-1", gb.students[0], score=10), "sourcedId": "res-a"},
        {**gb.result("li-1", gb.students[0], score=12), "sourcedId": "res-b"},
    ]
    response = gb.post("lineItems/li-1/results", {"results": results})
    assert response.status_code == 409
    assert gb.sandbox.gradebook.results() == []


def test_post_results_empty_array_rejected(gb):
    gb.create_line_item()
    response = gb.post("lineItems/li-1/results", {"results": []})
    assert response.status_code == 400
    assert description(response) == "results must be a non-empty array"


# --- reads and deletes ----------------------------------------------------------------------------


def test_categories_served(gb):
    categories = gb.get("categories").json()["categories"]
    titles = {c["sourcedId"]: c["title"] for c in categories}
    assert titles.items() >= {"HW": "Homework", "QZ": "Quiz", "TST": "Test"}.items()
    assert gb.get("categories/TST").json()["category"]["title"] == "Test"
    missing = gb.get("categories/NOPE")
    assert missing.status_code == 404
    assert code_minor(missing) == "unknownobject"


def test_results_nested_routes(gb):
    gb.create_line_item("li-1")
    gb.create_line_item("li-2", title="Ch 4 Quiz")
    first, second = gb.students[:2]
    for number, (line_item, student) in enumerate(
        [("li-1", first), ("li-1", second), ("li-2", first)], start=1
    ):
        response = gb.put(f"results/r-{number}", {"result": gb.result(line_item, student)})
        assert response.status_code == 201, response.text

    def ids(path: str) -> list[str]:
        response = gb.get(path)
        assert response.status_code == 200, response.text
        return [r["sourcedId"] for r in response.json()["results"]]

    assert ids("results") == ["r-1", "r-2", "r-3"]
    assert ids(f"classes/{gb.class_id}/results") == ["r-1", "r-2", "r-3"]
    assert ids(f"classes/{gb.class_id}/students/{first}/results") == ["r-1", "r-3"]
    assert ids(f"classes/{gb.class_id}/lineItems/li-2/results") == ["r-3"]
    assert ids("lineItems/li-1/results") == ["r-1", "r-2"]
    assert ids(f"classes/{gb.other_class_id}/results") == []
    assert ids("results?filter=scoreStatus%3D%27fully%20graded%27&limit=2") == ["r-1", "r-2"]
    misplaced = gb.get(f"classes/{gb.other_class_id}/lineItems/li-1/results")
    assert misplaced.status_code == 404


def test_delete_line_item_removes_results(gb):
    gb.create_line_item()
    assert gb.put("results/r-1", {"result": gb.result("li-1", gb.students[0])}).status_code == 201
    response = gb.delete("lineItems/li-1")
    assert response.status_code == 204
    assert gb.get("lineItems/li-1").status_code == 404
    assert gb.sandbox.gradebook.results() == []
    again = gb.delete("lineItems/li-1")
    assert again.status_code == 404
    assert code_minor(again) == "unknownobject"


def test_delete_result_with_200_when_configured(gradebook_factory):
    gb = gradebook_factory(delete_status=200)
    gb.create_line_item()
    assert gb.put("results/r-1", {"result": gb.result("li-1", gb.students[0])}).status_code == 201
    response = gb.delete("results/r-1")
    assert response.status_code == 200
    assert response.json()["statusInfoSet"][0]["imsx_codeMajor"] == "success"
    assert gb.get("results/r-1").status_code == 404
    assert gb.put("results/r-2", {"result": gb.result("li-1", gb.students[0])}).status_code == 201


def test_writes_recorded_in_request_log(gb):
    gb.create_line_item()
    writes = gb.sandbox.request_log.writes()
    assert [(w.method, w.status) for w in writes] == [("PUT", 201)]
    assert writes[0].consumer_key == KEY
