"""A local PowerSchool eSchoolPLUS PLUS360 server speaking OneRoster 1.1 over HTTP."""

from .app import ESchoolPlusSandbox, create_app
from .config import (
    ALL_SCOPES,
    GRADEBOOK_CREATEPUT,
    GRADEBOOK_DELETE,
    GRADEBOOK_READONLY,
    ROSTER_READONLY,
    ConsumerProfile,
    ESchoolPlusConfig,
)
from .filters import FilterError, parse_filter
from .gradebook import SCORE_STATUSES, Gradebook

__all__ = [
    "ALL_SCOPES",
    "ConsumerProfile",
    "ESchoolPlusConfig",
    "ESchoolPlusSandbox",
    "FilterError",
    "GRADEBOOK_CREATEPUT",
    "GRADEBOOK_DELETE",
    "GRADEBOOK_READONLY",
    "Gradebook",
    "ROSTER_READONLY",
    "SCORE_STATUSES",
    "create_app",
    "parse_filter",
]
