"""Bad input through the whole pipeline: broken mapping files and SIS records that break a rule.

A broken mapping file must stop `plan_job` at its mapping asset with a message that names the
file, line, column and value and gives the fix, before any Schoology write and before any plan
table changes. A bad SIS record must land in eschoolplus.quarantine, fail the WARN check
`sis_records_valid`, and be left out of the sync while everything else syncs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest

from esp_pipeline.sandbox.districts.model import Enrollment, SchoolClass
from esp_pipeline_tests.districts import small_district, write_mappings
from esp_pipeline_tests.harness import SyncHarness, SyncResult, sync_harness

pytestmark = pytest.mark.slow

SCHOOLS_HEADER = "sis_school_id,schoology_building_id,sync_users,sync_courses,sync_sections,note"
TERMS_HEADER = "school_year,sis_term_code,grading_period_title,sis_school_id"
STEP_FOR_FILE = {"schools.csv": "mappings__schools", "terms.csv": "mappings__terms"}
PLAN_ENTITIES = ("grading_period", "course", "section", "user", "enrollment")


# ---------------------------------------------------------------- mapping files


@dataclass(frozen=True)
class BadFile:
    """A mapping file written over the good one, and the texts its failure message must contain.

    `content` is None to delete the file. `{b10}` and `{b20}` in `content` and `expected` stand
    for the Schoology building ids of SIS schools 10 and 20, and `{path}` for the file's path.
    """

    name: str
    content: str | None
    expected: tuple[str, ...]
    encoding: str = "utf-8"


def schools(*rows: str, header: str = SCHOOLS_HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def terms(*rows: str, header: str = TERMS_HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


SCHOOL_10 = "10,{b10},yes,yes,yes,Lincoln Elementary School"
SCHOOL_20 = "20,{b20},yes,yes,yes,Riverside Middle School"
TERM_Y1 = "2027,Y1,2027 Y1,"
TERM_S1 = "2027,S1,2027 S1,"
TERM_S2 = "2027,S2,2027 S2,"

BAD_FILES = {
    "schools_missing": BadFile(
        "schools.csv",
        None,
        (
            "{path}: The file was not found",
            "Fix: Create it with the header line sis_school_id,schoology_building_id,",
        ),
    ),
    "schools_empty": BadFile(
        "schools.csv",
        "",
        (
            "{path}: The file is empty or contains only blank lines.",
            "Fix: Put the header line sis_school_id,schoology_building_id,",
        ),
    ),
    "unknown_column": BadFile(
        "schools.csv",
        schools(
            "10,{b10},yes,yes,yes",
            header="sis_school_id,schoology_bulding_id,sync_users,sync_courses,sync_sections",
        ),
        (
            '{path}, line 1, column schoology_bulding_id, value "schoology_bulding_id"',
            "is not a valid column name",
            "Fix: Did you mean schoology_building_id?",
        ),
    ),
    "missing_column": BadFile(
        "schools.csv",
        schools("10,{b10},yes,yes", header="sis_school_id,schoology_building_id,sync_users,"
                "sync_courses"),
        (
            "{path}, line 1, column sync_sections:",
            "The required column sync_sections is missing from the header.",
            "Fix: Add a column named sync_sections.",
        ),
    ),
    "duplicate_school": BadFile(
        "schools.csv",
        schools(SCHOOL_10, SCHOOL_20, "10,{b10},no,no,no,Lincoln again"),
        (
            '{path}, line 4, column sis_school_id, value "10"',
            "SIS school 10 appears on lines 2 and 4",
            "Fix: Keep one of lines 2 and 4 and delete the other.",
        ),
    ),
    "invalid_flag": BadFile(
        "schools.csv",
        schools(SCHOOL_10, "20,{b20},maybe,yes,yes,Riverside Middle School"),
        (
            '{path}, line 3, column sync_users, value "maybe"',
            "sync_users must be yes or no.",
            "Fix: Write yes or no",
        ),
    ),
    "building_not_numeric": BadFile(
        "schools.csv",
        schools("10,Lincoln,yes,yes,yes,Lincoln Elementary School", SCHOOL_20),
        (
            '{path}, line 2, column schoology_building_id, value "Lincoln"',
            "must be the numeric Schoology building id",
            "Fix: Write the building id as digits only.",
        ),
    ),
    "building_not_in_schoology": BadFile(
        "schools.csv",
        schools(SCHOOL_10, "20,999999,yes,yes,yes,Riverside Middle School"),
        (
            "{path}, line 3, column schoology_building_id",
            "Schoology has no building with this id",
            "{b10}, {b20}",
            '{path}, line 3, column schoology_building_id, value "999999"',
            "Fix:",
        ),
    ),
    "building_in_scientific_notation": BadFile(
        "schools.csv",
        schools("10,2.90853E+09,yes,yes,yes,Lincoln Elementary School", SCHOOL_20),
        (
            '{path}, line 2, column schoology_building_id, value "2.90853E+09"',
            "Fix: A spreadsheet program turned the id into a number.",
        ),
    ),
    "school_not_in_sis": BadFile(
        "schools.csv",
        schools(SCHOOL_10, SCHOOL_20, "30,{b10},yes,yes,yes,Closed school"),
        (
            '{path}, line 4, column sis_school_id, value "30"',
            "The SIS has no school with id 30.",
            "Fix: Correct the id or delete the line. The SIS school ids are 10, 20.",
        ),
    ),
    "windows_1252_bytes": BadFile(
        "schools.csv",
        schools("10,{b10},yes,yes,yes,Café Lincoln", SCHOOL_20),
        (
            "{path}, line 2, value ",
            "The line is not valid UTF-8 text: byte 0xE9 at character 30",
            "('é' in Windows-1252)",
            "Fix: Save the file as UTF-8",
        ),
        encoding="cp1252",
    ),
    "too_many_fields": BadFile(
        "schools.csv",
        schools(SCHOOL_10, "20,{b20},yes,yes,yes,Riverside, Jr. High"),
        (
            '{path}, line 3, value "Jr. High"',
            "The line has 7 values but the header has 6 columns.",
            'Fix: If a value contains a comma, put the whole value in double quotes',
        ),
    ),
    "utf16_file": BadFile(
        "schools.csv",
        schools(SCHOOL_10, SCHOOL_20),
        (
            "{path}: The file is saved as UTF-16",
            'Fix: Save it again as "CSV UTF-8 (Comma delimited)".',
        ),
        encoding="utf-16",
    ),
    "blank_required_value": BadFile(
        "schools.csv",
        schools("10,{b10},yes,,yes,Lincoln Elementary School", SCHOOL_20),
        (
            '{path}, line 2, column sync_courses, value ""',
            "The required value sync_courses is blank.",
            "Fix: Fill in sync_courses",
        ),
    ),
    "unclosed_quote": BadFile(
        "schools.csv",
        schools('10,{b10},yes,yes,yes,"Lincoln Elementary School', SCHOOL_20),
        (
            "{path}, line 2: A double quote opened on line 2 is never closed",
            "Fix: Put double quotes only around a whole value",
        ),
    ),
    "several_format_problems": BadFile(
        "schools.csv",
        schools(
            "10,{b10},maybe,yes,yes",
            "20,{b20},yes,yes,",
            header="sis_school_id,schoology_bulding_id,sync_users,sync_courses,sync_sections",
        ),
        (
            "{path} has 3 problems:",
            "{path}, line 1, column schoology_bulding_id",
            "Fix: Did you mean schoology_building_id?",
            '{path}, line 2, column sync_users, value "maybe"',
            "Fix: Write yes or no",
            '{path}, line 3, column sync_sections, value ""',
            "Fix: Fill in sync_sections",
        ),
    ),
    "format_and_reference_problems": BadFile(
        "schools.csv",
        schools(
            "10,{b10},maybe,yes,yes,Lincoln Elementary School",
            "20,999999,yes,yes,yes,Riverside Middle School",
            "30,{b10},yes,yes,yes,Closed school",
        ),
        (
            '{path}, line 2, column sync_users, value "maybe"',
            "{path}, line 3, column schoology_building_id",
            '{path}, line 4, column sis_school_id, value "30"',
        ),
    ),
    "terms_missing": BadFile(
        "terms.csv",
        None,
        (
            "{path}: The file was not found",
            "Fix: Create it with the header line school_year,sis_term_code,grading_period_title",
        ),
    ),
    "school_year_range": BadFile(
        "terms.csv",
        terms("2026-27,Y1,2027 Y1,", TERM_S1, TERM_S2),
        (
            '{path}, line 2, column school_year, value "2026-27"',
            "school_year must be the 4-digit year in which the school year ends",
            "Fix: Write only the ending year: 2027 for 2026-27.",
        ),
    ),
    "term_not_mapped": BadFile(
        "terms.csv",
        terms(TERM_Y1, TERM_S1),
        (
            '{path}, column sis_term_code, value "S2"',
            "Term S2 of school year 2027 is used by classes in schools 10, 20",
            'Fix: Add the row "2027,S2,<grading period title>,"',
        ),
    ),
    "terms_header_only": BadFile(
        "terms.csv",
        terms(),
        (
            "{path} has 3 problems:",
            '{path}, column sis_term_code, value "S1"',
            '{path}, column sis_term_code, value "S2"',
            '{path}, column sis_term_code, value "Y1"',
            'Fix: Add the row "2027,Y1,<grading period title>,"',
        ),
    ),
    "term_mapped_twice": BadFile(
        "terms.csv",
        terms(TERM_Y1, TERM_S1, TERM_S2, "2027,S1,Fall Semester,"),
        (
            '{path}, line 5, column sis_term_code, value "S1"',
            "Term S1 of school year 2027 for every school (blank sis_school_id) appears on "
            "lines 3 and 5",
            "'2027 S1' and 'Fall Semester'",
            "Fix: Keep one of lines 3 and 5 and delete the other.",
        ),
    ),
    "terms_unknown_column": BadFile(
        "terms.csv",
        terms("2027,Y1,2027 Y1", "2027,S1,2027 S1", "2027,S2,2027 S2",
              header="school_year,term_code,grading_period_title"),
        (
            '{path}, line 1, column term_code, value "term_code"',
            "Fix: Did you mean sis_term_code?",
        ),
    ),
    "blank_grading_period": BadFile(
        "terms.csv",
        terms(TERM_Y1, "2027,S1,,", TERM_S2),
        (
            '{path}, line 3, column grading_period_title, value ""',
            "The required value grading_period_title is blank.",
            "Fix: Fill in grading_period_title",
        ),
    ),
}

# Cases the pipeline still gets wrong; each one listed here is expected to fail.
KNOWN_GAPS: dict[str, str] = {}


def bad_file_params(names: Iterable[str]) -> list:
    params = []
    for name in names:
        marks = []
        if name in KNOWN_GAPS:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[name]))
        params.append(pytest.param(BAD_FILES[name], id=name, marks=marks))
    return params


@pytest.fixture(scope="module")
def shared_harness(tmp_path_factory) -> Iterator[SyncHarness]:
    """Sandboxes shared by the mapping-file cases, which write nothing to Schoology."""
    folder = tmp_path_factory.mktemp("shared")
    district = small_district(students=30, schools=2)
    with sync_harness(district, folder / "mappings", folder) as harness:
        yield harness


def harness_in(shared: SyncHarness, folder: Path) -> SyncHarness:
    """Return a harness on the shared sandboxes with its own warehouse and good mapping files."""
    harness = dataclasses.replace(
        shared, database=folder / "warehouse.duckdb", mappings=folder / "mappings", results=[]
    )
    write_mappings(harness.sandboxes.eschoolplus.district, harness.sandboxes, harness.mappings)
    return harness


@pytest.fixture(scope="module")
def good_run(shared_harness, tmp_path_factory) -> tuple[Path, str]:
    """A warehouse after one good plan and apply, and the run id of that plan."""
    harness = harness_in(shared_harness, tmp_path_factory.mktemp("good_run"))
    result = harness.sync()
    return harness.database, result.plan.run_id


def building_ids(harness: SyncHarness) -> dict[str, str]:
    by_code = harness.sandboxes.schoology.state.building_ids_by_code()
    return {"b10": str(by_code["10"]), "b20": str(by_code["20"])}


def install_bad_file(harness: SyncHarness, case: BadFile) -> Path:
    path = harness.mappings / case.name
    if case.content is None:
        path.unlink()
    else:
        text = case.content.format(**building_ids(harness))
        path.write_bytes(text.encode(case.encoding))
    return path


def failure_message(result: SyncResult, step: str) -> str:
    failure = result.plan.failure_data_for_node(step)
    assert failure is not None, f"{step} did not fail"
    return failure.error.message


def provisioning_tables(harness: SyncHarness) -> list[str]:
    rows = harness.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'provisioning' "
        "ORDER BY 1"
    )
    return [row[0] for row in rows]


def provisioning_contents(harness: SyncHarness) -> dict[str, list[tuple]]:
    return {
        table: harness.query(f"SELECT * FROM provisioning.{table} ORDER BY ALL")
        for table in provisioning_tables(harness)
    }


def assert_stopped_before_writes(result: SyncResult, step: str) -> None:
    assert not result.plan.success
    assert set(result.plan.get_failed_step_keys()) == {step}
    assert result.apply is None
    assert result.write_requests == 0


@pytest.mark.parametrize("case", bad_file_params(BAD_FILES))
def test_bad_mapping_file_stops_plan(shared_harness, tmp_path, case):
    harness = harness_in(shared_harness, tmp_path)
    path = install_bad_file(harness, case)
    step = STEP_FOR_FILE[case.name]

    result = harness.sync(raise_on_error=False)

    assert_stopped_before_writes(result, step)
    message = failure_message(result, step)
    for expected in case.expected:
        text = expected.format(path=path, **building_ids(harness))
        assert text in message
    assert provisioning_tables(harness) == []


@pytest.mark.parametrize(
    "case", bad_file_params(["invalid_flag", "school_not_in_sis", "term_mapped_twice"])
)
def test_bad_file_keeps_previous_plan(shared_harness, good_run, tmp_path, case):
    good_database, good_run_id = good_run
    harness = harness_in(shared_harness, tmp_path)
    shutil.copy(good_database, harness.database)
    before = provisioning_contents(harness)
    step = STEP_FOR_FILE[case.name]
    install_bad_file(harness, case)

    result = harness.sync(raise_on_error=False)

    assert_stopped_before_writes(result, step)
    plan_run_ids = harness.query(" UNION ".join(
        f"SELECT plan_run_id FROM provisioning.{entity}_plan" for entity in PLAN_ENTITIES
    ))
    assert plan_run_ids == [(good_run_id,)]
    assert provisioning_contents(harness) == before


# ---------------------------------------------------------------- SIS records


@dataclass(frozen=True)
class Synced:
    """The SIS keys of what a sync puts in Schoology.

    Enrollments are (section key, user key, admin) with admin 1 for a teacher.
    """

    users: frozenset[str]
    courses: frozenset[str]
    sections: frozenset[str]
    enrollments: frozenset[tuple[str, str, int]]
    course_of_section: Mapping[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_district(cls, district) -> Synced:
        """Everything a clean sync of `district` creates, with every school and term mapped."""
        classes = [c for c in district.classes if c.status == "active"]
        return cls(
            users=frozenset(u.sourced_id for u in district.users
                            if u.status == "active" and u.role in ("student", "teacher")),
            courses=frozenset(c.course_id for c in classes),
            sections=frozenset(c.sourced_id for c in classes),
            enrollments=frozenset(
                (e.class_id, e.user_id, int(e.role == "teacher"))
                for e in district.enrollments if e.status == "active"
            ),
            course_of_section={c.sourced_id: c.course_id for c in classes},
        )

    @classmethod
    def from_schoology(cls, sandbox) -> Synced:
        """What is in sandbox Schoology, less the API key's own administrator account."""
        state = sandbox.state
        users = state.users(include_inactive=True)
        admin = sandbox.config.admin_school_uid
        user_keys = {u["id"]: u["school_uid"] for u in users
                     if u["school_uid"] and u["school_uid"] != admin}
        sections = state.sections()
        section_keys = {s["id"]: s["section_school_code"] for s in sections}
        return cls(
            users=frozenset(user_keys.values()),
            courses=frozenset(c["course_code"] for c in state.courses()),
            sections=frozenset(section_keys.values()),
            enrollments=frozenset(
                (section_keys[e["section_id"]], user_keys[e["uid"]], int(e["admin"]))
                for e in state.enrollments()
            ),
        )

    def without(self, *, users: Iterable[str] = (), sections: Iterable[str] = (),
                enrollments: Iterable[tuple[str, str]] = ()) -> Synced:
        """Return a copy without the given users, sections and enrollments.

        Removing a user or section also removes its enrollments, and a course goes when no kept
        section uses it.
        """
        users, sections, pairs = set(users), set(sections), set(enrollments)
        kept_sections = self.sections - sections
        return Synced(
            users=self.users - users,
            courses=frozenset(self.course_of_section[s] for s in kept_sections),
            sections=kept_sections,
            enrollments=frozenset(
                e for e in self.enrollments
                if e[0] in kept_sections and e[1] not in users and e[:2] not in pairs
            ),
            course_of_section=self.course_of_section,
        )


