"""District data for the sandboxes: the record model, Clever and OneRoster CSV loaders, a generator
and day-by-day change scripts."""

from .changes import (
    AddStudent,
    AddTerm,
    Change,
    ChangeError,
    ChangeSchedule,
    CorrectName,
    EnrollStudent,
    ReenrollStudent,
    WithdrawStudent,
    apply_changes,
    apply_changes_to_sandbox,
    dump_change_script,
    generate_change_script,
    load_change_script,
)
from .clever import DistrictLoadError, load_clever_folder
from .generator import PRESETS, W2, generate_district, generate_preset
from .model import (
    AcademicSession,
    Course,
    District,
    Enrollment,
    Org,
    Record,
    SchoolClass,
    User,
)
from .oneroster import load_oneroster_folder, write_oneroster_folder

__all__ = [
    "AcademicSession",
    "AddStudent",
    "AddTerm",
    "Change",
    "ChangeError",
    "ChangeSchedule",
    "CorrectName",
    "Course",
    "District",
    "DistrictLoadError",
    "EnrollStudent",
    "Enrollment",
    "Org",
    "PRESETS",
    "Record",
    "ReenrollStudent",
    "SchoolClass",
    "User",
    "W2",
    "WithdrawStudent",
    "apply_changes",
    "apply_changes_to_sandbox",
    "dump_change_script",
    "generate_change_script",
    "generate_district",
    "generate_preset",
    "load_change_script",
    "load_clever_folder",
    "load_oneroster_folder",
    "write_oneroster_folder",
]
