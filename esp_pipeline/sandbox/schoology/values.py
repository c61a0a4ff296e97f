"""Coercion of loosely typed request values.

Schoology clients send numbers as strings and flags as "0"/"1", 0/1 or booleans, so every field
read from a request body or query string goes through these helpers. Each raises ApiError(400)
naming the field when a value cannot be read.
"""

from __future__ import annotations

import datetime
from typing import Any

from .errors import ApiError


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def as_int(value: Any, field: str) -> int:
    """Read an integer sent as a number or a decimal string."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise ApiError(400, f"invalid {field}: expected an integer, got {value!r}")


def as_flag(value: Any, field: str) -> int:
    """Read a 0/1 flag sent as 0/1, "0"/"1" or a boolean."""
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return 1 if value.strip().lower() == "true" else 0
    number = as_int(value, field)
    if number not in (0, 1):
        raise ApiError(400, f"invalid {field}: expected 0 or 1, got {value!r}")
    return number


def as_float(value: Any, field: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"invalid {field}: expected a number, got {value!r}") from None


def as_text(value: Any, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value).strip()
    raise ApiError(400, f"invalid {field}: expected a string, got {value!r}")


def as_date(value: Any, field: str) -> str:
    """Read a `YYYY-MM-DD` date and return it in the same form."""
    text = as_text(value, field)
    try:
        return datetime.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ApiError(400, f"invalid {field}: expected YYYY-MM-DD, got {value!r}") from None


def as_int_list(value: Any, field: str) -> list[int]:
    """Read a list of integers sent as a JSON array, a single number or a comma-separated string."""
    if value is None:
        return []
    if isinstance(value, str):
        parts = [part for part in value.split(",") if part.strip()]
    elif isinstance(value, list):
        parts = [part for part in value if not is_blank(part)]
    else:
        parts = [value]
    return [as_int(part, field) for part in parts]


def split_csv(value: str | None) -> list[str]:
    """Split a comma-separated query value into its non-empty, stripped parts."""
    if not value:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]


def query_flag(value: str | None) -> bool:
    """Read a query-string flag such as update_existing=1."""
    return value is not None and value.strip().lower() in ("1", "true")