@pytest.fixture
def sis(tmp_path) -> Iterator[SyncHarness]:
    district = small_district(students=30)
    with sync_harness(district, tmp_path / "mappings", tmp_path) as harness:
        write_mappings(district, harness.sandboxes, harness.mappings)
        yield harness


def edit_sis(harness: SyncHarness, change) -> None:
    """Apply `change(district)` under the sandbox lock, then rebuild its lookup tables."""
    sandbox = harness.sandboxes.eschoolplus
    with sandbox.lock:
        change(sandbox.district)
        sandbox.store.reindex()


def student_with_classes(district) -> str:
    return next(e.user_id for e in district.enrollments if e.role == "student")


def teacher_with_classes(district) -> str:
    return next(e.user_id for e in district.enrollments if e.role == "teacher")


def class_with_students(district) -> SchoolClass:
    enrolled = {e.class_id for e in district.enrollments if e.role == "student"}
    return next(c for c in district.classes if c.sourced_id in enrolled)


def find(records, sourced_id: str):
    return next(r for r in records if r.sourced_id == sourced_id)


def assert_rest_synced(harness: SyncHarness, result: SyncResult, expected: Synced) -> None:
    assert result.plan.success
    assert result.apply is not None
    assert result.apply.success
    actual = Synced.from_schoology(harness.sandboxes.schoology)
    assert actual.users == expected.users
    assert actual.courses == expected.courses
    assert actual.sections == expected.sections
    assert actual.enrollments == expected.enrollments


