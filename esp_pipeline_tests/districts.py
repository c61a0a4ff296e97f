"""Small districts and their mapping files, for integration tests that need their own data."""

from __future__ import annotations

import csv
from pathlib import Path

from esp_pipeline.sandbox.districts import District, generate_district
from esp_pipeline.sandbox.launch import RunningSandboxes

SCHOOL_YEAR = 2027


def small_district(students: int = 60, seed: int = 5, schools: int = 1) -> District:
    return generate_district(seed=seed, schools=schools, students=students,
                             school_year=SCHOOL_YEAR)


def write_mappings(district: District, sandboxes: RunningSandboxes, folder: Path) -> Path:
    """Write schools.csv and terms.csv that map every school and term of `district`."""
    folder.mkdir(parents=True, exist_ok=True)
    buildings = sandboxes.schoology.state.building_ids_by_code()
    with open(folder / "schools.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sis_school_id", "schoology_building_id", "sync_users", "sync_courses",
                         "sync_sections"])
        for school in district.schools:
            writer.writerow([school.sourced_id, buildings[school.sourced_id], "yes", "yes", "yes"])
    with open(folder / "terms.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["school_year", "sis_term_code", "grading_period_title", "sis_school_id"])
        for year, code in sorted({(t.school_year, t.title) for t in district.terms}):
            writer.writerow([year, code, f"{year} {code}", ""])
    return folder


def seed_handmade_user(sandboxes: RunningSandboxes, **fields) -> int:
    """Add a Schoology account the way a person or a CSV import leaves it: no school_uid.

    The API refuses to create a user without school_uid, so this writes the sandbox state
    directly, under its lock.
    """
    state = sandboxes.schoology.state
    with state.lock:
        uid = state._ids.allocate("user")
        record = state._new_user_record(uid, {"school_uid": "", **fields})
        state._users[uid] = record
    return uid
