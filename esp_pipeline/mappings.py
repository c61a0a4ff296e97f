"""Read and validate the hand-edited mapping CSVs: mappings/schools.csv and mappings/terms.csv.

District data engineers edit these files in a spreadsheet or a text editor, so every error
names the file, the line (the header is line 1, as a spreadsheet numbers rows), the column
and the value, and gives the fix. A reader collects every problem in the file before it
raises MappingFileError, so one run shows them all, and it returns nothing while any remain.

The readers accept a UTF-8 byte-order mark, CRLF, CR or LF line endings, header names in any
case, spaces around headers and values, quoted values and blank lines. Ids stay strings
because leading zeros matter ("0016" is not "16").
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

__all__ = [
    "MappingFileError",
    "Problem",
    "SchoolMapping",
    "TermMapping",
    "check_schools_against_sis",
    "check_terms_against_sis",
    "read_school_mappings",
    "read_term_mappings",
    "resolve_grading_period",
]

PathArg = str | PathLike[str]

FLAG_VALUES = {
    "yes": True,
    "y": True,
    "true": True,
    "1": True,
    "no": False,
    "n": False,
    "false": False,
    "0": False,
}
FLAG_FIX = "Write yes or no (y/n, true/false and 1/0 also work)."

MIN_SCHOOL_YEAR = 2000
MAX_SCHOOL_YEAR = 2100

# Caps that keep one message readable when a whole file is wrong.
MAX_ENCODING_PROBLEMS = 10
MAX_LISTED_IDS = 40
MAX_SHOWN_VALUE = 80


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a mapping file, worded for the person who edits the file.

    `line` counts the header as line 1. It is None when the problem is not on one line, such as
    a missing file or a term that no row maps. `field` is the column name and `value` the
    offending text, each None when there is none.
    """

    path: str
    line: int | None
    field: str | None
    value: str | None
    message: str
    fix: str

    def __str__(self) -> str:
        where = [self.path]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.field is not None:
            where.append(f"column {self.field}")
        if self.value is not None:
            where.append(f"value {_show(self.value)}")
        return f"{', '.join(where)}: {self.message} Fix: {self.fix}"


class MappingFileError(ValueError):
    """A mapping file with one or more problems. str() lists every problem, one per line."""

    def __init__(self, path: PathArg, problems: Sequence[Problem]):
        self.path = str(path)
        self.problems = list(problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"{self.path} has {count} {noun}:"]
        lines.extend(str(problem) for problem in self.problems)
        super().__init__("\n".join(lines))

    def __reduce__(self):
        # Rebuild from path and problems, because the default pickling passes only the message.
        return (type(self), (self.path, self.problems))


@dataclass(frozen=True)
class SchoolMapping:
    """A row of schools.csv: which Schoology building an SIS school syncs to, and what syncs."""

    sis_school_id: str
    schoology_building_id: str  # digits only, kept as text like the SIS ids
    sync_users: bool
    sync_courses: bool
    sync_sections: bool
    line: int


@dataclass(frozen=True)
class TermMapping:
    """A row of terms.csv: the Schoology grading period for one SIS term of one school year."""

    school_year: int  # the ending year: 2016 is the 2015-16 school year
    sis_term_code: str
    grading_period_title: str
    sis_school_id: str | None  # None applies the row to every school
    line: int


@dataclass(frozen=True)
class _FileLayout:
    description: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    example_row: str
    # The problem message for a file with a header but no rows, or None when that is valid.
    no_rows_message: str | None

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional

    @property
    def header(self) -> str:
        return ",".join(self.columns)


SCHOOLS_LAYOUT = _FileLayout(
    description="one row per SIS school",
    required=(
        "sis_school_id",
        "schoology_building_id",
        "sync_users",
        "sync_courses",
        "sync_sections",
    ),
    optional=("note",),
    example_row="02M800,2908525647,yes,yes,yes,City High School",
    no_rows_message="The file has a header line but no school rows, so no school would sync.",
)

TERMS_LAYOUT = _FileLayout(
    description="one row per SIS term and school year",
    required=("school_year", "sis_term_code", "grading_period_title"),
    optional=("sis_school_id",),
    example_row="2016,S1,2015-16 Semester 1,",
    no_rows_message=None,
)


