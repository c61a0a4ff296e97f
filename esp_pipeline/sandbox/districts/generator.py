"""Generate a realistic synthetic district, deterministic from a seed.

Schools cycle elementary (KG-05), middle (06-08) and high (09-12). Every student gets a homeroom
and a period schedule of 6-8 sections drawn from per-period slots. Each slot contains full-year
courses or a fall/spring pair of semester courses, so no student has two sections in one period
and term. Time and memory are linear in the number of students.

Rarer real-world cases are off by default, so the default output stays fixed for a given seed:
`dual_enrollment_rate` gives students a second school with a section there, and `withdrawn_rate`
marks students withdrawn with their enrollments ended. `PRESETS` contains named sizes such as W2.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
import unicodedata
from dataclasses import dataclass

from .model import (
    UTC,
    AcademicSession,
    Course,
    District,
    Enrollment,
    Org,
    SchoolClass,
    User,
    school_year_for,
)

log = logging.getLogger(__name__)

GIVEN_NAMES = [
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "Lucas",
    "Mia", "Mason", "Amelia", "Ethan", "Harper", "Logan", "Evelyn", "Aiden", "Abigail", "Jacob",
    "Emily", "Michael", "Ella", "Daniel", "Madison", "Jackson", "Scarlett", "Sebastian", "Grace",
    "Mateo", "Chloe", "Jayden", "Layla", "Carter", "Aaliyah", "Dylan", "Nora", "Wyatt", "Zoey",
    "Luke", "Hannah", "Isaiah", "Aria", "Gabriel", "Riley", "Julian", "Lily", "Anthony", "Maya",
    "Jaxon", "Naomi", "DeShawn", "Imani", "Tyrone", "Keisha", "Xavier", "Jamal", "Aaliyah",
    "Priya", "Arjun", "Ananya", "Rohan", "Mei", "Wei", "Hiroshi", "Yuki", "Minh", "Linh",
    "Fatima", "Omar", "Aisha", "Yusuf", "Ngozi", "Chidi", "Kwame", "Ama", "Dmitri", "Olga",
    "José", "María", "Zoë", "Renée", "Chloé", "André", "Léa", "Søren", "Björn", "Siobhán",
    "Seán", "Ángel", "Inés", "Jesús", "Noémie", "François", "Maëlle", "Anne-Marie",
    "Jean-Luc", "Mary-Kate", "D'Andre", "Ja'Marcus", "Zh'Kira",
]

FAMILY_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Patel", "Shah", "Kim", "Park",
    "Chen", "Wang", "Tanaka", "Okafor", "Mensah", "Haddad", "Kowalski", "Novak", "Ivanova",
    "Müller", "Schäfer", "Núñez", "Peña", "Ibáñez", "Gómez", "Jiménez", "Sørensen", "Løvaas",
    "Côté", "Béland", "Zoë-Ann", "Smith-Jones", "García-López", "Ortiz-Rivera", "Lloyd-Webber",
    "O'Brien", "O'Connor", "D'Angelo", "N'Diaye", "O'Neil", "Dell'Acqua", "McDonald", "MacLeod",
    "van der Berg", "de la Cruz", "St. James",
]

# (given name, family name) pairs written in scripts other than Latin.
NON_LATIN_NAMES = [
    ("李", "明"), ("王", "芳"), ("陈", "伟"), ("佐藤", "健"), ("山田", "花子"), ("김", "민준"),
    ("Дмитрий", "Иванов"), ("Анна", "Смирнова"), ("محمد", "الحسن"), ("فاطمة", "الزهراء"),
    ("Ελένη", "Παπαδοπούλου"), ("Γιώργος", "Νικολάου"), ("אברהם", "כהן"), ("प्रिया", "शर्मा"),
]

MIDDLE_INITIALS = "ABCDEFGHJKLMNPRSTW"


@dataclass(frozen=True)
class _Offering:
    """A course a student may take in a slot: title, code stem, term code and whether per grade."""

    title: str
    code: str
    term: str = "Y1"
    per_grade: bool = True


@dataclass(frozen=True)
class _Slot:
    """One period of the day; `offerings` are alternatives, `pair` means take both (S1 + S2)."""

    period: str
    offerings: tuple[_Offering, ...]
    pair: bool = False


_ELEMENTARY = (
    _Slot("1", (_Offering("Reading", "RDG"),)),
    _Slot("2", (_Offering("Mathematics", "MTH"),)),
    _Slot("3", (_Offering("Science", "SCI"),)),
    _Slot("4", (_Offering("Social Studies", "SST"),)),
    _Slot("5", (_Offering("Art", "ART", "S1"), _Offering("Music", "MUS", "S2")), pair=True),
    _Slot("6", (_Offering("Physical Education", "PE"),)),
    _Slot("7", (_Offering("Library and Technology", "LIB"),)),
)
_MIDDLE = (
    _Slot("1", (_Offering("English Language Arts", "ELA"),)),
    _Slot("2", (_Offering("Mathematics", "MTH"),)),
    _Slot("3", (_Offering("Science", "SCI"),)),
    _Slot("4", (_Offering("Social Studies", "SST"),)),
    _Slot("5", (_Offering("Physical Education", "PE", "S1"), _Offering("Health", "HLT", "S2")), pair=True),
    _Slot(
        "6",
        (
            _Offering("Band", "BND", per_grade=False),
            _Offering("Chorus", "CHO", per_grade=False),
            _Offering("Spanish I", "SPA1", per_grade=False),
        ),
    ),
    _Slot(
        "7",
        (
            _Offering("Art", "ART", per_grade=False),
            _Offering("Computer Science Discoveries", "CSD", per_grade=False),
        ),
    ),
)
_HIGH = (
    _Slot("1", (_Offering("English", "ENG"),)),
    _Slot("2", (_Offering("Mathematics", "MTH"),)),
    _Slot("3", (_Offering("Science", "SCI"),)),
    _Slot("4", (_Offering("Social Studies", "SST"),)),
    _Slot("5", (_Offering("Physical Education", "PE", "S1"), _Offering("Health", "HLT", "S2")), pair=True),
    _Slot(
        "6",
        (
            _Offering("Spanish I", "SPA1", per_grade=False),
            _Offering("French I", "FRE1", per_grade=False),
            _Offering("AP Computer Science Principles", "APCSP", per_grade=False),
        ),
    ),
    _Slot(
        "7",
        (
            _Offering("Band", "BND", per_grade=False),
            _Offering("Journalism", "JRN", per_grade=False),
            _Offering("Driver's Education", "DRV", per_grade=False),
        ),
    ),
)

_LEVELS = {
    "elementary": ("Elementary School", ["KG", "01", "02", "03", "04", "05"], _ELEMENTARY),
    "middle": ("Middle School", ["06", "07", "08"], _MIDDLE),
    "high": ("High School", ["09", "10", "11", "12"], _HIGH),
}
_LEVEL_ORDER = ("elementary", "middle", "high")
_SCHOOL_NAMES = ["Lincoln", "Riverside", "Jefferson", "Maple Grove", "Washington", "Cedar Ridge",
                 "Franklin", "Lakeview", "Roosevelt", "Pine Hill", "Madison", "Oak Park"]


def generate_district(
    *,
    seed: int = 0,
    schools: int = 3,
    students: int = 1000,
    teachers: int | None = None,
    school_year: int | None = None,
    class_size: int = 25,
    co_teacher_rate: float = 0.06,
    leading_zero_rate: float = 0.15,
    non_latin_rate: float = 0.02,
    district_id: str = "1",
    district_name: str = "Sandbox Unified School District",
    email_domain: str = "sandbox-usd.example.org",
    level_weights: tuple[int, int, int] = (1, 1, 1),
    schedule_size: tuple[int, int] = (6, 8),
    dual_enrollment_rate: float = 0.0,
    withdrawn_rate: float = 0.0,
) -> District:
    """Build a district with `schools` schools and about `students` students.

    `school_year` is the ending calendar year (2026 for 2025-26). It defaults to the current
    school year, so pass it when runs on different dates must match. `teachers` defaults to one
    per 14 students. The same arguments give the same district.

    `level_weights` sets the share of elementary, middle and high schools (the default cycles
    them one by one). `schedule_size` is the (min, max) number of sections per student, homeroom
    included, between 5 and 9; a student may get fewer than the drawn number when a fall/spring
    pair does not fit. `dual_enrollment_rate` is the fraction of students who also attend a
    second school (a school of the same level when there is one) and take one section there.
    `withdrawn_rate` is the fraction of students withdrawn in the first weeks of school: each
    gets status `tobedeleted` or `inactive`, `enabled_user` false, and enrollments that end on
    the withdrawal day with the same status. Those records carry the withdrawal time as
    dateLastModified, and `loaded_at` moves to the latest of them.
    """
    if schools < 1:
        raise ValueError(f"schools must be at least 1, got {schools}")
    if students < schools:
        raise ValueError(f"students ({students}) must be at least the number of schools ({schools})")
    if len(level_weights) != 3 or min(level_weights) < 0 or sum(level_weights) < 1:
        raise ValueError(
            f"level_weights must be three non-negative integers with a positive sum, "
            f"got {level_weights!r}"
        )
    low, high = schedule_size
    if not 5 <= low <= high <= 9:
        raise ValueError(f"schedule_size must satisfy 5 <= min <= max <= 9, got {schedule_size!r}")
    for name, rate in (
        ("dual_enrollment_rate", dual_enrollment_rate),
        ("withdrawn_rate", withdrawn_rate),
    ):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {rate}")
    if school_year is None:
        school_year = school_year_for(dt.date.today())
    if teachers is None:
        teachers = max(schools * 2, round(students / 14))
    builder = _Builder(
        random.Random(seed),
        school_year=school_year,
        class_size=class_size,
        co_teacher_rate=co_teacher_rate,
        leading_zero_rate=leading_zero_rate,
        non_latin_rate=non_latin_rate,
        district_id=district_id,
        email_domain=email_domain,
        schedule_size=schedule_size,
    )
    district = builder.build(schools, students, teachers, district_name, level_weights)
    if dual_enrollment_rate or withdrawn_rate:
        # A second generator keeps the base district identical whatever these rates are.
        extras = random.Random(f"{seed}:extras")
        _add_dual_enrollments(district, extras, dual_enrollment_rate)
        _withdraw_students(district, extras, withdrawn_rate)
    log.info("generated district seed=%s: %s", seed, district.summary())
    return district


def generate_preset(name: str, **overrides) -> District:
    """Generate the named size preset from PRESETS; keyword arguments override its settings."""
    try:
        settings = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(sorted(PRESETS))}") from None
    return generate_district(**{**settings, **overrides})


class _Builder:
    def __init__(
        self,
        rng: random.Random,
        *,
        school_year: int,
        class_size: int,
        co_teacher_rate: float,
        leading_zero_rate: float,
        non_latin_rate: float,
        district_id: str,
        email_domain: str,
        schedule_size: tuple[int, int] = (6, 8),
    ) -> None:
        self.rng = rng
        self.schedule_size = schedule_size
        self.year = school_year
        self.class_size = class_size
        self.co_teacher_rate = co_teacher_rate
        self.leading_zero_rate = leading_zero_rate
        self.non_latin_rate = non_latin_rate
        self.district_id = district_id
        self.email_domain = email_domain
        # July 1 before the school year starts: fixed for a given year, and never in the future.
        self.stamp = dt.datetime(school_year - 1, 7, 1, tzinfo=UTC)
        self.usernames: set[str] = set()
        self.next_student = 1
        self.next_teacher = 1
        self.next_section = 10001
        self.district = District(
            org=Org(
                sourced_id=district_id,
                name="",
                type="district",
                identifier=district_id,
                date_last_modified=self.stamp,
            ),
            loaded_at=self.stamp,
        )

    def build(
        self,
        schools: int,
        students: int,
        teachers: int,
        name: str,
        level_weights: tuple[int, int, int] = (1, 1, 1),
    ) -> District:
        self.district.org.name = name
        levels = _interleave_levels(schools, level_weights)
        # Each grade gets about the same number of students, so a school's share is its grade count.
        weights = [len(_LEVELS[level][1]) for level in levels]
        student_counts = _apportion(students, weights)
        teacher_counts = _apportion(teachers, student_counts)
        for index, level in enumerate(levels):
            self._build_school(index, level, student_counts[index], max(1, teacher_counts[index]))
        return self.district

    # --- schools and sessions -------------------------------------------------------------

    def _build_school(self, index: int, level: str, student_count: int, teacher_count: int) -> None:
        suffix, grades, slots = _LEVELS[level]
        school_id = str(10 * (index + 1))
        place = _SCHOOL_NAMES[index % len(_SCHOOL_NAMES)]
        if index >= len(_SCHOOL_NAMES):
            place = f"{place} {index // len(_SCHOOL_NAMES) + 1}"
        self.district.schools.append(
            Org(
                sourced_id=school_id,
                name=f"{place} {suffix}",
                type="school",
                identifier=school_id,
                parent_id=self.district_id,
                date_last_modified=self.stamp,
            )
        )
        terms = self._build_sessions(school_id)
        teachers = [self._new_teacher(school_id) for _ in range(teacher_count)]
        roster = self._build_students(school_id, grades, student_count)
        _SchoolScheduler(self, school_id, grades, slots, terms, teachers, roster).schedule()

    def _build_sessions(self, school_id: str) -> dict[str, AcademicSession]:
        start = dt.date(self.year - 1, 8, 14)
        end = dt.date(self.year, 5, 29)
        spans = {
            "Y1": (start, end),
            "S1": (start, dt.date(self.year - 1, 12, 19)),
            "S2": (dt.date(self.year, 1, 6), end),
        }
        year_id = f"{school_id}-{self.year}"
        self.district.sessions.append(
            AcademicSession(
                sourced_id=year_id,
                title=f"{self.year - 1}-{self.year}",
                type="schoolYear",
                start_date=start,
                end_date=end,
                school_year=str(self.year),
                school_id=school_id,
                date_last_modified=self.stamp,
            )
        )
        terms = {}
        for code, (term_start, term_end) in spans.items():
            term = AcademicSession(
                sourced_id=f"{year_id}-{code}",
                title=code,
                type="term",
                start_date=term_start,
                end_date=term_end,
                school_year=str(self.year),
                school_id=school_id,
                parent_id=year_id,
                date_last_modified=self.stamp,
            )
            self.district.sessions.append(term)
            terms[code] = term
        return terms

    # --- people -----------------------------------------------------------------------------

    def _pick_name(self) -> tuple[str, str]:
        if self.rng.random() < self.non_latin_rate:
            return self.rng.choice(NON_LATIN_NAMES)
        return self.rng.choice(GIVEN_NAMES), self.rng.choice(FAMILY_NAMES)

    def _unique_username(self, stem: str) -> str:
        candidate = stem
        number = 1
        while candidate in self.usernames:
            number += 1
            candidate = f"{stem}{number}"
        self.usernames.add(candidate)
        return candidate

    def _new_teacher(self, school_id: str) -> User:
        given, family = self._pick_name()
        teacher_id = f"9{self.next_teacher:05d}"
        self.next_teacher += 1
        stem = _ascii_handle(f"{given}.{family}") or f"staff{teacher_id}"
        username = self._unique_username(stem)
        teacher = User(
            sourced_id=teacher_id,
            role="teacher",
            username=username,
            given_name=given,
            family_name=family,
            middle_name=self.rng.choice(MIDDLE_INITIALS),
            identifier=teacher_id,
            email=f"{username}@{self.email_domain}",
            org_ids=[school_id],
            state_id=str(self.rng.randrange(10**9, 10**10)),
            date_last_modified=self.stamp,
        )
        self.district.users.append(teacher)
        return teacher

    def _build_students(self, school_id: str, grades: list[str], count: int) -> dict[str, list[User]]:
        roster: dict[str, list[User]] = {grade: [] for grade in grades}
        for position, grade in enumerate(_spread(count, grades)):
            given, family = self._pick_name()
            number = self.next_student
            self.next_student += 1
            # Zero-filled ids (eSchool ZERO_FILL_IDS) are 9 digits, plain ones 7, so they never clash.
            if self.rng.random() < self.leading_zero_rate:
                student_id = f"{number:09d}"
            else:
                student_id = str(1_000_000 + number)
            handle = _ascii_handle(f"{given}{family[:1]}") or "student"
            # Usernames follow a first-name + initial + two digits pattern, so repeats happen
            # as they do in real districts.
            username = f"{handle}{self.rng.randrange(10, 100)}"
            student = User(
                sourced_id=student_id,
                role="student",
                username=username,
                given_name=given,
                family_name=family,
                middle_name=self.rng.choice(MIDDLE_INITIALS) if position % 3 else "",
                identifier=student_id,
                email=f"{username}.{student_id[-4:]}@students.{self.email_domain}",
                grades=[grade],
                org_ids=[school_id],
                state_id=str(self.rng.randrange(10**9, 10**10)),
                date_last_modified=self.stamp,
            )
            self.district.users.append(student)
            roster[grade].append(student)
        return roster


class _SchoolScheduler:
    """Build courses, sections and enrollments for one school."""

    def __init__(self, builder, school_id, grades, slots, terms, teachers, roster) -> None:
        self.b = builder
        self.rng: random.Random = builder.rng
        self.school_id: str = school_id
        self.grades: list[str] = grades
        self.slots: tuple[_Slot, ...] = slots
        self.terms: dict[str, AcademicSession] = terms
        self.teachers: list[User] = teachers
        self.roster: dict[str, list[User]] = roster
        self.courses: dict[str, Course] = {}
        self.rooms = {teacher.sourced_id: str(100 + number) for number, teacher in enumerate(teachers)}
        single = [slot for slot in slots if len(slot.offerings) == 1 and not slot.pair]
        self.core_slots = single[:4]
        self.extra_slots = [slot for slot in slots if slot not in self.core_slots]
        # Primary teachers are assigned in rotation, skipping those who already teach in the
        # period. No teacher gets two sections in one period unless a period has more sections
        # than the school has teachers.
        self.teacher_cursor = 0
        self.busy: set[str] = set()

    def schedule(self) -> None:
        self._homerooms()
        # (slot, offering, grade or "" for mixed-grade electives) -> students, in request order.
        requests: dict[tuple[_Slot, _Offering, str], list[User]] = {}
        for grade in self.grades:
            for student in self.roster[grade]:
                for slot, offering in self._choose_schedule():
                    key_grade = grade if offering.per_grade else ""
                    requests.setdefault((slot, offering, key_grade), []).append(student)
        by_period: dict[str, list[tuple[_Offering, str, list[User]]]] = {}
        for (slot, offering, grade), members in requests.items():
            by_period.setdefault(slot.period, []).append((offering, grade, members))
        for period in sorted(by_period):
            self.busy = set()
            for offering, grade, members in by_period[period]:
                self._sections(offering, grade, period, members)

    def _choose_schedule(self) -> list[tuple[_Slot, _Offering]]:
        """Pick sections besides the homeroom: the four core slots plus extras, to the drawn size."""
        target = self.rng.randint(*self.b.schedule_size) - 1  # minus the homeroom
        chosen = [(slot, slot.offerings[0]) for slot in self.core_slots]
        extras = list(self.extra_slots)
        self.rng.shuffle(extras)
        for slot in extras:
            room = target - len(chosen)
            if room <= 0:
                break
            if slot.pair:
                if room < 2:
                    continue
                chosen.extend((slot, offering) for offering in slot.offerings)
            else:
                chosen.append((slot, self.rng.choice(slot.offerings)))
        return chosen

    def _course(self, title: str, code: str, grade: str) -> Course:
        course_id = f"{self.school_id}-{code}"
        course = self.courses.get(course_id)
        if course is None:
            course = Course(
                sourced_id=course_id,
                title=title,
                course_code=code,
                school_id=self.school_id,
                school_year_id=f"{self.school_id}-{self.b.year}",
                date_last_modified=self.b.stamp,
            )
            self.courses[course_id] = course
            self.b.district.courses.append(course)
        if grade and grade not in course.grades:
            course.grades.append(grade)
        return course

    def _homerooms(self) -> None:
        self.busy = set()
        for grade in self.grades:
            members = self.roster[grade]
            if not members:
                continue
            course = self._course(f"Homeroom {_grade_label(grade)}", f"HR{grade}", grade)
            self._split(course, grade, "0", self.terms["Y1"], members, "homeroom")

    def _sections(self, offering: _Offering, grade: str, period: str, members: list[User]) -> None:
        if grade:
            title = f"{offering.title} {_grade_label(grade)}"
            code = f"{offering.code}{grade}"
        else:
            title, code = offering.title, offering.code
        course = self._course(title, code, grade)
        for member in members:
            for member_grade in member.grades:
                if member_grade not in course.grades:
                    course.grades.append(member_grade)
        self._split(course, grade, period, self.terms[offering.term], members, "scheduled")

    def _split(self, course, grade, period, term, members, class_type) -> None:
        count = max(1, math.ceil(len(members) / self.b.class_size))
        for number in range(count):
            section_members = members[number::count]
            class_id = str(self.b.next_section)
            self.b.next_section += 1
            primary = self._next_teacher()
            grades = [grade] if grade else sorted({g for m in section_members for g in m.grades})
            self.b.district.classes.append(
                SchoolClass(
                    sourced_id=class_id,
                    title=f"{course.title} - {primary.family_name} (Section {number + 1})",
                    class_code=f"{course.course_code}-{number + 1:02d}",
                    class_type=class_type,
                    course_id=course.sourced_id,
                    school_id=self.school_id,
                    term_ids=[term.sourced_id],
                    periods=[period],
                    grades=grades,
                    location=self.rooms[primary.sourced_id],
                    date_last_modified=self.b.stamp,
                )
            )
            staff = [primary]
            if len(self.teachers) > 1 and self.rng.random() < self.b.co_teacher_rate:
                extra = self.rng.randint(1, min(3, len(self.teachers) - 1))
                others = [teacher for teacher in self.teachers if teacher is not primary]
                staff.extend(self.rng.sample(others, extra))
            for slot, teacher in enumerate(staff):
                self._enroll(class_id, teacher, term, primary=slot == 0)
            for student in section_members:
                self._enroll(class_id, student, term, primary=False)

    def _next_teacher(self) -> User:
        for _ in range(len(self.teachers)):
            teacher = self.teachers[self.teacher_cursor % len(self.teachers)]
            self.teacher_cursor += 1
            if teacher.sourced_id not in self.busy:
                break
        self.busy.add(teacher.sourced_id)
        return teacher

    def _enroll(self, class_id: str, user: User, term: AcademicSession, primary: bool) -> None:
        self.b.district.enrollments.append(
            Enrollment(
                sourced_id=f"{class_id}-{user.sourced_id}",
                role=user.role,
                primary=primary,
                user_id=user.sourced_id,
                class_id=class_id,
                school_id=self.school_id,
                begin_date=term.start_date,
                end_date=term.end_date,
                date_last_modified=self.b.stamp,
            )
        )


def _interleave_levels(schools: int, weights: tuple[int, int, int]) -> list[str]:
    """Assign a level to each school in proportion to `weights`, spreading each level evenly.

    This is smooth weighted round-robin: with equal weights it cycles elementary, middle, high.
    """
    current = [0, 0, 0]
    total = sum(weights)
    levels = []
    for _ in range(schools):
        for index, weight in enumerate(weights):
            current[index] += weight
        chosen = max(range(3), key=lambda index: current[index])
        current[chosen] -= total
        levels.append(_LEVEL_ORDER[chosen])
    return levels


def _term_slots(school_class: SchoolClass, term_titles: dict[str, str]) -> set[tuple[str, str]]:
    """Return the (period, semester) pairs a section occupies; a Y1 section fills S1 and S2."""
    slots = set()
    for term_id in school_class.term_ids:
        title = term_titles.get(term_id, term_id)
        for semester in ("S1", "S2") if title == "Y1" else (title,):
            for period in school_class.periods:
                slots.add((period, semester))
    return slots


def _add_dual_enrollments(district: District, rng: random.Random, rate: float) -> None:
    """Give a `rate` share of students a second school and one section there that fits their day.

    A student for whom none of 20 sampled sections fits keeps a single school.
    """
    students = district.students
    count = round(len(students) * rate)
    if count == 0 or len(district.schools) < 2:
        return
    sessions = {session.sourced_id: session for session in district.sessions}
    term_titles = {session_id: session.title for session_id, session in sessions.items()}
    level_of = {school.sourced_id: school.name.split()[-2] for school in district.schools}
    classes = {school_class.sourced_id: school_class for school_class in district.classes}
    scheduled_by_school: dict[str, list[SchoolClass]] = {}
    for school_class in district.classes:
        if school_class.class_type == "scheduled":
            scheduled_by_school.setdefault(school_class.school_id, []).append(school_class)
    chosen = rng.sample(students, count)
    chosen_ids = {student.sourced_id for student in chosen}
    busy: dict[str, set[tuple[str, str]]] = {student_id: set() for student_id in chosen_ids}
    for enrollment in district.enrollments:
        if enrollment.user_id in chosen_ids:
            busy[enrollment.user_id] |= _term_slots(classes[enrollment.class_id], term_titles)
    schools_by_level: dict[str, list[str]] = {}
    for school in district.schools:
        schools_by_level.setdefault(level_of[school.sourced_id], []).append(school.sourced_id)
    all_school_ids = [school.sourced_id for school in district.schools]
    added = 0
    for student in chosen:
        home = student.org_ids[0]
        peers = [i for i in schools_by_level[level_of[home]] if i != home]
        others = peers or [i for i in all_school_ids if i != home]
        other = rng.choice(others)
        candidates = scheduled_by_school.get(other, [])
        for school_class in rng.sample(candidates, min(20, len(candidates))):
            if busy[student.sourced_id] & _term_slots(school_class, term_titles):
                continue
            term = sessions[school_class.term_ids[0]]
            student.org_ids.append(other)
            district.enrollments.append(
                Enrollment(
                    sourced_id=f"{school_class.sourced_id}-{student.sourced_id}",
                    role="student",
                    primary=False,
                    user_id=student.sourced_id,
                    class_id=school_class.sourced_id,
                    school_id=other,
                    begin_date=term.start_date,
                    end_date=term.end_date,
                    date_last_modified=student.date_last_modified,
                )
            )
            added += 1
            break
    log.info("gave %d of %d sampled students a section at a second school", added, count)


def _withdraw_students(district: District, rng: random.Random, rate: float) -> None:
    """Withdraw a `rate` share of students on a school day in the first six weeks of the year."""
    students = district.students
    count = round(len(students) * rate)
    if count == 0:
        return
    first_day = min(session.start_date for session in district.terms)
    by_user: dict[str, list[Enrollment]] = {}

    chosen = rng.sample(students, count)
    chosen_ids = {student.sourced_id for student in chosen}
    for enrollment in district.enrollments:
        if enrollment.user_id in chosen_ids:
            by_user.setdefault(enrollment.user_id, []).append(enrollment)
    latest = district.loaded_at
    for student in chosen:
        day = _next_school_day(first_day + dt.timedelta(days=rng.randrange(1, 42)))
        status = rng.choice(("tobedeleted", "inactive"))
        stamp = dt.datetime(day.year, day.month, day.day, 15, tzinfo=UTC)
        student.status = status
        student.enabled_user = False
        student.date_last_modified = stamp

        for enrollment in by_user.get(student.sourced_id, []):
            enrollment.status = status
            # A section that had not started yet (spring) ends on its first day.
            if enrollment.end_date is None or enrollment.end_date > day:
                enrollment.end_date = day
            if enrollment.begin_date is not None and enrollment.end_date < enrollment.begin_date:
                enrollment.end_date = enrollment.begin_date
            enrollment.date_last_modified = stamp
        latest = max(latest, stamp)

    district.loaded_at = latest


def _next_school_day(day: dt.date) -> dt.date:
    """Return `day`, or the Monday after it when it falls on a weekend."""
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def _apportion(total: int, weights: list[int]) -> list[int]:
    """Split `total` into integers proportional to `weights` (largest remainder method)."""
    weight_sum = sum(weights)
    exact = [total * weight / weight_sum for weight in weights]
    counts = [math.floor(value) for value in exact]
    order = sorted(range(len(weights)), key=lambda i: exact[i] - counts[i], reverse=True)
    for index in order[: total - sum(counts)]:
        counts[index] += 1
    return counts


def _spread(count: int, grades: list[str]) -> list[str]:
    """Return one grade per student, spreading `count` students evenly over `grades`."""
    per_grade = _apportion(count, [1] * len(grades))
    return [grade for grade, number in zip(grades, per_grade) for _ in range(number)]


def _grade_label(grade: str) -> str:
    return "Kindergarten" if grade == "KG" else f"Grade {int(grade)}"


def _ascii_handle(text: str) -> str:
    """Fold a name to lower-case ASCII letters and dots ("Zoë O'Brien" -> "zoeobrien")."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in folded.lower() if ch.isalnum() or ch == ".").strip(".")


# Named sizes for load tests. W2 is a large district: 50,000 students and 3,000 teachers in 60
# schools (36 elementary, 13 middle, 11 high). Seed 1 for school year 2027 gives 20,021 sections
# and 393,454 enrollments; other seeds land within a few percent.
W2 = {
    "schools": 60,
    "students": 50_000,
    "teachers": 3_000,
    "level_weights": (36, 13, 11),
    "class_size": 20,
    "schedule_size": (6, 9),
    "dual_enrollment_rate": 0.01,
    "withdrawn_rate": 0.02,
}

PRESETS: dict[str, dict] = {"W2": W2}
