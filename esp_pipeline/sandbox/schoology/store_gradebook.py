"""Gradebook setup rules of the sandbox store: grade items, categories, scales, period weights."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError
from .values import as_flag, as_float, as_int, as_int_list, as_text, is_blank

# Assignments are created through the API. Discussions and assessments are grade items too, but
# the sandbox creates them only through the seeding helpers.
GRADE_ITEM_TYPES = ("assignment", "discussion", "assessment")
ITEM_FLAG_DEFAULTS = {
    "is_final": 0,
    "show_comments": 0,
    "grade_stats": 0,
    "allow_dropbox": 1,
    "allow_discussion": 1,
    "published": 1,
    "count_in_grade": 1,
    "collected_only": 0,
    "auto_publish_grades": 1,
}
CALCULATION_TYPES = {1: "percent", 2: "total points"}
SCALE_TYPES = {0: "numeric", 1: "percent", 3: "points"}
MAX_DROP_LOWEST = 10
DUE_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass
class Gradebook:
    """The gradebook of one section: grade items, categories, scales, grades and comments."""

    items: dict[int, dict] = field(default_factory=dict)
    categories: dict[int, dict] = field(default_factory=dict)
    scales: dict[int, dict] = field(default_factory=dict)
    # Stored grades keyed by (enrollment id, grade item id). A pair without an entry is ungraded.
    grades: dict[tuple[int, int], dict] = field(default_factory=dict)
    # Period and course comments keyed by (enrollment id, "p<grading period id>" or "final").
    final_comments: dict[tuple[int, str], dict] = field(default_factory=dict)
    # Weight of grading periods in the course grade. A period without an entry gets an equal
    # share of 100.
    period_weights: dict[int, float] = field(default_factory=dict)


def as_due(value: Any, field_name: str = "due") -> str:
    """Read a due date as `YYYY-MM-DD HH:MM:SS`; a bare date means midnight and blank means none."""
    if is_blank(value):
        return ""
    text = as_text(value, field_name)
    for pattern in (DUE_FORMAT, "%Y-%m-%d"):
        try:
            return datetime.datetime.strptime(text, pattern).strftime(DUE_FORMAT)
        except ValueError:
            continue
    raise ApiError(400, f"invalid {field_name}: expected YYYY-MM-DD HH:MM:SS, got {value!r}")


def _non_negative(value: Any, field_name: str) -> float:
    number = as_float(value, field_name)
    if number < 0:
        raise ApiError(400, f"invalid {field_name}: expected a number >= 0, got {value!r}")
    return number


class GradebookStore:
    """Mixin holding the gradebook setup of sections; callers hold `self.lock`."""

    def gradebook(self, section_id: int) -> Gradebook:
        """Return the gradebook of a section, creating an empty one on first use."""
        self.get_section(section_id)
        return self._gradebooks.setdefault(section_id, Gradebook())

    def drop_gradebook(self, section_id: int) -> None:
        self._gradebooks.pop(section_id, None)

    # -- grade items ---------------------------------------------------------------------------

    def grade_item_records(
        self, section_id: int, types: tuple[str, ...] = GRADE_ITEM_TYPES
    ) -> list[dict]:
        """List grade items: midterms and finals after the other items, then by due date.

        Items without a due date come last within their group, and ties go by id.
        """
        rows = [item for item in self.gradebook(section_id).items.values() if item["type"] in types]
        return sorted(
            rows, key=lambda item: (item["is_final"], item["due"] == "", item["due"], item["id"])
        )

    def get_grade_item(self, section_id: int, item_id: int, item_type: str | None = None) -> dict:
        item = self.gradebook(section_id).items.get(item_id)
        if item is None or (item_type is not None and item["type"] != item_type):
            kind = item_type or "grade item"
            raise ApiError(404, f"{kind} {item_id} not found in section {section_id}")
        return item

    def create_grade_item(self, section_id: int, data: Any, item_type: str = "assignment") -> dict:
        """Create a grade item; `type` in the body is ignored because Schoology makes it read-only.

        Without grading_period the item goes to the section's first grading period, and without
        max_points or grading_scale it takes its category's defaults (100 and 0 without one).
        """
        if item_type not in GRADE_ITEM_TYPES:
            raise ValueError(f"invalid grade item type {item_type!r}: expected {GRADE_ITEM_TYPES}")
        section = self.get_section(section_id)
        gradebook = self.gradebook(section_id)
        fields = self._read_grade_item_fields(section, gradebook, data)
        if is_blank(fields.get("title")):
            raise ApiError(400, "missing required field: title")
        category = gradebook.categories.get(fields.get("grading_category", 0))
        item_id = self._ids.allocate("grade_item")
        record = {
            "id": item_id,
            "section_id": section_id,
            "type": item_type,
            "title": "",
            "description": "",
            "due": "",
            "grading_scale": category["default_grading_scale_id"] if category else 0,
            "grading_period": section["grading_periods"][0] if section["grading_periods"] else 0,
            "grading_category": 0,
            "max_points": category["default_max_points"] if category else 100.0,
            "factor": 1.0,
            **ITEM_FLAG_DEFAULTS,
            "assignees": [],
            "grading_group_ids": [],
            # Sandbox-only: the weight of a midterm or final item in the course grade.
            "final_weight": 0.0,
        }
        record.update(fields)
        gradebook.items[item_id] = record
        return record

    def update_grade_item(
        self, section_id: int, item_id: int, data: Any, item_type: str | None = None
    ) -> dict:
        item = self.get_grade_item(section_id, item_id, item_type)
        gradebook = self.gradebook(section_id)
        fields = self._read_grade_item_fields(self.get_section(section_id), gradebook, data)
        if "title" in fields and is_blank(fields["title"]):
            raise ApiError(400, "invalid title: it cannot be blank")
        item.update(fields)
        return item

    def delete_grade_item(
        self, section_id: int, item_id: int, item_type: str | None = None
    ) -> None:
        """Delete a grade item with its grades; Schoology has no undo."""
        self.get_grade_item(section_id, item_id, item_type)
        gradebook = self.gradebook(section_id)
        del gradebook.items[item_id]
        for key in [key for key in gradebook.grades if key[1] == item_id]:
            del gradebook.grades[key]

    def _read_grade_item_fields(self, section: dict, gradebook: Gradebook, data: Any) -> dict:
        if not isinstance(data, dict):
            raise ApiError(400, "invalid assignment: expected a JSON object")
        fields: dict[str, Any] = {}
        for name in ("title", "description"):
            if name in data:
                fields[name] = as_text(data[name], name)
        if "due" in data:
            fields["due"] = as_due(data["due"])

        for name in ("max_points", "factor", "final_weight"):
            if not is_blank(data.get(name)):
                fields[name] = _non_negative(data[name], name)
        for name in ITEM_FLAG_DEFAULTS:
            if not is_blank(data.get(name)):
                fields[name] = as_flag(data[name], name)

        if not is_blank(data.get("grading_period")):
            period_id = as_int(data["grading_period"], "grading_period")
            if period_id != 0 and period_id not in section["grading_periods"]:
                raise ApiError(
                    400,
                    f"invalid grading_period {period_id}: not a grading period of section "
                    f"{section['id']} (see GET /v1/sections/{section['id']}/grading_periods); "
                    "use 0 for Other",
                )
            fields["grading_period"] = period_id
        if not is_blank(data.get("grading_category")):
            category_id = as_int(data["grading_category"], "grading_category")
            if category_id != 0 and category_id not in gradebook.categories:
                raise ApiError(
                    400,
                    f"invalid grading_category {category_id}: not a grading category of section "
                    f"{section['id']} (see GET /v1/sections/{section['id']}/grading_categories)",
                )
            fields["grading_category"] = category_id
        if not is_blank(data.get("grading_scale")):
            fields["grading_scale"] = self._grading_scale_id(
                gradebook, data["grading_scale"], "grading_scale", section["id"]
            )

        if "assignees" in data:
            assignees = as_int_list(data["assignees"], "assignees")
            for enrollment_id in assignees:
                enrollment = self._enrollments.get(enrollment_id)
                if enrollment is None or enrollment["section_id"] != section["id"]:
                    raise ApiError(
                        400,
                        f"invalid assignees: enrollment {enrollment_id} not found in section "
                        f"{section['id']}",
                    )
            fields["assignees"] = assignees
        if "grading_group_ids" in data:
            group_ids = as_int_list(data["grading_group_ids"], "grading_group_ids")
            fields["grading_group_ids"] = group_ids
        return fields

    # -- grading categories --------------------------------------------------------------------

    def grading_category_records(self, section_id: int) -> list[dict]:
        rows = self.gradebook(section_id).categories.values()
        return sorted(rows, key=lambda category: (category["delta"], category["id"]))

    def get_grading_category(self, section_id: int, category_id: int) -> dict:
        category = self.gradebook(section_id).categories.get(category_id)
        if category is None:
            raise ApiError(
                404, f"grading category {category_id} not found in section {section_id}"
            )
        return category

    def create_grading_category(self, section_id: int, data: Any) -> dict:
        gradebook = self.gradebook(section_id)
        fields = self._read_grading_category_fields(section_id, gradebook, data)
        if is_blank(fields.get("title")):
            raise ApiError(400, "missing required field: title")
        category_id = self._ids.allocate("grading_category")
        record = {
            "id": category_id,
            "section_id": section_id,
            "title": "",
            "calculation_type": 1,
            "default_max_points": 100.0,
            "default_grading_scale_id": 0,
            "drop_lowest": 0,
            "weight": float(self.config.default_category_weight),
            "delta": len(gradebook.categories),
        }
        record.update(fields)
        gradebook.categories[category_id] = record
        return record

    def update_grading_category(self, section_id: int, category_id: int, data: Any) -> dict:
        category = self.get_grading_category(section_id, category_id)
        fields = self._read_grading_category_fields(section_id, self.gradebook(section_id), data)
        if "title" in fields and is_blank(fields["title"]):
            raise ApiError(400, "invalid title: it cannot be blank")
        category.update(fields)
        return category

    def delete_grading_category(self, section_id: int, category_id: int) -> None:
        """Delete a category; its items stay but lose their category, so they stop counting."""
        self.get_grading_category(section_id, category_id)
        gradebook = self.gradebook(section_id)
        del gradebook.categories[category_id]
        for item in gradebook.items.values():
            if item["grading_category"] == category_id:
                item["grading_category"] = 0

    def _read_grading_category_fields(
        self, section_id: int, gradebook: Gradebook, data: Any
    ) -> dict:
        if not isinstance(data, dict):
            raise ApiError(400, "invalid grading category: expected a JSON object")
        fields: dict[str, Any] = {}
        if "title" in data:
            fields["title"] = as_text(data["title"], "title")
        if not is_blank(data.get("calculation_type")):
            calculation_type = as_int(data["calculation_type"], "calculation_type")
            if calculation_type not in CALCULATION_TYPES:
                raise ApiError(
                    400,
                    f"invalid calculation_type {calculation_type}: expected 1 (percent) or 2 "
                    "(total points)",
                )
            fields["calculation_type"] = calculation_type
        for name in ("default_max_points", "weight"):
            if not is_blank(data.get(name)):
                fields[name] = _non_negative(data[name], name)
        if not is_blank(data.get("drop_lowest")):
            drop_lowest = as_int(data["drop_lowest"], "drop_lowest")
            if not 0 <= drop_lowest <= MAX_DROP_LOWEST:
                raise ApiError(
                    400, f"invalid drop_lowest {drop_lowest}: expected 0 to {MAX_DROP_LOWEST}"
                )
            fields["drop_lowest"] = drop_lowest
        if not is_blank(data.get("delta")):
            fields["delta"] = as_int(data["delta"], "delta")
        # Responses call the field default_grading_scale_id or default_grading_scale; read both.
        for name in ("default_grading_scale_id", "default_grading_scale"):
            if not is_blank(data.get(name)):
                fields["default_grading_scale_id"] = self._grading_scale_id(
                    gradebook, data[name], name, section_id
                )
        return fields

    # -- grading scales ------------------------------------------------------------------------

    def grading_scale_records(self, section_id: int) -> list[dict]:
        return sorted(self.gradebook(section_id).scales.values(), key=lambda scale: scale["id"])

    def create_grading_scale(self, section_id: int, data: Any) -> dict:
        """Create a grading scale in a section.

        `levels` (or `scale.level`) contains `{grade, cutoff, average}` objects for a percent
        scale (type 1) and `{points, description}` objects for a points scale (type 3).
        """
        gradebook = self.gradebook(section_id)
        if not isinstance(data, dict) or is_blank(data.get("title")):
            raise ApiError(400, "missing required field: title")
        scale_type = as_int(data.get("type", 1), "type")
        if scale_type not in SCALE_TYPES:
            raise ApiError(400, f"invalid type {scale_type}: expected 0, 1 or 3")
        raw_levels = data.get("levels")
        if raw_levels is None and isinstance(data.get("scale"), dict):
            raw_levels = data["scale"].get("level")
        levels = [self._read_scale_level(level, scale_type) for level in raw_levels or []]
        if scale_type == 1:
            levels.sort(key=lambda level: level["cutoff"])
        scale_id = self._ids.allocate("grading_scale")
        record = {
            "id": scale_id,
            "section_id": section_id,
            "title": as_text(data["title"], "title"),
            "type": scale_type,
            "auto_averaging": as_flag(data.get("auto_averaging", 0), "auto_averaging"),
            "hide_numeric": as_flag(data.get("hide_numeric", 0), "hide_numeric"),
            "levels": levels,
        }
        gradebook.scales[scale_id] = record
        return record

    @staticmethod
    def _read_scale_level(level: Any, scale_type: int) -> dict:
        if not isinstance(level, dict):
            raise ApiError(400, f"invalid scale level {level!r}: expected a JSON object")
        if scale_type == 3:
            return {
                "points": _non_negative(level.get("points"), "points"),
                "description": as_text(level.get("description"), "description"),
            }
        cutoff = _non_negative(level.get("cutoff"), "cutoff")
        average = level.get("average")
        return {
            "grade": as_text(level.get("grade"), "grade"),
            "cutoff": cutoff,
            "average": cutoff if is_blank(average) else _non_negative(average, "average"),
        }

    def _grading_scale_id(
        self, gradebook: Gradebook, value: Any, field_name: str, section_id: int
    ) -> int:
        scale_id = as_int(value, field_name)
        if scale_id != 0 and scale_id not in gradebook.scales:
            raise ApiError(
                400,
                f"invalid {field_name} {scale_id}: not a grading scale of section {section_id} "
                f"(see GET /v1/sections/{section_id}/grading_scales); use 0 for numeric",
            )
        return scale_id

    # -- grading period weights ----------------------------------------------------------------

    def section_period_weights(self, section_id: int) -> dict[int, float]:
        """Return the section's grading periods, in section order, with their weights."""
        section = self.get_section(section_id)
        periods = section["grading_periods"]
        explicit = self.gradebook(section_id).period_weights
        share = 100.0 / len(periods) if periods else 0.0
        return {period_id: explicit.get(period_id, share) for period_id in periods}

    def set_grading_period_weights(self, section_id: int, weights: dict[int, float]) -> None:
        section = self.get_section(section_id)
        gradebook = self.gradebook(section_id)
        for period_id, weight in weights.items():
            if period_id not in section["grading_periods"]:
                raise ApiError(
                    400, f"grading period {period_id} is not a period of section {section_id}"
                )
            gradebook.period_weights[period_id] = _non_negative(weight, "weight")
