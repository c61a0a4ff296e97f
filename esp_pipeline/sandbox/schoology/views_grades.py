"""JSON shapes of grade items, grading categories and scales, and grades.

The types follow Schoology's documented examples, which are loose. An assignment has `id` as a
number but `max_points`, `factor`, `grading_period` and its other settings as strings, while
`published` is a number. A grade row has `enrollment_id` as a number, but a `final_grade` entry
has it as a string. Grading period weights are strings ("100.00") in `period[]` and numbers
elsewhere. A grading category is all numbers on GET, has a string id after a POST and is all
strings after a PUT.
"""

from __future__ import annotations

from .config import SchoologyConfig
from .gradecalc import FINAL_PERIOD, OTHER_PERIOD, FinalGrades, period_key
from .store_gradebook import Gradebook
from .views import Links


def number_value(value: float | None) -> int | float | None:
    """Write a number as JSON does in Schoology: 80 rather than 80.0, at most two decimals."""
    if value is None:
        return None
    rounded = round(value, 2)
    return int(rounded) if rounded.is_integer() else rounded


def number_text(value: float) -> str:
    return str(number_value(value))


def _scale_type(gradebook: Gradebook, scale_id: int) -> int:
    scale = gradebook.scales.get(scale_id)
    return scale["type"] if scale else 0


def _item_path(item: dict) -> str:
    """Return the API path of a grade item's own resource."""
    kind = {"assignment": "assignments", "discussion": "discussions", "assessment": "assessments"}
    return f"sections/{item['section_id']}/{kind[item['type']]}/{item['id']}"


# -- grade items -------------------------------------------------------------------------------


def assignment_view(
    item: dict,
    gradebook: Gradebook,
    links: Links,
    self_path: str | None = None,
    with_dropbox_stats: bool = False,
) -> dict:
    view = {
        "id": item["id"],
        "title": item["title"],
        "description": item["description"],
        "due": item["due"],
        "grading_scale": str(item["grading_scale"]),
        "grading_period": str(item["grading_period"]),
        "grading_category": str(item["grading_category"]),
        "max_points": number_text(item["max_points"]),
        "factor": number_text(item["factor"]),
        "is_final": str(item["is_final"]),
        "show_comments": str(item["show_comments"]),
        "grade_stats": str(item["grade_stats"]),
        "allow_dropbox": str(item["allow_dropbox"]),
        "allow_discussion": str(item["allow_discussion"]),
        "published": item["published"],
        "type": item["type"],
        "grade_item_id": item["id"],
        "available": 1,
        "completed": 0,
        "dropbox_locked": 0,
        "grading_scale_type": _scale_type(gradebook, item["grading_scale"]),
        "show_rubric": False,
        "count_in_grade": item["count_in_grade"],
        "collected_only": item["collected_only"],
        "auto_publish_grades": item["auto_publish_grades"],
        "num_assignees": len(item["assignees"]),
        "assignees": list(item["assignees"]),
        "grading_group_ids": list(item["grading_group_ids"]),
        "completion_status": "",
    }
    if with_dropbox_stats:
        # The sandbox has no dropbox, so both submission stats are always 0.
        view["dropbox_submissions"] = 0
        view["dropbox_last_submission"] = 0
    view["links"] = {"self": links.api(self_path or _item_path(item))}
    return view


# -- grading categories and scales -------------------------------------------------------------


def grading_category_view(category: dict, detail: bool = False) -> dict:
    """Shape a category for GET; `detail` adds realm fields as `GET .../{gc_id}` does.

    NOTE: Schoology's documented list example leaves out `weight`, which its single GET has.
    The sandbox lists it in both, because a client needs it to check final grades.
    """
    view = {
        "id": category["id"],
        "title": category["title"],
        "delta": category["delta"],
    }
    if detail:
        view["realm"] = "course"
        view["realm_id"] = str(category["section_id"])
    view.update(
        {
            "calculation_type": category["calculation_type"],
            "default_max_points": number_value(category["default_max_points"]),
            "default_grading_scale_id": category["default_grading_scale_id"],
            "drop_lowest": category["drop_lowest"],
            "weight": number_value(category["weight"]),
        }
    )
    return view


def grading_category_created_view(category: dict) -> dict:
    """Shape a bulk POST result item: a string id, numbers elsewhere, `default_grading_scale`."""
    return {
        "id": str(category["id"]),
        "title": category["title"],
        "calculation_type": category["calculation_type"],
        "default_max_points": number_value(category["default_max_points"]),
        "drop_lowest": category["drop_lowest"],
        "default_grading_scale": category["default_grading_scale_id"],
        "weight": number_value(category["weight"]),
        "delta": category["delta"],
    }