@dataclass(frozen=True)
class _Row:
    line: int
    values: dict[str, str]  # every named header column to its stripped value


def read_school_mappings(path: PathArg) -> list[SchoolMapping]:
    """Read schools.csv and return its rows in file order.

    Raises MappingFileError listing every problem: a missing, empty or unreadable file, bad
    columns, blank required values, invalid flags or building ids, and an SIS school id that
    appears on more than one line. Two SIS schools may share a Schoology building.
    """
    mappings, problems = _school_rows_and_problems(path)
    if problems:
        raise MappingFileError(path, _sorted(problems))
    return mappings


def validate_school_mappings(
    path: PathArg, sis_school_ids: Iterable[str], building_ids: Iterable[str]
) -> list[SchoolMapping]:
    """Read schools.csv and check it against the SIS schools and the Schoology buildings.

    Raises one MappingFileError with every problem: those read_school_mappings finds, and, for
    each row that reads cleanly, an SIS school id the SIS lacks or a building Schoology lacks.
    """
    display_path = str(path)
    mappings, problems = _school_rows_and_problems(path)
    try:
        check_schools_against_sis(mappings, sis_school_ids, path)
    except MappingFileError as error:
        problems.extend(error.problems)
    known_buildings = sorted({str(b) for b in building_ids})
    for mapping in mappings:
        if mapping.schoology_building_id in known_buildings:
            continue
        problems.append(
            Problem(
                display_path,
                mapping.line,
                "schoology_building_id",
                mapping.schoology_building_id,
                "Schoology has no building with this id.",
                "Use one of the building ids Schoology lists (the schoology/buildings asset): "
                + _listed(known_buildings) + ".",
            )
        )
    if problems:
        raise MappingFileError(path, _sorted(problems))
    return mappings


def _listed(ids: list[str]) -> str:
    shown = ", ".join(ids[:MAX_LISTED_IDS])
    if len(ids) > MAX_LISTED_IDS:
        shown += f" and {len(ids) - MAX_LISTED_IDS} more"
    return shown or "(none)"


def _school_rows_and_problems(path: PathArg) -> tuple[list[SchoolMapping], list[Problem]]:
    display_path = str(path)
    rows, problems = _read_table(path, SCHOOLS_LAYOUT)
    mappings: list[SchoolMapping] = []
    for row in rows or []:
        mapping = _parse_school_row(display_path, row, problems)
        if mapping is not None:
            mappings.append(mapping)
    problems.extend(_find_duplicate_schools(display_path, mappings))
    return mappings, problems


def read_term_mappings(path: PathArg) -> list[TermMapping]:
    """Read terms.csv and return its rows in file order.

    A file with only the header line is valid and returns []: check_terms_against_sis decides
    whether that is enough. Raises MappingFileError listing every problem, including the same
    (school_year, sis_term_code, sis_school_id) on more than one line, even with equal titles.
    """
    display_path = str(path)
    rows, problems = _read_table(path, TERMS_LAYOUT)

    mappings: list[TermMapping] = []
    for row in rows or []:
        mapping = _parse_term_row(display_path, row, problems)
        if mapping is not None:
            mappings.append(mapping)
    problems.extend(_find_duplicate_terms(display_path, mappings))

    if problems:
        raise MappingFileError(path, _sorted(problems))
    return mappings


def check_schools_against_sis(
    mappings: Iterable[SchoolMapping], sis_school_ids: Iterable[str], path: PathArg
) -> None:
    """Raise MappingFileError for every mapped school that the SIS does not have.

    SIS schools without a row are fine: they are not synced.
    """
    display_path = str(path)
    known_ids = {school_id.strip() for school_id in sis_school_ids}
    problems = []
    for mapping in mappings:
        if mapping.sis_school_id in known_ids:
            continue
        problems.append(
            Problem(
                display_path,
                mapping.line,
                "sis_school_id",
                mapping.sis_school_id,
                f"The SIS has no school with id {mapping.sis_school_id}.",
                _unknown_school_fix(mapping.sis_school_id, known_ids),
            )
        )
    if problems:
        raise MappingFileError(path, problems)


