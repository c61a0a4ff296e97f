"""Sandbox Schoology grades: section gradebook setup, grade reads and writes, user grades."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest

CLOCK_START = 1_700_000_000


@dataclass
class GradedSection:
    """A section with two grading periods, two categories, six grade items and three students.

    Student A has a grade on every item, student B has none, and student C is excused on HW1
    and incomplete on Test 1.
    """

    client: object
    section_id: str
    q1: int
    q2: int
    homework: int
    tests: int
    items: list[int]
    enrollments: dict[str, int]
    teacher_enrollment: int

    @property
    def sid(self) -> int:
        return int(self.section_id)


def seeded_item(title: str, category: int, period: int, max_points: int, due: str) -> dict:
    """Describe a seeded assignment; `category` indexes the seeded categories."""
    return {
        "title": title,
        "category": category,
        "grading_period": period,
        "max_points": max_points,
        "due": due,
    }


def make_section(client, code: str, periods: list[int]) -> str:
    course_id = client.create_course("C-" + code)
    return client.create_section(course_id, code, periods)


@pytest.fixture
def gradebook(schoology_factory) -> GradedSection:
    client = schoology_factory(clock_start=CLOCK_START)
    q1 = client.create_grading_period("Q1", "2025-08-01", "2025-10-31")
    q2 = client.create_grading_period("Q2", "2025-11-01", "2099-01-31")
    section_id = make_section(client, "ALG-1", [q1, q2])
    teacher = client.create_user("T-1", role="Teacher")
    teacher_enrollment = int(client.enroll(section_id, teacher["uid"], admin=1))

    enrollments = {}
    for name in ("A", "B", "C"):
        student = client.create_user("S-" + name)
        enrollments[name] = int(client.enroll(section_id, student["uid"]))
    uid_a = client.state.find_user(school_uid="S-A")["id"]
    uid_c = client.state.find_user(school_uid="S-C")["id"]

    seeded = client.state.seed_gradebook(
        int(section_id),
        categories=[
            {"title": "Homework", "weight": 40, "calculation_type": 1},
            {"title": "Tests", "weight": 60, "calculation_type": 2},
        ],
        assignments=[
            seeded_item("HW1", 0, q1, 10, "2025-09-01 08:00:00"),
            seeded_item("HW2", 0, q1, 20, "2025-09-08 08:00:00"),
            seeded_item("Test 1", 1, q1, 50, "2025-10-01 08:00:00"),
            seeded_item("HW3", 0, q2, 10, "2025-11-10 08:00:00"),
            seeded_item("Project", 0, 0, 100, "2025-12-01 08:00:00"),
            {
                "title": "Final Exam",
                "category": 1,
                "grading_period": q2,
                "max_points": 100,
                "is_final": 1,
                "final_weight": 20,
                "due": "2025-08-15 08:00:00",
            },
        ],
        grades=[
            {"uid": uid_a, "assignment": 0, "grade": 8},
            {"uid": uid_a, "assignment": 1, "grade": 15},
            {"uid": uid_a, "assignment": 2, "grade": 45},
            {"uid": uid_a, "assignment": 3, "grade": 10},
            {"uid": uid_a, "assignment": 4, "grade": 70},
            {"uid": uid_a, "assignment": 5, "grade": 85},
            {"uid": uid_c, "assignment": 0, "exception": 1},
            {"uid": uid_c, "assignment": 2, "exception": 2, "comment": "missed the test"},
        ],
        period_weights={q1: 40, q2: 40},
    )
    homework, tests = seeded["categories"]

    return GradedSection(
        client, section_id, q1, q2, homework, tests, seeded["assignments"], enrollments,
        teacher_enrollment,
    )


def section_grades(book: GradedSection, **params) -> dict:
    params.setdefault("limit", 200)
    response = book.client.get(f"sections/{book.section_id}/grades", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def final_periods(body: dict, enrollment_id: int) -> dict[str, dict]:
    entry = next(e for e in body["final_grade"] if e["enrollment_id"] == str(enrollment_id))
    return {period["period_id"]: period for period in entry["period"]}


def row_for(body: dict, enrollment_id: int, assignment_id: int) -> dict:
    rows = body["grades"]["grade"]
    return next(
        row
        for row in rows
        if row["enrollment_id"] == enrollment_id and row["assignment_id"] == assignment_id
    )


def put_grades(book: GradedSection, grades: list[dict], **kwargs):
    return book.client.put(
        f"sections/{book.section_id}/grades", json={"grades": {"grade": grades}}, **kwargs
    )


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


# -- assignments and grade items ---------------------------------------------------------------


def test_assignment_create_has_documented_types(gradebook):
    book = gradebook
    body = {
        "title": "Quiz 1",
        "due": "2025-09-20",
        "grading_period": str(book.q1),
        "grading_category": book.homework,
        "max_points": "25",
        "factor": 1.5,
        "published": "0",
    }

    response = book.client.post(f"sections/{book.section_id}/assignments", json=body)

    assert response.status_code == 201, response.text
    created = response.json()
    assert isinstance(created["id"], int)
    assert created["grade_item_id"] == created["id"]
    assert created["due"] == "2025-09-20 00:00:00"
    assert created["grading_period"] == str(book.q1)
    assert created["grading_category"] == str(book.homework)
    assert created["grading_scale"] == "0"
    assert created["max_points"] == "25"
    assert created["factor"] == "1.5"
    assert created["is_final"] == "0"
    assert created["allow_dropbox"] == "1"
    assert created["published"] == 0
    assert created["type"] == "assignment"
    assert created["assignees"] == []
    assert created["links"]["self"].endswith(
        f"/v1/sections/{book.section_id}/assignments/{created['id']}"
    )
    fetched = book.client.get(f"sections/{book.section_id}/assignments/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created


def test_assignment_defaults(gradebook):
    book = gradebook

    response = book.client.post(f"sections/{book.section_id}/assignments", json={"title": "Bare"})

    created = response.json()
    assert response.status_code == 201
    assert created["max_points"] == "100"
    assert created["factor"] == "1"
    assert created["grading_period"] == str(book.q1)
    assert created["grading_category"] == "0"
    assert created["published"] == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "title"),
        ({"title": "X", "grading_period": 1234}, "grading_period"),
        ({"title": "X", "grading_category": 99}, "grading_category"),
        ({"title": "X", "grading_scale": 5}, "grading_scale"),
        ({"title": "X", "max_points": "-1"}, "max_points"),
        ({"title": "X", "due": "next week"}, "due"),
        ({"title": "X", "is_final": 3}, "is_final"),
        ({"title": "X", "assignees": [1]}, "assignees"),
    ],
)
def test_assignment_invalid_field_is_400(gradebook, body, field):
    response = gradebook.client.post(f"sections/{gradebook.section_id}/assignments", json=body)

    assert response.status_code == 400
    assert field in response.json()["message"]


def test_assignments_ordered_nonfinal_then_due(gradebook):
    book = gradebook
    titles_by_id = {item["id"]: item["title"] for item in book.client.state.grade_items(book.sid)}

    body = book.client.get(f"sections/{book.section_id}/assignments").json()

    titles = [titles_by_id[item["id"]] for item in body["assignment"]]
    assert titles == ["HW1", "HW2", "Test 1", "HW3", "Project", "Final Exam"]
    assert body["total"] == 6


def test_assignments_paged(gradebook):
    book = gradebook
    seen = []
    url = book.client.url(f"sections/{book.section_id}/assignments?limit=4")

    while url:
        response = book.client.session.get(url, timeout=10)
        assert response.status_code == 200
        page = response.json()
        seen.extend(item["id"] for item in page["assignment"])
        url = page["links"].get("next")

    assert seen == book.items[:5] + [book.items[5]]
    first = book.client.get(f"sections/{book.section_id}/assignments", params={"limit": 4}).json()
    assert len(first["assignment"]) == 4
    assert query(first["links"]["next"]) == {"start": ["4"], "limit": ["4"]}


def test_assignment_update_and_delete(gradebook):
    book = gradebook
    item_id = book.items[0]
    path = f"sections/{book.section_id}/assignments/{item_id}"

    updated = book.client.put(path, json={"title": "HW1 (revised)", "max_points": 20})
    fetched = book.client.get(path).json()
    deleted = book.client.delete(path)
    after = book.client.get(path)

    assert updated.status_code == 204
    assert updated.content == b""
    assert fetched["title"] == "HW1 (revised)"
    assert fetched["max_points"] == "20"
    assert deleted.status_code == 204
    assert after.status_code == 404
    stored = book.client.state.stored_grades(book.sid)
    assert all(grade["assignment_id"] != item_id for grade in stored)


def test_assignment_in_other_section_is_404(gradebook):
    book = gradebook
    other = make_section(book.client, "OTHER-1", [book.q1])

    response = book.client.get(f"sections/{other}/assignments/{book.items[0]}")

    assert response.status_code == 404


def test_grade_items_include_discussions(gradebook):
    book = gradebook
    seeded = book.client.state.seed_gradebook(
        book.sid,
        assignments=[
            {"title": "Debate", "type": "discussion", "due": "2025-09-02 08:00:00"},
            {"title": "Unit quiz", "type": "assessment", "due": "2025-09-03 08:00:00"},
        ],
    )

    assignments = book.client.get(f"sections/{book.section_id}/assignments").json()
    items = book.client.get(f"sections/{book.section_id}/grade_items").json()

    assert assignments["total"] == 6
    assert items["total"] == 8
    by_id = {item["id"]: item for item in items["assignment"]}
    assert by_id[seeded["assignments"][0]]["type"] == "discussion"
    assert by_id[seeded["assignments"][1]]["type"] == "assessment"
    discussion_path = f"sections/{book.section_id}/assignments/{seeded['assignments'][0]}"
    assert book.client.get(discussion_path).status_code == 404
    follow = book.client.session.get(by_id[seeded["assignments"][0]]["links"]["self"], timeout=10)
    assert follow.status_code == 200
    assert follow.json()["title"] == "Debate"


# -- grading categories, scales and periods ----------------------------------------------------


def test_grading_categories_list_has_numbers(gradebook):
    book = gradebook

    response = book.client.get(f"sections/{book.section_id}/grading_categories")

    assert response.status_code == 200
    categories = response.json()["grading_category"]
    assert [c["title"] for c in categories] == ["Homework", "Tests"]
    assert categories[0] == {
        "id": book.homework,
        "title": "Homework",
        "delta": 0,
        "calculation_type": 1,
        "default_max_points": 100,
        "default_grading_scale_id": 0,
        "drop_lowest": 0,
        "weight": 40,
    }
    assert "total" not in response.json()


def test_grading_categories_bulk_create(gradebook):
    book = gradebook
    body = {
        "grading_categories": {
            "grading_category": [
                {"title": "Labs", "weight": "25", "drop_lowest": "1"},
                {"title": "Bad", "drop_lowest": 11},
                {"title": "Quizzes", "calculation_type": 2},
            ]
        }
    }

    response = book.client.post(f"sections/{book.section_id}/grading_categories", json=body)

    assert response.status_code == 207
    results = response.json()["grading_category"]
    assert [r["response_code"] for r in results] == [200, 400, 200]
    assert isinstance(results[0]["id"], str)
    assert results[0]["weight"] == 25
    assert results[0]["drop_lowest"] == 1
    assert results[0]["default_grading_scale"] == 0
    assert results[1]["title"] == "Bad"
    assert "drop_lowest" in results[1]["message"]
    assert results[2]["calculation_type"] == 2
    assert results[2]["weight"] == 0
    listed = book.client.get(f"sections/{book.section_id}/grading_categories").json()
    assert [c["title"] for c in listed["grading_category"]] == [
        "Homework",
        "Tests",
        "Labs",
        "Quizzes",
    ]


def test_grading_categories_bulk_update_strings(gradebook):
    book = gradebook
    body = {
        "grading_categories": {
            "grading_category": [
                {"id": book.homework, "drop_lowest": 2},
                {"id": "999", "title": "Missing"},
            ]
        }
    }

    response = book.client.put(f"sections/{book.section_id}/grading_categories", json=body)

    assert response.status_code == 207
    updated, missing = response.json()["grading_category"]
    assert updated["response_code"] == 204
    assert updated["id"] == str(book.homework)
    assert updated["drop_lowest"] == "2"
    assert updated["weight"] == "40"
    assert updated["realm"] == "course"
    assert updated["realm_id"] == book.section_id
    assert missing["response_code"] == 404


def test_grading_category_single_routes(gradebook):
    book = gradebook
    path = f"sections/{book.section_id}/grading_categories/{book.tests}"

    fetched = book.client.get(path)
    updated = book.client.put(path, json={"title": "Exams", "weight": 55})
    deleted = book.client.delete(path)
    after = book.client.get(path)

    assert fetched.status_code == 200
    assert fetched.json()["realm_id"] == book.section_id
    assert fetched.json()["weight"] == 60
    assert updated.status_code == 200
    assert updated.json()["title"] == "Exams"
    assert updated.json()["weight"] == "55"
    assert updated.json()["calculation_type"] == "2"
    assert deleted.status_code == 204
    assert after.status_code == 404
    test_item = book.client.get(f"sections/{book.section_id}/assignments/{book.items[2]}").json()
    assert test_item["grading_category"] == "0"


def test_grading_scales_envelope(gradebook):
    book = gradebook
    book.client.state.seed_gradebook(
        book.sid,
        scales=[
            {
                "title": "Letters",
                "type": 1,
                "levels": [
                    {"grade": "A", "cutoff": 90, "average": 95},
                    {"grade": "F", "cutoff": 0},
                    {"grade": "B", "cutoff": 80, "average": 85},
                ],
            },
            {
                "title": "Rubric",
                "type": 3,
                "levels": [
                    {"points": 3, "description": "Meets"},
                    {"points": 1, "description": "Below"},
                ],
            },
        ],
    )

    response = book.client.get(f"sections/{book.section_id}/grading_scales")

    assert response.status_code == 200
    letters, rubric = response.json()["grading_scale"]
    assert letters["type"] == 1
    assert [level["grade"] for level in letters["scale"]["level"]] == ["F", "B", "A"]
    assert letters["scale"]["level"][0] == {"grade": "F", "cutoff": 0, "average": 0}
    assert rubric["scale"]["level"][0] == {"points": 3, "description": "Meets"}
    assert response.json()["links"]["self"].endswith(f"/sections/{book.section_id}/grading_scales")


def test_section_grading_periods(gradebook):
    book = gradebook

    response = book.client.get(f"sections/{book.section_id}/grading_periods")

    assert response.status_code == 200
    periods = response.json()["grading_period"]
    assert periods == [
        {
            "id": book.q1,
            "title": "Q1",
            "weight": 40,
            "start": "2025-08-01 00:00:00",
            "end": "2025-10-31 00:00:00",
        },
        {
            "id": book.q2,
            "title": "Q2",
            "weight": 40,
            "start": "2025-11-01 00:00:00",
            "end": "2099-01-31 00:00:00",
        },
    ]


def test_grading_period_weights_default_equal(schoology):
    first = schoology.create_grading_period("S1", "2025-08-01", "2025-12-31")
    second = schoology.create_grading_period("S2", "2026-01-01", "2099-06-30")
    section_id = make_section(schoology, "EQ-1", [first, second])

    periods = schoology.get(f"sections/{section_id}/grading_periods").json()["grading_period"]

    assert [period["weight"] for period in periods] == [50, 50]


# -- GET sections/{id}/grades ------------------------------------------------------------------


def test_grades_row_shape(gradebook):
    book = gradebook

    body = section_grades(book)

    row = row_for(body, book.enrollments["A"], book.items[2])
    assert row == {
        "enrollment_id": book.enrollments["A"],
        "assignment_id": book.items[2],
        "grade": 45,
        "exception": 0,
        "max_points": 50,
        "is_final": 0,
        "timestamp": CLOCK_START,
        "comment": "",
        "comment_status": None,
        "override": None,
        "calculated_grade": None,
        "pending": None,
        "type": "assignment",
        "location": f"{book.client.api_base}sections/{book.section_id}/assignments/{book.items[2]}",
        "scale_id": 0,
        "scale_type": 0,
        "assignment_type": "basic",
        "web_url": book.client.server_url + f"/assignment/{book.items[2]}",
        "category_id": book.tests,
    }
    assert set(body) == {"grades", "period", "final_grade", "links"}


def test_grades_rows_cover_members_only(gradebook):
    book = gradebook

    body = section_grades(book)

    rows = body["grades"]["grade"]
    assert len(rows) == 3 * 6
    assert {row["enrollment_id"] for row in rows} == set(book.enrollments.values())
    assert book.teacher_enrollment not in {row["enrollment_id"] for row in rows}


def test_grades_period_ids_all_kinds(gradebook):
    book = gradebook
    final_item = book.items[5]

    body = section_grades(book)

    assert body["period"] == [
        {"period_id": f"p{book.q1}", "period_title": "Q1", "weight": "40.00"},
        {"period_id": f"p{book.q2}", "period_title": "Q2", "weight": "40.00"},
    ]
    entry = next(e for e in body["final_grade"] if e["enrollment_id"] == str(book.enrollments["A"]))
    assert entry["scale_id"] == 0
    assert [p["period_id"] for p in entry["period"]] == [
        f"a{final_item}",
        f"p{book.q1}",
        f"p{book.q2}",
        "other",
        "final",
    ]
    assert set(entry["period"][0]) == {"period_id", "grade", "comment", "comment_status"}


def test_final_grades_computed_from_weights(gradebook):
    book = gradebook

    periods = final_periods(section_grades(book), book.enrollments["A"])

    # Q1: Homework (8/10, 15/20) averages 77.5 % and Tests (45/50) is 90 %, so 40/60 gives 85.
    assert periods[f"p{book.q1}"]["grade"] == 85
    # Q2: only HW3 (10/10) counts, because the final exam is weighted on its own.
    assert periods[f"p{book.q2}"]["grade"] == 100
    assert periods[f"a{book.items[5]}"]["grade"] == 85
    assert periods["other"]["grade"] == 70
    # Course: Q1 85 and Q2 100 at weight 40 each, the final exam 85 at weight 20.
    assert periods["final"]["grade"] == 91


def test_final_grades_null_without_grades(gradebook):
    book = gradebook

    body = section_grades(book)

    for name in ("B", "C"):
        periods = final_periods(body, book.enrollments[name])
        assert all(period["grade"] is None for period in periods.values()), name


def test_ungraded_rows_null_with_zero_timestamp(gradebook):
    book = gradebook

    body = section_grades(book)

    rows = [r for r in body["grades"]["grade"] if r["enrollment_id"] == book.enrollments["B"]]
    assert len(rows) == 6
    for row in rows:
        assert row["grade"] is None
        assert row["timestamp"] == 0
        assert row["comment"] is None
        assert f"/sections//assignments/{row['assignment_id']}" in row["location"]


def test_ungraded_location_configurable(schoology_factory):
    client = schoology_factory(malformed_ungraded_location=False)
    period = client.create_grading_period()
    section_id = make_section(client, "LOC-1", [period])
    student = client.create_user("S-LOC")
    client.enroll(section_id, student["uid"])
    item_id = client.state.seed_gradebook(int(section_id), assignments=[{"title": "A"}])[
        "assignments"
    ][0]

    row = client.get(f"sections/{section_id}/grades").json()["grades"]["grade"][0]

    assert row["location"].endswith(f"/sections/{section_id}/assignments/{item_id}")


def test_exception_codes_null_the_grade(gradebook):
    book = gradebook

    body = section_grades(book)

    excused = row_for(body, book.enrollments["C"], book.items[0])
    incomplete = row_for(body, book.enrollments["C"], book.items[2])
    assert excused["exception"] == 1
    assert excused["grade"] is None
    assert excused["timestamp"] == CLOCK_START
    assert incomplete["exception"] == 2
    assert incomplete["grade"] is None
    assert incomplete["comment"] == "missed the test"


def test_grade_with_exception_is_stored_null(gradebook):
    book = gradebook
    item = {
        "type": "assignment",
        "assignment_id": book.items[1],
        "enrollment_id": book.enrollments["B"],
        "grade": 12,
        "exception": "1",
    }

    response = put_grades(book, [item])

    result = response.json()["grades"]["grade"][0]
    assert result["response_code"] == 200
    assert result["grade"] is None
    assert result["exception"] == 1


def test_excused_item_leaves_average(gradebook):
    book = gradebook
    grades = [
        {"assignment_id": book.items[0], "enrollment_id": book.enrollments["B"], "grade": 2},
        {"assignment_id": book.items[1], "enrollment_id": book.enrollments["B"], "grade": 20},
    ]
    assert put_grades(book, grades).status_code == 207
    before = final_periods(section_grades(book), book.enrollments["B"])

    excuse = [
        {"assignment_id": book.items[0], "enrollment_id": book.enrollments["B"], "exception": 1}
    ]
    assert put_grades(book, excuse).status_code == 207
    after = final_periods(section_grades(book), book.enrollments["B"])

    # 2/10 and 20/20 average 60 %. With HW1 excused, only 20/20 remains.
    assert before[f"p{book.q1}"]["grade"] == 60
    assert after[f"p{book.q1}"]["grade"] == 100


def test_timestamp_filter_returns_changed_rows(gradebook):
    book = gradebook
    client = book.client
    later = client.state.advance_clock(100)
    change = [{"assignment_id": book.items[3], "enrollment_id": book.enrollments["B"], "grade": 7}]
    assert put_grades(book, change).status_code == 207

    changed = section_grades(book, timestamp=later)
    after_change = section_grades(book, timestamp=later + 1)
    everything_graded = section_grades(book, timestamp=CLOCK_START)

    rows = changed["grades"]["grade"]
    assert [(r["enrollment_id"], r["assignment_id"]) for r in rows] == [
        (book.enrollments["B"], book.items[3])
    ]
    assert rows[0]["timestamp"] == later
    assert [e["enrollment_id"] for e in changed["final_grade"]] == [str(book.enrollments["B"])]
    assert after_change["grades"]["grade"] == []
    assert len(everything_graded["grades"]["grade"]) == 6 + 2 + 1
    assert all(r["timestamp"] > 0 for r in everything_graded["grades"]["grade"])


def test_timestamp_filter_exclusive_setting(schoology_factory):
    client = schoology_factory(clock_start=CLOCK_START, grades_timestamp_inclusive=False)
    period = client.create_grading_period()
    section_id = make_section(client, "EXCL-1", [period])
    student = client.create_user("S-EX")
    client.enroll(section_id, student["uid"])
    client.state.seed_gradebook(
        int(section_id),
        assignments=[{"title": "A"}],
        grades=[{"uid": student["id"], "assignment": 0, "grade": 50}],
    )

    at_start = client.get(f"sections/{section_id}/grades", params={"timestamp": CLOCK_START})
    before = client.get(f"sections/{section_id}/grades", params={"timestamp": CLOCK_START - 1})

    assert at_start.json()["grades"]["grade"] == []
    assert len(before.json()["grades"]["grade"]) == 1


def test_unchanged_write_keeps_timestamp(gradebook):
    book = gradebook
    book.client.state.advance_clock(50)
    same = [{"assignment_id": book.items[0], "enrollment_id": book.enrollments["A"], "grade": "8"}]

    result = put_grades(book, same).json()["grades"]["grade"][0]

    assert result["timestamp"] == CLOCK_START


def test_grades_filters(gradebook):
    book = gradebook

    by_item = section_grades(book, assignment_id=book.items[1])
    by_enrollment = section_grades(book, enrollment_id=str(book.enrollments["C"]))
    both = section_grades(book, assignment_id=book.items[0], enrollment_id=book.enrollments["A"])

    assert {r["assignment_id"] for r in by_item["grades"]["grade"]} == {book.items[1]}
    assert len(by_item["grades"]["grade"]) == 3
    assert {r["enrollment_id"] for r in by_enrollment["grades"]["grade"]} == {book.enrollments["C"]}
    final_enrollments = [e["enrollment_id"] for e in by_enrollment["final_grade"]]
    assert final_enrollments == [str(book.enrollments["C"])]
    assert [(r["enrollment_id"], r["grade"]) for r in both["grades"]["grade"]] == [
        (book.enrollments["A"], 8)
    ]


def test_grades_paged_by_row(gradebook):
    book = gradebook

    first = book.client.get(f"sections/{book.section_id}/grades", params={"limit": 4}).json()
    second = book.client.get(
        f"sections/{book.section_id}/grades", params={"start": 4, "limit": 4}
    ).json()
    last = book.client.get(
        f"sections/{book.section_id}/grades", params={"start": 16, "limit": 4}
    ).json()

    assert len(first["grades"]["grade"]) == 4
    assert query(first["links"]["next"]) == {"start": ["4"], "limit": ["4"]}
    assert [e["enrollment_id"] for e in first["final_grade"]] == [str(book.enrollments["A"])]
    # Rows 4-7 are A's last two items and B's first two.
    assert [e["enrollment_id"] for e in second["final_grade"]] == [
        str(book.enrollments["A"]),
        str(book.enrollments["B"]),
    ]
    assert len(last["grades"]["grade"]) == 2
    assert "next" not in last["links"]
    assert len(first["period"]) == 2


def test_default_grades_page_is_20(gradebook):
    book = gradebook
    extras = [{"title": f"Extra {number}"} for number in range(4)]
    book.client.state.seed_gradebook(book.sid, assignments=extras)

    body = book.client.get(f"sections/{book.section_id}/grades").json()

    assert len(body["grades"]["grade"]) == 20
    assert query(body["links"]["next"]) == {"start": ["20"], "limit": ["20"]}


def test_assignees_limit_rows(gradebook):
    book = gradebook
    response = book.client.post(
        f"sections/{book.section_id}/assignments",
        json={"title": "Makeup", "assignees": [str(book.enrollments["B"])]},
    )
    item_id = response.json()["id"]

    rows = section_grades(book, assignment_id=item_id)["grades"]["grade"]
    rejected = put_grades(
        book, [{"assignment_id": item_id, "enrollment_id": book.enrollments["A"], "grade": 5}]
    )

    assert response.json()["num_assignees"] == 1
    assert [row["enrollment_id"] for row in rows] == [book.enrollments["B"]]
    assert rejected.json()["grades"]["grade"][0]["response_code"] == 400


# -- PUT sections/{id}/grades ------------------------------------------------------------------


def test_put_grades_then_get_reflects(gradebook):
    book = gradebook
    now = book.client.state.advance_clock(30)
    grades = [
        {
            "type": "assignment",
            "assignment_id": str(book.items[0]),
            "enrollment_id": str(book.enrollments["B"]),
            "grade": "9.5",
            "comment": "nice work",
        },
        {
            "type": "assignment",
            "assignment_id": book.items[1],
            "enrollment_id": book.enrollments["B"],
            "grade": 17,
            "comment_status": "1",
        },
    ]

    response = put_grades(book, grades)

    assert response.status_code == 207
    results = response.json()["grades"]["grade"]
    assert [r["response_code"] for r in results] == [200, 200]
    assert results[0] == {
        "response_code": 200,
        "enrollment_id": book.enrollments["B"],
        "assignment_id": book.items[0],
        "grade": 9.5,
        "exception": 0,
        "timestamp": now,
    }
    body = section_grades(book, enrollment_id=book.enrollments["B"])
    first = row_for(body, book.enrollments["B"], book.items[0])
    second = row_for(body, book.enrollments["B"], book.items[1])
    assert (first["grade"], first["comment"], first["timestamp"]) == (9.5, "nice work", now)
    assert (second["grade"], second["comment_status"]) == (17, 1)
    # Homework 95 % and 85 % average 90 %. Tests has no grade, so Q1 is 90.
    assert final_periods(body, book.enrollments["B"])[f"p{book.q1}"]["grade"] == 90


def test_put_grade_comment_only_keeps_grade(gradebook):
    book = gradebook
    item = {"assignment_id": book.items[0], "enrollment_id": book.enrollments["A"], "comment": "ok"}

    put_grades(book, [item])

    row = row_for(section_grades(book), book.enrollments["A"], book.items[0])
    assert row["grade"] == 8
    assert row["comment"] == "ok"


def test_put_grade_null_clears(gradebook):
    book = gradebook
    later = book.client.state.advance_clock(10)
    item = {"assignment_id": book.items[0], "enrollment_id": book.enrollments["A"], "grade": None}

    put_grades(book, [item])

    row = row_for(section_grades(book), book.enrollments["A"], book.items[0])
    assert row["grade"] is None
    assert row["timestamp"] == later


def test_put_grades_item_failures(gradebook):
    book = gradebook
    uid_a = book.client.state.find_user(school_uid="S-A")["id"]
    grades = [
        {"assignment_id": book.items[0], "enrollment_id": uid_a, "grade": 5},
        {"assignment_id": book.items[0], "enrollment_id": book.teacher_enrollment, "grade": 5},
        {"assignment_id": 12345, "enrollment_id": book.enrollments["A"], "grade": 5},
        {"assignment_id": book.items[0], "enrollment_id": book.enrollments["A"], "grade": "A+"},
        {"assignment_id": book.items[0], "enrollment_id": book.enrollments["A"], "grade": -1},
        {"assignment_id": book.items[0], "enrollment_id": book.enrollments["A"], "exception": 3},
        {
            "type": "discussion",
            "assignment_id": book.items[0],
            "enrollment_id": book.enrollments["A"],
            "grade": 1,
        },
        {"enrollment_id": book.enrollments["A"], "grade": 1},
        {"assignment_id": book.items[0], "enrollment_id": book.enrollments["B"], "grade": 6},
    ]

    response = put_grades(book, grades)

    assert response.status_code == 207
    results = response.json()["grades"]["grade"]
    assert [r["response_code"] for r in results] == [404, 400, 404, 400, 400, 400, 400, 400, 200]
    assert "not the user id" in results[0]["message"]
    assert results[0]["enrollment_id"] == uid_a
    assert results[2]["assignment_id"] == 12345


def test_put_grades_over_50_rejected(gradebook):
    book = gradebook
    item = {"assignment_id": book.items[0], "enrollment_id": book.enrollments["B"], "grade": 1}

    response = put_grades(book, [item] * 51)

    assert response.status_code == 400
    assert "at most 50" in response.json()["message"]


def test_put_grades_status_configurable(schoology_factory):
    client = schoology_factory(grades_put_status=200)
    period = client.create_grading_period()
    section_id = make_section(client, "ST-1", [period])
    student = client.create_user("S-ST")
    enrollment_id = client.enroll(section_id, student["uid"])
    item_id = client.state.seed_gradebook(int(section_id), assignments=[{"title": "A"}])[
        "assignments"
    ][0]
    grade = {"assignment_id": item_id, "enrollment_id": enrollment_id, "grade": 3}
    body = {"grades": {"grade": [grade]}}

    response = client.put(f"sections/{section_id}/grades", json=body)

    assert response.status_code == 200
    assert response.json()["grades"]["grade"][0]["response_code"] == 200


@pytest.mark.parametrize("body", [None, {}, {"grade": []}, {"grades": {"grade": []}}])
def test_put_grades_invalid_body(gradebook, body):
    response = gradebook.client.put(f"sections/{gradebook.section_id}/grades", json=body)

    assert response.status_code == 400


def test_letter_grade_converted_through_scale(gradebook):
    book = gradebook
    seeded = book.client.state.seed_gradebook(
        book.sid,
        scales=[
            {
                "title": "Letters",
                "type": 1,
                "levels": [{"grade": "A", "cutoff": 90, "average": 95}],
            },
            {"title": "Rubric", "type": 3, "levels": [{"points": 3, "description": "Meets"}]},
        ],
        assignments=[
            {"title": "Essay", "scale": 0, "max_points": 20},
            {"title": "Lab", "scale": 1, "max_points": 4},
        ],
    )
    essay, lab = seeded["assignments"]
    grades = [
        {"assignment_id": essay, "enrollment_id": book.enrollments["A"], "grade": "a"},
        {"assignment_id": lab, "enrollment_id": book.enrollments["A"], "grade": "Meets"},
        {"assignment_id": lab, "enrollment_id": book.enrollments["B"], "grade": "Exceeds"},
    ]

    results = put_grades(book, grades).json()["grades"]["grade"]

    assert [r["response_code"] for r in results] == [200, 200, 400]
    assert results[0]["grade"] == 19
    assert results[1]["grade"] == 3
    row = row_for(section_grades(book, assignment_id=essay), book.enrollments["A"], essay)
    assert row["scale_id"] == seeded["scales"][0]
    assert row["scale_type"] == 1


def test_final_comments_written(gradebook):
    book = gradebook
    body = {
        "final_comments": {
            "final_comment": [
                {
                    "enrollment_id": str(book.enrollments["A"]),
                    "period_id": str(book.q1),
                    "comment": "Strong term",
                    "comment_status": "1",
                },
                {
                    "enrollment_id": book.enrollments["A"],
                    "period_id": "final",
                    "comment": "Great year",
                },
                {"enrollment_id": book.enrollments["A"], "period_id": "12", "comment": "x"},
            ]
        }
    }

    response = book.client.put(f"sections/{book.section_id}/grades", json=body)

    assert response.status_code == 207
    results = response.json()["final_comments"]["final_comment"]
    assert [r["response_code"] for r in results] == [200, 200, 400]
    periods = final_periods(section_grades(book), book.enrollments["A"])
    assert periods[f"p{book.q1}"]["comment"] == "Strong term"
    assert periods[f"p{book.q1}"]["comment_status"] == 1
    assert periods["final"]["comment"] == "Great year"
    assert periods["final"]["comment_status"] == 0
    assert periods[f"p{book.q2}"]["comment"] == ""


# -- zero-weight and missing categories --------------------------------------------------------


def test_zero_weight_category_gives_null_final(schoology_factory):
    client = schoology_factory()
    period = client.create_grading_period()
    section_id = make_section(client, "ZW-1", [period])
    student = client.create_user("S-ZW")
    enrollment_id = int(client.enroll(section_id, student["uid"]))
    created = client.post(
        f"sections/{section_id}/grading_categories",
        json={"grading_categories": {"grading_category": [{"title": "Homework"}]}},
    ).json()["grading_category"][0]
    homework = client.post(
        f"sections/{section_id}/assignments",
        json={"title": "HW", "grading_category": created["id"]},
    ).json()
    grade = {"assignment_id": homework["id"], "enrollment_id": enrollment_id, "grade": 90}
    body = {"grades": {"grade": [grade]}}
    assert client.put(f"sections/{section_id}/grades", json=body).status_code == 207

    before = client.get(f"sections/{section_id}/grades").json()
    client.put(f"sections/{section_id}/grading_categories/{created['id']}", json={"weight": 100})
    after = client.get(f"sections/{section_id}/grades").json()

    assert created["weight"] == 0
    assert before["grades"]["grade"][0]["grade"] == 90
    assert final_periods(before, enrollment_id)["final"]["grade"] is None
    assert final_periods(before, enrollment_id)[f"p{period}"]["grade"] is None
    assert final_periods(after, enrollment_id)["final"]["grade"] == 90


def test_default_category_weight_configurable(schoology_factory):
    client = schoology_factory(default_category_weight=100)
    period = client.create_grading_period()
    section_id = make_section(client, "DW-1", [period])

    response = client.post(f"sections/{section_id}/grading_categories", json={"title": "Homework"})

    assert response.status_code == 201
    assert response.json()["weight"] == 100


def test_uncategorized_items_give_null_final(gradebook):
    book = gradebook
    client = book.client
    period = client.create_grading_period("Solo", "2025-08-01", "2099-06-30")
    section_id = make_section(client, "UNCAT-1", [period])
    enrollment_id = int(client.enroll(section_id, client.state.find_user(school_uid="S-A")["id"]))
    client.state.seed_gradebook(
        int(section_id),
        assignments=[{"title": "Loose"}],
        grades=[{"enrollment_id": enrollment_id, "assignment": 0, "grade": 80}],
    )

    body = client.get(f"sections/{section_id}/grades").json()

    assert body["grades"]["grade"][0]["category_id"] == 0
    assert final_periods(body, enrollment_id)["final"]["grade"] is None


def test_drop_lowest_and_total_points(schoology_factory):
    client = schoology_factory()
    period = client.create_grading_period()
    section_id = make_section(client, "DROP-1", [period])
    student = client.create_user("S-DR")
    client.enroll(section_id, student["uid"])
    client.state.seed_gradebook(
        int(section_id),
        categories=[
            {"title": "Quizzes", "weight": 50, "drop_lowest": 1},
            {"title": "Labs", "weight": 50, "calculation_type": 2},
        ],
        assignments=[
            {"title": "Q1", "category": 0, "max_points": 10},
            {"title": "Q2", "category": 0, "max_points": 10},
            {"title": "Q3", "category": 0, "max_points": 10},
            {"title": "L1", "category": 1, "max_points": 10},
            {"title": "L2", "category": 1, "max_points": 30},
        ],
        grades=[
            {"uid": student["id"], "assignment": 0, "grade": 2},
            {"uid": student["id"], "assignment": 1, "grade": 8},
            {"uid": student["id"], "assignment": 2, "grade": 10},
            {"uid": student["id"], "assignment": 3, "grade": 10},
            {"uid": student["id"], "assignment": 4, "grade": 15},
        ],
    )
    enrollment_id = client.state.enrollment_id_for(int(section_id), student["id"])

    body = client.get(f"sections/{section_id}/grades").json()

    # Quizzes drop the 20 % and average 80 % and 100 %: 90. Labs: 25 of 40 points, 62.5 %.
    assert final_periods(body, enrollment_id)["final"]["grade"] == 76.25


# -- GET users/{id}/grades ---------------------------------------------------------------------


def test_user_grades_grouped_by_section(gradebook):
    book = gradebook
    client = book.client
    uid_a = client.state.find_user(school_uid="S-A")["id"]
    second = make_section(client, "BIO-1", [book.q2])
    second_enrollment = int(client.enroll(second, uid_a))
    client.state.seed_gradebook(
        int(second),
        categories=[{"title": "Labs", "weight": 100}],
        assignments=[{"title": "Lab 1", "category": 0, "max_points": 4}],
        grades=[{"uid": uid_a, "assignment": 0, "grade": 3}],
    )

    response = client.get(f"users/{uid_a}/grades")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"section", "links"}
    assert "next" not in body["links"]
    assert [s["section_id"] for s in body["section"]] == [book.section_id, second]
    algebra, biology = body["section"]
    assert [p["period_id"] for p in algebra["period"]] == [f"p{book.q1}", f"p{book.q2}", "other"]
    assert algebra["period"][0]["period_title"] == "Q1"
    assert [a["assignment_id"] for a in algebra["period"][0]["assignment"]] == book.items[:3]
    assert [a["assignment_id"] for a in algebra["period"][1]["assignment"]] == [
        book.items[3],
        book.items[5],
    ]
    finals = {entry["period_id"]: entry for entry in algebra["final_grade"]}
    assert list(finals) == [f"a{book.items[5]}", f"p{book.q1}", f"p{book.q2}", "other", "final"]
    assert finals[f"a{book.items[5]}"] == {
        "period_id": f"a{book.items[5]}",
        "grade": 85,
        "weight": 20,
        "comment": "",
        "scale_id": 0,
    }
    assert finals[f"p{book.q1}"]["weight"] == 40
    assert finals[f"p{book.q1}"]["grading_category"] == [
        {"category_id": book.homework, "grade": 77.5},
        {"category_id": book.tests, "grade": 90},
    ]
    assert finals["final"]["grade"] == 91
    assert "weight" not in finals["final"]
    assert algebra["grading_category"] == [
        {"id": book.homework, "title": "Homework"},
        {"id": book.tests, "title": "Tests"},
    ]
    assert [f["period_id"] for f in biology["final_grade"]] == [f"p{book.q2}", "final"]
    assert biology["final_grade"][-1]["grade"] == 75
    assert biology["period"][0]["assignment"][0]["enrollment_id"] == second_enrollment


def test_user_grades_section_filter(gradebook):
    book = gradebook
    client = book.client
    uid_a = client.state.find_user(school_uid="S-A")["id"]
    other = make_section(client, "ART-1", [book.q2])
    client.enroll(other, uid_a)

    filtered = client.get(f"users/{uid_a}/grades", params={"section_id": book.section_id})
    unrelated = client.get(f"users/{uid_a}/grades", params={"section_id": 1})

    assert filtered.status_code == 200
    assert [s["section_id"] for s in filtered.json()["section"]] == [book.section_id]
    assert unrelated.json()["section"] == []


def test_user_grades_require_section_id(schoology_factory):
    client = schoology_factory(user_grades_require_section_id=True)
    period = client.create_grading_period()
    section_id = make_section(client, "REQ-1", [period])
    student = client.create_user("S-REQ")
    client.enroll(section_id, student["uid"])

    without = client.get(f"users/{student['uid']}/grades")
    with_section = client.get(f"users/{student['uid']}/grades", params={"section_id": section_id})

    assert without.status_code == 403
    assert "section_id" in without.json()["message"]
    assert with_section.status_code == 200
    assert [s["section_id"] for s in with_section.json()["section"]] == [section_id]


def test_user_grades_period_filter(gradebook):
    book = gradebook
    uid_a = book.client.state.find_user(school_uid="S-A")["id"]

    body = book.client.get(
        f"users/{uid_a}/grades", params={"grading_period_ids": f"{book.q2},final"}
    ).json()

    section = body["section"][0]
    assert [p["period_id"] for p in section["period"]] == [f"p{book.q2}"]
    assert [f["period_id"] for f in section["final_grade"]] == [
        f"a{book.items[5]}",
        f"p{book.q2}",
        "final",
    ]


def test_user_grades_timestamp_paged_by_enrollment(gradebook):
    book = gradebook
    client = book.client
    uid_b = client.state.find_user(school_uid="S-B")["id"]
    sections = [make_section(client, f"PG-{n}", [book.q2]) for n in range(3)]
    for section_id in sections:
        client.enroll(section_id, uid_b)
        client.state.seed_gradebook(int(section_id), assignments=[{"title": "Only"}])
    later = client.state.advance_clock(60)
    for section_id in sections[1:]:
        item_id = client.state.grade_items(int(section_id))[0]["id"]
        grade = {"uid": uid_b, "assignment_id": item_id, "grade": 50}
        client.state.seed_grades(int(section_id), [grade])

    first = client.get(f"users/{uid_b}/grades", params={"timestamp": later, "limit": 1}).json()
    second = client.session.get(first["links"]["next"], timeout=10).json()

    assert [s["section_id"] for s in first["section"]] == [sections[1]]
    assert [s["section_id"] for s in second["section"]] == [sections[2]]
    assert "next" not in second["links"]
    rows = second["section"][0]["period"][0]["assignment"]
    assert [(row["grade"], row["timestamp"]) for row in rows] == [(50, later)]


def test_user_grades_after_section_period_change(gradebook):
    book = gradebook
    uid_a = book.client.state.find_user(school_uid="S-A")["id"]
    moved = book.client.put(f"sections/{book.section_id}", json={"grading_periods": [book.q2]})

    response = book.client.get(f"users/{uid_a}/grades")

    assert moved.status_code == 204
    assert response.status_code == 200
    periods = [p["period_id"] for p in response.json()["section"][0]["period"]]
    assert periods == [f"p{book.q2}", "other", f"p{book.q1}"]


def test_user_grades_unknown_user_is_404(schoology):
    assert schoology.get("users/42/grades").status_code == 404


def test_user_grades_skip_inactive_enrollments(gradebook):
    book = gradebook
    client = book.client
    uid_a = client.state.find_user(school_uid="S-A")["id"]
    path = f"sections/{book.section_id}/enrollments/{book.enrollments['A']}"
    assert client.put(path, json={"status": 5}).status_code == 204

    default = client.get(f"users/{uid_a}/grades").json()
    everything = client.get(f"users/{uid_a}/grades", params={"include_all_enrollments": 1}).json()

    assert default["section"] == []
    assert [s["section_id"] for s in everything["section"]] == [book.section_id]
    assert "self" in everything["links"]


# -- past sections -----------------------------------------------------------------------------


def test_past_sections_hidden_from_user_sections(schoology):
    past = schoology.create_grading_period("2019-2020", "2019-08-01", "2020-06-30")
    current = schoology.create_grading_period("Current", "2025-08-01", "2099-06-30")
    past_section = make_section(schoology, "OLD-1", [past])
    current_section = make_section(schoology, "NEW-1", [current])
    student = schoology.create_user("S-PAST")
    schoology.enroll(past_section, student["uid"])
    schoology.enroll(current_section, student["uid"])

    hidden = schoology.get(f"users/{student['uid']}/sections").json()
    shown = schoology.get(f"users/{student['uid']}/sections", params={"include_past": 1}).json()
    by_code = schoology.get(
        "sections", params={"section_school_codes": "OLD-1,NEW-1", "include_past": "1"}
    ).json()
    grades = schoology.get(f"sections/{past_section}/grades")

    assert [s["id"] for s in hidden["section"]] == [current_section]
    assert [s["id"] for s in shown["section"]] == [past_section, current_section]
    assert [s["id"] for s in by_code["section"]] == [past_section, current_section]
    assert grades.status_code == 200


# -- seeding helpers ---------------------------------------------------------------------------


def test_seed_gradebook_returns_ids(gradebook):
    book = gradebook

    stored = book.client.state.stored_grades(book.sid)
    items = book.client.state.grade_items(book.sid)

    assert len(book.items) == 6
    assert {item["id"] for item in items} == set(book.items)
    assert len(stored) == 8
    assert all(grade["timestamp"] == CLOCK_START for grade in stored)


def test_seed_grades_unknown_user_raises(gradebook):
    book = gradebook

    with pytest.raises(KeyError):
        grade = {"uid": 1, "assignment_id": book.items[0], "grade": 1}
        book.client.state.seed_grades(book.sid, [grade])


def test_section_delete_drops_gradebook(gradebook):
    book = gradebook

    response = book.client.delete(f"sections/{book.section_id}")

    assert response.status_code == 204
    assert book.sid not in book.client.state._gradebooks
    assert book.client.get(f"sections/{book.section_id}/grades").status_code == 404


def test_clock_only_moves_forward(gradebook):
    with pytest.raises(ValueError):
        gradebook.client.state.advance_clock(-1)
    assert gradebook.client.state.server_time() == CLOCK_START