def grading_category_updated_view(category: dict, uid: int) -> dict:
    """Shape a category after a PUT, which Schoology returns with every value as a string."""
    return {
        "id": str(category["id"]),
        "title": category["title"],
        "realm": "course",
        "realm_id": str(category["section_id"]),
        "uid": str(uid),
        "calculation_type": str(category["calculation_type"]),
        "weight": number_text(category["weight"]),
        "default_max_points": number_text(category["default_max_points"]),
        "delta": str(category["delta"]),
        "drop_lowest": str(category["drop_lowest"]),
        "default_grading_scale": str(category["default_grading_scale_id"]),
    }


def grading_scale_view(scale: dict) -> dict:
    if scale["type"] == 3:
        levels = [
            {"points": number_value(level["points"]), "description": level["description"]}
            for level in scale["levels"]
        ]
    else:
        levels = [
            {
                "grade": level["grade"],
                "cutoff": number_value(level["cutoff"]),
                "average": number_value(level["average"]),
            }
            for level in scale["levels"]
        ]
    return {
        "id": scale["id"],
        "title": scale["title"],
        "type": scale["type"],
        "auto_averaging": scale["auto_averaging"],
        "hide_numeric": scale["hide_numeric"],
        "scale": {"level": levels},
    }


def section_grading_period_view(period: dict, weight: float) -> dict:
    return {
        "id": period["id"],
        "title": period["title"],
        "weight": number_value(weight),
        "start": period["start"] + " 00:00:00",
        "end": period["end"] + " 00:00:00",
    }


# -- grades ------------------------------------------------------------------------------------


def grade_row_view(
    enrollment_id: int,
    item: dict,
    record: dict | None,
    gradebook: Gradebook,
    links: Links,
    config: SchoologyConfig,
) -> dict:
    """Shape one grade row; an ungraded pair (no record) has grade null and timestamp 0."""
    location = links.api(_item_path(item))
    if record is None and config.malformed_ungraded_location:
        location = location.replace(f"/sections/{item['section_id']}/", "/sections//")
    return {
        "enrollment_id": enrollment_id,
        "assignment_id": item["id"],
        "grade": number_value(record["grade"]) if record else None,
        "exception": record["exception"] if record else 0,
        "max_points": number_value(item["max_points"]),
        "is_final": item["is_final"],
        "timestamp": record["timestamp"] if record else 0,
        "comment": record["comment"] if record else None,
        "comment_status": record["comment_status"] if record else None,
        "override": None,
        "calculated_grade": None,
        "pending": None,
        "type": item["type"],
        "location": location,
        "scale_id": item["grading_scale"],
        "scale_type": _scale_type(gradebook, item["grading_scale"]),
        "assignment_type": "basic",
        "web_url": f"{links.base_url}/assignment/{item['id']}",
        "category_id": item["grading_category"],
    }


def period_summary_view(periods: list[dict], weights: dict[int, float]) -> list[dict]:
    """Shape `period[]` of section grades: one entry per grading period of the section."""
    return [
        {
            "period_id": period_key(period["id"]),
            "period_title": period["title"],
            "weight": f"{weights[period['id']]:.2f}",
        }
        for period in periods
    ]


def final_period_keys(final: FinalGrades, with_other: bool = True) -> list[str]:
    """Order period ids as `a<id>` entries, `p<id>` entries, then other and final."""
    keys = [key for key in final.grades if key.startswith("a")]
    keys += [key for key in final.grades if key.startswith("p")]
    if with_other:
        keys.append(OTHER_PERIOD)
    keys.append(FINAL_PERIOD)
    return keys


def section_final_grade_view(
    enrollment_id: int, final: FinalGrades, comments: dict[str, dict | None]
) -> dict:
    """Shape one `final_grade[]` entry of section grades."""
    entries = []
    for key in final_period_keys(final):
        comment = comments.get(key)
        entries.append(
            {
                "period_id": key,
                "grade": number_value(final.grades[key]),
                "comment": comment["comment"] if comment else "",
                "comment_status": comment["comment_status"] if comment else None,
            }
        )
    return {"enrollment_id": str(enrollment_id), "period": entries, "scale_id": 0}


def user_final_grade_entries(
    final: FinalGrades, comments: dict[str, dict | None], with_other: bool
) -> list[dict]:
    """Shape `final_grade[]` of one section in user grades, with category grades per period."""
    entries = []
    for key in final_period_keys(final, with_other):
        comment = comments.get(key)
        entry = {"period_id": key, "grade": number_value(final.grades[key])}
        if key in final.weights:
            entry["weight"] = number_value(final.weights[key])
        entry["comment"] = comment["comment"] if comment else ""
        entry["scale_id"] = 0
        if key in final.category_grades:
            entry["grading_category"] = [
                {"category_id": category_id, "grade": number_value(grade)}
                for category_id, grade in final.category_grades[key].items()
            ]
        if not key.startswith("a"):
            entry["comment_status"] = comment["comment_status"] if comment else None
        entries.append(entry)
    return entries
