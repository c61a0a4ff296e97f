"""Plain records for one school district, shaped after OneRoster 1.1 and keyed the eSchool way.

Every record has a `sourced_id`, a `status` (`active`, `tobedeleted` or `inactive`) and a
`date_last_modified` timezone-aware UTC datetime. References between records are sourcedIds, so a
District can be built, copied and compared without object graphs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

UTC = dt.timezone.utc


@dataclass(kw_only=True, slots=True)
class Record:
    sourced_id: str
    status: str = "active"
    date_last_modified: dt.datetime


@dataclass(kw_only=True, slots=True)
class Org(Record):
    """A district or school organisation; `parent_id` is the district for a school."""

    name: str
    type: str
    identifier: str = ""
    parent_id: str | None = None


@dataclass(kw_only=True, slots=True)
class AcademicSession(Record):
    """A school year (`type="schoolYear"`) or a term inside one (`type="term"`).

    `school_year` is the ending calendar year as text (2015-16 is "2016"), as eSchool names years.
    """

    title: str
    type: str
    start_date: dt.date
    end_date: dt.date
    school_year: str
    school_id: str
    parent_id: str | None = None


@dataclass(kw_only=True, slots=True)
class Course(Record):
    title: str
    course_code: str
    school_id: str
    school_year_id: str
    grades: list[str] = field(default_factory=list)


@dataclass(kw_only=True, slots=True)
class SchoolClass(Record):
    """A section (eSchool SECTION_KEY); `class_type` is `homeroom` or `scheduled`."""

    title: str
    class_code: str
    class_type: str
    course_id: str
    school_id: str
    term_ids: list[str]
    periods: list[str] = field(default_factory=list)
    grades: list[str] = field(default_factory=list)
    location: str = ""


@dataclass(kw_only=True, slots=True)
class User(Record):
    """A student or teacher; `org_ids` lists the schools the person belongs to."""

    role: str
    username: str
    given_name: str
    family_name: str
    middle_name: str = ""
    identifier: str = ""
    email: str = ""
    grades: list[str] = field(default_factory=list)
    org_ids: list[str] = field(default_factory=list)
    state_id: str = ""
    enabled_user: bool = True


@dataclass(kw_only=True, slots=True)
class Enrollment(Record):
    """One user in one class; `primary` marks a section's first teacher."""

    role: str
    primary: bool
    user_id: str
    class_id: str
    school_id: str
    begin_date: dt.date | None = None
    end_date: dt.date | None = None


@dataclass(kw_only=True)
class District:
    """A whole district: the district org, its schools and everything scheduled in them."""

    org: Org
    schools: list[Org] = field(default_factory=list)
    sessions: list[AcademicSession] = field(default_factory=list)
    courses: list[Course] = field(default_factory=list)
    classes: list[SchoolClass] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    enrollments: list[Enrollment] = field(default_factory=list)
    loaded_at: dt.datetime

    @property
    def school_years(self) -> list[AcademicSession]:
        return [session for session in self.sessions if session.type == "schoolYear"]

    @property
    def terms(self) -> list[AcademicSession]:
        return [session for session in self.sessions if session.type != "schoolYear"]

    @property
    def students(self) -> list[User]:
        return [user for user in self.users if user.role == "student"]

    @property
    def teachers(self) -> list[User]:
        return [user for user in self.users if user.role == "teacher"]

    def summary(self) -> dict[str, int]:
        """Count the records of each kind, for logs and quick checks."""
        return {
            "schools": len(self.schools),
            "school_years": len(self.school_years),
            "terms": len(self.terms),
            "courses": len(self.courses),
            "classes": len(self.classes),
            "students": len(self.students),
            "teachers": len(self.teachers),
            "student_enrollments": sum(1 for e in self.enrollments if e.role == "student"),
            "teacher_enrollments": sum(1 for e in self.enrollments if e.role == "teacher"),
        }


def school_year_for(day: dt.date) -> int:
    """Return the eSchool school year (its ending calendar year) that contains `day`.

    Years start in July: 2015-08-01 belongs to 2016, 2016-06-01 to 2016.
    """
    return day.year + 1 if day.month >= 7 else day.year


def format_timestamp(moment: dt.datetime) -> str:
    """Format a datetime as the ISO-8601 UTC text OneRoster uses, with milliseconds."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def normalize_grade(raw: str) -> str:
    """Map a grade as SIS exports write it ("0", "9", "Kindergarten") to the CEDS code ("KG", "09").

    Text that matches no known form is returned unchanged.
    """
    text = raw.strip()
    words = {
        "kindergarten": "KG",
        "k": "KG",
        "kg": "KG",
        "prekindergarten": "PK",
        "pre-kindergarten": "PK",
        "pk": "PK",
        "infant/toddler": "IT",
        "transitional kindergarten": "TK",
        "ungraded": "UG",
        "postgraduate": "PS",
        "other": "Other",
    }
    if text.lower() in words:
        return words[text.lower()]
    if text.isdigit():
        number = int(text)
        if number == 0:
            return "KG"
        if 1 <= number <= 13:
            return f"{number:02d}"
    return text
