"""OneRoster 1.1 CSV bundles: writing, loading, round trips and load errors."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from esp_pipeline.sandbox.districts import (
    DistrictLoadError,
    generate_district,
    load_clever_folder,
    load_oneroster_folder,
    write_oneroster_folder,
)
from esp_pipeline.sandbox.districts.oneroster import (
    CLASS_COLUMNS,
    ENROLLMENT_COLUMNS,
    USER_COLUMNS,
    read_manifest,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def district():
    return generate_district(
        seed=5, students=400, school_year=2027, dual_enrollment_rate=0.05, withdrawn_rate=0.05
    )


@pytest.fixture
def bundle(district, tmp_path):
    return write_oneroster_folder(district, tmp_path / "bundle")


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows(rows)


def edit_cell(path: Path, line: int, column: str, value: str) -> None:
    """Set one cell; `line` counts from 1 with the header as line 1."""
    rows = read_rows(path)
    rows[line - 1][rows[0].index(column)] = value
    write_rows(path, rows)


def set_manifest(folder: Path, name: str, mode: str) -> None:
    rows = read_rows(folder / "manifest.csv")
    for row in rows:
        if row[0] == f"file.{name}":
            row[1] = mode
    write_rows(folder / "manifest.csv", rows)


def test_round_trip_equal(district, bundle):
    loaded = load_oneroster_folder(bundle)
    assert loaded == district


def test_round_trip_parts(district, bundle):
    loaded = load_oneroster_folder(bundle)
    assert loaded.org == district.org
    assert loaded.schools == district.schools
    assert loaded.sessions == district.sessions
    assert loaded.courses == district.courses
    assert loaded.classes == district.classes
    assert loaded.users == district.users
    assert loaded.enrollments == district.enrollments
    assert loaded.loaded_at == district.loaded_at


def test_headers_follow_binding(bundle):
    assert tuple(read_rows(bundle / "users.csv")[0]) == USER_COLUMNS
    assert tuple(read_rows(bundle / "classes.csv")[0]) == CLASS_COLUMNS
    assert tuple(read_rows(bundle / "enrollments.csv")[0]) == ENROLLMENT_COLUMNS
    assert read_rows(bundle / "orgs.csv")[0][:3] == ["sourcedId", "status", "dateLastModified"]


def test_manifest_declares_files(bundle):
    manifest = read_manifest(bundle)
    assert manifest["manifest.version"] == "1.0"
    assert manifest["oneroster.version"] == "1.1"
    for name in ("orgs", "academicSessions", "courses", "classes", "users", "enrollments"):
        assert manifest[f"file.{name}"] == "delta"
    assert manifest["file.demographics"] == "absent"
    assert manifest["file.lineItems"] == "absent"


def test_list_fields_share_one_cell(district, bundle):
    dual = next(u for u in district.students if len(u.org_ids) == 2)
    rows = read_rows(bundle / "users.csv")
    header = rows[0]
    row = next(r for r in rows if r[0] == dual.sourced_id)
    assert row[header.index("orgSourcedIds")] == ",".join(dual.org_ids)
    assert row[header.index("userIds")] == f"{{stateId:{dual.state_id}}}"
    raw = (bundle / "users.csv").read_text(encoding="utf-8")
    assert f'"{",".join(dual.org_ids)}"' in raw


def test_bulk_mode_blanks_status(district, tmp_path):
    folder = write_oneroster_folder(district, tmp_path / "bulk", mode="bulk")
    rows = read_rows(folder / "users.csv")
    assert {row[1] for row in rows[1:]} == {""}
    assert {row[2] for row in rows[1:]} == {""}
    assert read_manifest(folder)["file.users"] == "bulk"
    loaded = load_oneroster_folder(folder)
    assert all(u.status == "active" for u in loaded.users)
    assert {u.date_last_modified for u in loaded.users} == {loaded.loaded_at}
    assert [u.sourced_id for u in loaded.users] == [u.sourced_id for u in district.users]


def test_session_school_derived(district, bundle):
    loaded = load_oneroster_folder(bundle)
    assert {s.sourced_id: s.school_id for s in loaded.sessions} == {
        s.sourced_id: s.school_id for s in district.sessions
    }


def test_absent_file_loads_empty(bundle):
    (bundle / "enrollments.csv").unlink()
    set_manifest(bundle, "enrollments", "absent")
    loaded = load_oneroster_folder(bundle)
    assert loaded.enrollments == []


def test_demographics_checked(bundle, district):
    write_rows(bundle / "demographics.csv", [["sourcedId", "status", "dateLastModified", "sex"],
                                             [district.students[0].sourced_id, "", "", "female"],
                                             ["no-such-user", "", "", "male"]])
    assert load_oneroster_folder(bundle).users  # marked absent, so not read
    set_manifest(bundle, "demographics", "delta")
    with pytest.raises(DistrictLoadError, match=r"demographics.csv line 3, column sourcedId"):
        load_oneroster_folder(bundle)


def test_missing_column_named(bundle):
    rows = read_rows(bundle / "users.csv")
    at = rows[0].index("role")
    write_rows(bundle / "users.csv", [row[:at] + row[at + 1:] for row in rows])
    with pytest.raises(DistrictLoadError) as caught:
        load_oneroster_folder(bundle)
    message = str(caught.value)
    assert "users.csv line 1" in message
    assert "column role" in message
    assert "missing" in message


def test_dangling_course_named(bundle):
    edit_cell(bundle / "classes.csv", 4, "courseSourcedId", "NO-COURSE")
    with pytest.raises(DistrictLoadError) as caught:
        load_oneroster_folder(bundle)
    message = str(caught.value)
    assert message.startswith("classes.csv line 4, column courseSourcedId:")
    assert "'NO-COURSE'" in message
    assert "courses.csv" in message


def test_dangling_term_in_list_named(bundle):
    rows = read_rows(bundle / "classes.csv")
    column = rows[0].index("termSourcedIds")
    rows[2][column] = rows[2][column] + ",NO-TERM"
    write_rows(bundle / "classes.csv", rows)
    with pytest.raises(DistrictLoadError, match=r"classes.csv line 3, column termSourcedIds: "
                                                r"academic session 'NO-TERM' is not in "
                                                r"academicSessions.csv"):
        load_oneroster_folder(bundle)


def test_dangling_enrollment_user_named(bundle):
    edit_cell(bundle / "enrollments.csv", 10, "userSourcedId", "ghost")
    with pytest.raises(DistrictLoadError, match=r"enrollments.csv line 10, column userSourcedId: "
                                                r"user 'ghost' is not in users.csv"):
        load_oneroster_folder(bundle)


def test_bad_date_named(bundle):
    edit_cell(bundle / "academicSessions.csv", 3, "startDate", "2026-13-01")
    with pytest.raises(DistrictLoadError) as caught:
        load_oneroster_folder(bundle)
    message = str(caught.value)
    assert message.startswith("academicSessions.csv line 3, column startDate:")
    assert "'2026-13-01'" in message
    assert "YYYY-MM-DD" in message


def test_bad_enrollment_date_named(bundle):
    edit_cell(bundle / "enrollments.csv", 7, "endDate", "8/14/26")
    with pytest.raises(DistrictLoadError, match=r"enrollments.csv line 7, column endDate: "
                                                r"invalid date '8/14/26'"):
        load_oneroster_folder(bundle)


@pytest.mark.parametrize(
    ("file_name", "column", "value", "expected"),
    [
        ("users.csv", "status", "deleted", "invalid status 'deleted'"),
        ("users.csv", "enabledUser", "yes", "invalid boolean 'yes'"),
        ("users.csv", "dateLastModified", "yesterday", "invalid timestamp 'yesterday'"),
        ("users.csv", "username", "", "value is required but blank"),
        ("orgs.csv", "parentSourcedId", "99", "org '99' is not in orgs.csv"),
    ],
)
def test_invalid_values_named(bundle, file_name, column, value, expected):
    edit_cell(bundle / file_name, 3, column, value)
    with pytest.raises(DistrictLoadError) as caught:
        load_oneroster_folder(bundle)
    assert str(caught.value).startswith(f"{file_name} line 3, column {column}:")
    assert expected in str(caught.value)


def test_duplicate_sourced_id_named(bundle):
    rows = read_rows(bundle / "courses.csv")
    rows.append(rows[1])
    write_rows(bundle / "courses.csv", rows)
    with pytest.raises(DistrictLoadError, match=rf"courses.csv line {len(rows)}, column sourcedId: "
                                                r"duplicate sourcedId"):
        load_oneroster_folder(bundle)


def test_manifest_errors(bundle):
    manifest = bundle / "manifest.csv"
    rows = read_rows(manifest)
    rows[3][1] = "full"
    write_rows(manifest, rows)
    with pytest.raises(DistrictLoadError, match=r"manifest.csv line 4, column value: "
                                                r"file.academicSessions is 'full'"):
        load_oneroster_folder(bundle)
    manifest.unlink()
    with pytest.raises(DistrictLoadError, match="missing manifest.csv"):
        load_oneroster_folder(bundle)


def test_missing_declared_file(bundle):
    (bundle / "courses.csv").unlink()
    with pytest.raises(DistrictLoadError, match="courses.csv not found"):
        load_oneroster_folder(bundle)


def test_extra_columns_and_order_accepted(district, bundle):
    rows = read_rows(bundle / "orgs.csv")
    reordered = [list(reversed(row)) + ["x"] for row in rows]
    reordered[0][-1] = "metadata.note"
    write_rows(bundle / "orgs.csv", reordered)
    assert load_oneroster_folder(bundle) == district


def clever_sample_dir() -> Path:
    shared = Path(os.environ.get("ESP_SHARED_DIR") or REPO_ROOT.parent / "shared")
    folder = shared / "data" / "clever-sample-district"
    if not (folder / "sections.csv").is_file():
        pytest.skip(f"Clever sample district not found at {folder}; set ESP_SHARED_DIR")
    return folder


def test_clever_sample_round_trip(tmp_path):
    sample = load_clever_folder(clever_sample_dir())
    folder = write_oneroster_folder(sample, tmp_path / "sample")
    assert load_oneroster_folder(folder) == sample
