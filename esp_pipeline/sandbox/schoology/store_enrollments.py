"""Enrollment rules of the sandbox store."""

from __future__ import annotations

from typing import Any

from .errors import ApiError
from .values import as_flag, as_int, is_blank

ENROLLMENT_STATUSES = (1, 2, 3, 4, 5)


class EnrollmentStore:
    """Mixin holding section enrollment operations; callers hold `self.lock`."""

    def enrollment_records(
        self,
        section_id: int,
        uids: list[int] | None = None,
        statuses: list[int] | None = None,
        types: list[str] | None = None,
    ) -> list[dict]:
        self.get_section(section_id)
        rows = [e for e in self._enrollments.values() if e["section_id"] == section_id]
        if uids:
            rows = [e for e in rows if e["uid"] in uids]
        if statuses:
            rows = [e for e in rows if e["status"] in statuses]
        if types:
            wanted_admin = {1 if kind == "admin" else 0 for kind in types}
            rows = [e for e in rows if e["admin"] in wanted_admin]
        return sorted(rows, key=lambda enrollment: enrollment["id"])

    def get_enrollment(self, section_id: int, enrollment_id: int) -> dict:
        self.get_section(section_id)
        enrollment = self._enrollments.get(enrollment_id)
        if enrollment is None or enrollment["section_id"] != section_id:
            raise ApiError(404, f"enrollment {enrollment_id} not found in section {section_id}")
        return enrollment

    def create_enrollment(
        self, section_id: int, data: Any, *, update_existing: bool = False
    ) -> tuple[dict, bool]:
        """Enroll a user, identified by Schoology uid, in a section.

        A user has at most one enrollment per section. With `update_existing` a second one
        updates admin and status of the first instead of failing.
        """
        self.get_section(section_id)
        fields = self._read_enrollment_fields(data)
        missing = [name for name in ("uid", "admin", "status") if name not in fields]
        if missing:
            raise ApiError(400, "missing required field(s): " + ", ".join(missing))
        existing = next(
            (
                e
                for e in self._enrollments.values()
                if e["section_id"] == section_id and e["uid"] == fields["uid"]
            ),
            None,
        )
        if existing is not None:
            if not update_existing:
                raise ApiError(
                    self.config.duplicate_status,
                    f"user {fields['uid']} is already enrolled in section {section_id} "
                    f"(enrollment {existing['id']})",
                )
            existing.update(fields)
            return existing, False
        enrollment_id = self._ids.allocate("enrollment")
        record = {"id": enrollment_id, "section_id": section_id, **fields}
        self._enrollments[enrollment_id] = record
        return record, True

    def update_enrollment(self, section_id: int, enrollment_id: int, data: Any) -> dict:
        enrollment = self.get_enrollment(section_id, enrollment_id)
        fields = self._read_enrollment_fields(data)
        if "uid" in fields and fields["uid"] != enrollment["uid"]:
            raise ApiError(400, "invalid uid: an enrollment cannot move to another user")
        enrollment.update(fields)
        return enrollment

    def delete_enrollment(self, enrollment_id: int, section_id: int | None = None) -> None:
        enrollment = self._enrollments.get(enrollment_id)
        in_other_section = section_id is not None and enrollment is not None and (
            enrollment["section_id"] != section_id
        )
        if enrollment is None or in_other_section:
            raise ApiError(404, f"enrollment {enrollment_id} not found")
        del self._enrollments[enrollment_id]

    def _read_enrollment_fields(self, data: Any) -> dict:
        if not isinstance(data, dict):
            raise ApiError(400, "invalid enrollment: expected a JSON object")
        fields: dict[str, Any] = {}
        if not is_blank(data.get("uid")):
            fields["uid"] = self._enrollment_user(data["uid"])["id"]
        if not is_blank(data.get("admin")):
            fields["admin"] = as_flag(data["admin"], "admin")
        if not is_blank(data.get("status")):
            status = as_int(data["status"], "status")
            if status not in ENROLLMENT_STATUSES:
                raise ApiError(400, f"invalid status {status}: expected 1 to 5")
            fields["status"] = status
        return fields

    def _enrollment_user(self, value: Any) -> dict:
        """Resolve the `uid` of an enrollment, which is the Schoology user id, not school_uid."""
        hint = "enrollments take the Schoology user id (uid), not school_uid"
        try:
            uid = as_int(value, "uid")
        except ApiError:
            raise ApiError(400, f"invalid uid {value!r}: {hint}") from None
        user = self._users.get(uid)
        if user is None or not user["active"]:
            raise ApiError(400, f"invalid uid {uid}: no active user has this id; {hint}")
        return user
