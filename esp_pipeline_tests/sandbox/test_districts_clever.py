"""Loading the public Clever sample district (read where it lies, never copied)."""

from __future__ import annotations

import collections
import csv
import os
import time
from pathlib import Path

import pytest

from esp_pipeline.sandbox.districts import DistrictLoadError, load_clever_folder
from esp_pipeline.sandbox.districts.clever import course_key, parse_clever_date

REPO_ROOT = Path(__file__).resolve().parents[2]
TEACHER_COLUMNS = ("Teacher_id", "Teacher_2_id", "Teacher_3_id", "Teacher_4_id")


def clever_sample_dir() -> Path:
    shared = Path(os.environ.get("ESP_SHARED_DIR") or REPO_ROOT.parent / "shared")
    folder = shared / "data" / "clever-sample-district"
    if not (folder / "sections.csv").is_file():
        pytest.skip(f"Clever sample district not found at {folder}; set ESP_SHARED_DIR")
    return folder


@pytest.fixture(scope="module")
def sample_dir() -> Path:
    return clever_sample_dir()


@pytest.fixture(scope="module")
def sample(sample_dir):
    return load_clever_folder(sample_dir)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_sample_files_use_bare_cr(sample_dir):
    for name in ("schools.csv", "sections.csv", "students.csv"):
        raw = (sample_dir / name).read_bytes()
        assert b"\r" in raw, name
        assert b"\n" not in raw, name
        assert not raw.endswith(b"\r"), name


def test_sample_counts(sample):
    summary = sample.summary()
    assert summary["schools"] == 3
    assert summary["teachers"] == 89
    assert summary["students"] == 1004
    assert summary["classes"] == 379
    assert summary["courses"] == 323
    assert summary["student_enrollments"] == 8971


def test_sample_teacher_enrollments_match_sections(sample, sample_dir):
    sections = read_csv(sample_dir / "sections.csv")
    slots = [(row["Section_id"], row[c]) for row in sections for c in TEACHER_COLUMNS if row[c]]
    # 475 filled teacher slots, but 14 sections name one teacher twice (15 repeats), and
    # enrollment ids are "{class}-{user}", so each pair is loaded once.
    assert len(slots) == 475
    assert len(set(slots)) == 460
    teacher_enrollments = [e for e in sample.enrollments if e.role == "teacher"]
    assert len(teacher_enrollments) == 460
    assert {(e.class_id, e.user_id) for e in teacher_enrollments} == set(slots)


def test_sample_every_class_has_one_primary(sample):
    primaries = collections.Counter(
        e.class_id for e in sample.enrollments if e.role == "teacher" and e.primary
    )
    assert len(primaries) == 379
    assert set(primaries.values()) == {1}
    assert not any(e.primary for e in sample.enrollments if e.role == "student")


def test_sample_primary_is_first_teacher(sample):
    by_id = {e.sourced_id: e for e in sample.enrollments}
    assert by_id["581-86"].primary is True
    for teacher_id in ("87", "88", "89"):
        assert by_id[f"581-{teacher_id}"].primary is False
        assert by_id[f"581-{teacher_id}"].role == "teacher"


def test_sample_terms_and_school_years(sample):
    sessions = {s.sourced_id: s for s in sample.sessions}
    assert set(sessions) == {
        "02M800-2016", "13K123-2016", "27Q321-2016",
        "02M800-2016-Y1", "13K123-2016-Y1", "27Q321-2016-Y1", "27Q321-2016-S1", "27Q321-2016-S2",
    }
    term = sessions["27Q321-2016-S1"]
    assert term.type == "term"
    assert term.title == "S1"
    assert term.school_year == "2016"
    assert term.parent_id == "27Q321-2016"
    assert term.start_date.isoformat() == "2015-08-01"
    assert term.end_date.isoformat() == "2016-06-01"
    assert sessions["27Q321-2016"].type == "schoolYear"


def test_clever_dates_pivot_century():
    assert parse_clever_date("8/1/15").isoformat() == "2015-08-01"
    assert parse_clever_date("11/1/98").isoformat() == "1998-11-01"
    assert parse_clever_date("6/1/2016").isoformat() == "2016-06-01"


