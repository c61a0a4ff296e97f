"""Load a district from Clever's classic roster CSVs (schools, teachers, students, sections, enrollments).

The mapping follows eSchool's keys: a school is its building number (`School_id`), a class is its
section key (`Section_id`), and a course is (school, course name). `Course_number` cannot key a
course, because in Clever exports one number names both a homeroom and a math class, and numbers
repeat across schools.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .model import (
    UTC,
    AcademicSession,
    Course,
    District,
    Enrollment,
    Org,
    SchoolClass,
    User,
    normalize_grade,
    school_year_for,
)

log = logging.getLogger(__name__)

TEACHER_COLUMNS = ("Teacher_id", "Teacher_2_id", "Teacher_3_id", "Teacher_4_id")
REQUIRED_COLUMNS = {
    "schools.csv": ("School_id", "School_name"),
    "teachers.csv": ("School_id", "Teacher_id"),
    "students.csv": ("School_id", "Student_id"),
    "sections.csv": ("School_id", "Section_id", "Teacher_id", "Course_name", "Term_name"),
    "enrollments.csv": ("School_id", "Student_id", "Section_id"),
}


class DistrictLoadError(ValueError):
    """The CSV files are inconsistent; the message names the file and line."""


@dataclass(frozen=True)
class _Row:
    file: str
    line: int
    values: dict[str, str]

    def get(self, column: str) -> str:
        return (self.values.get(column) or "").strip()

    @property
    def where(self) -> str:
        return f"{self.file} line {self.line}"


def course_key(course_name: str) -> str:
    """Return a short key that stays the same for a course name across loads (8 hex of SHA-1)."""
    return hashlib.sha1(course_name.strip().encode("utf-8")).hexdigest()[:8]


def parse_clever_date(text: str) -> dt.date:
    """Parse M/D/YY or M/D/YYYY; two-digit years pivot at 70 (15 is 2015, 98 is 1998)."""
    month, day, year = (int(part) for part in text.strip().split("/"))
    if year < 100:
        year += 1900 if year >= 70 else 2000
    return dt.date(year, month, day)


def _read_rows(path: Path) -> Iterator[_Row]:
    """Yield the data rows of one CSV, whatever its line endings (LF, CRLF or a bare CR)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # SIS exports are often Windows-1252.
        text = raw.decode("cp1252")
    # The csv module splits records on \r, \n and \r\n alike and keeps counting lines, so bare-CR
    # files need no conversion; newline="" keeps quoted line breaks intact.
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return
    header = [name.strip() for name in header]
    missing = [name for name in REQUIRED_COLUMNS.get(path.name, ()) if name not in header]
    if missing:
        raise DistrictLoadError(f"{path.name}: missing column(s) {', '.join(missing)}")
    for values in reader:
        if not any(value.strip() for value in values):
            continue
        yield _Row(path.name, reader.line_num, dict(zip(header, values)))


def load_clever_folder(
    path: str | Path,
    *,
    district_id: str = "1",
    district_name: str = "Clever Sample District",
    loaded_at: dt.datetime | None = None,
    homeroom_marker: str = "homeroom",
) -> District:
    """Load the five Clever CSV files in `path` into a District.

    `loaded_at` becomes every record's dateLastModified; by default it is midnight UTC of the
    earliest term start, so loading the same files twice gives identical records. A section whose
    course name contains `homeroom_marker` (case-insensitive) becomes a homeroom class.
    Raises DistrictLoadError when files disagree: a student id equal to a teacher id, a section
    at an unknown school, or an enrollment naming an unknown student or section.
    """
    folder = Path(path)
    for name in REQUIRED_COLUMNS:
        if not (folder / name).is_file():
            raise DistrictLoadError(f"{folder}: missing {name}")
    loader = _CleverLoader(folder, district_id, district_name, homeroom_marker)
    district = loader.load(loaded_at)
    log.info("loaded Clever district from %s: %s", folder, district.summary())
    return district


