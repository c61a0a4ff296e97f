"""District data for the sandboxes: the record model, a Clever CSV loader and a generator."""

from .clever import DistrictLoadError, load_clever_folder
from .generator import generate_district
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

__all__ = [
    "AcademicSession",
    "Course",
    "District",
    "DistrictLoadError",
    "Enrollment",
    "Org",
    "Record",
    "SchoolClass",
    "User",
    "generate_district",
    "load_clever_folder",
]