def assert_check_warns(result: SyncResult, quarantined: int) -> None:
    evaluations = [e for e in result.plan.get_asset_check_evaluations()
                   if e.check_name == "sis_records_valid"]
    assert len(evaluations) == 1
    (evaluation,) = evaluations
    assert evaluation.passed is False
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert re.match(rf"{quarantined} SIS records? quarantined", evaluation.description)
    assert "eschoolplus.quarantine" in evaluation.description


def assert_quarantined(harness: SyncHarness, entity: str, sourced_id: str, rule: str,
                       detail: str) -> None:
    rows = harness.query("SELECT entity, sourced_id, rule, detail FROM eschoolplus.quarantine")
    assert [row[:3] for row in rows] == [(entity, sourced_id, rule)]
    assert rows[0][3] == detail


def test_user_without_given_name(sis):
    district = sis.sandboxes.eschoolplus.district
    student = student_with_classes(district)
    expected = Synced.from_district(district).without(users=[student])
    sis.sandboxes.eschoolplus.update_user(student, given_name="")

    result = sis.sync(raise_on_error=False)

    assert_rest_synced(sis, result, expected)
    assert_check_warns(result, 1)
    assert_quarantined(sis, "user", student, "user without given or family name",
                       "given_name blank")


def test_user_with_unknown_role(sis):
    district = sis.sandboxes.eschoolplus.district
    student = student_with_classes(district)
    expected = Synced.from_district(district).without(users=[student])
    edit_sis(sis, lambda d: setattr(find(d.users, student), "role", "staff"))

    result = sis.sync(raise_on_error=False)

    assert_rest_synced(sis, result, expected)
    assert_check_warns(result, 1)
    assert_quarantined(sis, "user", student, "user role outside the OneRoster vocabulary",
                       "role staff")


