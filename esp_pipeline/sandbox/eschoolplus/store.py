"""Lookup tables over a District for the OneRoster routes, guarded by one lock."""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from collections.abc import Iterable

from esp_pipeline.sandbox.districts.model import (
    UTC,
    AcademicSession,
    District,
    Enrollment,
    Record,
    SchoolClass,
    User,
)

USER_FIELDS = ("given_name", "family_name", "middle_name", "username", "email", "status",
               "enabled_user", "identifier")
# eSchoolPLUS keeps STUDENT_ID and STAFF_ID in char(10) columns.
USER_ID_WIDTH = 10


def _index(records, kind: str) -> dict[str, Record]:
    table: dict[str, Record] = {}
    for record in records:
        if record.sourced_id in table:
            raise ValueError(f"duplicate {kind} sourcedId {record.sourced_id!r}")
        table[record.sourced_id] = record
    return table


class RosterStore:
    """Records by sourcedId and the parent-to-child id lists that nested routes need.

    Every id list is sorted by sourcedId, which gives each collection the fixed order that keeps
    pages from overlapping. Hold `lock` while reading records that a mutation may change.
    `extra_sessions` (derived grading periods) are served beside the district's own sessions
    without being added to the District. With `pad_ids`, user sourcedIds go out right-padded to
    USER_ID_WIDTH characters.
    """

    def __init__(
        self,
        district: District,
        *,
        extra_sessions: Iterable[AcademicSession] = (),
        pad_ids: bool = False,
    ) -> None:
        self.lock = threading.RLock()
        self.district = district
        self.extra_sessions = list(extra_sessions)
        self.pad_ids = pad_ids
        # Enrollment states saved by withdraw_student, restored by reinstate_student.
        self._withdrawn: dict[str, list[tuple[str, str, dt.date | None]]] = {}
        self.reindex()

    def reindex(self) -> None:
        """Rebuild every lookup table from the district; call it after adding records."""
        with self.lock:
            self._build_tables()

    def _build_tables(self) -> None:
        district = self.district
        self.orgs = _index([district.org, *district.schools], "org")
        self.sessions = _index([*district.sessions, *self.extra_sessions], "academicSession")
        self.courses = _index(district.courses, "course")
        self.classes = _index(district.classes, "class")
        self.users = _index(district.users, "user")
        self.enrollments = _index(district.enrollments, "enrollment")

        self.all_ids = {
            "orgs": sorted(self.orgs),
            "academicSessions": sorted(self.sessions),
            "courses": sorted(self.courses),
            "classes": sorted(self.classes),
            "users": sorted(self.users),
            "enrollments": sorted(self.enrollments),
        }
        self.school_ids = [i for i in self.all_ids["orgs"] if self.orgs[i].type == "school"]
        self.term_ids = [
            i for i in self.all_ids["academicSessions"] if self.sessions[i].type == "term"
        ]
        self.grading_period_ids = [
            i for i in self.all_ids["academicSessions"] if self.sessions[i].type == "gradingPeriod"
        ]
        self.student_ids = [i for i in self.all_ids["users"] if self.users[i].role == "student"]
        self.teacher_ids = [i for i in self.all_ids["users"] if self.users[i].role == "teacher"]

        self.org_children: dict[str, list[str]] = defaultdict(list)
        for school_id in self.school_ids:
            parent = self.orgs[school_id].parent_id
            if parent:
                self.org_children[parent].append(school_id)
        self.session_children: dict[str, list[str]] = defaultdict(list)
        self.school_terms: dict[str, list[str]] = defaultdict(list)
        self.term_grading_periods: dict[str, list[str]] = defaultdict(list)
        for session_id in self.all_ids["academicSessions"]:
            session = self.sessions[session_id]
            if session.parent_id:
                self.session_children[session.parent_id].append(session_id)
            if session.type == "term":
                self.school_terms[session.school_id].append(session_id)
            if session.type == "gradingPeriod" and session.parent_id:
                self.term_grading_periods[session.parent_id].append(session_id)

        self.school_courses: dict[str, list[str]] = defaultdict(list)
        for course_id in self.all_ids["courses"]:
            self.school_courses[self.courses[course_id].school_id].append(course_id)

        self.school_classes: dict[str, list[str]] = defaultdict(list)
        self.term_classes: dict[str, list[str]] = defaultdict(list)
        self.course_classes: dict[str, list[str]] = defaultdict(list)
        for class_id in self.all_ids["classes"]:
            school_class = self.classes[class_id]
            self.school_classes[school_class.school_id].append(class_id)
            self.course_classes[school_class.course_id].append(class_id)
            for term_id in school_class.term_ids:
                self.term_classes[term_id].append(class_id)

        self.school_students: dict[str, list[str]] = defaultdict(list)
        self.school_teachers: dict[str, list[str]] = defaultdict(list)
        for user_id in self.all_ids["users"]:
            user = self.users[user_id]
            target = self.school_students if user.role == "student" else self.school_teachers
            for org_id in user.org_ids:
                target[org_id].append(user_id)

        self.school_enrollments: dict[str, list[str]] = defaultdict(list)
        self.class_enrollments: dict[str, list[str]] = defaultdict(list)
        self.class_students: dict[str, list[str]] = defaultdict(list)
        self.class_teachers: dict[str, list[str]] = defaultdict(list)
        self.user_classes: dict[str, list[str]] = defaultdict(list)
        self.enrollment_by_pair: dict[tuple[str, str], str] = {}
        for enrollment_id in self.all_ids["enrollments"]:
            enrollment = self.enrollments[enrollment_id]
            self.school_enrollments[enrollment.school_id].append(enrollment_id)
            self.class_enrollments[enrollment.class_id].append(enrollment_id)
            pair = (enrollment.class_id, enrollment.user_id)
            previous = self.enrollment_by_pair.get(pair)
            # A user may hold several enrollments in one class (eSchool date ranges); the
            # active one wins.
            if previous is None or self.enrollments[previous].status != "active":
                self.enrollment_by_pair[pair] = enrollment_id
            # Dropped enrollments stay in /enrollments with status tobedeleted, but the
            # user no longer counts as a member of the class.
            if enrollment.status != "active":
                continue
            self.user_classes[enrollment.user_id].append(enrollment.class_id)
            if enrollment.role == "student":
                self.class_students[enrollment.class_id].append(enrollment.user_id)
            elif enrollment.role == "teacher":
                self.class_teachers[enrollment.class_id].append(enrollment.user_id)
        for table in (self.class_students, self.class_teachers, self.user_classes):
            for ids in table.values():
                ids[:] = sorted(set(ids))

    # --- user ids -------------------------------------------------------------------------------

    def user_sourced_id(self, user_id: str) -> str:
        """Return a user id as payloads carry it, right-padded when `pad_ids` is set."""
        return user_id.ljust(USER_ID_WIDTH) if self.pad_ids else user_id

    @staticmethod
    def strip_user_id(raw: str) -> str:
        """Return a user id from a path or body without the char(10) padding."""
        return raw.rstrip(" ")

    def is_active_student(self, class_id: str, user_id: str) -> bool:
        """Return whether `user_id` has an active student enrollment in `class_id`."""
        enrollment_id = self.enrollment_by_pair.get((class_id, user_id))
        if enrollment_id is None:
            return False
        enrollment = self.enrollments[enrollment_id]
        return enrollment.role == "student" and enrollment.status == "active"

    # --- changes --------------------------------------------------------------------------------

    def update_user(self, sourced_id: str, **changes: object) -> User:
        """Change fields of one user in place and move its dateLastModified forward.

        Accepts the User attribute names in USER_FIELDS; raises KeyError for an unknown user
        and TypeError for any other attribute.
        """
        unknown = sorted(set(changes) - set(USER_FIELDS))
        if unknown:
            raise TypeError(
                f"update_user cannot change {', '.join(unknown)}; allowed: {', '.join(USER_FIELDS)}"
            )
        with self.lock:
            user = self.users.get(sourced_id)
            if user is None:
                raise KeyError(f"no user with sourcedId {sourced_id!r}")
            for name, value in changes.items():
                setattr(user, name, value)
            user.date_last_modified = self._next_timestamp(user.date_last_modified)
            return user

    def withdraw_student(self, user_id: str, on: dt.date) -> User:
        """Withdraw a student from the district on `on`.

        The user and each of its active enrollments turn `tobedeleted`, the enrollments end on
        `on`, and every changed record gets a new dateLastModified. Raises KeyError for an
        unknown student and ValueError when the student is already withdrawn.
        """
        with self.lock:
            user = self._require_student(user_id)
            if user.status != "active":
                raise ValueError(f"student {user_id!r} is already {user.status}")
            saved = []
            for enrollment in self._enrollments_of(user_id):
                if enrollment.status == "active":
                    saved.append((enrollment.sourced_id, enrollment.status, enrollment.end_date))
                    self._end_enrollment(enrollment, on)
            self._withdrawn[user_id] = saved
            self._set_status(user, "tobedeleted")
            self._build_tables()
            return user

    def reinstate_student(self, user_id: str) -> User:
        """Undo withdraw_student: the user and the enrollments it ended are active again.

        Raises KeyError for an unknown student and ValueError for one that is not withdrawn.
        """
        with self.lock:
            user = self._require_student(user_id)
            if user.status == "active":
                raise ValueError(f"student {user_id!r} is not withdrawn")
            for enrollment_id, status, end_date in self._withdrawn.pop(user_id, []):
                enrollment = self.enrollments[enrollment_id]
                enrollment.end_date = end_date
                self._set_status(enrollment, status)
            self._set_status(user, "active")
            self._build_tables()
            return user

    def drop_enrollment(self, class_id: str, user_id: str, on: dt.date) -> Enrollment:
        """Drop a user from a class on `on`: the enrollment ends and turns `tobedeleted`.

        Raises KeyError when the user has no active enrollment in the class.
        """
        with self.lock:
            enrollment = self._active_enrollment(class_id, user_id)
            if enrollment is None:
                raise KeyError(f"user {user_id!r} has no active enrollment in class {class_id!r}")
            self._end_enrollment(enrollment, on)
            self._build_tables()
            return enrollment

    def add_enrollment(
        self,
        class_id: str,
        user_id: str,
        *,
        role: str | None = None,
        on: dt.date | None = None,
        primary: bool = False,
    ) -> Enrollment:
        """Enroll a user in a class from `on` (default: the first day of the class's terms).

        `role` defaults to the user's role. A user dropped from the class earlier gets the same
        enrollment back, active again with the new begin date. Raises KeyError for an unknown
        class or user and ValueError when the user is already actively enrolled.
        """
        with self.lock:
            school_class = self.classes.get(class_id)
            if school_class is None:
                raise KeyError(f"no class with sourcedId {class_id!r}")
            user = self.users.get(user_id)
            if user is None:
                raise KeyError(f"no user with sourcedId {user_id!r}")
            if self._active_enrollment(class_id, user_id) is not None:
                raise ValueError(f"user {user_id!r} is already enrolled in class {class_id!r}")
            begin, end = self._class_span(school_class)
            begin = on or begin
            existing_id = self.enrollment_by_pair.get((class_id, user_id))
            if existing_id is not None:
                enrollment = self.enrollments[existing_id]
                enrollment.begin_date = begin
                enrollment.end_date = end
                enrollment.role = role or user.role
                enrollment.primary = primary
                self._set_status(enrollment, "active")
            else:
                enrollment = Enrollment(
                    sourced_id=f"{class_id}-{user_id}",
                    role=role or user.role,
                    primary=primary,
                    user_id=user_id,
                    class_id=class_id,
                    school_id=school_class.school_id,
                    begin_date=begin,
                    end_date=end,
                    date_last_modified=self._next_timestamp(self.district.loaded_at),
                )
                self.district.enrollments.append(enrollment)
            self._build_tables()
            return enrollment

    def delete_class(self, class_id: str, on: dt.date) -> SchoolClass:
        """Remove a section from the schedule: the class and its active enrollments turn
        `tobedeleted`, the enrollments ending on `on`. Raises KeyError for an unknown class."""
        with self.lock:
            school_class = self.classes.get(class_id)
            if school_class is None:
                raise KeyError(f"no class with sourcedId {class_id!r}")
            for enrollment_id in self.class_enrollments.get(class_id, []):
                enrollment = self.enrollments[enrollment_id]
                if enrollment.status == "active":
                    self._end_enrollment(enrollment, on)
            self._set_status(school_class, "tobedeleted")
            self._build_tables()
            return school_class

    def _require_student(self, user_id: str) -> User:
        user = self.users.get(user_id)
        if user is None or user.role != "student":
            raise KeyError(f"no student with sourcedId {user_id!r}")
        return user

    def _enrollments_of(self, user_id: str) -> list[Enrollment]:
        return [e for e in self.enrollments.values() if e.user_id == user_id]

    def _active_enrollment(self, class_id: str, user_id: str) -> Enrollment | None:
        enrollment_id = self.enrollment_by_pair.get((class_id, user_id))
        if enrollment_id is None:
            return None
        enrollment = self.enrollments[enrollment_id]
        return enrollment if enrollment.status == "active" else None

    def _class_span(self, school_class: SchoolClass) -> tuple[dt.date | None, dt.date | None]:
        terms = [self.sessions[t] for t in school_class.term_ids if t in self.sessions]
        if not terms:
            return None, None
        return min(t.start_date for t in terms), max(t.end_date for t in terms)

    def _end_enrollment(self, enrollment: Enrollment, on: dt.date) -> None:
        enrollment.end_date = on
        self._set_status(enrollment, "tobedeleted")

    def _set_status(self, record: Record, status: str) -> None:
        record.status = status
        record.date_last_modified = self._next_timestamp(record.date_last_modified)

    @staticmethod
    def _next_timestamp(previous: dt.datetime) -> dt.datetime:
        # Timestamps go out with millisecond precision, so a change must move at least 1 ms
        # past the previous value to be visible to a dateLastModified> filter.
        now = dt.datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        return max(now, previous + dt.timedelta(milliseconds=1))
