"""Course, section and grading-period rules of the sandbox store."""

from __future__ import annotations

from typing import Any

from .errors import ApiError
from .ids import access_code_for
from .values import as_date, as_flag, as_float, as_int, as_int_list, as_text, is_blank

COURSE_TEXT_FIELDS = ("title", "course_code", "department", "description", "district_course_name")
COURSE_INT_FIELDS = ("grade_level_range_start", "grade_level_range_end", "subject_area")
SECTION_TEXT_FIELDS = (
    "section_code",
    "section_school_code",
    "description",
    "location",
    "start_time",
    "end_time",
    "profile_url",
    "weight",
)
SECTION_DEFAULT_OPTIONS = {
    "course_format": "1",
    "weighted_grading_categories": "0",
    "upload_documents": "0",
    "create_discussion": "0",
    "member_post": "1",
    "member_post_comment": "1",
}


class CourseStore:
    """Mixin holding course, section and grading-period operations; callers hold `self.lock`."""

    # -- courses -------------------------------------------------------------------------------

    def course_records(self, building_id: int | None = None) -> list[dict]:
        rows = list(self._courses.values())
        if building_id is not None:
            rows = [course for course in rows if course["building_id"] == building_id]
        return sorted(rows, key=lambda course: course["id"])

    def get_course(self, course_id: int) -> dict:
        course = self._courses.get(course_id)
        if course is None:
            raise ApiError(404, f"course {course_id} not found")
        return course

    def create_course(self, data: Any, *, update_existing: bool = False) -> tuple[dict, bool]:
        """Create a course, or update the one with the same course_code in the same building."""
        fields = self._read_course_fields(data)
        missing = [name for name in ("title", "course_code") if is_blank(fields.get(name))]
        if missing:
            raise ApiError(400, "missing required field(s): " + ", ".join(missing))

        building_id = fields.setdefault("building_id", self._school["id"])
        existing = self._course_with_code(building_id, fields["course_code"])
        if existing is not None:
            if not update_existing:
                raise ApiError(
                    self.config.duplicate_status,
                    f"course_code {fields['course_code']!r} already exists in building "
                    f"{building_id} (course {existing['id']}); send update_existing=1 to update it",
                )
            existing.update(fields)
            return existing, False

        course_id = self._ids.allocate("course")
        record = {
            "id": course_id,
            "title": "",
            "course_code": "",
            "department": "",
            "description": "",
            "district_course_name": "",
            "credits": 0,
            "subject_area": 0,
            "grade_level_range_start": 0,
            "grade_level_range_end": 0,
            "synced": 0,
        }
        record.update(fields)
        self._courses[course_id] = record
        return record, True

    def update_course(self, course_id: int, data: Any) -> dict:
        course = self.get_course(course_id)
        fields = self._read_course_fields(data)
        for name in ("title", "course_code"):
            if name in fields and is_blank(fields[name]):
                raise ApiError(400, f"invalid {name}: it cannot be blank")
        building_id = fields.get("building_id", course["building_id"])
        code = fields.get("course_code", course["course_code"])
        other = self._course_with_code(building_id, code)
        if other is not None and other["id"] != course_id:
            raise ApiError(
                self.config.duplicate_status,
                f"course_code {code!r} already exists in building {building_id} "
                f"(course {other['id']})",
            )
        course.update(fields)
        return course

    def delete_course(self, course_id: int) -> None:
        """Delete a course with its sections and their enrollments; Schoology has no undo."""
        self.get_course(course_id)
        for section in [s for s in self._sections.values() if s["course_id"] == course_id]:
            self.delete_section(section["id"])
        del self._courses[course_id]

    def _course_with_code(self, building_id: int, course_code: str) -> dict | None:
        for course in self._courses.values():
            if course["building_id"] == building_id and course["course_code"] == course_code:
                return course
        return None

    def _read_course_fields(self, data: Any) -> dict:
        if not isinstance(data, dict):
            raise ApiError(400, "invalid course: expected a JSON object")
        fields: dict[str, Any] = {}
        for name in COURSE_TEXT_FIELDS:
            if name in data:
                fields[name] = as_text(data[name], name)
        for name in COURSE_INT_FIELDS:
            if name in data and not is_blank(data[name]):
                fields[name] = as_int(data[name], name)
        if "credits" in data and not is_blank(data["credits"]):
            fields["credits"] = as_float(data["credits"], "credits")
        if "synced" in data and not is_blank(data["synced"]):
            fields["synced"] = as_flag(data["synced"], "synced")
        if "building_id" in data and not is_blank(data["building_id"]):
            building_id = as_int(data["building_id"], "building_id")
            self._require_school_or_building(building_id, "building_id")
            fields["building_id"] = building_id
        return fields

    # -- sections ------------------------------------------------------------------------------

    def section_records(
        self, course_id: int | None = None, include_past: bool = False
    ) -> list[dict]:
        rows = list(self._sections.values())
        if course_id is not None:
            rows = [section for section in rows if section["course_id"] == course_id]
        if not include_past:
            rows = [section for section in rows if not self.section_is_past(section)]
        return sorted(rows, key=lambda section: section["id"])

    def sections_by_school_codes(self, codes: list[str], include_past: bool) -> list[dict]:
        wanted = set(codes)
        return [
            section
            for section in self.section_records(include_past=include_past)
            if section["section_school_code"] in wanted
        ]

    def sections_of_user(self, uid: int, include_past: bool) -> list[dict]:
        section_ids = {e["section_id"] for e in self._enrollments.values() if e["uid"] == uid}
        return [
            section
            for section in self.section_records(include_past=include_past)
            if section["id"] in section_ids
        ]

    def section_is_past(self, section: dict) -> bool:
        """Tell whether every grading period of the section ended before today."""
        if not self.config.hide_past_sections or not section["grading_periods"]:
            return False
        today = self.config.current_date().isoformat()
        periods = [self._grading_periods.get(gp_id) for gp_id in section["grading_periods"]]
        return all(period is not None and period["end"] < today for period in periods)

    def get_section(self, section_id: int) -> dict:
        section = self._sections.get(section_id)
        if section is None:
            raise ApiError(404, f"section {section_id} not found")
        return section

    def create_section(
        self, course_id: int, data: Any, *, update_existing: bool = False
    ) -> tuple[dict, bool]:
        """Create a section in a course, or update a matching one when `update_existing`.

        A section matches on section_school_code when the item has one, else on section_code
        plus the same set of grading periods within the course.
        """
        course = self.get_course(course_id)
        fields = self._read_section_fields(data)
        missing = [name for name in ("title", "grading_periods") if not fields.get(name)]
        if missing:
            raise ApiError(400, "missing required field(s): " + ", ".join(missing))
        if is_blank(fields.get("section_code")) and is_blank(fields.get("section_school_code")):
            raise ApiError(
                400, "missing required field: send section_code or section_school_code"
            )
        existing = self._conflicting_section(course["id"], fields, exclude_id=None)
        if existing is not None:
            if not update_existing or not self._section_matches_for_update(
                existing, course["id"], fields
            ):
                raise ApiError(
                    self.config.duplicate_status,
                    self._section_conflict_message(existing, fields)
                    + ("" if update_existing else "; send update_existing=1 to update it"),
                )
            existing.update(fields)
            return existing, False
        section_id = self._ids.allocate("section")
        record = {
            "id": section_id,
            "course_id": course["id"],
            "title": "",
            "section_code": "",
            "section_school_code": "",
            "description": "",
            "location": "",
            "start_time": "",
            "end_time": "",
            "profile_url": "",
            "weight": "0",
            "meeting_days": [],
            "class_periods": [],
            "grading_periods": [],
            "options": dict(SECTION_DEFAULT_OPTIONS),
            "synced": 0,
            "active": 1,
            "access_code": access_code_for(section_id),
        }
        record.update(fields)
        self._sections[section_id] = record
        return record, True

    def update_section(self, section_id: int, data: Any) -> dict:
        section = self.get_section(section_id)
        fields = self._read_section_fields(data)
        if "title" in fields and is_blank(fields["title"]):
            raise ApiError(400, "invalid title: it cannot be blank")
        if "grading_periods" in fields and not fields["grading_periods"]:
            raise ApiError(400, "invalid grading_periods: a section needs at least one")
        merged = {**section, **fields}
        if is_blank(merged["section_code"]) and is_blank(merged["section_school_code"]):
            raise ApiError(
                400, "invalid update: a section needs section_code or section_school_code"
            )
        other = self._conflicting_section(section["course_id"], merged, exclude_id=section_id)
        if other is not None:
            raise ApiError(
                self.config.duplicate_status, self._section_conflict_message(other, merged)
            )
        section.update(fields)
        return section

    def delete_section(self, section_id: int) -> None:
        """Delete a section with its enrollments and gradebook; Schoology has no undo."""
        self.get_section(section_id)
        for enrollment in [e for e in self._enrollments.values() if e["section_id"] == section_id]:
            del self._enrollments[enrollment["id"]]
        for kept in self._kept_enrollments.values():
            kept[:] = [e for e in kept if e["section_id"] != section_id]
        self.drop_gradebook(section_id)
        del self._sections[section_id]

    def _conflicting_section(
        self, course_id: int, fields: dict, exclude_id: int | None
    ) -> dict | None:
        """Find a section that breaks a uniqueness rule for `fields`.

        section_school_code is unique in the school. When it is set, section_code is not checked,
        because Schoology then ignores section_code. Otherwise section_code is unique per course
        and grading period.
        """
        school_code = fields.get("section_school_code", "")
        for section in self._sections.values():
            if section["id"] == exclude_id:
                continue
            if school_code:
                if section["section_school_code"] == school_code:
                    return section
                continue
            if (
                section["course_id"] == course_id
                and not section["section_school_code"]
                and section["section_code"] == fields.get("section_code")
                and set(section["grading_periods"]) & set(fields.get("grading_periods", []))
            ):
                return section
        return None

    @staticmethod
    def _section_matches_for_update(section: dict, course_id: int, fields: dict) -> bool:
        if section["course_id"] != course_id:
            return False
        if fields.get("section_school_code"):
            return True
        return set(section["grading_periods"]) == set(fields["grading_periods"])

    @staticmethod
    def _section_conflict_message(existing: dict, fields: dict) -> str:
        if fields.get("section_school_code"):
            return (
                f"section_school_code {fields['section_school_code']!r} already exists "
                f"(section {existing['id']} in course {existing['course_id']})"
            )
        return (
            f"section_code {fields.get('section_code')!r} already exists in this course for an "
            f"overlapping grading period (section {existing['id']})"
        )

    def _read_section_fields(self, data: Any) -> dict:
        if not isinstance(data, dict):
            raise ApiError(400, "invalid section: expected a JSON object")
        fields: dict[str, Any] = {}
        if "title" in data or "section_title" in data:
            fields["title"] = as_text(data.get("title", data.get("section_title")), "title")
        for name in SECTION_TEXT_FIELDS:
            if name in data:
                fields[name] = as_text(data[name], name)
        for name in ("synced", "active"):
            if name in data and not is_blank(data[name]):
                fields[name] = as_flag(data[name], name)
        for name in ("meeting_days", "class_periods"):
            if name in data:
                fields[name] = as_int_list(data[name], name)
        if "options" in data:
            if not isinstance(data["options"], dict):
                raise ApiError(400, "invalid options: expected a JSON object")
            fields["options"] = {**SECTION_DEFAULT_OPTIONS, **data["options"]}
        if "grading_periods" in data:
            periods = as_int_list(data["grading_periods"], "grading_periods")
            for period_id in periods:
                if period_id not in self._grading_periods:
                    raise ApiError(
                        400,
                        f"invalid grading_periods: grading period {period_id} not found "
                        "(see GET /v1/gradingperiods)",
                    )
            fields["grading_periods"] = periods
        return fields

    # -- grading periods -----------------------------------------------------------------------

    def grading_period_records(
        self, title: str | None = None, startswith: bool = False
    ) -> list[dict]:
        rows = sorted(self._grading_periods.values(), key=lambda period: period["id"])
        if title:
            if startswith:
                rows = [p for p in rows if p["title"].lower().startswith(title.lower())]
            else:
                rows = [p for p in rows if p["title"].lower() == title.lower()]
        return rows

    def get_grading_period(self, period_id: int) -> dict:
        period = self._grading_periods.get(period_id)
        if period is None:
            raise ApiError(404, f"grading period {period_id} not found")
        return period

    def create_grading_period(self, data: Any) -> dict:
        fields = self._read_grading_period_fields(data)
        missing = [name for name in ("title", "start", "end") if is_blank(fields.get(name))]
        if missing:
            raise ApiError(400, "missing required field(s): " + ", ".join(missing))
        self._check_grading_period(fields, exclude_id=None)
        period_id = self._ids.allocate("grading_period")
        record = {"id": period_id, **fields}
        self._grading_periods[period_id] = record
        return record

    def update_grading_period(self, period_id: int, data: Any) -> dict:
        period = self.get_grading_period(period_id)
        fields = self._read_grading_period_fields(data)
        for name in ("title", "start", "end"):
            if name in fields and is_blank(fields[name]):
                raise ApiError(400, f"invalid {name}: it cannot be blank")
        self._check_grading_period({**period, **fields}, exclude_id=period_id)
        period.update(fields)
        return period

    def delete_grading_period(self, period_id: int) -> None:
        self.get_grading_period(period_id)
        users = [s["id"] for s in self._sections.values() if period_id in s["grading_periods"]]
        if users:
            shown = ", ".join(str(section_id) for section_id in users[:5])
            raise ApiError(
                self.config.grading_period_in_use_status,
                f"grading period {period_id} is used by {len(users)} section(s) ({shown}); "
                "move or delete those sections first",
            )
        del self._grading_periods[period_id]

    def grading_period_is_active(self, period: dict) -> bool:
        return period["end"] >= self.config.current_date().isoformat()

    def _check_grading_period(self, fields: dict, exclude_id: int | None) -> None:
        if fields["start"] > fields["end"]:
            raise ApiError(
                400, f"invalid dates: start {fields['start']} is after end {fields['end']}"
            )
        for period in self._grading_periods.values():
            if period["id"] != exclude_id and period["title"].lower() == fields["title"].lower():
                raise ApiError(
                    self.config.duplicate_status,
                    f"grading period title {fields['title']!r} already exists (id {period['id']})",
                )

    @staticmethod
    def _read_grading_period_fields(data: Any) -> dict:
        if not isinstance(data, dict):
            raise ApiError(400, "invalid grading period: expected a JSON object")
        fields: dict[str, Any] = {}
        if "title" in data:
            fields["title"] = as_text(data["title"], "title")
        for name in ("start", "end"):
            if name in data:
                fields[name] = "" if is_blank(data[name]) else as_date(data[name], name)
        return fields