class _CleverLoader:
    def __init__(self, folder: Path, district_id: str, district_name: str, homeroom_marker: str):
        self.folder = folder
        self.district_id = district_id
        self.district_name = district_name
        self.homeroom_marker = homeroom_marker.lower()
        self.schools: dict[str, Org] = {}
        self.users: dict[str, User] = {}
        self.user_rows: dict[str, _Row] = {}
        # (school, year) -> [start, end]; (school, year, term code) -> [start, end]
        self.year_bounds: dict[tuple[str, int], list[dt.date]] = {}
        self.term_bounds: dict[tuple[str, int, str], list[dt.date]] = {}
        self.courses: dict[str, Course] = {}
        self.classes: dict[str, SchoolClass] = {}
        self.class_dates: dict[str, tuple[dt.date, dt.date]] = {}
        self.enrollments: dict[str, Enrollment] = {}

    def load(self, loaded_at: dt.datetime | None) -> District:
        # Records are built with a placeholder time, then stamped once the term dates are known.
        placeholder = dt.datetime(1970, 1, 1, tzinfo=UTC)
        self._load_schools(placeholder)
        self._load_people("teachers.csv", "teacher", placeholder)
        self._load_people("students.csv", "student", placeholder)
        section_rows = list(_read_rows(self.folder / "sections.csv"))
        self._collect_terms(section_rows)
        if loaded_at is None:
            starts = [bounds[0] for bounds in self.term_bounds.values()]
            first = min(starts) if starts else dt.date(2000, 1, 1)
            loaded_at = dt.datetime(first.year, first.month, first.day, tzinfo=UTC)
        sessions = self._build_sessions(placeholder)
        self._load_sections(section_rows, placeholder)
        self._load_enrollments(placeholder)

        district_org = Org(
            sourced_id=self.district_id,
            name=self.district_name,
            type="district",
            identifier=self.district_id,
            date_last_modified=placeholder,
        )
        district = District(
            org=district_org,
            schools=list(self.schools.values()),
            sessions=sessions,
            courses=list(self.courses.values()),
            classes=list(self.classes.values()),
            users=list(self.users.values()),
            enrollments=list(self.enrollments.values()),
            loaded_at=loaded_at,
        )
        for record in _all_records(district):
            record.date_last_modified = loaded_at
        return district

    def _load_schools(self, stamp: dt.datetime) -> None:
        for row in _read_rows(self.folder / "schools.csv"):
            school_id = row.get("School_id")
            if school_id in self.schools:
                raise DistrictLoadError(f"{row.where}: duplicate School_id {school_id!r}")
            self.schools[school_id] = Org(
                sourced_id=school_id,
                name=row.get("School_name"),
                type="school",
                identifier=school_id,
                parent_id=self.district_id,
                date_last_modified=stamp,
            )

    def _require_school(self, row: _Row) -> str:
        school_id = row.get("School_id")
        if school_id not in self.schools:
            raise DistrictLoadError(f"{row.where}: School_id {school_id!r} is not in schools.csv")
        return school_id

    def _load_people(self, file_name: str, role: str, stamp: dt.datetime) -> None:
        prefix = "Teacher" if role == "teacher" else "Student"
        for row in _read_rows(self.folder / file_name):
            school_id = self._require_school(row)
            user_id = row.get(f"{prefix}_id")
            if not user_id:
                raise DistrictLoadError(f"{row.where}: empty {prefix}_id")
            existing = self.users.get(user_id)
            if existing is not None:
                first = self.user_rows[user_id]
                if existing.role != role:
                    raise DistrictLoadError(
                        f"id {user_id!r} is used by a {existing.role} ({first.where}) and a "
                        f"{role} ({row.where}); student and teacher ids must not collide"
                    )
                if school_id in existing.org_ids:
                    raise DistrictLoadError(
                        f"{row.where}: {prefix}_id {user_id!r} repeats {first.where}"
                    )
                # The same person listed at a second school belongs to both.
                existing.org_ids.append(school_id)
                continue
            if role == "teacher":
                email = row.get("Teacher_email")
                identifier = row.get("Teacher_number")
                state_id = row.get("State_teacher_id")
                grades: list[str] = []
            else:
                email = row.get("Student_email")
                identifier = row.get("Student_number")
                state_id = row.get("State_id")
                grade = row.get("Grade")
                grades = [normalize_grade(grade)] if grade else []
            self.users[user_id] = User(
                sourced_id=user_id,
                role=role,
                username=row.get("Username"),
                given_name=row.get("First_name"),
                family_name=row.get("Last_name"),
                middle_name=row.get("Middle_name"),
                identifier=identifier or user_id,
                email=email,
                grades=grades,
                org_ids=[school_id],
                state_id=state_id,
                date_last_modified=stamp,
            )
            self.user_rows[user_id] = row

    def _term_of(self, row: _Row) -> tuple[str, int, str, dt.date, dt.date]:
        try:
            start = parse_clever_date(row.get("Term_start"))
            end = parse_clever_date(row.get("Term_end"))
        except ValueError as err:
            raise DistrictLoadError(f"{row.where}: invalid Term_start or Term_end ({err})") from err
        return row.get("School_id"), school_year_for(start), row.get("Term_name"), start, end

    def _collect_terms(self, section_rows: list[_Row]) -> None:
        for row in section_rows:
            self._require_school(row)
            school_id, year, code, start, end = self._term_of(row)
            for key, bounds in (
                ((school_id, year), self.year_bounds),
                ((school_id, year, code), self.term_bounds),
            ):
                span = bounds.setdefault(key, [start, end])
                span[0] = min(span[0], start)
                span[1] = max(span[1], end)

    def _build_sessions(self, stamp: dt.datetime) -> list[AcademicSession]:
        sessions = []
        for (school_id, year), (start, end) in sorted(self.year_bounds.items()):
            sessions.append(
                AcademicSession(
                    sourced_id=f"{school_id}-{year}",
                    title=f"{year - 1}-{year}",
                    type="schoolYear",
                    start_date=start,
                    end_date=end,
                    school_year=str(year),
                    school_id=school_id,
                    date_last_modified=stamp,
                )
            )
        for (school_id, year, code), (start, end) in sorted(self.term_bounds.items()):
            sessions.append(
                AcademicSession(
                    sourced_id=f"{school_id}-{year}-{code}",
                    title=code,
                    type="term",
                    start_date=start,
                    end_date=end,
                    school_year=str(year),
                    school_id=school_id,
                    parent_id=f"{school_id}-{year}",
                    date_last_modified=stamp,
                )
            )
        return sessions

    def _load_sections(self, section_rows: list[_Row], stamp: dt.datetime) -> None:
        duplicate_teacher_sections = []
        for row in section_rows:
            school_id, year, code, _, _ = self._term_of(row)
            class_id = row.get("Section_id")
            if class_id in self.classes:
                raise DistrictLoadError(f"{row.where}: duplicate Section_id {class_id!r}")
            course_name = row.get("Course_name")
            grade = row.get("Grade")
            grades = [normalize_grade(grade)] if grade else []
            course = self._course_for(row, school_id, year, course_name, stamp)
            for grade_code in grades:
                if grade_code not in course.grades:
                    course.grades.append(grade_code)
            term_id = f"{school_id}-{year}-{code}"
            period = row.get("Period")
            is_homeroom = self.homeroom_marker and self.homeroom_marker in course_name.lower()
            self.classes[class_id] = SchoolClass(
                sourced_id=class_id,
                title=row.get("Name") or course_name,
                class_code=row.get("Course_number"),
                class_type="homeroom" if is_homeroom else "scheduled",
                course_id=course.sourced_id,
                school_id=school_id,
                term_ids=[term_id],
                periods=[period] if period else [],
                grades=grades,
                date_last_modified=stamp,
            )
            term_start, term_end = self.term_bounds[(school_id, year, code)]
            self.class_dates[class_id] = (term_start, term_end)

            teacher_ids = [row.get(column) for column in TEACHER_COLUMNS]
            seen: set[str] = set()
            for slot, teacher_id in enumerate(teacher_ids):
                if not teacher_id:
                    continue
                teacher = self.users.get(teacher_id)
                if teacher is None or teacher.role != "teacher":
                    raise DistrictLoadError(
                        f"{row.where}: {TEACHER_COLUMNS[slot]} {teacher_id!r} is not in teachers.csv"
                    )
                if teacher_id in seen:
                    # The same teacher in two slots is one enrollment; the first slot wins.
                    duplicate_teacher_sections.append(class_id)
                    continue
                seen.add(teacher_id)
                self._add_enrollment(class_id, teacher_id, "teacher", slot == 0, stamp)
        for course in self.courses.values():
            course.grades.sort(key=_grade_order)
        if duplicate_teacher_sections:
            log.warning(
                "sections.csv: %d teacher slot(s) repeat a teacher already on the section "
                "(sections %s); each was loaded once",
                len(duplicate_teacher_sections),
                ", ".join(sorted(set(duplicate_teacher_sections), key=_natural_key)),
            )

    def _course_for(
        self, row: _Row, school_id: str, year: int, course_name: str, stamp: dt.datetime
    ) -> Course:
        course_id = f"{school_id}-{course_key(course_name)}"
        course = self.courses.get(course_id)
        code = row.get("Course_number")
        if course is None:
            course = Course(
                sourced_id=course_id,
                title=course_name,
                course_code=code,
                school_id=school_id,
                school_year_id=f"{school_id}-{year}",
                date_last_modified=stamp,
            )
            self.courses[course_id] = course
            return course
        if course.title != course_name:
            raise DistrictLoadError(
                f"{row.where}: course names {course.title!r} and {course_name!r} share the key "
                f"{course_id!r}; lengthen course_key"
            )
        # One course name may carry several section numbers; the lowest is its course code.
        if code and (not course.course_code or _natural_key(code) < _natural_key(course.course_code)):
            course.course_code = code
        # A course taught across several years points at the latest one.
        if f"{school_id}-{year}" > course.school_year_id:
            course.school_year_id = f"{school_id}-{year}"
        return course

    def _add_enrollment(
        self, class_id: str, user_id: str, role: str, primary: bool, stamp: dt.datetime
    ) -> None:
        school_class = self.classes[class_id]
        begin, end = self.class_dates[class_id]
        enrollment_id = f"{class_id}-{user_id}"
        self.enrollments[enrollment_id] = Enrollment(
            sourced_id=enrollment_id,
            role=role,
            primary=primary,
            user_id=user_id,
            class_id=class_id,
            school_id=school_class.school_id,
            begin_date=begin,
            end_date=end,
            date_last_modified=stamp,
        )

    def _load_enrollments(self, stamp: dt.datetime) -> None:
        repeats = 0
        for row in _read_rows(self.folder / "enrollments.csv"):
            student_id = row.get("Student_id")
            class_id = row.get("Section_id")
            student = self.users.get(student_id)
            if student is None or student.role != "student":
                raise DistrictLoadError(
                    f"{row.where}: Student_id {student_id!r} is not in students.csv"
                )
            if class_id not in self.classes:
                raise DistrictLoadError(
                    f"{row.where}: Section_id {class_id!r} is not in sections.csv"
                )
            if f"{class_id}-{student_id}" in self.enrollments:
                repeats += 1
                continue
            self._add_enrollment(class_id, student_id, "student", False, stamp)
        if repeats:
            log.warning("enrollments.csv: skipped %d repeated (student, section) rows", repeats)


def _grade_order(grade: str) -> tuple[int, str]:
    """Order CEDS grade codes by school progression: PK, KG, 01..13, then anything else."""
    early = {"IT": 0, "PR": 1, "PK": 2, "TK": 3, "KG": 4}
    if grade in early:
        return (early[grade], "")
    return (5, grade) if grade.isdigit() else (6, grade)


def _natural_key(text: str) -> tuple[int, int | str]:
    """Sort numeric text by value and other text after it, alphabetically."""
    return (0, int(text)) if text.isdigit() else (1, text)


def _all_records(district: District) -> Iterator:
    yield district.org
    yield from district.schools
    yield from district.sessions
    yield from district.courses
    yield from district.classes
    yield from district.users
    yield from district.enrollments
