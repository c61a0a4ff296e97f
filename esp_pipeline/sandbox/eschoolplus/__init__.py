"""A local PowerSchool eSchoolPLUS PLUS360 server speaking OneRoster 1.1 over HTTP."""

from .app import ESchoolPlusSandbox, create_app
from .config import ESchoolPlusConfig
from .filters import FilterError, parse_filter

__all__ = ["ESchoolPlusConfig", "ESchoolPlusSandbox", "FilterError", "create_app", "parse_filter"]
