"""Generator realism options and size presets: second schools, withdrawals, level mix and W2."""

from __future__ import annotations

import collections
import time

import pytest

from esp_pipeline.sandbox.districts import PRESETS, W2, generate_district, generate_preset

SCHOOL_YEAR = 2027


@pytest.fixture(scope="module")
def realistic():
    return generate_district(
        seed=11, school_year=SCHOOL_YEAR, dual_enrollment_rate=0.05, withdrawn_rate=0.04
    )


@pytest.fixture(scope="module")
def w2():
    started = time.perf_counter()
    district = generate_preset("W2", seed=1, school_year=SCHOOL_YEAR)
    return district, time.perf_counter() - started


def test_default_rates_keep_base_district():
    base = generate_district(seed=2026, school_year=SCHOOL_YEAR)
    explicit = generate_district(
        seed=2026,
        school_year=SCHOOL_YEAR,
        level_weights=(1, 1, 1),
        schedule_size=(6, 8),
        dual_enrollment_rate=0.0,
        withdrawn_rate=0.0,
    )
    assert explicit == base
    assert [s.sourced_id for s in base.schools] == ["10", "20", "30"]
    assert all(u.status == "active" for u in base.users)
    assert all(len(u.org_ids) == 1 for u in base.users)


def test_realism_leaves_base_records_alone(realistic):
    base = generate_district(seed=11, school_year=SCHOOL_YEAR)
    base_ids = [u.sourced_id for u in base.users]
    assert [u.sourced_id for u in realistic.users] == base_ids
    assert [c.sourced_id for c in realistic.classes] == [c.sourced_id for c in base.classes]
    base_enrollments = [e.sourced_id for e in base.enrollments]
    assert [e.sourced_id for e in realistic.enrollments][: len(base_enrollments)] == base_enrollments


def test_realism_is_deterministic(realistic):
    again = generate_district(
        seed=11, school_year=SCHOOL_YEAR, dual_enrollment_rate=0.05, withdrawn_rate=0.04
    )
    assert again == realistic


def test_two_school_students(realistic):
    classes = {c.sourced_id: c for c in realistic.classes}
    dual = [u for u in realistic.students if len(u.org_ids) == 2]
    assert 30 <= len(dual) <= 50
    for student in dual:
        assert student.org_ids[0] != student.org_ids[1]
        schools = {
            classes[e.class_id].school_id
            for e in realistic.enrollments
            if e.user_id == student.sourced_id
        }
        assert schools == set(student.org_ids), student.sourced_id


def test_second_school_section_fits_day(realistic):
    classes = {c.sourced_id: c for c in realistic.classes}
    terms = {t.sourced_id: t.title for t in realistic.terms}
    dual = {u.sourced_id for u in realistic.students if len(u.org_ids) == 2}
    booked = collections.defaultdict(set)
    for enrollment in realistic.enrollments:
        if enrollment.user_id not in dual:
            continue
        school_class = classes[enrollment.class_id]
        title = terms[school_class.term_ids[0]]
        for semester in ("S1", "S2") if title == "Y1" else (title,):
            key = (school_class.periods[0], semester)
            assert key not in booked[enrollment.user_id], (enrollment.user_id, key)
            booked[enrollment.user_id].add(key)


def test_withdrawn_students(realistic):
    withdrawn = [u for u in realistic.students if u.status != "active"]
    assert len(withdrawn) == 40
    assert {u.status for u in withdrawn} == {"tobedeleted", "inactive"}
    assert not any(u.enabled_user for u in withdrawn)
    by_user = collections.defaultdict(list)
    for enrollment in realistic.enrollments:
        by_user[enrollment.user_id].append(enrollment)
    for student in withdrawn:
        enrollments = by_user[student.sourced_id]
        assert enrollments, student.sourced_id
        assert {e.status for e in enrollments} == {student.status}
        day = student.date_last_modified.date()
        assert day.weekday() < 5
        for enrollment in enrollments:
            assert enrollment.end_date <= max(day, enrollment.begin_date)
            assert enrollment.end_date >= enrollment.begin_date
            assert enrollment.date_last_modified == student.date_last_modified
    assert realistic.loaded_at == max(u.date_last_modified for u in realistic.users)


def test_active_students_keep_open_enrollments(realistic):
    active = {u.sourced_id for u in realistic.students if u.status == "active"}
    for enrollment in realistic.enrollments:
        if enrollment.user_id in active:
            assert enrollment.status == "active"


def test_leading_zero_ids_and_co_teachers(realistic):
    assert any(u.sourced_id.startswith("0") for u in realistic.students)
    teachers_per_class = collections.Counter(
        e.class_id for e in realistic.enrollments if e.role == "teacher"
    )
    assert max(teachers_per_class.values()) >= 2


def test_level_weights_mix_schools():
    district = generate_district(
        seed=1, schools=12, students=1200, school_year=SCHOOL_YEAR, level_weights=(6, 3, 3)
    )
    levels = collections.Counter(s.name.split()[-2] for s in district.schools)
    assert levels == {"Elementary": 6, "Middle": 3, "High": 3}
    assert [s.name.split()[-2] for s in district.schools][:2] == ["Elementary", "Middle"]


def test_schedule_size_bounds():
    district = generate_district(
        seed=1, students=600, school_year=SCHOOL_YEAR, schedule_size=(8, 9)
    )
    per_student = collections.Counter(
        e.user_id for e in district.enrollments if e.role == "student"
    )
    assert max(per_student.values()) == 9
    assert sum(per_student.values()) / len(per_student) > 7.5


@pytest.mark.parametrize(
    "arguments",
    [
        {"level_weights": (1, 1)},
        {"level_weights": (0, 0, 0)},
        {"schedule_size": (4, 8)},
        {"schedule_size": (8, 10)},
        {"dual_enrollment_rate": 1.5},
        {"withdrawn_rate": -0.1},
    ],
)
def test_invalid_realism_arguments(arguments):
    with pytest.raises(ValueError):
        generate_district(seed=1, students=100, school_year=SCHOOL_YEAR, **arguments)


def test_w2_preset_size(w2):
    district, elapsed = w2
    summary = district.summary()
    assert summary["schools"] == 60
    assert summary["students"] == 50_000
    assert summary["teachers"] == 3_000
    assert 19_000 <= summary["classes"] <= 21_000
    assert 380_000 <= len(district.enrollments) <= 420_000
    assert elapsed < 30.0


def test_w2_preset_realism(w2):
    district, _ = w2
    levels = collections.Counter(s.name.split()[-2] for s in district.schools)
    assert levels == {"Elementary": 36, "Middle": 13, "High": 11}
    # 500 students are sampled; those with a full nine-section day find no free period.
    assert sum(len(u.org_ids) == 2 for u in district.students) >= 300
    assert sum(u.status != "active" for u in district.students) == 1_000
    ids = [u.sourced_id for u in district.users]
    assert len(ids) == len(set(ids))
    enrollment_ids = [e.sourced_id for e in district.enrollments]
    assert len(enrollment_ids) == len(set(enrollment_ids))


def test_preset_overrides_and_errors():
    assert PRESETS["W2"] is W2
    small = generate_preset("W2", seed=1, school_year=SCHOOL_YEAR, schools=6, students=600,
                            teachers=40)
    assert len(small.schools) == 6
    assert len(small.students) == 600
    with pytest.raises(ValueError, match="unknown preset"):
        generate_preset("W9")
