"""Lookup tables over a District for the OneRoster routes, guarded by one lock."""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict

from esp_pipeline.sandbox.districts.model import UTC, District, Record, User

USER_FIELDS = ("given_name", "family_name", "middle_name", "username", "email", "status",
               "enabled_user", "identifier")


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
    """

    def __init__(self, district: District) -> None:
        self.lock = threading.RLock()
        self.district = district
        self.orgs = _index([district.org, *district.schools], "org")
        self.sessions = _index(district.sessions, "academicSession")
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
        for session_id in self.all_ids["academicSessions"]:
            session = self.sessions[session_id]
            if session.parent_id:
                self.session_children[session.parent_id].append(session_id)
            if session.type == "term":
                self.school_terms[session.school_id].append(session_id)

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
        for enrollment_id in self.all_ids["enrollments"]:
            enrollment = self.enrollments[enrollment_id]
            self.school_enrollments[enrollment.school_id].append(enrollment_id)
            self.class_enrollments[enrollment.class_id].append(enrollment_id)
            if enrollment.role == "student":
                self.class_students[enrollment.class_id].append(enrollment.user_id)
            elif enrollment.role == "teacher":
                self.class_teachers[enrollment.class_id].append(enrollment.user_id)
        for table in (self.class_students, self.class_teachers):
            for ids in table.values():
                ids.sort()

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

    @staticmethod
    def _next_timestamp(previous: dt.datetime) -> dt.datetime:
        # Timestamps go out with millisecond precision, so a change must move at least 1 ms
        # past the previous value to be visible to a dateLastModified> filter.
        now = dt.datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        return max(now, previous + dt.timedelta(milliseconds=1))