def test_user_with_unknown_school(sis):
    district = sis.sandboxes.eschoolplus.district
    student = student_with_classes(district)
    expected = Synced.from_district(district).without(users=[student])
    edit_sis(sis, lambda d: setattr(find(d.users, student), "org_ids", ["99"]))

    result = sis.sync(raise_on_error=False)

    assert_rest_synced(sis, result, expected)
    assert_check_warns(result, 1)
    assert_quarantined(sis, "user", student, "user without a known school", "orgs 99")


def test_class_with_unknown_course(sis):
    district = sis.sandboxes.eschoolplus.district
    school_class = class_with_students(district)
    expected = Synced.from_district(district).without(sections=[school_class.sourced_id])
    edit_sis(sis, lambda d: setattr(find(d.classes, school_class.sourced_id), "course_id",
                                    "10-NOPE"))

    result = sis.sync(raise_on_error=False)

    assert_rest_synced(sis, result, expected)
    assert_check_warns(result, 1)
    assert_quarantined(sis, "class", school_class.sourced_id,
                       "class whose course or school is unknown", "course 10-NOPE, school 10")


def test_class_without_terms(sis):
    district = sis.sandboxes.eschoolplus.district
    school_class = class_with_students(district)
    expected = Synced.from_district(district).without(sections=[school_class.sourced_id])
    edit_sis(sis, lambda d: setattr(find(d.classes, school_class.sourced_id), "term_ids", []))

    result = sis.sync(raise_on_error=False)

    assert_rest_synced(sis, result, expected)
    assert_check_warns(result, 1)
    assert_quarantined(sis, "class", school_class.sourced_id, "class without a known term",
                       "terms (blank)")


