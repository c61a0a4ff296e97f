"""Thread-safe in-memory store of one sandbox Schoology tenant.

Every read and write of the HTTP layer runs under `SchoologyState.lock`, a re-entrant lock, so
a bulk request can hold it across all of its items. The inspection helpers at the end return
deep copies of the stored records (ids as ints, as stored) for tests to assert on.
"""

from __future__ import annotations

import copy
import threading
from typing import Any, Callable, Iterable

from .config import SchoologyConfig
from .errors import ApiError
from .ids import IdAllocator
from .store_courses import CourseStore
from .store_enrollments import EnrollmentStore
from .store_users import UserStore
from .values import as_text, is_blank

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


class SchoologyState(UserStore, CourseStore, EnrollmentStore):
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