def test_sample_courses_keyed_by_name(sample):
    courses = {c.sourced_id: c for c in sample.courses}
    homerooms_101 = [c for c in courses.values() if c.title == "Class 101, Homeroom"]
    assert sorted(c.school_id for c in homerooms_101) == ["02M800", "13K123"]
    assert f"02M800-{course_key('Class 101, Homeroom')}" in courses
    # Course number 101 names several different courses, so it cannot be the key.
    assert len([c for c in courses.values() if c.course_code == "101"]) > 1


def test_sample_class_shape(sample):
    classes = {c.sourced_id: c for c in sample.classes}
    guidance = classes["581"]
    assert guidance.title == "Group Guidance - 101 - B. Greene (Section 1)"
    assert guidance.class_type == "scheduled"
    assert guidance.term_ids == ["02M800-2016-Y1"]
    assert guidance.periods == ["0"]
    assert guidance.grades == ["10"]
    homerooms = [c for c in sample.classes if c.class_type == "homeroom"]
    assert len(homerooms) == 39


def test_sample_users_shape(sample):
    users = {u.sourced_id: u for u in sample.users}
    student = users["738733110"]
    assert student.role == "student"
    assert student.username == "dianes10"
    assert student.given_name == "Diane"
    assert student.family_name == "Schmeler"
    assert student.grades == ["09"]
    assert student.org_ids == ["02M800"]
    assert student.state_id == "114327752"
    teacher = users["47"]
    assert teacher.role == "teacher"
    assert teacher.identifier == "230186"


def test_sample_duplicate_usernames_kept(sample):
    counts = collections.Counter(u.username for u in sample.students)
    repeated = sorted(name for name, count in counts.items() if count > 1)
    assert repeated == ["paulf13", "robertd99", "williams21"]


def test_sample_reload_is_identical(sample, sample_dir):
    assert load_clever_folder(sample_dir) == sample
    assert {u.date_last_modified for u in sample.users} == {sample.loaded_at}


def test_sample_loads_quickly(sample_dir):
    started = time.perf_counter()
    load_clever_folder(sample_dir)
    assert time.perf_counter() - started < 1.5


def write_minimal_folder(folder: Path, student_id: str) -> None:
    files = {
        "schools.csv": "School_id,School_name\n10,Test School\n",
        "teachers.csv": "School_id,Teacher_id,First_name,Last_name,Username\n"
        "10,7,Ana,Núñez,ana.nunez\n",
        "students.csv": "School_id,Student_id,First_name,Last_name,Username\r"
        f"10,{student_id},Zoë,O'Brien,zoeo\r",
        "sections.csv": "School_id,Section_id,Teacher_id,Teacher_2_id,Name,Course_name,"
        "Course_number,Period,Term_name,Term_start,Term_end\n"
        "10,500,7,,Math - 1,Math,1,1,Y1,8/14/25,5/29/26\n",
        "enrollments.csv": f"School_id,Student_id,Section_id\n10,{student_id},500\n",
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def test_minimal_folder_loads(tmp_path):
    write_minimal_folder(tmp_path, "0001234")
    district = load_clever_folder(tmp_path)
    assert [u.sourced_id for u in district.students] == ["0001234"]
    assert district.students[0].given_name == "Zoë"
    assert [e.sourced_id for e in district.enrollments] == ["500-7", "500-0001234"]
    assert district.sessions[0].sourced_id == "10-2026"


def test_id_collision_names_files_and_lines(tmp_path):
    write_minimal_folder(tmp_path, "7")
    with pytest.raises(DistrictLoadError) as caught:
        load_clever_folder(tmp_path)
    message = str(caught.value)
    assert "teachers.csv line 2" in message
    assert "students.csv line 2" in message


def test_unknown_section_in_enrollment(tmp_path):
    write_minimal_folder(tmp_path, "0001234")
    (tmp_path / "enrollments.csv").write_text(
        "School_id,Student_id,Section_id\n10,0001234,999\n", encoding="utf-8"
    )
    with pytest.raises(DistrictLoadError, match="enrollments.csv line 2: Section_id '999'"):
        load_clever_folder(tmp_path)