def term_with_classes(district, title: str):
    term = next(t for t in district.terms if t.title == title)
    classes = [c.sourced_id for c in district.classes if c.term_ids == [term.sourced_id]]
    assert classes, f"no class is scheduled only in term {term.sourced_id}"
    return term, classes


def grading_period_titles(harness: SyncHarness) -> set[str]:
    return {p["title"] for p in harness.sandboxes.schoology.state.grading_periods()}


def test_term_ending_before_start(sis):
    district = sis.sandboxes.eschoolplus.district
    term, classes = term_with_classes(district, "S2")
    expected = Synced.from_district(district).without(sections=classes)
    start, end = term.start_date, term.end_date

    def swap_dates(d):
        find(d.sessions, term.sourced_id).start_date = end
        find(d.sessions, term.sourced_id).end_date = start

    edit_sis(sis, swap_dates)

    result = sis.sync(raise_on_error=False)

    assert_rest_synced(sis, result, expected)
    assert "2027 S2" not in grading_period_titles(sis)
    assert_check_warns(result, 1)
    assert_quarantined(sis, "term", term.sourced_id, "term with an invalid date range",
                       f"{end.isoformat()} to {start.isoformat()}")


def test_term_with_unparsable_date(sis):
    district = sis.sandboxes.eschoolplus.district
    term, classes = term_with_classes(district, "S1")
    expected = Synced.from_district(district).without(sections=classes)
    # The sandbox serves any value it holds, so a text date reaches the API unchanged.
    edit_sis(sis, lambda d: setattr(find(d.sessions, term.sourced_id), "start_date",
                                    "2026-08-32"))

    result = sis.sync(raise_on_error=False)

    assert_rest_synced(sis, result, expected)
    assert "2027 S1" not in grading_period_titles(sis)
    assert_check_warns(result, 1)
    assert_quarantined(sis, "term", term.sourced_id, "term with an invalid date range",
                       f"2026-08-32 to {term.end_date.isoformat()}")


