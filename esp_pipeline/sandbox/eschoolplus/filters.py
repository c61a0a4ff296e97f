"""The OneRoster 1.1 `filter` grammar: one or two predicates `field op 'value'`.

Operators are `=`, `!=`, `>`, `>=`, `<`, `<=` and `~` (contains, case-insensitive). Two predicates
are joined by a single `AND` or `OR` (no mixing, no brackets). Fields may be dotted
(`school.sourcedId`). Values sit in single quotes, and a quote inside a value is written twice
(`'O''Brien'`).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

OPERATORS = ("!=", ">=", "<=", "=", ">", "<", "~")

_FIELD = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*")
_OPERATOR = re.compile(r"(!=|>=|<=|=|>|<|~)\s*")
_VALUE = re.compile(r"'((?:[^']|'')*)'")
_JOIN = re.compile(r"\s+(AND|OR)\s+", re.IGNORECASE)


class FilterError(ValueError):
    """The filter text does not follow the grammar, or a value cannot be compared."""


@dataclass(frozen=True)
class Predicate:
    field: str
    operator: str
    value: str


@dataclass(frozen=True)
class FilterExpression:
    predicates: tuple[Predicate, ...]
    join: str = "AND"

    @property
    def fields(self) -> list[str]:
        return [predicate.field for predicate in self.predicates]


def parse_filter(text: str) -> FilterExpression:
    """Parse a filter string; raise FilterError naming the position of the first problem."""
    predicates = []
    joins = []
    position = 0
    while True:
        predicate, position = _parse_predicate(text, position)
        predicates.append(predicate)
        if text[position:].strip() == "":
            break
        join = _JOIN.match(text, position)
        if join is None:
            raise FilterError(
                f"invalid filter {text!r}: expected AND or OR at position {position}"
            )
        joins.append(join.group(1).upper())
        position = join.end()
    if len(predicates) > 2:
        raise FilterError(f"invalid filter {text!r}: at most two predicates are allowed")
    return FilterExpression(tuple(predicates), joins[0] if joins else "AND")


def _parse_predicate(text: str, position: int) -> tuple[Predicate, int]:
    field = _FIELD.match(text, position)
    if field is None:
        raise FilterError(f"invalid filter {text!r}: expected a field name at position {position}")
    operator = _OPERATOR.match(text, field.end())
    if operator is None:
        raise FilterError(
            f"invalid filter {text!r}: expected one of {' '.join(OPERATORS)} "
            f"after {field.group(1)!r}"
        )
    value = _VALUE.match(text, operator.end())
    if value is None:
        raise FilterError(
            f"invalid filter {text!r}: the value after {field.group(1)}{operator.group(1)} "
            "must be in single quotes"
        )
    predicate = Predicate(field.group(1), operator.group(1), value.group(1).replace("''", "'"))
    return predicate, value.end()


@functools.lru_cache(maxsize=4096)
def parse_timestamp(text: str) -> dt.datetime:
    """Parse an ISO-8601 date or date-time; a value without a zone is taken as UTC."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        moment = dt.datetime.fromisoformat(cleaned)
    except ValueError as err:
        raise FilterError(f"{text!r} is not an ISO-8601 date or date-time") from err
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _compare(left: object, operator: str, right: object) -> bool:
    if operator == "=":
        return left == right
    if operator == "!=":
        return left != right
    if operator == ">":
        return left > right  # type: ignore[operator]
    if operator == ">=":
        return left >= right  # type: ignore[operator]
    if operator == "<":
        return left < right  # type: ignore[operator]
    if operator == "<=":
        return left <= right  # type: ignore[operator]
    raise AssertionError(operator)


def compile_predicate(
    predicate: Predicate, values_of: Callable[[object], Iterable[object]], value_type: str
) -> Callable[[object], bool]:
    """Build a test for one record.

    `values_of(record)` returns the field's values, several for a list field such as `orgs`.
    The predicate holds when any value matches, except `!=`, which holds when no value is equal.
    With `value_type` "datetime" or "date" values compare as times, otherwise as text.
    """
    operator = predicate.operator
    if operator == "~":
        needle = predicate.value.lower()
        return lambda record: any(needle in _as_text(v).lower() for v in values_of(record))

    if value_type in ("datetime", "date"):
        target = parse_timestamp(predicate.value)

        def convert(value: object) -> object:
            if isinstance(value, dt.datetime):
                return value
            if isinstance(value, dt.date):
                return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
            text = _as_text(value)
            return parse_timestamp(text) if text else None

    else:
        target = predicate.value
        convert = _as_text

    def test_one(value: object) -> bool:
        converted = convert(value)
        if converted is None:
            return operator == "!="
        return _compare(converted, operator, target)

    if operator == "!=":
        return lambda record: all(test_one(v) for v in values_of(record))
    return lambda record: any(test_one(v) for v in values_of(record))


def compile_filter(
    expression: FilterExpression,
    values_of: Callable[[str], Callable[[object], Iterable[object]]],
    type_of: Callable[[str], str],
) -> Callable[[object], bool]:
    """Combine the predicates of `expression` into one test for a record."""
    tests = [
        compile_predicate(predicate, values_of(predicate.field), type_of(predicate.field))
        for predicate in expression.predicates
    ]
    if len(tests) == 1:
        return tests[0]
    first, second = tests
    if expression.join == "OR":
        return lambda record: first(record) or second(record)
    return lambda record: first(record) and second(record)