def check_terms_against_sis(
    mappings: Iterable[TermMapping],
    terms_in_use: Iterable[tuple[str, str, str]],
    path: PathArg,
) -> None:
    """Raise MappingFileError for every term in use that no row maps to a grading period.

    `terms_in_use` contains (sis_school_id, school_year, term_code) tuples for the classes of
    synced schools. One problem covers a term and year that is missing for several schools.
    """
    display_path = str(path)
    mapping_list = list(mappings)
    missing: dict[tuple[str, str], set[str]] = defaultdict(set)
    for school_id, school_year, term_code in terms_in_use:
        school_id = str(school_id).strip()
        school_year = str(school_year).strip()
        term_code = str(term_code).strip()
        if resolve_grading_period(mapping_list, school_id, school_year, term_code) is None:
            missing[(school_year, term_code)].add(school_id)

    problems = []
    for (school_year, term_code), school_ids in sorted(missing.items()):
        ordered_ids = sorted(school_ids)
        schools = ", ".join(ordered_ids)
        noun = "school" if len(ordered_ids) == 1 else "schools"
        if len(ordered_ids) == 1:
            per_school = f'or "{school_year},{term_code},<grading period title>,{ordered_ids[0]}"'
            per_school += " to map it for this school only"
        else:
            per_school = "or one row per school with its id in sis_school_id"
        problems.append(
            Problem(
                display_path,
                None,
                "sis_term_code",
                term_code,
                f"Term {term_code} of school year {school_year} is used by classes in "
                f"{noun} {schools}, but no row maps it to a Schoology grading period.",
                f'Add the row "{school_year},{term_code},<grading period title>," to map it '
                f"for every school, {per_school}.",
            )
        )
    if problems:
        raise MappingFileError(path, problems)


def resolve_grading_period(
    mappings: Iterable[TermMapping],
    sis_school_id: str,
    school_year: int | str,
    term_code: str,
) -> str | None:
    """Return the grading period title for an SIS term, or None when no row maps it.

    A row for the school wins over a row with a blank sis_school_id. `school_year` is the
    ending year, as an int or as its digits.
    """
    year = _parse_year_digits(str(school_year).strip())
    if year is None:
        return None
    school_id = str(sis_school_id).strip()
    code = str(term_code).strip()
    title_for_all_schools = None
    for mapping in mappings:
        if mapping.school_year != year or mapping.sis_term_code != code:
            continue
        if mapping.sis_school_id == school_id:
            return mapping.grading_period_title
        if mapping.sis_school_id is None:
            title_for_all_schools = mapping.grading_period_title
    return title_for_all_schools


# Reading the file and its header


def _read_table(path: PathArg, layout: _FileLayout) -> tuple[list[_Row] | None, list[Problem]]:
    """Read a mapping CSV into rows keyed by lower-case column name.

    Returns None for the rows when the file cannot be read at all (missing, empty, UTF-16).
    Header problems are reported, and the rows are still checked column by column.
    """
    display_path = str(path)
    problems: list[Problem] = []
    text = _read_text(path, layout, problems)
    if text is None:
        return None, problems

    problems_before_parse = len(problems)
    records = _parse_records(display_path, text, problems)
    has_csv_errors = len(problems) > problems_before_parse
    if not records and problems:
        return None, problems
    if not records:
        problems.append(
            Problem(
                display_path,
                None,
                None,
                None,
                "The file is empty or contains only blank lines.",
                f"Put the header line {layout.header} on line 1, then "
                f"{layout.description}, for example {layout.example_row}",
            )
        )
        return None, problems

    # A line that csv rejected was meant as a row, so it suppresses the no-rows problem.
    if len(records) == 1 and not has_csv_errors and layout.no_rows_message:
        problems.append(
            Problem(
                display_path,
                None,
                None,
                None,
                layout.no_rows_message,
                f"Add {layout.description} below the header, for example {layout.example_row}",
            )
        )

    header_line, header_fields = records[0]
    columns = _check_header(display_path, header_line, header_fields, layout, problems)
    rows = []
    for line, fields in records[1:]:
        row = _build_row(display_path, line, fields, columns, problems)
        if row is not None:
            rows.append(row)
    return rows, problems