def add_enrollment_record(harness: SyncHarness, sourced_id: str, user_id: str,
                          class_id: str) -> None:
    def append(d):
        d.enrollments.append(Enrollment(
            sourced_id=sourced_id, role="student", primary=False, user_id=user_id,
            class_id=class_id, school_id="10", begin_date=dt.date(2026, 8, 14),
            end_date=dt.date(2027, 5, 29), date_last_modified=d.loaded_at,
        ))

    edit_sis(harness, append)


def test_enrollment_of_unknown_user(sis):
    district = sis.sandboxes.eschoolplus.district
    expected = Synced.from_district(district)
    class_id = class_with_students(district).sourced_id
    add_enrollment_record(sis, "E-GHOST-USER", "999999", class_id)

    result = sis.sync(raise_on_error=False)

    assert_rest_synced(sis, result, expected)
    assert_check_warns(result, 1)
    assert_quarantined(sis, "enrollment", "E-GHOST-USER",
                       "enrollment whose user or class is unknown",
                       f"class {class_id}, user 999999")


def test_enrollment_in_unknown_class(sis):
    district = sis.sandboxes.eschoolplus.district
    expected = Synced.from_district(district)
    student = student_with_classes(district)
    add_enrollment_record(sis, "E-GHOST-CLASS", student, "99999")

    result = sis.sync(raise_on_error=False)

    assert_rest_synced(sis, result, expected)
    assert_check_warns(result, 1)
    assert_quarantined(sis, "enrollment", "E-GHOST-CLASS",
                       "enrollment whose user or class is unknown",
                       f"class 99999, user {student}")


