"""Thread-safe in-memory store of one sandbox Schoology tenant.

Every read and write of the HTTP layer runs under `SchoologyState.lock`, a re-entrant lock, so
a bulk request can hold it across all of its items. The inspection helpers at the end return
deep copies of the stored records (ids as ints, as stored) for tests to assert on.
"""

from __future__ import annotations

import copy
import threading
from typing import Any, Callable, Iterable

from .clock import ServerClock
from .config import SchoologyConfig
from .errors import ApiError
from .ids import IdAllocator
from .store_courses import CourseStore
from .store_enrollments import EnrollmentStore
from .store_gradebook import Gradebook, GradebookStore
from .store_grades import GradeStore
from .store_users import UserStore
from .values import as_int, as_text, is_blank

PLACE_FIELDS = (
    "address1",
    "address2",
    "city",
    "state",
    "postal_code",
    "country",
    "website",
    "phone",
    "fax",
    "picture_url",
)

# Title, faculty flag and whether the role administers the school. Tenants create their own
# roles with their own ids, so a sync has to read GET roles. These four are the usual titles.
STANDARD_ROLES = (
    ("Student", 0, False),
    ("Teacher", 1, False),
    ("Parent", 0, False),
    ("School Admin", 1, True),
)


class SchoologyState(UserStore, CourseStore, EnrollmentStore, GradebookStore, GradeStore):
    """The records of one district: its school, buildings, roles, users, courses and so on.

    A fresh store contains the district school, one building per entry of `buildings` in order,
    the standard roles and the administrator who owns the API key.
    """

    def __init__(self, config: SchoologyConfig, buildings: Iterable[dict] = ()) -> None:
        self.config = config
        self.lock = threading.RLock()
        self._ids = IdAllocator()
        self._buildings: dict[int, dict] = {}
        self._roles: dict[int, dict] = {}
        self._users: dict[int, dict] = {}
        self._courses: dict[int, dict] = {}
        self._sections: dict[int, dict] = {}
        self._enrollments: dict[int, dict] = {}
        self._grading_periods: dict[int, dict] = {}
        self._gradebooks: dict[int, Gradebook] = {}
        self.clock = ServerClock(config.clock_start)
        # Enrollments set aside by a deactivation with option_keep_enrollments=1, by user id.
        self._kept_enrollments: dict[int, list[dict]] = {}
        self._deactivations: list[dict] = []
        self._foreign_emails: dict[str, dict] = {}
        self._email_merges: list[dict] = []

        self._school = self._new_place(
            {"title": config.district_title, **config.district_fields}, "district"
        )
        for entry in buildings:
            building = self._new_place(entry, "building")
            building["building_code"] = as_text(entry.get("building_code"), "building_code")
            self._buildings[building["id"]] = building
        for title, faculty, is_admin in STANDARD_ROLES:
            role_id = self._ids.allocate("role")
            self._roles[role_id] = {
                "id": role_id,
                "title": title,
                "faculty": faculty,
                "role_type": 1,
                "is_admin": is_admin,
            }
        admin_role = next(r["id"] for r in self._roles.values() if r["is_admin"])
        admin, _ = self.create_user(
            {
                "school_uid": config.admin_school_uid,
                "name_first": config.admin_name_first,
                "name_last": config.admin_name_last,
                "primary_email": config.admin_email,
                "role_id": admin_role,
            }
        )
        self.admin_uid: int = admin["id"]
        for email, claimed in config.foreign_emails.items():
            self.add_foreign_email(email, claimed=claimed)

    def _new_place(self, entry: dict, kind: str) -> dict:
        if not isinstance(entry, dict) or is_blank(entry.get("title")):
            raise ValueError(f"every {kind} needs a non-empty 'title', got {entry!r}")
        place = {"id": self._ids.allocate("school"), "title": as_text(entry["title"], "title")}
        for name in PLACE_FIELDS:
            place[name] = as_text(entry.get(name), name)
        return place

    # -- organisation --------------------------------------------------------------------------

    @property
    def school_record(self) -> dict:
        return self._school

    def building_records(self) -> list[dict]:
        return list(self._buildings.values())

    def school_or_building(self, place_id: int) -> dict:
        if place_id == self._school["id"]:
            return self._school
        building = self._buildings.get(place_id)
        if building is None:
            raise ApiError(404, f"school {place_id} not found")
        return building

    def _require_school_or_building(self, place_id: int, field: str) -> None:
        if place_id != self._school["id"] and place_id not in self._buildings:
            raise ApiError(
                400,
                f"invalid {field} {place_id}: not this school or one of its buildings "
                f"(see GET /v1/schools/{self._school['id']}/buildings)",
            )

    def role_records(self) -> list[dict]:
        return sorted(self._roles.values(), key=lambda role: role["id"])

    def get_role(self, role_id: int) -> dict:
        role = self._roles.get(role_id)
        if role is None:
            raise ApiError(404, f"role {role_id} not found")
        return role

    # -- seeding -------------------------------------------------------------------------------

    def add_foreign_email(
        self, email: str, organisation: str = "Another Organization", claimed: bool = False
    ) -> None:
        """Record an e-mail address owned by an account of another organisation.

        `claimed` is True when this district has claimed the address's domain, which a merge
        with email_conflict_resolution=2 requires.
        """
        with self.lock:
            self._foreign_emails[email.strip().lower()] = {
                "organisation": organisation,
                "claimed": claimed,
            }

    def seed_gradebook(
        self,
        section_id: int,
        *,
        scales: Iterable[dict] = (),
        categories: Iterable[dict] = (),
        assignments: Iterable[dict] = (),
        grades: Iterable[dict] = (),
        period_weights: dict[int, float] | None = None,
    ) -> dict[str, list[int]]:
        """Create a section's gradebook in one call and return the new ids by kind.

        Each entry takes the fields of the matching API body, plus these references to entries
        created in the same call:

        - a category's or an assignment's `scale`: index into `scales`
        - an assignment's `category`: index into `categories`
        - an assignment's `type`: assignment (default), discussion or assessment
        - a grade's `assignment`: index into `assignments`, else `assignment_id`
        - a grade's `uid`: the student's user id, else `enrollment_id`

        Grades are written as `PUT sections/{id}/grades` writes them, stamped with the server
        clock. Invalid entries raise ApiError.
        """
        with self.lock:
            scale_ids = [self.create_grading_scale(section_id, dict(s))["id"] for s in scales]
            category_ids = []
            for entry in categories:
                data = dict(entry)
                if "scale" in data:
                    data["default_grading_scale_id"] = scale_ids[data.pop("scale")]
                category_ids.append(self.create_grading_category(section_id, data)["id"])
            item_ids = []
            for entry in assignments:
                data = dict(entry)
                item_type = data.pop("type", "assignment")
                if "category" in data:
                    data["grading_category"] = category_ids[data.pop("category")]
                if "scale" in data:
                    data["grading_scale"] = scale_ids[data.pop("scale")]
                item_ids.append(self.create_grade_item(section_id, data, item_type)["id"])
            if period_weights:
                self.set_grading_period_weights(section_id, period_weights)
            self.seed_grades(section_id, grades, assignment_ids=item_ids)
            return {"scales": scale_ids, "categories": category_ids, "assignments": item_ids}

    def seed_grades(
        self, section_id: int, grades: Iterable[dict], assignment_ids: list[int] | None = None
    ) -> None:
        """Write grades as `seed_gradebook` does; `assignment` indexes into `assignment_ids`."""
        with self.lock:
            for entry in grades:
                data = dict(entry)
                if "assignment" in data:
                    data["assignment_id"] = (assignment_ids or [])[data.pop("assignment")]
                if "uid" in data:
                    data["enrollment_id"] = self.enrollment_id_for(section_id, data.pop("uid"))
                item_id = as_int(data["assignment_id"], "assignment_id")
                item = self.get_grade_item(section_id, item_id)
                data.setdefault("type", item["type"])
                self.write_grade(section_id, data)

    def enrollment_id_for(self, section_id: int, uid: int) -> int:
        """Return the id of the user's enrollment in the section; KeyError when there is none."""
        with self.lock:
            for enrollment in self._enrollments.values():
                if enrollment["section_id"] == section_id and enrollment["uid"] == uid:
                    return enrollment["id"]
        raise KeyError(f"user {uid} has no enrollment in section {section_id}")

    # -- inspection helpers for tests ----------------------------------------------------------

    def _copies(self, read_rows: Callable[[], Iterable[dict]]) -> list[dict]:
        """Run `read_rows` under the lock and return deep copies of the rows it yields."""
        with self.lock:
            return [copy.deepcopy(row) for row in read_rows()]

    def school(self) -> dict:
        return self._copies(lambda: [self._school])[0]

    def buildings(self) -> list[dict]:
        return self._copies(self.building_records)

    def building_ids_by_code(self) -> dict[str, int]:
        with self.lock:
            return {b["building_code"]: b["id"] for b in self._buildings.values()}

    def roles(self) -> list[dict]:
        return self._copies(self.role_records)

    def role_id(self, title: str) -> int:
        with self.lock:
            for role in self._roles.values():
                if role["title"] == title:
                    return role["id"]
        raise KeyError(f"no role titled {title!r}")

    def users(self, include_inactive: bool = False) -> list[dict]:
        def read_rows() -> list[dict]:
            rows = sorted(self._users.values(), key=lambda user: user["id"])
            return [user for user in rows if include_inactive or user["active"]]

        return self._copies(read_rows)

    def inactive_users(self) -> list[dict]:
        return self._copies(self.inactive_user_records)

    def courses(self) -> list[dict]:
        return self._copies(self.course_records)

    def sections(self) -> list[dict]:
        return self._copies(lambda: self.section_records(include_past=True))

    def enrollments(self) -> list[dict]:
        return self._copies(lambda: sorted(self._enrollments.values(), key=lambda e: e["id"]))

    def kept_enrollments(self) -> dict[int, list[dict]]:
        """Return the enrollments set aside by deactivations with option_keep_enrollments=1."""
        with self.lock:
            return copy.deepcopy(self._kept_enrollments)

    def grading_periods(self) -> list[dict]:
        return self._copies(self.grading_period_records)

    def grade_items(self, section_id: int) -> list[dict]:
        return self._copies(lambda: self.grade_item_records(section_id))

    def grading_categories(self, section_id: int) -> list[dict]:
        return self._copies(lambda: self.grading_category_records(section_id))

    def stored_grades(self, section_id: int) -> list[dict]:
        """Return the stored grades of a section with their enrollment and assignment ids."""

        def read_rows() -> list[dict]:
            grades = self.gradebook(section_id).grades
            return [
                {"enrollment_id": enrollment_id, "assignment_id": item_id, **record}
                for (enrollment_id, item_id), record in sorted(grades.items())
            ]

        return self._copies(read_rows)

    def deactivations(self) -> list[dict]:
        """Return one record per deactivation with the delete options it was sent."""
        return self._copies(lambda: self._deactivations)

    def email_merges(self) -> list[dict]:
        return self._copies(lambda: self._email_merges)

    def foreign_emails(self) -> dict[str, dict]:
        with self.lock:
            return copy.deepcopy(self._foreign_emails)

    def find_user(self, **criteria: Any) -> dict | None:
        """Return a copy of the first user whose fields equal all `criteria`, or None."""
        for user in self.users(include_inactive=True):
            if all(user.get(name) == value for name, value in criteria.items()):
                return user
        return None