def _read_text(path: PathArg, layout: _FileLayout, problems: list[Problem]) -> str | None:
    display_path = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        problems.append(
            Problem(
                display_path,
                None,
                None,
                None,
                f"The file was not found (looked for {Path(path).resolve()}).",
                f"Create it with the header line {layout.header} and then "
                f"{layout.description}, for example {layout.example_row}",
            )
        )
        return None
    except OSError as error:
        problems.append(
            Problem(
                display_path,
                None,
                None,
                None,
                f"The file could not be read: {error.strerror or error}.",
                "Check that the path names a CSV file and that the pipeline may read it.",
            )
        )
        return None

    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        problems.append(
            Problem(
                display_path,
                None,
                None,
                None,
                "The file is saved as UTF-16 (Excel calls it Unicode Text), not as UTF-8 CSV.",
                'Save it again as "CSV UTF-8 (Comma delimited)".',
            )
        )
        return None

    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        problems.extend(_find_encoding_problems(display_path, data))
        # Keep going with replacement characters so one run also reports the other problems.
        return data.decode("utf-8", errors="replace")


def _find_encoding_problems(display_path: str, data: bytes) -> list[Problem]:
    """Report each line that is not valid UTF-8, naming the first bad byte."""
    problems = []
    bad_lines = 0
    # These are the line breaks that csv.reader counts, so line numbers agree with it.
    for line_number, line in enumerate(re.split(rb"\r\n|\r|\n", data), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as error:
            bad_lines += 1
            if bad_lines > MAX_ENCODING_PROBLEMS:
                continue
            byte = line[error.start]
            as_windows_text = bytes([byte]).decode("cp1252", errors="replace")
            problems.append(
                Problem(
                    display_path,
                    line_number,
                    None,
                    line.decode("utf-8", errors="replace"),
                    f"The line is not valid UTF-8 text: byte 0x{byte:02X} at character "
                    f"{error.start + 1} ({as_windows_text!r} in Windows-1252). The file was "
                    "probably saved as Windows-1252 (ANSI).",
                    'Save the file as UTF-8: in Excel choose "CSV UTF-8 (Comma delimited)", '
                    'in Notepad choose the encoding "UTF-8".',
                )
            )
    if bad_lines > MAX_ENCODING_PROBLEMS:
        problems.append(
            Problem(
                display_path,
                None,
                None,
                None,
                f"{bad_lines - MAX_ENCODING_PROBLEMS} more lines are not valid UTF-8 text.",
                "Save the file as UTF-8, which fixes every such line at once.",
            )
        )
    return problems


def _parse_records(
    display_path: str, text: str, problems: list[Problem]
) -> list[tuple[int, list[str]]]:
    """Split text into (first line number, fields) records, skipping blank lines.

    strict=True makes csv raise on a stray or unclosed double quote rather than guess, and the
    reader carries on with the next line after such an error. skipinitialspace=True lets a
    quoted value follow a comma and spaces, as in `0016, "Smith, Jr."`.
    """
    # newline="" hands csv every line ending untouched; csv treats CRLF, CR and LF alike.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True, skipinitialspace=True)
    records = []
    previous_line_num = 0
    while True:
        first_line = previous_line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            problems.append(_quote_problem(display_path, first_line, str(error)))
            previous_line_num = reader.line_num
            continue
        previous_line_num = reader.line_num
        if all(not field.strip() for field in fields):
            continue
        records.append((first_line, fields))
    return records


def _quote_problem(display_path: str, first_line: int, error: str) -> Problem:
    if error == "unexpected end of data":
        message = (
            f"A double quote opened on line {first_line} is never closed, so the rest of "
            "the file reads as one value."
        )
    else:
        message = f"The line is not valid CSV ({error}). A double quote is misplaced."
    return Problem(
        display_path,
        first_line,
        None,
        None,
        message,
        'Put double quotes only around a whole value, as in "Smith, Jr.", with nothing between '
        'the closing quote and the next comma. Inside a quoted value, write a double quote as '
        'two ("").',
    )


def _check_header(
    display_path: str,
    line: int,
    fields: list[str],
    layout: _FileLayout,
    problems: list[Problem],
) -> list[str | None]:
    """Check the header and return the column name for each field position.

    A position is None when its column is unknown, repeated or unnamed, so its values are
    not read.
    """
    columns: list[str | None] = []
    first_position: dict[str, int] = {}
    # Missing columns that an unknown column's fix already covers, so each gets one problem.
    covered: set[str] = set()
    for position, raw_name in enumerate(fields, start=1):
        name = raw_name.replace("\ufeff", "").strip().lower()
        if not name:
            columns.append("")  # Unnamed: allowed while every row leaves it blank.
            continue
        if name in first_position:
            problems.append(
                Problem(
                    display_path,
                    line,
                    name,
                    raw_name,
                    f"Column {name} appears twice in the header (columns "
                    f"{first_position[name]} and {position}).",
                    "Delete one of the two columns, keeping the one with the right values.",
                )
            )
            columns.append(None)
            continue
        first_position[name] = position
        if name not in layout.columns:
            covered.update(_columns_covered_by(name, layout))
            problems.append(
                Problem(
                    display_path,
                    line,
                    name,
                    raw_name,
                    f"{name} is not a valid column name for this file.",
                    _unknown_column_fix(name, layout),
                )
            )
            columns.append(None)
            continue
        columns.append(name)

    for name in layout.required:
        if name not in first_position and name not in covered:
            problems.append(
                Problem(
                    display_path,
                    line,
                    name,
                    None,
                    f"The required column {name} is missing from the header.",
                    f"Add a column named {name}. The header line must contain "
                    f"{', '.join(layout.required)}, and may contain "
                    f"{', '.join(layout.optional)}.",
                )
            )
    return columns


def _columns_covered_by(name: str, layout: _FileLayout) -> list[str]:
    if _has_other_separator(name):
        return list(layout.columns)
    return difflib.get_close_matches(name, layout.columns, n=1, cutoff=0.6)


def _has_other_separator(name: str) -> bool:
    return ";" in name or "\t" in name


def _unknown_column_fix(name: str, layout: _FileLayout) -> str:
    valid = ", ".join(layout.columns)
    if _has_other_separator(name):
        return (
            "The file seems to separate columns with semicolons or tabs. Save it as "
            f"comma-separated CSV. The valid columns are {valid}."
        )
    close = difflib.get_close_matches(name, layout.columns, n=1, cutoff=0.6)
    if close:
        return f"Did you mean {close[0]}? Rename the column. The valid columns are {valid}."
    return f"Rename or delete the column. The valid columns are {valid}."


def _build_row(
    display_path: str,
    line: int,
    fields: list[str],
    columns: list[str | None],
    problems: list[Problem],
) -> _Row | None:
    """Pair a record's fields with the header's columns, or report why they do not fit."""
    extra = [field.strip() for field in fields[len(columns) :]]
    if any(extra):
        # The values are likely shifted by an unquoted comma, so this row is not read further.
        problems.append(
            Problem(
                display_path,
                line,
                None,
                ",".join(extra),
                f"The line has {len(fields)} values but the header has {len(columns)} "
                "columns.",
                "If a value contains a comma, put the whole value in double quotes, as in "
                '"Smith, Jr."; otherwise delete the extra commas.',
            )
        )
        return None

    values: dict[str, str] = {}
    for position, column in enumerate(columns, start=1):
        # A short row reads its missing trailing fields as blank.
        value = fields[position - 1].strip() if position <= len(fields) else ""
        if column == "" and value:
            problems.append(
                Problem(
                    display_path,
                    line,
                    None,
                    value,
                    f"Column {position} has a value but no name in the header line.",
                    "Move the value into its column, or name the column in the header.",
                )
            )
        elif column:
            values[column] = value
    return _Row(line, values)


# Checking values


def _parse_school_row(
    display_path: str, row: _Row, problems: list[Problem]
) -> SchoolMapping | None:
    count_before = len(problems)
    school_id = _required(display_path, row, "sis_school_id", problems)
    _check_single_line(display_path, row, "sis_school_id", problems)
    building_id = _required(display_path, row, "schoology_building_id", problems)
    if building_id and not re.fullmatch(r"[0-9]+", building_id):
        problems.append(
            Problem(
                display_path,
                row.line,
                "schoology_building_id",
                building_id,
                "schoology_building_id must be the numeric Schoology building id, digits only.",
                _building_id_fix(building_id),
            )
        )
    sync_users = _flag(display_path, row, "sync_users", problems)
    sync_courses = _flag(display_path, row, "sync_courses", problems)
    sync_sections = _flag(display_path, row, "sync_sections", problems)
    if len(problems) > count_before or not _has_columns(row, SCHOOLS_LAYOUT.required):
        return None
    return SchoolMapping(
        sis_school_id=school_id,
        schoology_building_id=building_id,
        sync_users=bool(sync_users),
        sync_courses=bool(sync_courses),
        sync_sections=bool(sync_sections),
        line=row.line,
    )


def _building_id_fix(value: str) -> str:
    from_url = re.search(r"/school/([0-9]+)", value)
    if from_url:
        return f"Write only the number from the address: {from_url.group(1)}."
    if re.fullmatch(r"[0-9.]+[eE]\+?[0-9]+|[0-9]+\.0+", value):
        return (
            "A spreadsheet program turned the id into a number. Format the column as Text, "
            "then type the id again, digits only."
        )
    return (
        "Write the building id as digits only. It is the number at the end of the building's "
        "address in Schoology (…/school/2908525647)."
    )


def _flag(display_path: str, row: _Row, column: str, problems: list[Problem]) -> bool | None:
    value = _required(display_path, row, column, problems)
    if not value:
        return None
    flag = FLAG_VALUES.get(value.lower())
    if flag is None:
        problems.append(
            Problem(
                display_path,
                row.line,
                column,
                value,
                f"{column} must be yes or no.",
                FLAG_FIX,
            )
        )
    return flag


def _parse_term_row(display_path: str, row: _Row, problems: list[Problem]) -> TermMapping | None:
    count_before = len(problems)

    year_text = _required(display_path, row, "school_year", problems)
    year = None
    if year_text:
        year = _parse_year_digits(year_text)
        if year is None:
            problems.append(
                Problem(
                    display_path,
                    row.line,
                    "school_year",
                    year_text,
                    "school_year must be the 4-digit year in which the school year ends, "
                    f"from {MIN_SCHOOL_YEAR} to {MAX_SCHOOL_YEAR}.",
                    _school_year_fix(year_text),
                )
            )

    term_code = _required(display_path, row, "sis_term_code", problems)
    _check_single_line(display_path, row, "sis_term_code", problems)
    title = _required(display_path, row, "grading_period_title", problems)
    _check_single_line(display_path, row, "grading_period_title", problems)
    _check_single_line(display_path, row, "sis_school_id", problems)

    if len(problems) > count_before or year is None:
        return None
    if not _has_columns(row, TERMS_LAYOUT.required):
        return None
    return TermMapping(
        school_year=year,
        sis_term_code=term_code,
        grading_period_title=title,
        sis_school_id=row.values.get("sis_school_id") or None,
        line=row.line,
    )


def _parse_year_digits(text: str) -> int | None:
    if not re.fullmatch(r"[0-9]{4}", text):
        return None
    year = int(text)
    if not MIN_SCHOOL_YEAR <= year <= MAX_SCHOOL_YEAR:
        return None
    return year


def _school_year_fix(text: str) -> str:
    year_range = re.fullmatch(r"([0-9]{4})\s*[-/–]\s*([0-9]{2}|[0-9]{4})", text)
    if year_range:
        ending_year = int(year_range.group(1)) + 1
        return f"Write only the ending year: {ending_year} for {text}."
    if re.fullmatch(r"[0-9]{2}", text):
        return f"Write all 4 digits of the ending year, for example 20{text}."
    return "Write the ending year, for example 2016 for the 2015-16 school year."


def _has_columns(row: _Row, columns: tuple[str, ...]) -> bool:
    """Return whether the row has every column, which it lacks when the header misses one."""
    return all(column in row.values for column in columns)


def _required(display_path: str, row: _Row, column: str, problems: list[Problem]) -> str:
    """Return the column's value, reporting it when blank. A missing column is reported once,
    with the header, so it returns "" here without a problem."""
    if column not in row.values:
        return ""
    value = row.values[column]
    if not value:
        problems.append(
            Problem(
                display_path,
                row.line,
                column,
                value,
                f"The required value {column} is blank.",
                f"Fill in {column}, or delete the line if it is not needed.",
            )
        )
    return value


def _check_single_line(display_path: str, row: _Row, column: str, problems: list[Problem]) -> None:
    value = row.values.get(column, "")
    if "\n" in value or "\r" in value:
        problems.append(
            Problem(
                display_path,
                row.line,
                column,
                value,
                f"The value of {column} spans more than one line.",
                "Remove the line break from the value. If a double quote opens the value, "
                "close it on the same line.",
            )
        )


def _find_duplicate_schools(display_path: str, mappings: list[SchoolMapping]) -> list[Problem]:
    lines_by_id: dict[str, list[int]] = defaultdict(list)
    for mapping in mappings:
        lines_by_id[mapping.sis_school_id].append(mapping.line)
    problems = []
    for school_id, lines in lines_by_id.items():
        if len(lines) < 2:
            continue
        problems.append(
            Problem(
                display_path,
                lines[1],
                "sis_school_id",
                school_id,
                f"SIS school {school_id} appears on lines {_join_lines(lines)}, but each SIS "
                "school may have only one row.",
                _keep_one_fix(lines),
            )
        )
    return problems


def _find_duplicate_terms(display_path: str, mappings: list[TermMapping]) -> list[Problem]:
    rows_by_key: dict[tuple[int, str, str | None], list[TermMapping]] = defaultdict(list)
    for mapping in mappings:
        rows_by_key[(mapping.school_year, mapping.sis_term_code, mapping.sis_school_id)].append(
            mapping
        )
    problems = []
    for (school_year, term_code, school_id), rows in rows_by_key.items():
        if len(rows) < 2:
            continue
        lines = _join_lines([row.line for row in rows])
        titles = sorted({row.grading_period_title for row in rows})
        scope = f"school {school_id}" if school_id else "every school (blank sis_school_id)"
        if len(titles) == 1:
            titles_text = f"both map it to {titles[0]!r}"
        else:
            titles_text = "they map it to " + " and ".join(repr(title) for title in titles)
        problems.append(
            Problem(
                display_path,
                rows[1].line,
                "sis_term_code",
                term_code,
                f"Term {term_code} of school year {school_year} for {scope} appears on lines "
                f"{lines}, and {titles_text}. Each term may have only one row per school year "
                "and sis_school_id.",
                _keep_one_fix([row.line for row in rows]),
            )
        )
    return problems


def _unknown_school_fix(school_id: str, known_ids: set[str]) -> str:
    same_without_zeros = sorted(
        known for known in known_ids if known.lstrip("0") == school_id.lstrip("0")
    )
    if same_without_zeros:
        return (
            f"Did you mean {same_without_zeros[0]}? A spreadsheet program may have dropped its "
            "leading zeros: format the column as Text and type the id again."
        )
    if not known_ids:
        return "The SIS returned no schools at all. Check the SIS connection before editing."
    ordered = sorted(known_ids)
    listed = ", ".join(ordered[:MAX_LISTED_IDS])
    if len(ordered) > MAX_LISTED_IDS:
        listed += f" and {len(ordered) - MAX_LISTED_IDS} more"
    close = difflib.get_close_matches(school_id, ordered, n=1, cutoff=0.6)
    hint = f"Did you mean {close[0]}? " if close else ""
    return f"{hint}Correct the id or delete the line. The SIS school ids are {listed}."


# Formatting


def _keep_one_fix(lines: list[int]) -> str:
    other = "other" if len(lines) == 2 else "others"
    return f"Keep one of lines {_join_lines(lines)} and delete the {other}."


def _join_lines(lines: list[int]) -> str:
    numbers = [str(line) for line in lines]
    if len(numbers) == 2:
        return f"{numbers[0]} and {numbers[1]}"
    return ", ".join(numbers[:-1]) + f" and {numbers[-1]}"


def _show(value: str) -> str:
    """Quote a value so surrounding spaces and line breaks stay visible on one line."""
    shown = value.replace("\r", "\\r").replace("\n", "\\n")
    if len(shown) > MAX_SHOWN_VALUE:
        shown = shown[: MAX_SHOWN_VALUE - 1] + "…"
    return f'"{shown}"'


def _sorted(problems: list[Problem]) -> list[Problem]:
    """Order problems by line, then file-wide ones, keeping the order found within a line."""
    return sorted(problems, key=lambda problem: (problem.line is None, problem.line or 0))
