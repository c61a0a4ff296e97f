"""User rules of the sandbox store: creation, updates, e-mail conflicts, (de)activation."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from .errors import ApiError
from .values import as_flag, as_int, as_int_list, as_text, is_blank

log = logging.getLogger(__name__)

USER_TEXT_FIELDS = (
    "school_uid",
    "name_title",
    "name_first",
    "name_first_preferred",
    "name_middle",
    "name_last",
    "username",
    "primary_email",
    "gender",
    "grad_year",
    "birthday_date",
    "position",
    "tz_name",
    "language",
    "parent_uids",
    "advisor_uids",
    "child_uids",
    "subjects_taught",
    "grades_taught",
    "department",
    "bio",
    "phone",
    "website",
    "address",
    "interests",
    "activities",
    "profile_url",
)
USER_FLAG_FIELDS = (
    "name_title_show",
    "name_middle_show",
    "synced",
    "use_preferred_first_name",
    "email_login_info",
)
REQUIRED_USER_FIELDS = ("school_uid", "name_first", "name_last", "role_id")


@dataclass(frozen=True)
class EmailOptions:
    """The bulk-create query flags that decide what happens to a conflicting e-mail address.

    `email_conflict_resolution` is 0 (the item fails), 1 (create the user with a username
    instead of the e-mail) or 2 (merge the other organisation's account when its e-mail domain
    is claimed by this district).
    """

    ignore_email_conflicts: bool = False
    email_conflict_resolution: int = 0


class UserStore:
    """Mixin holding the user operations of SchoologyState; callers hold `self.lock`."""

    # -- reads ---------------------------------------------------------------------------------

    def active_users(
        self,
        building_id: int | None = None,
        role_ids: list[int] | None = None,
        school_uids: list[str] | None = None,
    ) -> list[dict]:
        rows = [user for user in self._users.values() if user["active"]]
        if building_id is not None:
            rows = [
                user
                for user in rows
                if user["building_id"] == building_id
                or building_id in user["additional_buildings"]
            ]
        if role_ids:
            rows = [user for user in rows if user["role_id"] in role_ids]
        if school_uids:
            requested = set(school_uids)
            rows = [user for user in rows if user["school_uid"] in requested]
        return sorted(rows, key=lambda user: user["id"])

    def inactive_user_records(self) -> list[dict]:
        rows = [user for user in self._users.values() if not user["active"]]
        return sorted(rows, key=lambda user: user["id"])

    def get_active_user(self, uid: int) -> dict:
        user = self._users.get(uid)
        if user is None or not user["active"]:
            raise ApiError(404, f"user {uid} not found")
        return user

    def user_record(self, uid: int) -> dict:
        """Return a stored user, active or not; KeyError when the id is unknown."""
        return self._users[uid]

    def get_inactive_user(self, uid: int) -> dict:
        user = self._users.get(uid)
        if user is None or user["active"]:
            raise ApiError(404, f"inactive user {uid} not found")
        return user

    def find_user_by_school_uid(self, school_uid: str) -> dict | None:
        for user in self._users.values():
            if user["active"] and user["school_uid"] == school_uid:
                return user
        return None

    def is_admin_user(self, uid: int) -> bool:
        user = self._users.get(uid)
        return user is not None and self._roles[user["role_id"]]["is_admin"]

    # -- writes --------------------------------------------------------------------------------

    def create_user(
        self,
        data: Any,
        *,
        update_existing: bool = False,
        email_options: EmailOptions = EmailOptions(),
    ) -> tuple[dict, bool]:
        """Create a user, or update the one with the same school_uid when `update_existing`.

        Returns the stored record and whether it was created.
        """
        fields = self._read_user_fields(data)
        missing = [name for name in REQUIRED_USER_FIELDS if is_blank(fields.get(name))]
        if missing:
            raise ApiError(400, "missing required field(s): " + ", ".join(missing))
        if is_blank(fields.get("username")) and is_blank(fields.get("primary_email")):
            raise ApiError(400, "missing required field: send username or primary_email")

        existing = self._user_with_school_uid(fields["school_uid"])
        if existing is not None:
            if not existing["active"]:
                raise ApiError(
                    self.config.duplicate_status,
                    f"school_uid {fields['school_uid']!r} belongs to inactive user "
                    f"{existing['id']}; reactivate it with PUT /v1/users/reactivate",
                )
            if not update_existing:
                raise ApiError(
                    self.config.duplicate_status,
                    f"school_uid {fields['school_uid']!r} already exists (user {existing['id']}); "
                    "send update_existing=1 to update it",
                )
            return self.update_user(existing["id"], data, email_options), False

        fields.setdefault("building_id", self._school["id"])
        merge = self._check_email_and_username(fields, None, email_options)
        uid = self._ids.allocate("user")
        record = self._new_user_record(uid, fields)
        self._users[uid] = record
        self._finish_email_merge(merge, uid)
        log.debug("created user %s (school_uid %s)", uid, record["school_uid"])
        return record, True

    def update_user(
        self, uid: int, data: Any, email_options: EmailOptions = EmailOptions()
    ) -> dict:
        """Apply a partial update to an active user."""
        user = self.get_active_user(uid)
        fields = self._read_user_fields(data)
        for name in ("school_uid", "name_first", "name_last", "role_id"):
            if name in fields and is_blank(fields[name]):
                raise ApiError(400, f"invalid {name}: it cannot be blank")

        new_school_uid = fields.get("school_uid")
        if new_school_uid is not None and new_school_uid != user["school_uid"]:
            other = self._user_with_school_uid(new_school_uid)
            if other is not None:
                raise ApiError(
                    self.config.duplicate_status,
                    f"school_uid {new_school_uid!r} already exists (user {other['id']})",
                )

        email_changed = "primary_email" in fields and (
            fields["primary_email"].lower() != user["primary_email"].lower()
        )
        username_changed = "username" in fields and fields["username"] != user["username"]
        merge = None
        if email_changed or username_changed:
            check = {
                "primary_email": fields.get("primary_email", user["primary_email"]),
                "username": fields.get("username", user["username"]),
                "school_uid": fields.get("school_uid", user["school_uid"]),
            }
            if not email_changed:
                check["primary_email"] = ""
            merge = self._check_email_and_username(check, uid, email_options)
            if email_changed:
                fields["primary_email"] = check["primary_email"]
            fields["username"] = check["username"]

        user.update(fields)
        self._finish_email_merge(merge, uid)
        return user

    def deactivate_user(
        self,
        uid: int,
        *,
        keep_enrollments: bool,
        email_notification: bool,
        comment: str,
        actor_uid: int,
    ) -> dict:
        """Deactivate a user as DELETE users/{id} does and record the delete options.

        Without `keep_enrollments` the user's enrollments are destroyed, as Schoology destroys
        grade and attendance history. With it they are set aside, and a reactivation with
        option_reenroll=1 restores them.
        """
        user = self.get_active_user(uid)
        removed = [e for e in self._enrollments.values() if e["uid"] == uid]
        for enrollment in removed:
            del self._enrollments[enrollment["id"]]
        if keep_enrollments:
            self._kept_enrollments.setdefault(uid, []).extend(removed)
        user["active"] = False
        user["inactive_timestamp"] = int(time.time())
        user["modified_by_uid"] = actor_uid
        record = {
            "uid": uid,
            "school_uid": user["school_uid"],
            "option_keep_enrollments": 1 if keep_enrollments else 0,
            "email_notification": 1 if email_notification else 0,
            "option_comment": comment,
            "enrollments_removed": len(removed),
            "enrollments_destroyed": 0 if keep_enrollments else len(removed),
            "timestamp": user["inactive_timestamp"],
            "modified_by_uid": actor_uid,
        }
        self._deactivations.append(record)
        log.debug("deactivated user %s (keep enrollments: %s)", uid, keep_enrollments)
        return user

    def reactivate_user(self, uid: int, *, reenroll: bool) -> dict:
        """Reactivate an inactive user; `reenroll` restores the enrollments kept at deactivation."""
        user = self.get_inactive_user(uid)
        other = self.find_user_by_school_uid(user["school_uid"])
        if other is not None:
            raise ApiError(
                self.config.duplicate_status,
                f"school_uid {user['school_uid']!r} is now used by active user {other['id']}",
            )
        email = user["primary_email"].lower()
        if email and self._active_user_with_email(email, uid) is not None:
            raise ApiError(
                self.config.duplicate_status,
                f"e-mail {user['primary_email']!r} is now used by another active user",
            )
        user["active"] = True
        user["inactive_timestamp"] = None
        kept_enrollments = self._kept_enrollments.pop(uid, [])
        if reenroll:
            for enrollment in kept_enrollments:
                already_enrolled = any(
                    e["section_id"] == enrollment["section_id"] and e["uid"] == uid
                    for e in self._enrollments.values()
                )
                if enrollment["section_id"] in self._sections and not already_enrolled:
                    self._enrollments[enrollment["id"]] = enrollment
        return user

    # -- helpers -------------------------------------------------------------------------------

    def _read_user_fields(self, data: Any) -> dict:
        if not isinstance(data, dict):
            raise ApiError(400, "invalid user: expected a JSON object")
        fields: dict[str, Any] = {}
        for name in USER_TEXT_FIELDS:
            if name in data:
                fields[name] = as_text(data[name], name)
        for name in USER_FLAG_FIELDS:
            if name in data and not is_blank(data[name]):
                fields[name] = as_flag(data[name], name)
        if "role_id" in data:
            role_id = None if is_blank(data["role_id"]) else as_int(data["role_id"], "role_id")
            if role_id is not None and role_id not in self._roles:
                raise ApiError(400, f"invalid role_id {role_id}: no such role (see GET /v1/roles)")
            fields["role_id"] = role_id
        if "building_id" in data and not is_blank(data["building_id"]):
            building_id = as_int(data["building_id"], "building_id")
            self._require_school_or_building(building_id, "building_id")
            fields["building_id"] = building_id
        if "additional_buildings" in data:
            extra = as_int_list(data["additional_buildings"], "additional_buildings")
            for building_id in extra:
                self._require_school_or_building(building_id, "additional_buildings")
            fields["additional_buildings"] = extra
        if not is_blank(data.get("password")):
            fields["has_password"] = True
        return fields

    def _new_user_record(self, uid: int, fields: dict) -> dict:
        record = {name: "" for name in USER_TEXT_FIELDS}
        record.update({name: 0 for name in USER_FLAG_FIELDS})
        record.update(
            {
                "id": uid,
                "school_id": self._school["id"],
                "building_id": self._school["id"],
                "additional_buildings": [],
                "role_id": None,
                "tz_name": "America/New_York",
                "use_preferred_first_name": 1,
                "has_password": False,
                "active": True,
                "inactive_timestamp": None,
                "modified_by_uid": None,
            }
        )
        record.update(fields)
        return record

    def _user_with_school_uid(self, school_uid: str) -> dict | None:
        """Return the user with this school_uid, preferring an active one over an inactive one."""
        matches = [u for u in self._users.values() if u["school_uid"] == school_uid]
        matches.sort(key=lambda user: (not user["active"], user["id"]))
        return matches[0] if matches else None

    def _active_user_with_email(self, email: str, exclude_uid: int | None) -> dict | None:
        for user in self._users.values():
            if (
                user["active"]
                and user["id"] != exclude_uid
                and user["primary_email"].lower() == email
            ):
                return user
        return None

    def _check_email_and_username(
        self, fields: dict, exclude_uid: int | None, options: EmailOptions
    ) -> str | None:
        """Resolve e-mail and username conflicts in `fields` in place.

        E-mail addresses are unique among active accounts of the whole platform. A conflict with
        a user of this school always fails. A conflict with another organisation's account fails
        unless `options` names a resolution. Returns the foreign e-mail to merge, if any,
        because the merge happens only after the whole item has passed its checks.
        """
        email = fields.get("primary_email", "").strip()
        merge = None
        if email:
            if "@" not in email:
                raise ApiError(400, f"invalid primary_email {email!r}: expected an e-mail address")
            lowered = email.lower()
            owner = self._active_user_with_email(lowered, exclude_uid)
            if owner is not None:
                raise ApiError(
                    self.config.duplicate_status,
                    f"e-mail {email!r} is already used by user {owner['id']} in this school",
                )
            foreign = self._foreign_emails.get(lowered)
            if foreign is not None:
                merge = self._resolve_foreign_email(fields, email, foreign, options)
        username = fields.get("username", "")
        if username:
            for user in self._users.values():
                if user["active"] and user["id"] != exclude_uid and user["username"] == username:
                    raise ApiError(
                        self.config.duplicate_status,
                        f"username {username!r} is already used by user {user['id']}",
                    )
        return merge

    def _resolve_foreign_email(
        self, fields: dict, email: str, foreign: dict, options: EmailOptions
    ) -> str | None:
        organisation = foreign["organisation"]
        if options.ignore_email_conflicts:
            fields["primary_email"] = ""
            if is_blank(fields.get("username")):
                fields["username"] = fields["school_uid"]
            return None
        if options.email_conflict_resolution == 1:
            fields["primary_email"] = ""
            if is_blank(fields.get("username")):
                fields["username"] = email.split("@", 1)[0]
            return None
        if options.email_conflict_resolution == 2:
            if not foreign["claimed"]:
                raise ApiError(
                    self.config.duplicate_status,
                    f"e-mail {email!r} belongs to an account in {organisation} and its domain "
                    "is not claimed by this district, so it cannot be merged",
                )
            return email.lower()
        raise ApiError(
            self.config.duplicate_status,
            f"e-mail {email!r} belongs to an account in another organisation ({organisation}); "
            "send ignore_email_conflicts=1 or email_conflict_resolution=1 or 2",
        )

    def _finish_email_merge(self, email: str | None, uid: int) -> None:
        if email is None:
            return
        foreign = self._foreign_emails.pop(email)
        self._email_merges.append(
            {"email": email, "organisation": foreign["organisation"], "merged_into_uid": uid}
        )
