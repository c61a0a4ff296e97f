"""The synthetic district generator: determinism, shape and speed."""

from __future__ import annotations

import collections
import time
import unicodedata

import pytest

from esp_pipeline.sandbox.districts import generate_district

SCHOOL_YEAR = 2026


@pytest.fixture(scope="module")
def demo():
    return generate_district(seed=7, school_year=SCHOOL_YEAR)


def test_same_seed_same_district(demo):
    assert generate_district(seed=7, school_year=SCHOOL_YEAR) == demo


def test_other_seed_other_district(demo):
    other = generate_district(seed=8, school_year=SCHOOL_YEAR)
    assert [u.given_name for u in other.users] != [u.given_name for u in demo.users]


def test_demo_size(demo):
    summary = demo.summary()
    assert summary["schools"] == 3
    assert summary["students"] == 1000
    assert 60 <= summary["teachers"] <= 80
    assert sorted(s.name.split()[-2] for s in demo.schools) == ["Elementary", "High", "Middle"]


def test_terms_for_school_year(demo):
    for school in demo.schools:
        terms = {t.title: t for t in demo.terms if t.school_id == school.sourced_id}
        assert set(terms) == {"Y1", "S1", "S2"}
        assert all(t.school_year == "2026" for t in terms.values())
        assert all(t.parent_id == f"{school.sourced_id}-2026" for t in terms.values())
        assert terms["S1"].end_date < terms["S2"].start_date
        assert terms["Y1"].start_date == terms["S1"].start_date
        assert terms["Y1"].end_date == terms["S2"].end_date


def test_student_schedule_size(demo):
    classes = {c.sourced_id: c for c in demo.classes}
    per_student = collections.defaultdict(list)
    for enrollment in demo.enrollments:
        if enrollment.role == "student":
            per_student[enrollment.user_id].append(classes[enrollment.class_id])
    assert len(per_student) == 1000
    for student_id, sections in per_student.items():
        assert 6 <= len(sections) <= 8, student_id
        assert sum(c.class_type == "homeroom" for c in sections) == 1, student_id


def test_no_student_double_booked(demo):
    classes = {c.sourced_id: c for c in demo.classes}
    terms = {t.sourced_id: t.title for t in demo.terms}
    booked = collections.defaultdict(set)
    for enrollment in demo.enrollments:
        if enrollment.role != "student":
            continue
        school_class = classes[enrollment.class_id]
        period = school_class.periods[0]
        term = terms[school_class.term_ids[0]]
        slots = {"Y1": ("S1", "S2")}.get(term, (term,))
        for slot in slots:
            key = (period, slot)
            assert key not in booked[enrollment.user_id], (enrollment.user_id, key)
            booked[enrollment.user_id].add(key)


def test_sections_have_one_primary_and_some_co_teachers(demo):
    teachers = collections.defaultdict(list)
    for enrollment in demo.enrollments:
        if enrollment.role == "teacher":
            teachers[enrollment.class_id].append(enrollment)
    assert set(teachers) == {c.sourced_id for c in demo.classes}
    for class_id, staff in teachers.items():
        assert sum(e.primary for e in staff) == 1, class_id
    sizes = collections.Counter(len(staff) for staff in teachers.values())
    assert sum(count for size, count in sizes.items() if size > 1) >= 5


def test_primary_teachers_not_double_booked(demo):
    classes = {c.sourced_id: c for c in demo.classes}
    seen = set()
    for enrollment in demo.enrollments:
        if enrollment.role == "teacher" and enrollment.primary:
            school_class = classes[enrollment.class_id]
            key = (enrollment.user_id, school_class.periods[0], school_class.term_ids[0])
            assert key not in seen
            seen.add(key)


def test_names_cover_hard_cases(demo):
    names = [f"{u.given_name} {u.family_name}" for u in demo.users]
    accented_letters = {
        ch for name in names for ch in name if ord(ch) > 127 and "LATIN" in unicodedata.name(ch, "")
    }
    assert accented_letters
    assert any("-" in name for name in names)
    assert any("'" in name for name in names)
    non_latin = [name for name in names
                 if any(ch.isalpha() and "LATIN" not in unicodedata.name(ch, "") for ch in name)]
    assert 1 <= len(non_latin) <= 100


def test_ids_unique_with_leading_zeros(demo):
    ids = [u.sourced_id for u in demo.users]
    assert len(ids) == len(set(ids))
    zero_filled = [u.sourced_id for u in demo.students if u.sourced_id.startswith("0")]
    assert 50 <= len(zero_filled) <= 300


def test_references_resolve(demo):
    users = {u.sourced_id for u in demo.users}
    classes = {c.sourced_id: c for c in demo.classes}
    courses = {c.sourced_id for c in demo.courses}
    sessions = {s.sourced_id for s in demo.sessions}
    for enrollment in demo.enrollments:
        assert enrollment.user_id in users
        assert classes[enrollment.class_id].school_id == enrollment.school_id
    for school_class in demo.classes:
        assert school_class.course_id in courses
        assert set(school_class.term_ids) <= sessions
    enrollment_ids = [e.sourced_id for e in demo.enrollments]
    assert len(enrollment_ids) == len(set(enrollment_ids))


def test_size_parameters():
    district = generate_district(seed=1, schools=5, students=2000, teachers=120, school_year=2026)
    assert len(district.schools) == 5
    assert len(district.students) == 2000
    assert len(district.teachers) == 120


def test_ten_thousand_students_in_seconds():
    started = time.perf_counter()
    district = generate_district(seed=3, students=10_000, school_year=2026)
    elapsed = time.perf_counter() - started
    assert len(district.students) == 10_000
    assert elapsed < 5.0
