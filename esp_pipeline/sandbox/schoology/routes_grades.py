"""Routes for grades: a section's grades (read and write) and a user's grades by section."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request

from .errors import ApiError
from .gradecalc import FINAL_PERIOD, OTHER_PERIOD, period_key
from .protocol import (
    bulk_items,
    config,
    flag,
    item_field,
    json_response,
    links,
    page_bounds,
    page_url,
    request_json,
    run_items,
    sandbox_state,
)
from .values import as_int, split_csv
from .views_grades import (
    grade_row_view,
    number_value,
    period_summary_view,
    section_final_grade_view,
    user_final_grade_entries,
)

grades_api = Blueprint("schoology_grades", __name__)


def _query_int(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    return as_int(raw, name) if raw else None


def _paging_links(start: int, limit: int, total: int) -> dict:
    result = {"self": page_url(start, limit)}
    if start + limit < total:
        result["next"] = page_url(start + limit, limit)
    return result


def _final_comments(state, section_id: int, enrollment_id: int) -> dict[str, dict | None]:
    keys = [period_key(period_id) for period_id in state.get_section(section_id)["grading_periods"]]
    keys.append(FINAL_PERIOD)
    return {key: state.final_comment(section_id, enrollment_id, key) for key in keys}


# -- section grades ----------------------------------------------------------------------------


@grades_api.get("/sections/<int:section_id>/grades")
def list_section_grades(section_id: int):
    """Return one page of grade rows with `period[]` and the final grades of their enrollments.

    Paging counts grade rows. `final_grade` lists each enrollment that has a row on the page.
    """
    state = sandbox_state()
    assignment_id = _query_int("assignment_id")
    enrollment_id = _query_int("enrollment_id")
    since = _query_int("timestamp")
    start, limit = page_bounds()
    with state.lock:
        gradebook = state.gradebook(section_id)
        rows = state.grade_rows(section_id, assignment_id, enrollment_id, since)
        page = rows[start : start + limit]
        enrollment_ids = list(dict.fromkeys(row_enrollment for row_enrollment, _, _ in page))
        finals = state.final_grades(section_id, enrollment_ids)
        weights = state.section_period_weights(section_id)
        periods = [state.get_grading_period(period_id) for period_id in weights]
        body = {
            "grades": {
                "grade": [
                    grade_row_view(row_enrollment, item, record, gradebook, links(), config())
                    for row_enrollment, item, record in page
                ]
            },
            "period": period_summary_view(periods, weights),
            "final_grade": [
                section_final_grade_view(
                    graded, finals[graded], _final_comments(state, section_id, graded)
                )
                for graded in enrollment_ids
            ],
            "links": _paging_links(start, limit, len(rows)),
        }
    return json_response(body)


def _grade_key_fields(item: Any) -> dict:
    return {
        "enrollment_id": item_field(item, "enrollment_id"),
        "assignment_id": item_field(item, "assignment_id"),
    }


def _comment_key_fields(item: Any) -> dict:
    return {
        "enrollment_id": item_field(item, "enrollment_id"),
        "period_id": item_field(item, "period_id"),
    }


@grades_api.put("/sections/<int:section_id>/grades")
def update_section_grades(section_id: int):
    """Write item grades (`grades.grade`) and period or course comments (`final_comments`).

    Each list takes up to `max_bulk_items` entries and gets one result per entry, in input
    order, under the same keys as the request.

    NOTE: Schoology documents the request body but neither the status nor the response body.
    The status is `grades_put_status`, and the result shape is the sandbox's own guess.
    """
    state = sandbox_state()
    body = request_json()
    if not isinstance(body, dict) or not ({"grades", "final_comments"} & body.keys()):
        raise ApiError(
            400,
            'invalid body: expected {"grades": {"grade": [...]}} or '
            '{"final_comments": {"final_comment": [...]}}',
        )
    grade_items = bulk_items(body, "grades", "grade") if "grades" in body else []
    comment_items = (
        bulk_items(body, "final_comments", "final_comment") if "final_comments" in body else []
    )
    g.items = len(grade_items) + len(comment_items)

    def write_grade(item: Any) -> dict:
        record, graded_item = state.write_grade(section_id, item)
        return {
            "enrollment_id": as_int(item["enrollment_id"], "enrollment_id"),
            "assignment_id": graded_item["id"],
            "grade": number_value(record["grade"]),
            "exception": record["exception"],
            "timestamp": record["timestamp"],
        }

    def write_comment(item: Any) -> dict:
        return state.write_final_comment(section_id, item)

    response: dict[str, Any] = {}
    with state.lock:
        state.get_section(section_id)
        if grade_items:
            response["grades"] = {
                "grade": run_items(grade_items, write_grade, _grade_key_fields)
            }
        if comment_items:
            response["final_comments"] = {
                "final_comment": run_items(comment_items, write_comment, _comment_key_fields)
            }
    return json_response(response, config().grades_put_status)


# -- user grades -------------------------------------------------------------------------------


def _period_filter() -> set[str] | None:
    """Read grading_period_ids (ids, `other`, `final`) as a set of period ids, or None."""
    values = split_csv(request.args.get("grading_period_ids"))
    if not values:
        return None
    requested = set()
    for value in values:
        if value in (OTHER_PERIOD, FINAL_PERIOD):
            requested.add(value)
        else:
            requested.add(period_key(as_int(value, "grading_period_ids")))
    return requested


def _user_section_grades(
    state, enrollment: dict, rows: list, requested_periods: set[str] | None
) -> dict:
    """Shape the grades of one enrollment as a `section[]` entry of user grades."""
    section_id = enrollment["section_id"]
    gradebook = state.gradebook(section_id)
    weights = state.section_period_weights(section_id)
    groups: dict[str, dict] = {}
    for period_id in list(weights) + [0]:
        key = period_key(period_id)
        title = state.get_grading_period(period_id)["title"] if period_id else "Other"
        groups[key] = {"period_id": key, "period_title": title, "assignment": []}
    for _, item, record in rows:
        key = period_key(item["grading_period"])
        if key not in groups:
            # The section no longer lists the item's grading period (a section PUT changed its
            # grading_periods), so the item gets a group of its own after the section's periods.
            period = state.get_grading_period(item["grading_period"])
            groups[key] = {"period_id": key, "period_title": period["title"], "assignment": []}
        groups[key]["assignment"].append(
            grade_row_view(enrollment["id"], item, record, gradebook, links(), config())
        )
    periods = [
        group
        for key, group in groups.items()
        if group["assignment"] and (requested_periods is None or key in requested_periods)
    ]

    final = state.final_grades(section_id, [enrollment["id"]])[enrollment["id"]]
    has_other = any(item["grading_period"] == 0 for item in gradebook.items.values())
    entries = user_final_grade_entries(
        final, _final_comments(state, section_id, enrollment["id"]), with_other=has_other
    )
    if requested_periods is not None:
        entries = [
            entry for entry in entries if _entry_period(gradebook, entry) in requested_periods
        ]
    return {
        "section_id": str(section_id),
        "period": periods,
        "final_grade": entries,
        "grading_category": [
            {"id": category["id"], "title": category["title"]}
            for category in state.grading_category_records(section_id)
        ],
    }


def _entry_period(gradebook, entry: dict) -> str:
    """Return the period id a final_grade entry is filtered by; `a<id>` uses its item's period."""
    key = entry["period_id"]
    if key.startswith("a"):
        return period_key(gradebook.items[int(key[1:])]["grading_period"])
    return key