def test_enrollment_with_unparsable_date(sis):
    district = sis.sandboxes.eschoolplus.district
    enrollment = next(e for e in district.enrollments if e.role == "student")
    expected = Synced.from_district(district).without(
        enrollments=[(enrollment.class_id, enrollment.user_id)])
    edit_sis(sis, lambda d: setattr(find(d.enrollments, enrollment.sourced_id), "begin_date",
                                    "2026-02-30"))

    result = sis.sync(raise_on_error=False)

    assert_rest_synced(sis, result, expected)
    assert_check_warns(result, 1)
    assert_quarantined(sis, "enrollment", enrollment.sourced_id,
                       "enrollment with an invalid date",
                       f"2026-02-30 to {enrollment.end_date.isoformat()}")


def test_sourced_id_used_twice(sis):
    district = sis.sandboxes.eschoolplus.district
    student = student_with_classes(district)
    expected = Synced.from_district(district).without(users=[student])
    # eSchoolPLUS keeps ids in char(10) columns, so a padded copy extracts as the same id.
    edit_sis(sis, lambda d: d.users.append(
        dataclasses.replace(find(d.users, student), sourced_id=student + " ")))

    result = sis.sync(raise_on_error=False)

    assert_rest_synced(sis, result, expected)
    assert_check_warns(result, 1)
    assert_quarantined(sis, "user", student, "sourcedId used by two records", "2 records")


def test_teacher_without_staff_identifier(sis):
    district = sis.sandboxes.eschoolplus.district
    teacher = teacher_with_classes(district)
    expected = Synced.from_district(district).without(users=[teacher])
    sis.sandboxes.eschoolplus.update_user(teacher, identifier="")

    result = sis.sync(raise_on_error=False)

    assert_rest_synced(sis, result, expected)
    assert_check_warns(result, 1)
    assert_quarantined(sis, "user", teacher, "teacher without a staff identifier",
                       "identifier blank")
