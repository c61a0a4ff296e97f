"""Tests for reading and validating mappings/schools.csv and mappings/terms.csv."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import pytest

from esp_pipeline.mappings import (
    MappingFileError,
    Problem,
    SchoolMapping,
    TermMapping,
    check_schools_against_sis,
    check_terms_against_sis,
    read_school_mappings,
    read_term_mappings,
    resolve_grading_period,
)

SCHOOLS_HEADER = "sis_school_id,schoology_building_id,sync_users,sync_courses,sync_sections,note"
TERMS_HEADER = "school_year,sis_term_code,grading_period_title,sis_school_id"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    """Write content byte for byte, so line endings and encodings stay as given."""
    path = tmp_path / name
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.write_bytes(data)
    return path


def schools_file(tmp_path: Path, *rows: str, header: str = SCHOOLS_HEADER) -> Path:
    return write(tmp_path, "schools.csv", "\n".join([header, *rows]) + "\n")


def terms_file(tmp_path: Path, *rows: str, header: str = TERMS_HEADER) -> Path:
    return write(tmp_path, "terms.csv", "\n".join([header, *rows]) + "\n")


def read_error(reader, path: Path) -> MappingFileError:
    with pytest.raises(MappingFileError) as caught:
        reader(path)
    return caught.value


# Valid files


def test_schools_basic_row(tmp_path):
    path = schools_file(tmp_path, "02M800,2908525647,yes,no,Y,City High School")

    mappings = read_school_mappings(path)

    assert mappings == [
        SchoolMapping(
            sis_school_id="02M800",
            schoology_building_id="2908525647",
            sync_users=True,
            sync_courses=False,
            sync_sections=True,
            line=2,
        )
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", True),
        ("YES", True),
        ("y", True),
        ("True", True),
        ("1", True),
        ("no", False),
        ("N", False),
        ("false", False),
        ("FALSE", False),
        ("0", False),
    ],
)
def test_schools_flag_spellings(tmp_path, text, expected):
    path = schools_file(tmp_path, f"0016,11,{text},{text},{text},")

    [mapping] = read_school_mappings(path)

    assert mapping.sync_users is expected
    assert mapping.sync_courses is expected
    assert mapping.sync_sections is expected


def test_schools_utf8_byte_order_mark(tmp_path):
    content = "\ufeff" + SCHOOLS_HEADER + "\n0016,11,yes,yes,yes,École Nord\n"
    path = write(tmp_path, "schools.csv", content)

    [mapping] = read_school_mappings(path)

    assert mapping.sis_school_id == "0016"
    assert mapping.line == 2


@pytest.mark.parametrize("newline", ["\r\n", "\r", "\n"], ids=["crlf", "cr", "lf"])
def test_schools_line_endings(tmp_path, newline):
    lines = [SCHOOLS_HEADER, "0016,11,yes,yes,yes,", "", "02M800,12,no,no,no,"]
    path = write(tmp_path, "schools.csv", newline.join(lines) + newline)

    mappings = read_school_mappings(path)

    assert [m.sis_school_id for m in mappings] == ["0016", "02M800"]
    assert [m.line for m in mappings] == [2, 4]


@pytest.mark.parametrize("newline", ["\r\n", "\r", "\n"], ids=["crlf", "cr", "lf"])
def test_line_numbers_with_every_ending(tmp_path, newline):
    lines = [SCHOOLS_HEADER, "0016,11,yes,yes,yes,", "", "02M800,12,maybe,no,no,"]
    path = write(tmp_path, "schools.csv", newline.join(lines) + newline)

    error = read_error(read_school_mappings, path)

    assert [problem.line for problem in error.problems] == [4]


def test_schools_spaces_and_leading_zeros(tmp_path):
    header = " SIS_School_ID , schoology_building_id ,sync_users,sync_courses, sync_sections ,note"
    path = schools_file(tmp_path, ' "0016 ", 11 , yes ,no,  1  , "Main, East"', header=header)

    [mapping] = read_school_mappings(path)

    assert mapping.sis_school_id == "0016"
    assert mapping.schoology_building_id == "11"
    assert mapping.sync_users is True
    assert mapping.sync_courses is False
    assert mapping.sync_sections is True


def test_schools_header_any_case(tmp_path):
    header = "SIS_SCHOOL_ID,Schoology_Building_Id,Sync_Users,SYNC_COURSES,sync_Sections,NOTE"
    path = schools_file(tmp_path, "0016,11,yes,yes,yes,", header=header)

    [mapping] = read_school_mappings(path)

    assert mapping.sis_school_id == "0016"


def test_schools_columns_in_any_order(tmp_path):
    header = "note,sync_sections,sync_courses,sync_users,schoology_building_id,sis_school_id"
    path = schools_file(tmp_path, "Main,no,no,yes,11,0016", header=header)

    [mapping] = read_school_mappings(path)

    assert mapping.sis_school_id == "0016"
    assert mapping.schoology_building_id == "11"
    assert mapping.sync_users is True
    assert mapping.sync_sections is False


def test_schools_quoted_note_with_commas(tmp_path):
    path = schools_file(
        tmp_path,
        '0016,11,yes,yes,yes,"Smith, Jr. Elementary, ""East"" campus"',
        '"02M800","12","no","no","no","# not a comment, just a note"',
    )

    mappings = read_school_mappings(path)

    assert [m.sis_school_id for m in mappings] == ["0016", "02M800"]


def test_schools_note_spanning_lines(tmp_path):
    path = schools_file(tmp_path, '0016,11,yes,yes,yes,"two\nline note"', "02M800,12,yes,yes,yes,")

    mappings = read_school_mappings(path)

    assert [m.line for m in mappings] == [2, 4]


def test_schools_blank_lines_skipped(tmp_path):
    content = f"\n{SCHOOLS_HEADER}\n\n   \n0016,11,yes,yes,yes,\n,,,,,\n\n02M800,12,no,no,no,\n\n"
    path = write(tmp_path, "schools.csv", content)

    mappings = read_school_mappings(path)

    assert [(m.sis_school_id, m.line) for m in mappings] == [("0016", 5), ("02M800", 8)]


def test_schools_note_column_optional(tmp_path):
    header = "sis_school_id,schoology_building_id,sync_users,sync_courses,sync_sections"
    path = schools_file(tmp_path, "0016,11,yes,yes,yes", header=header)

    [mapping] = read_school_mappings(path)

    assert mapping.sis_school_id == "0016"


def test_schools_short_row_without_note(tmp_path):
    path = schools_file(tmp_path, "0016,11,yes,yes,yes")

    [mapping] = read_school_mappings(path)

    assert mapping.sync_sections is True


def test_schools_trailing_empty_columns(tmp_path):
    # Spreadsheet programs often save cleared columns as trailing commas.
    path = schools_file(tmp_path, "0016,11,yes,yes,yes,Main,,", header=SCHOOLS_HEADER + ",,")

    [mapping] = read_school_mappings(path)

    assert mapping.sis_school_id == "0016"


def test_schools_shared_building_allowed(tmp_path):
    path = schools_file(tmp_path, "0016,11,yes,yes,yes,North", "0017,11,yes,yes,yes,South")

    mappings = read_school_mappings(path)

    assert [m.schoology_building_id for m in mappings] == ["11", "11"]


def test_schools_sections_without_users(tmp_path):
    path = schools_file(tmp_path, "0016,11,no,yes,yes,")

    [mapping] = read_school_mappings(path)

    assert mapping.sync_users is False
    assert mapping.sync_sections is True


def test_terms_basic_rows(tmp_path):
    path = terms_file(
        tmp_path,
        "2016,Y1,2015-16 Full Year,",
        "2016,S1,2015-16 Semester 1,",
        "2016,1,2015-16 Semester 1,02M800",
        "2016 , A1 , 2015-16 Semester 1 ,0016 ",
    )

    mappings = read_term_mappings(path)

    assert mappings == [
        TermMapping(2016, "Y1", "2015-16 Full Year", None, 2),
        TermMapping(2016, "S1", "2015-16 Semester 1", None, 3),
        TermMapping(2016, "1", "2015-16 Semester 1", "02M800", 4),
        TermMapping(2016, "A1", "2015-16 Semester 1", "0016", 5),
    ]


def test_terms_without_school_column(tmp_path):
    header = "school_year,sis_term_code,grading_period_title"
    path = terms_file(tmp_path, "2016,Y1,2015-16 Full Year", header=header)

    [mapping] = read_term_mappings(path)

    assert mapping.sis_school_id is None


def test_terms_header_only_is_empty(tmp_path):
    path = terms_file(tmp_path)

    assert read_term_mappings(path) == []


def test_terms_same_key_other_school_allowed(tmp_path):
    path = terms_file(
        tmp_path,
        "2016,S1,2015-16 Semester 1,",
        "2016,S1,2015-16 Semester 1 North,0016",
        "2016,S1,2015-16 Semester 1 South,0017",
        "2017,S1,2016-17 Semester 1,",
    )

    assert len(read_term_mappings(path)) == 4


# Bad files, one table: each case names the file, the line, the column, the value and a fix.


@dataclass(frozen=True)
class BadCase:
    id: str
    kind: str  # "schools" or "terms"
    content: str | bytes
    line: int | None
    field: str | None
    value: str | None
    fragments: tuple[str, ...]  # text that must appear in the problem's message or fix


def school_lines(*rows: str, header: str = SCHOOLS_HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def term_lines(*rows: str, header: str = TERMS_HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


GOOD_SCHOOL = "0016,11,yes,yes,yes,"
GOOD_TERM = "2016,S1,2015-16 Semester 1,"

BAD_CASES = [
    BadCase("empty schools file", "schools", "", None, None, None, ("empty", SCHOOLS_HEADER)),
    BadCase("blank lines only", "schools", "\n\r\n  \n", None, None, None, ("only blank lines",)),
    BadCase("bom only", "schools", b"\xef\xbb\xbf", None, None, None, ("empty",)),
    BadCase("empty terms file", "terms", "", None, None, None, ("empty", TERMS_HEADER)),
    BadCase(
        "schools header only",
        "schools",
        school_lines(),
        None,
        None,
        None,
        ("no school rows", "02M800,2908525647,yes,yes,yes"),
    ),
    BadCase(
        "missing required column",
        "schools",
        school_lines(
            "0016,11,yes,yes,",
            header="sis_school_id,schoology_building_id,sync_users,sync_courses,note",
        ),
        1,
        "sync_sections",
        None,
        ("required column sync_sections is missing", "Add a column named sync_sections"),
    ),
    BadCase(
        "missing terms column",
        "terms",
        term_lines(
            "2016,2015-16 Full Year,",
            header="school_year,grading_period_title,sis_school_id",
        ),
        1,
        "sis_term_code",
        None,
        ("required column sis_term_code is missing", "Add a column named sis_term_code"),
    ),
    BadCase(
        "unknown column close match",
        "schools",
        school_lines(
            GOOD_SCHOOL,
            header="sis_school_id,schoology_building_id,sync_user,sync_courses,sync_sections,note",
        ),
        1,
        "sync_user",
        "sync_user",
        ("not a valid column name", "Did you mean sync_users?"),
    ),
    BadCase(
        "unknown column far off",
        "schools",
        school_lines(GOOD_SCHOOL + ",x", header=SCHOOLS_HEADER + ",principal"),
        1,
        "principal",
        "principal",
        ("not a valid column name", "The valid columns are sis_school_id"),
    ),
    BadCase(
        "unknown terms column",
        "terms",
        term_lines(
            "2016,S1,Semester 1,",
            header="school_year,sis_term_code,grading_period,sis_school_id",
        ),
        1,
        "grading_period",
        "grading_period",
        ("Did you mean grading_period_title?",),
    ),
    BadCase(
        "semicolon separated",
        "terms",
        "school_year;sis_term_code;grading_period_title;sis_school_id\n2016;S1;Semester 1;\n",
        1,
        "school_year;sis_term_code;grading_period_title;sis_school_id",
        "school_year;sis_term_code;grading_period_title;sis_school_id",
        ("semicolons or tabs", "comma-separated"),
    ),
    BadCase(
        "duplicate column",
        "schools",
        school_lines(GOOD_SCHOOL + ",yes", header=SCHOOLS_HEADER + ",Sync_Users"),
        1,
        "sync_users",
        "Sync_Users",
        ("appears twice", "columns 3 and 7", "Delete one of the two columns"),
    ),
    BadCase(
        "blank school id",
        "schools",
        school_lines(GOOD_SCHOOL, "  ,12,yes,yes,yes,Annex"),
        3,
        "sis_school_id",
        "",
        ("required value sis_school_id is blank", "Fill in sis_school_id"),
    ),
    BadCase(
        "blank building id",
        "schools",
        school_lines("0016,,yes,yes,yes,"),
        2,
        "schoology_building_id",
        "",
        ("schoology_building_id is blank",),
    ),
    BadCase(
        "flag missing from short row",
        "schools",
        school_lines("0016,11,yes,yes"),
        2,
        "sync_sections",
        "",
        ("sync_sections is blank",),
    ),
    BadCase(
        "blank term code",
        "terms",
        term_lines("2016,,2015-16 Full Year,"),
        2,
        "sis_term_code",
        "",
        ("sis_term_code is blank",),
    ),
    BadCase(
        "blank grading period title",
        "terms",
        term_lines(GOOD_TERM, "2016,Y1, ,"),
        3,
        "grading_period_title",
        "",
        ("grading_period_title is blank",),
    ),
    BadCase(
        "blank school year",
        "terms",
        term_lines(",Y1,2015-16 Full Year,"),
        2,
        "school_year",
        "",
        ("school_year is blank",),
    ),
    BadCase(
        "invalid flag maybe",
        "schools",
        school_lines("0016,11,maybe,yes,yes,"),
        2,
        "sync_users",
        "maybe",
        ("sync_users must be yes or no", "Write yes or no"),
    ),
    BadCase(
        "invalid flag x",
        "schools",
        school_lines("0016,11,yes,yes,x,"),
        2,
        "sync_sections",
        "x",
        ("sync_sections must be yes or no",),
    ),
    BadCase(
        "building id letters",
        "schools",
        school_lines("0016,abc12,yes,yes,yes,"),
        2,
        "schoology_building_id",
        "abc12",
        ("digits only", "…/school/2908525647"),
    ),
    BadCase(
        "building id negative",
        "schools",
        school_lines("0016,-12,yes,yes,yes,"),
        2,
        "schoology_building_id",
        "-12",
        ("digits only",),
    ),
    BadCase(
        "building id scientific notation",
        "schools",
        school_lines("0016,2.91E+09,yes,yes,yes,"),
        2,
        "schoology_building_id",
        "2.91E+09",
        ("spreadsheet program turned the id into a number", "Format the column as Text"),
    ),
    BadCase(
        "building id decimal",
        "schools",
        school_lines("0016,2908525647.0,yes,yes,yes,"),
        2,
        "schoology_building_id",
        "2908525647.0",
        ("Format the column as Text",),
    ),
    BadCase(
        "building id url",
        "schools",
        school_lines("0016,https://district.schoology.com/school/2908525647,yes,yes,yes,"),
        2,
        "schoology_building_id",
        "https://district.schoology.com/school/2908525647",
        ("Write only the number from the address: 2908525647",),
    ),
    BadCase(
        "duplicate school id",
        "schools",
        school_lines("0016,11,yes,yes,yes,", "02M800,12,yes,yes,yes,", "0016 ,13,no,no,no,"),
        4,
        "sis_school_id",
        "0016",
        (
            "appears on lines 2 and 4",
            "only one row",
            "Keep one of lines 2 and 4 and delete the other.",
        ),
    ),
    BadCase(
        "school id three times",
        "schools",
        school_lines("0016,11,yes,yes,yes,", "0016,12,yes,yes,yes,", "0016,13,yes,yes,yes,"),
        3,
        "sis_school_id",
        "0016",
        ("appears on lines 2, 3 and 4", "delete the others"),
    ),
    BadCase(
        "year two digits",
        "terms",
        term_lines("16,Y1,2015-16 Full Year,"),
        2,
        "school_year",
        "16",
        ("4-digit year in which the school year ends", "for example 2016"),
    ),
    BadCase(
        "year range",
        "terms",
        term_lines("2016-17,Y1,2016-17 Full Year,"),
        2,
        "school_year",
        "2016-17",
        ("Write only the ending year: 2017",),
    ),
    BadCase(
        "year letters",
        "terms",
        term_lines("abcd,Y1,2015-16 Full Year,"),
        2,
        "school_year",
        "abcd",
        ("4-digit year", "2016 for the 2015-16 school year"),
    ),
    BadCase(
        "year before 2000",
        "terms",
        term_lines("1999,Y1,1998-99 Full Year,"),
        2,
        "school_year",
        "1999",
        ("from 2000 to 2100",),
    ),
    BadCase(
        "year after 2100",
        "terms",
        term_lines("2101,Y1,Full Year,"),
        2,
        "school_year",
        "2101",
        ("from 2000 to 2100",),
    ),
    BadCase(
        "duplicate term same title",
        "terms",
        term_lines(GOOD_TERM, "2016,Y1,2015-16 Full Year,", GOOD_TERM),
        4,
        "sis_term_code",
        "S1",
        ("appears on lines 2 and 4", "both map it to '2015-16 Semester 1'", "Keep one of"),
    ),
    BadCase(
        "duplicate term other title",
        "terms",
        term_lines(GOOD_TERM, "2016,S1,Fall 2015,"),
        3,
        "sis_term_code",
        "S1",
        ("lines 2 and 3", "'2015-16 Semester 1' and 'Fall 2015'"),
    ),
    BadCase(
        "duplicate term for one school",
        "terms",
        term_lines("2016,S1,Semester 1,0016", "2016,S1,Semester 1,0016 "),
        3,
        "sis_term_code",
        "S1",
        ("for school 0016", "lines 2 and 3"),
    ),
    BadCase(
        "too many fields",
        "schools",
        school_lines("0016,11,yes,yes,yes,Smith, Jr. Elementary"),
        2,
        None,
        "Jr. Elementary",
        ("7 values but the header has 6 columns", 'double quotes, as in "Smith, Jr."'),
    ),
    BadCase(
        "too many term fields",
        "terms",
        term_lines("2016,S1,Semester 1,0016,extra"),
        2,
        None,
        "extra",
        ("5 values but the header has 4 columns",),
    ),
    BadCase(
        "windows-1252 bytes",
        "schools",
        (SCHOOLS_HEADER + "\r\n0016,11,yes,yes,yes,Main\r\n0017,12,yes,yes,yes,École\r\n").encode(
            "cp1252"
        ),
        3,
        None,
        "0017,12,yes,yes,yes,\ufffdcole",
        ("not valid UTF-8", "byte 0xC9", "Windows-1252", "CSV UTF-8 (Comma delimited)"),
    ),
    BadCase(
        "utf-16 file",
        "terms",
        term_lines(GOOD_TERM).encode("utf-16"),
        None,
        None,
        None,
        ("UTF-16", "CSV UTF-8 (Comma delimited)"),
    ),
    BadCase(
        "unclosed quote",
        "schools",
        school_lines(GOOD_SCHOOL, '0017,12,yes,yes,yes,"Annex', "0018,13,yes,yes,yes,"),
        3,
        None,
        None,
        ("double quote opened on line 3 is never closed", "Put double quotes only around"),
    ),
    BadCase(
        "stray quote",
        "schools",
        school_lines('0016,11,yes,yes,yes,"Main" Campus', "0017,12,yes,yes,yes,"),
        2,
        None,
        None,
        ("not valid CSV", "double quote is misplaced"),
    ),
    BadCase(
        "space after closing quote",
        "schools",
        school_lines('"0016" ,11,yes,yes,yes,'),
        2,
        None,
        None,
        ("not valid CSV", "nothing between the closing quote and the next comma"),
    ),
    BadCase(
        "value under unnamed column",
        "schools",
        school_lines(GOOD_SCHOOL + ",oops", header=SCHOOLS_HEADER + ","),
        2,
        None,
        "oops",
        ("Column 7 has a value but no name",),
    ),
    BadCase(
        "school id spans lines",
        "schools",
        school_lines('"00\n16",11,yes,yes,yes,'),
        2,
        "sis_school_id",
        "00\n16",
        ("spans more than one line", "Remove the line break"),
    ),
]


def problem_text(problem: Problem) -> str:
    return f"{problem.message} {problem.fix}"


@pytest.mark.parametrize("case", BAD_CASES, ids=[case.id for case in BAD_CASES])
def test_bad_file_message(tmp_path, case):
    reader = read_school_mappings if case.kind == "schools" else read_term_mappings
    path = write(tmp_path, f"{case.kind}.csv", case.content)

    error = read_error(reader, path)

    assert error.path == str(path)
    assert len(error.problems) == 1, str(error)
    [problem] = error.problems
    assert problem.path == str(path)
    assert problem.line == case.line
    assert problem.field == case.field
    assert problem.value == case.value
    for fragment in case.fragments:
        assert fragment in problem_text(problem), str(error)

    message = str(error)
    assert str(path) in message
    if case.line is not None:
        assert f"line {case.line}," in message or f"line {case.line}:" in message
    if case.field is not None:
        assert f"column {case.field}" in message
    if case.value is not None and "\n" not in case.value:
        assert f'value "{case.value}"' in message
    assert "Fix: " in message


def test_bad_cases_cover_at_least_thirty():
    assert len(BAD_CASES) >= 30


def test_missing_file_message(tmp_path):
    path = tmp_path / "mappings" / "schools.csv"

    error = read_error(read_school_mappings, path)

    [problem] = error.problems
    assert problem.line is None
    assert "not found" in problem.message
    assert f"looked for {path.resolve()}" in problem.message
    assert SCHOOLS_HEADER in problem.fix
    assert "02M800,2908525647,yes,yes,yes,City High School" in problem.fix
    assert str(path) in str(error)


def test_missing_terms_file_message(tmp_path):
    error = read_error(read_term_mappings, tmp_path / "terms.csv")

    [problem] = error.problems
    assert "not found" in problem.message
    assert TERMS_HEADER in problem.fix


def test_directory_instead_of_file(tmp_path):
    error = read_error(read_term_mappings, tmp_path)

    [problem] = error.problems
    assert "could not be read" in problem.message
    assert "CSV file" in problem.fix


def test_all_problems_reported_in_line_order(tmp_path):
    path = schools_file(
        tmp_path,
        "0016,11,yes,yes,yes,",
        "0017,abc,maybe,yes,yes,",
        "0016,12,yes,no,no,",
        ",13,yes,yes,sometimes,",
        header=SCHOOLS_HEADER + ",principal",
    )

    error = read_error(read_school_mappings, path)

    summary = [(problem.line, problem.field) for problem in error.problems]
    assert summary == [
        (1, "principal"),
        (3, "schoology_building_id"),
        (3, "sync_users"),
        (4, "sis_school_id"),
        (5, "sis_school_id"),
        (5, "sync_sections"),
    ]
    lines = str(error).splitlines()
    assert lines[0] == f"{path} has 6 problems:"
    assert len(lines) == 7


def test_encoding_and_value_problems_together(tmp_path):
    content = (TERMS_HEADER + "\n2016,S1,Trimestre \xe9t\xe9,\n16,Y1,Full Year,\n").encode("cp1252")
    path = write(tmp_path, "terms.csv", content)

    error = read_error(read_term_mappings, path)

    assert [(problem.line, problem.field) for problem in error.problems] == [
        (2, None),
        (3, "school_year"),
    ]


def test_many_encoding_problems_capped(tmp_path):
    rows = [f"2016,T{index},P\xe9riode {index}," for index in range(15)]
    content = "\n".join([TERMS_HEADER, *rows]).encode("cp1252")
    path = write(tmp_path, "terms.csv", content)

    error = read_error(read_term_mappings, path)

    assert len(error.problems) == 11
    assert "5 more lines are not valid UTF-8" in error.problems[-1].message


def test_header_only_schools_with_header_problem(tmp_path):
    path = write(tmp_path, "schools.csv", SCHOOLS_HEADER + ",principal\n")

    error = read_error(read_school_mappings, path)

    assert [problem.line for problem in error.problems] == [1, None]
    assert "not a valid column name" in error.problems[0].message
    assert "no school rows" in error.problems[1].message


def test_missing_column_reported_once(tmp_path):
    header = "school_year,grading_period_title"
    path = terms_file(tmp_path, "2016,Full Year", "2016,Semester 1", header=header)

    error = read_error(read_term_mappings, path)

    assert [problem.field for problem in error.problems] == ["sis_term_code"]


def test_error_is_value_error(tmp_path):
    path = write(tmp_path, "terms.csv", "")

    with pytest.raises(ValueError):
        read_term_mappings(path)


def test_error_survives_pickle(tmp_path):
    path = schools_file(tmp_path, "0016,11,maybe,yes,yes,")
    error = read_error(read_school_mappings, path)

    copy = pickle.loads(pickle.dumps(error))

    assert copy.path == error.path
    assert copy.problems == error.problems
    assert str(copy) == str(error)


def test_only_unclosed_quote_not_called_empty(tmp_path):
    path = write(tmp_path, "terms.csv", '"school_year,sis_term_code\n')

    error = read_error(read_term_mappings, path)

    [problem] = error.problems
    assert "never closed" in problem.message


def test_long_value_shortened_in_message(tmp_path):
    long_id = "9" * 200 + "x"
    path = schools_file(tmp_path, f"0016,{long_id},yes,yes,yes,")

    error = read_error(read_school_mappings, path)

    assert error.problems[0].value == long_id
    assert long_id not in str(error)
    assert "…" in str(error)


# Checks against the SIS


def mapping(school_id: str, line: int) -> SchoolMapping:
    return SchoolMapping(school_id, "11", True, True, True, line)


def test_check_schools_all_known():
    check_schools_against_sis([mapping("0016", 2)], ["0016", "02M800"], "schools.csv")


def test_check_schools_unknown_id():
    mappings = [mapping("0016", 2), mapping("02M899", 3)]

    with pytest.raises(MappingFileError) as caught:
        check_schools_against_sis(mappings, ["0016", "02M800", "0017"], "mappings/schools.csv")

    [problem] = caught.value.problems
    assert problem.line == 3
    assert problem.field == "sis_school_id"
    assert problem.value == "02M899"
    assert "The SIS has no school with id 02M899" in problem.message
    assert "Did you mean 02M800?" in problem.fix
    assert "The SIS school ids are 0016, 0017, 02M800." in problem.fix
    assert 'mappings/schools.csv, line 3, column sis_school_id, value "02M899"' in str(caught.value)


def test_check_schools_lost_leading_zeros():
    with pytest.raises(MappingFileError) as caught:
        check_schools_against_sis([mapping("16", 2)], ["0016", "0017"], "schools.csv")

    [problem] = caught.value.problems
    assert "Did you mean 0016?" in problem.fix
    assert "leading zeros" in problem.fix


def test_check_schools_long_id_list_capped():
    sis_ids = [f"S{index:03d}" for index in range(50)]

    with pytest.raises(MappingFileError) as caught:
        check_schools_against_sis([mapping("ZZZZ", 2)], sis_ids, "schools.csv")

    [problem] = caught.value.problems
    assert "S000, S001" in problem.fix
    assert "and 10 more" in problem.fix
    assert "S049" not in problem.fix


def test_check_schools_sis_empty():
    with pytest.raises(MappingFileError) as caught:
        check_schools_against_sis([mapping("0016", 2)], [], "schools.csv")

    assert "returned no schools" in caught.value.problems[0].fix


TERM_ROWS = [
    TermMapping(2016, "Y1", "2015-16 Full Year", None, 2),
    TermMapping(2016, "S1", "2015-16 Semester 1", None, 3),
    TermMapping(2016, "S1", "North Semester 1", "0016", 4),
    TermMapping(2016, "T1", "Trimester 1", "0017", 5),
]


def test_resolve_school_row_wins():
    assert resolve_grading_period(TERM_ROWS, "0016", "2016", "S1") == "North Semester 1"


def test_resolve_school_row_wins_any_order():
    assert resolve_grading_period(TERM_ROWS[::-1], "0016", 2016, "S1") == "North Semester 1"


def test_resolve_blank_school_applies_to_all():
    assert resolve_grading_period(TERM_ROWS, "02M800", 2016, "S1") == "2015-16 Semester 1"
    assert resolve_grading_period(TERM_ROWS, "0016", 2016, "Y1") == "2015-16 Full Year"


def test_resolve_strips_inputs():
    assert resolve_grading_period(TERM_ROWS, "0016 ", " 2016", " S1 ") == "North Semester 1"


def test_resolve_unmapped_returns_none():
    assert resolve_grading_period(TERM_ROWS, "0016", 2017, "S1") is None
    assert resolve_grading_period(TERM_ROWS, "0016", 2016, "T1") is None
    assert resolve_grading_period(TERM_ROWS, "0016", "2015-16", "S1") is None
    assert resolve_grading_period([], "0016", 2016, "S1") is None


def test_check_terms_all_mapped():
    in_use = [("0016", "2016", "S1"), ("0017", "2016", "T1"), ("02M800", "2016", "Y1")]

    check_terms_against_sis(TERM_ROWS, in_use, "terms.csv")


def test_check_terms_header_only_nothing_in_use(tmp_path):
    path = terms_file(tmp_path)

    check_terms_against_sis(read_term_mappings(path), [], path)


def test_check_terms_header_only_term_in_use(tmp_path):
    path = terms_file(tmp_path)

    with pytest.raises(MappingFileError) as caught:
        check_terms_against_sis(read_term_mappings(path), [("0016", "2016", "S1")], path)

    [problem] = caught.value.problems
    assert problem.line is None
    assert problem.field == "sis_term_code"
    assert problem.value == "S1"
    assert "Term S1 of school year 2016" in problem.message
    assert "school 0016" in problem.message
    assert "no row maps it" in problem.message
    assert 'Add the row "2016,S1,<grading period title>,"' in problem.fix
    assert '"2016,S1,<grading period title>,0016"' in problem.fix
    assert str(path) in str(caught.value)


def test_check_terms_other_school_only():
    with pytest.raises(MappingFileError) as caught:
        check_terms_against_sis(TERM_ROWS, [("0016", "2016", "T1")], "terms.csv")

    [problem] = caught.value.problems
    assert "Term T1 of school year 2016 is used by classes in school 0016" in problem.message


def test_check_terms_groups_schools():
    in_use = [
        ("0017", "2017", "S1"),
        ("0016", "2017", "S1"),
        ("0016", "2017", "S1"),
        ("0016", "2016", "Q4"),
    ]

    with pytest.raises(MappingFileError) as caught:
        check_terms_against_sis(TERM_ROWS, in_use, "terms.csv")

    problems = caught.value.problems
    assert [problem.value for problem in problems] == ["Q4", "S1"]
    assert "schools 0016, 0017" in problems[1].message
    assert "one row per school" in problems[1].fix