@grades_api.get("/users/<int:uid>/grades")
def list_user_grades(uid: int):
    """Return the user's grades grouped by section.

    With `timestamp` only rows changed since then appear, and sections without such rows drop
    out. With `timestamp` or `include_all_enrollments=1` the sections are paged by enrollment.
    """
    state = sandbox_state()
    section_id = _query_int("section_id")
    if section_id is None and config().user_grades_require_section_id:
        raise ApiError(
            403, "this tenant requires section_id on GET users/{id}/grades: send ?section_id=<id>"
        )
    since = _query_int("timestamp")
    include_all = flag("include_all_enrollments")
    requested_periods = _period_filter()
    with state.lock:
        enrollments = state.user_grade_enrollments(uid, section_id, include_all)
        graded = []
        for enrollment in enrollments:
            rows = state.grade_rows(
                enrollment["section_id"], enrollment_id=enrollment["id"], since=since
            )
            if since is None or rows:
                graded.append((enrollment, rows))
        if since is not None or include_all:
            start, limit = page_bounds()
            page = graded[start : start + limit]
            page_links = _paging_links(start, limit, len(graded))
        else:
            page = graded
            page_links = {"self": links().base_url + request.full_path.rstrip("?")}
        sections = [
            _user_section_grades(state, enrollment, rows, requested_periods)
            for enrollment, rows in page
        ]
    return json_response({"section": sections, "links": page_links})
