"""Grade rules of the sandbox store: grade writes, comments, grade rows and computed grades."""

from __future__ import annotations

from typing import Any

from .errors import ApiError
from .gradecalc import FINAL_PERIOD, FinalGrades, compute_final_grades
from .store_gradebook import GRADE_ITEM_TYPES, Gradebook
from .values import as_flag, as_float, as_int, as_text, is_blank

EXCEPTIONS = {0: "none", 1: "excused", 2: "incomplete"}


class GradeStore:
    """Mixin holding grade reads and writes of sections; callers hold `self.lock`."""

    # -- clock ---------------------------------------------------------------------------------

    def server_time(self) -> int:
        """Return the server's Unix time, which stamps every grade change."""
        return self.clock.now()

    def advance_clock(self, seconds: int) -> int:
        """Move the server clock forward by `seconds` and return the new time."""
        return self.clock.advance(seconds)

    # -- reads ---------------------------------------------------------------------------------

    def graded_enrollments(self, section_id: int) -> list[dict]:
        """Return the section's member enrollments (admin 0), which are the ones with grades."""
        self.get_section(section_id)
        rows = [
            e
            for e in self._enrollments.values()
            if e["section_id"] == section_id and not e["admin"]
        ]
        return sorted(rows, key=lambda enrollment: enrollment["id"])

    def grade_rows(
        self,
        section_id: int,
        assignment_id: int | None = None,
        enrollment_id: int | None = None,
        since: int | None = None,
    ) -> list[tuple[int, dict, dict | None]]:
        """List (enrollment id, grade item, stored grade or None) for every graded pair.

        Every member enrollment has a row for each item assigned to it, graded or not. Rows go by
        enrollment id, then in item order. With `since`, only rows whose timestamp passes the
        filter remain, which drops ungraded rows (timestamp 0) unless `since` is 0 or less.
        """
        gradebook = self.gradebook(section_id)
        items = self.grade_item_records(section_id)
        if assignment_id is not None:
            items = [item for item in items if item["id"] == assignment_id]
        rows = []
        for enrollment in self.graded_enrollments(section_id):
            if enrollment_id is not None and enrollment["id"] != enrollment_id:
                continue
            for item in items:
                if item["assignees"] and enrollment["id"] not in item["assignees"]:
                    continue
                record = gradebook.grades.get((enrollment["id"], item["id"]))
                if since is not None and not self._changed_since(record, since):
                    continue
                rows.append((enrollment["id"], item, record))
        return rows

    def _changed_since(self, record: dict | None, since: int) -> bool:
        timestamp = record["timestamp"] if record is not None else 0
        if self.config.grades_timestamp_inclusive:
            return timestamp >= since
        return timestamp > since

    def final_grades(self, section_id: int, enrollment_ids: list[int]) -> dict[int, FinalGrades]:
        """Compute the period, midterm/final item and course grades of each enrollment."""
        gradebook = self.gradebook(section_id)
        records_by_enrollment: dict[int, dict[int, dict]] = {e: {} for e in enrollment_ids}
        for (enrollment_id, item_id), record in gradebook.grades.items():
            if enrollment_id in records_by_enrollment:
                records_by_enrollment[enrollment_id][item_id] = record
        items = list(gradebook.items.values())
        period_weights = self.section_period_weights(section_id)
        return {
            enrollment_id: compute_final_grades(
                items, gradebook.categories, records, enrollment_id, period_weights
            )
            for enrollment_id, records in records_by_enrollment.items()
        }

    def final_comment(self, section_id: int, enrollment_id: int, period_id: str) -> dict | None:
        return self.gradebook(section_id).final_comments.get((enrollment_id, period_id))

    def user_grade_enrollments(
        self, uid: int, section_id: int | None = None, include_all_enrollments: bool = False
    ) -> list[dict]:
        """Return the user's member enrollments that carry grades, ordered by section id.

        Without `include_all_enrollments` only active enrollments (status 1) count.
        """
        self.get_active_user(uid)
        rows = [
            e
            for e in self._enrollments.values()
            if e["uid"] == uid
            and not e["admin"]
            and (include_all_enrollments or e["status"] == 1)
            and (section_id is None or e["section_id"] == section_id)
        ]
        return sorted(rows, key=lambda enrollment: (enrollment["section_id"], enrollment["id"]))

    # -- writes --------------------------------------------------------------------------------

    def write_grade(self, section_id: int, data: Any) -> tuple[dict, dict]:
        """Set the grade, exception and comment of one enrollment on one grade item.

        A field left out keeps its stored value, except that a grade sent without `exception`
        clears the exception. An exception above 0 makes the grade null. Letter grades are
        converted through the item's grading scale. The timestamp moves to the server time only
        when something changed. Returns the stored record and the item.
        """
        if not isinstance(data, dict):
            raise ApiError(400, "invalid grade: expected a JSON object")
        gradebook = self.gradebook(section_id)
        item = self._graded_item(section_id, data)
        enrollment_id = self._graded_enrollment(section_id, data, item)
        key = (enrollment_id, item["id"])
        stored = gradebook.grades.get(key)
        updated = dict(stored) if stored else {
            "grade": None,
            "exception": 0,
            "comment": "",
            "comment_status": None,
            "timestamp": 0,
        }
        if "grade" in data:
            updated["grade"] = self._grade_value(gradebook, item, data["grade"])
            updated["exception"] = 0
        if not is_blank(data.get("exception")):
            exception = as_int(data["exception"], "exception")
            if exception not in EXCEPTIONS:
                raise ApiError(
                    400,
                    f"invalid exception {exception}: expected 0 (none), 1 (excused) or "
                    "2 (incomplete)",
                )
            updated["exception"] = exception
        if updated["exception"] > 0:
            updated["grade"] = None
        if "comment" in data:
            updated["comment"] = as_text(data["comment"], "comment")
        if not is_blank(data.get("comment_status")):
            updated["comment_status"] = as_flag(data["comment_status"], "comment_status")
        if updated != stored:
            updated["timestamp"] = self.server_time()
            gradebook.grades[key] = updated
        return gradebook.grades.get(key, updated), item

    def write_final_comment(self, section_id: int, data: Any) -> dict:
        """Set an enrollment's comment on a grading period, or with period_id "final" the course."""
        if not isinstance(data, dict):
            raise ApiError(400, "invalid final comment: expected a JSON object")
        section = self.get_section(section_id)
        missing = [name for name in ("enrollment_id", "period_id", "comment") if name not in data]
        if missing:
            raise ApiError(400, "missing required field(s): " + ", ".join(missing))
        enrollment_id = self._graded_enrollment(section_id, data, None)
        raw_period = as_text(data["period_id"], "period_id")
        if raw_period == FINAL_PERIOD:
            period_key = FINAL_PERIOD
        else:
            grading_period_id = as_int(raw_period, "period_id")
            if grading_period_id not in section["grading_periods"]:
                raise ApiError(
                    400,
                    f"invalid period_id {raw_period!r}: expected a grading period id of section "
                    f"{section_id} or 'final'",
                )
            period_key = f"p{grading_period_id}"
        raw_status = data.get("comment_status")
        comment_status = 0 if is_blank(raw_status) else as_flag(raw_status, "comment_status")
        record = {
            "comment": as_text(data["comment"], "comment"),
            "comment_status": comment_status,
            "timestamp": self.server_time(),
        }
        self.gradebook(section_id).final_comments[(enrollment_id, period_key)] = record
        return {"enrollment_id": enrollment_id, "period_id": period_key, **record}

    def _graded_item(self, section_id: int, data: dict) -> dict:
        item_type = as_text(data.get("type") or "assignment", "type")
        if item_type not in GRADE_ITEM_TYPES:
            raise ApiError(
                400, f"invalid type {item_type!r}: expected one of {', '.join(GRADE_ITEM_TYPES)}"
            )
        if is_blank(data.get("assignment_id")):
            raise ApiError(400, "missing required field: assignment_id")
        item_id = as_int(data["assignment_id"], "assignment_id")
        item = self.get_grade_item(section_id, item_id)
        if item["type"] != item_type:
            raise ApiError(
                400, f"invalid type {item_type!r}: grade item {item_id} is a {item['type']}"
            )
        return item

    def _graded_enrollment(self, section_id: int, data: dict, item: dict | None) -> int:
        if is_blank(data.get("enrollment_id")):
            raise ApiError(400, "missing required field: enrollment_id")
        enrollment_id = as_int(data["enrollment_id"], "enrollment_id")
        enrollment = self._enrollments.get(enrollment_id)
        if enrollment is None or enrollment["section_id"] != section_id:
            raise ApiError(
                404,
                f"enrollment {enrollment_id} not found in section {section_id}; grades take the "
                "enrollment id, not the user id",
            )
        if enrollment["admin"]:
            raise ApiError(
                400, f"invalid enrollment_id {enrollment_id}: it is a section admin, not a member"
            )
        if item is not None and item["assignees"] and enrollment_id not in item["assignees"]:
            raise ApiError(
                400,
                f"invalid enrollment_id {enrollment_id}: grade item {item['id']} is assigned "
                "to other enrollments only",
            )
        return enrollment_id

    @staticmethod
    def _grade_value(gradebook: Gradebook, item: dict, value: Any) -> float | None:
        """Read a grade as points: a number, a numeric string, a scale level or blank for none."""
        if is_blank(value):
            return None
        if isinstance(value, str) and not _is_number(value):
            return _points_for_level(gradebook, item, value.strip())
        points = as_float(value, "grade")
        if points < 0:
            raise ApiError(400, f"invalid grade {value!r}: expected a number >= 0")
        return points


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _points_for_level(gradebook: Gradebook, item: dict, text: str) -> float:
    """Convert a letter or level name to points through the item's grading scale."""
    scale = gradebook.scales.get(item["grading_scale"])
    if scale is None or scale["type"] == 0:
        raise ApiError(
            400,
            f"invalid grade {text!r}: grade item {item['id']} has a numeric scale, "
            "so send a number",
        )
    level_name = text.lower()
    for level in scale["levels"]:
        if scale["type"] == 3 and level["description"].lower() == level_name:
            return level["points"]
        if scale["type"] == 1 and level["grade"].lower() == level_name:
            return level["average"] * item["max_points"] / 100
    raise ApiError(
        400,
        f"invalid grade {text!r}: not a level of grading scale {scale['id']} ({scale['title']})",
    )
