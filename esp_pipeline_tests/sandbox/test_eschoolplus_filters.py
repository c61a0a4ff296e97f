"""The OneRoster 1.1 filter grammar, without HTTP."""

from __future__ import annotations

import datetime as dt

import pytest

from esp_pipeline.sandbox.eschoolplus.filters import (
    FilterError,
    Predicate,
    compile_filter,
    parse_filter,
)


def test_single_predicate():
    expression = parse_filter("status='active'")
    assert expression.predicates == (Predicate("status", "=", "active"),)


@pytest.mark.parametrize("operator", ["=", "!=", ">", ">=", "<", "<=", "~"])
def test_every_operator(operator):
    expression = parse_filter(f"familyName {operator} 'Smith'")
    assert expression.predicates[0].operator == operator


def test_two_predicates_with_or():
    expression = parse_filter("role='student' OR role='teacher'")
    assert expression.join == "OR"
    assert expression.fields == ["role", "role"]


def test_lowercase_join_accepted():
    assert parse_filter("role='student' and status='active'").join == "AND"


def test_dotted_field_and_spaces_in_value():
    expression = parse_filter("  school.sourcedId = '02M800'  AND title~'Group Guidance' ")
    assert expression.predicates == (
        Predicate("school.sourcedId", "=", "02M800"),
        Predicate("title", "~", "Group Guidance"),
    )


def test_doubled_quote_is_literal():
    assert parse_filter("familyName='O''Brien'").predicates[0].value == "O'Brien"


def test_and_inside_value_is_not_a_join():
    expression = parse_filter("title='Rock AND Roll'")
    assert expression.predicates == (Predicate("title", "=", "Rock AND Roll"),)


@pytest.mark.parametrize(
    "text",
    [
        "status=active",
        "status='active",
        "='active'",
        "status=='active'",
        "status='active' role='student'",
        "status='active' AND",
        "a='1' AND b='2' AND c='3'",
        "a='1' AND b='2' OR c='3'",
    ],
)
def test_invalid_filters_raise(text):
    with pytest.raises(FilterError):
        parse_filter(text)


def compile_over_dicts(text: str, types: dict[str, str] | None = None):
    def values_of(path: str):
        return lambda record: record.get(path, []) if isinstance(record.get(path), list) else (
            [record[path]] if path in record else []
        )

    return compile_filter(parse_filter(text), values_of, lambda path: (types or {}).get(path, ""))


def test_timestamps_compare_as_times():
    types = {"dateLastModified": "datetime"}
    test = compile_over_dicts("dateLastModified>'2025-01-01T00:00:00.000Z'", types)
    assert test({"dateLastModified": dt.datetime(2025, 1, 1, 0, 0, 1, tzinfo=dt.timezone.utc)})
    assert not test({"dateLastModified": dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)})
    # "+01:00" text sorts after "Z" text, but the instant is earlier.
    offset = compile_over_dicts("dateLastModified<'2025-01-01T00:30:00+01:00'", types)
    assert not offset({"dateLastModified": dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)})


def test_invalid_timestamp_raises():
    with pytest.raises(FilterError):
        compile_over_dicts("dateLastModified>'soon'", {"dateLastModified": "datetime"})


def test_list_field_any_and_none():
    record = {"grades": ["09", "10"]}
    assert compile_over_dicts("grades='10'")(record)
    assert not compile_over_dicts("grades!='10'")(record)
    assert compile_over_dicts("grades!='11'")(record)


def test_contains_ignores_case():
    assert compile_over_dicts("title~'guidance'")({"title": "Group Guidance"})


def test_booleans_compare_as_text():
    assert compile_over_dicts("primary='true'")({"primary": True})
    assert not compile_over_dicts("primary='true'")({"primary": False})
