"""Calculation of category, period and course grades from a section's item grades.

Schoology documents the inputs (category weight, calculation type, drop_lowest, item factor,
grading period weights, midterm and final items) but not its formula. The sandbox uses the plain
reading of those settings:

- An item counts when it has a grading category of the section, `count_in_grade` is 1, it is
  assigned to the enrollment, and its grade is a number (no exception). Items without a category
  are ungraded and never count.
- A category's grade is a percentage. With calculation_type 1 (percent) it is the factor-weighted
  mean of the item percentages. With 2 (total points) it is the factor-weighted points earned
  over the points possible. `drop_lowest` drops that many of the lowest item percentages but
  always keeps one item.
- A grading period's grade (`p<id>`, or `other` for items in grading period 0) is the mean of its
  category grades weighted by category weight. It is null when no category has a grade or the
  graded categories weigh 0 in total.
- A midterm or final item (`is_final` 1) is left out of its period and weighted on its own as
  `a<id>`, with its `final_weight`.
- The course grade (`final`) is the mean of the `p<id>` and `a<id>` grades weighted by period and
  item weight, skipping null ones. The `other` grade does not count towards it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

OTHER_PERIOD = "other"
FINAL_PERIOD = "final"


@dataclass
class FinalGrades:
    """Computed grades of one enrollment, keyed by period id (`p<id>`, `a<id>`, other, final)."""

    grades: dict[str, float | None] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    # Category id -> category grade, for each `p<id>` and for `other`.
    category_grades: dict[str, dict[int, float | None]] = field(default_factory=dict)


def period_key(grading_period_id: int) -> str:
    """Return the period id of a grading period: `p<id>`, or `other` for grading period 0."""
    return OTHER_PERIOD if grading_period_id == 0 else f"p{grading_period_id}"


def weighted_mean(pairs: Iterable[tuple[float, float | None]]) -> float | None:
    """Average the non-null values of (weight, value) pairs; None when the weights sum to 0."""
    present = [(weight, value) for weight, value in pairs if value is not None]
    total_weight = sum(weight for weight, _ in present)
    if not present or total_weight <= 0:
        return None
    return sum(weight * value for weight, value in present) / total_weight


def item_percent(item: dict, record: dict | None) -> float | None:
    """Return the grade of `record` as a percentage of the item's max_points, or None."""
    if record is None or record["exception"] > 0 or record["grade"] is None:
        return None
    if item["max_points"] <= 0:
        return None
    return record["grade"] / item["max_points"] * 100


def category_grade(
    scored: list[tuple[dict, dict]], calculation_type: int, drop_lowest: int
) -> float | None:
    """Grade one category from its (item, grade record) pairs; every record has a number."""
    rows = [(item, record) for item, record in scored if item["max_points"] > 0]
    if not rows:
        return None
    drop = min(drop_lowest, len(rows) - 1)
    if drop > 0:
        rows = sorted(rows, key=lambda row: row[1]["grade"] / row[0]["max_points"])[drop:]
    if calculation_type == 2:
        possible = sum(item["max_points"] * item["factor"] for item, _ in rows)
        earned = sum(record["grade"] * item["factor"] for item, record in rows)
        return earned / possible * 100 if possible > 0 else None
    return weighted_mean((item["factor"], item_percent(item, record)) for item, record in rows)


def compute_final_grades(
    items: list[dict],
    categories: dict[int, dict],
    records: dict[int, dict],
    enrollment_id: int,
    period_weights: dict[int, float],
) -> FinalGrades:
    """Compute one enrollment's period, midterm/final item and course grades.

    `records` maps grade item id to the enrollment's stored grade. `period_weights` lists the
    section's grading periods, in order, with their weights.
    """
    result = FinalGrades()
    assigned = [
        item
        for item in items
        if item["count_in_grade"] and (not item["assignees"] or enrollment_id in item["assignees"])
    ]
    for item in assigned:
        if item["is_final"]:
            key = f"a{item['id']}"
            result.grades[key] = item_percent(item, records.get(item["id"]))
            result.weights[key] = item["final_weight"]

    period_ids = list(period_weights) + [0]
    for grading_period_id in period_ids:
        key = period_key(grading_period_id)
        by_category: dict[int, list[tuple[dict, dict]]] = {gc_id: [] for gc_id in categories}
        for item in assigned:
            if item["is_final"] or item["grading_period"] != grading_period_id:
                continue
            record = records.get(item["id"])
            if item["grading_category"] in categories and item_percent(item, record) is not None:
                by_category[item["grading_category"]].append((item, record))
        grades_by_category = {
            gc_id: category_grade(
                scored, categories[gc_id]["calculation_type"], categories[gc_id]["drop_lowest"]
            )
            for gc_id, scored in by_category.items()
        }
        result.category_grades[key] = grades_by_category
        result.grades[key] = weighted_mean(
            (categories[gc_id]["weight"], grade) for gc_id, grade in grades_by_category.items()
        )
        if grading_period_id != 0:
            result.weights[key] = period_weights[grading_period_id]

    counted = [key for key in result.grades if key != OTHER_PERIOD]
    result.grades[FINAL_PERIOD] = weighted_mean(
        (result.weights[key], result.grades[key]) for key in counted
    )
    return result
