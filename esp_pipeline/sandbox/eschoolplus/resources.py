"""OneRoster 1.1 field tables: how each record kind turns into JSON, and what can be filtered.

Accessors return plain Python values (datetimes, dates, booleans, GUIDRef dicts with a relative
href). `render` turns a page of them into JSON-ready dicts: timestamps become ISO-8601 UTC text
with milliseconds, dates `YYYY-MM-DD`, booleans the strings "true"/"false" (as OneRoster 1.1
CSV-derived payloads send them), and hrefs absolute.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import quote

from esp_pipeline.sandbox.districts.model import format_timestamp

from .store import RosterStore

GUIDREF_SUBFIELDS = ("href", "sourcedId", "type")
USER_ID_SUBFIELDS = ("type", "identifier")

Accessor = Callable[[object, RosterStore], object]


def ref(collection: str, ref_type: str, sourced_id: str | None) -> dict | None:
    """Build a GUIDRef whose href is relative to the OneRoster root until rendered.

    The id is percent-encoded in the href, so padded ids (trailing spaces) stay valid URLs.
    """
    if not sourced_id:
        return None
    href = f"/{collection}/{quote(sourced_id, safe='')}"
    return {"href": href, "sourcedId": sourced_id, "type": ref_type}


def org_ref(sourced_id: str | None) -> dict | None:
    return ref("orgs", "org", sourced_id)


def session_ref(sourced_id: str | None) -> dict | None:
    return ref("academicSessions", "academicSession", sourced_id)


def user_ref(sourced_id: str | None, store: RosterStore) -> dict | None:
    """Build a GUIDRef to a user, padded when the store's `pad_ids` is set."""
    if not sourced_id:
        return None
    return ref("users", "user", store.user_sourced_id(sourced_id))


@dataclass(frozen=True)
class Resource:
    """One OneRoster object type: envelope names, fields, and the subfields of dotted fields."""

    collection: str
    singular: str
    fields: dict[str, Accessor]
    value_types: dict[str, str]
    subfields: dict[str, tuple[str, ...]]

    def payload(self, record: object, store: RosterStore, selected: Iterable[str] | None = None):
        names = self.fields if selected is None else selected
        return {name: self.fields[name](record, store) for name in names}

    def check_field(self, path: str) -> bool:
        """Return whether `path` (maybe dotted) names a field of this resource."""
        top, _, rest = path.partition(".")
        if top not in self.fields:
            return False
        if not rest:
            return True
        return "." not in rest and rest in self.subfields.get(top, ())

    def value_type(self, path: str) -> str:
        return self.value_types.get(path.partition(".")[0], "string")

    def values_getter(self, path: str, store: RosterStore) -> Callable[[object], list]:
        """Return a function yielding the scalar values at `path` in a record."""
        top, _, rest = path.partition(".")
        accessor = self.fields[top]

        def values_of(record: object) -> list:
            value = accessor(record, store)
            items = value if isinstance(value, list) else [value]
            if rest:
                items = [item.get(rest) for item in items if isinstance(item, dict)]
            return [item for item in items if item is not None]

        return values_of


def _common(extra: dict[str, Accessor]) -> dict[str, Accessor]:
    fields: dict[str, Accessor] = {
        "sourcedId": lambda r, s: r.sourced_id,
        "status": lambda r, s: r.status,
        "dateLastModified": lambda r, s: r.date_last_modified,
    }
    fields.update(extra)
    return fields


ORG = Resource(
    collection="orgs",
    singular="org",
    fields=_common(
        {
            "name": lambda r, s: r.name,
            "type": lambda r, s: r.type,
            "identifier": lambda r, s: r.identifier,
            "parent": lambda r, s: org_ref(r.parent_id),
            "children": lambda r, s: [org_ref(i) for i in s.org_children.get(r.sourced_id, [])],
        }
    ),
    value_types={"dateLastModified": "datetime"},
    subfields={"parent": GUIDREF_SUBFIELDS, "children": GUIDREF_SUBFIELDS},
)

ACADEMIC_SESSION = Resource(
    collection="academicSessions",
    singular="academicSession",
    fields=_common(
        {
            "title": lambda r, s: r.title,
            "type": lambda r, s: r.type,
            "startDate": lambda r, s: r.start_date,
            "endDate": lambda r, s: r.end_date,
            "parent": lambda r, s: session_ref(r.parent_id),
            "children": lambda r, s: [
                session_ref(i) for i in s.session_children.get(r.sourced_id, [])
            ],
            "schoolYear": lambda r, s: r.school_year,
        }
    ),
    value_types={"dateLastModified": "datetime", "startDate": "date", "endDate": "date"},
    subfields={"parent": GUIDREF_SUBFIELDS, "children": GUIDREF_SUBFIELDS},
)

COURSE = Resource(
    collection="courses",
    singular="course",
    fields=_common(
        {
            "title": lambda r, s: r.title,
            "schoolYear": lambda r, s: session_ref(r.school_year_id),
            "courseCode": lambda r, s: r.course_code,
            "grades": lambda r, s: list(r.grades),
            "subjects": lambda r, s: [],
            "org": lambda r, s: org_ref(r.school_id),
        }
    ),
    value_types={"dateLastModified": "datetime"},
    subfields={"schoolYear": GUIDREF_SUBFIELDS, "org": GUIDREF_SUBFIELDS},
)

CLASS = Resource(
    collection="classes",
    singular="class",
    fields=_common(
        {
            "title": lambda r, s: r.title,
            "classCode": lambda r, s: r.class_code,
            "classType": lambda r, s: r.class_type,
            "location": lambda r, s: r.location,
            "grades": lambda r, s: list(r.grades),
            "subjects": lambda r, s: [],
            "course": lambda r, s: ref("courses", "course", r.course_id),
            "school": lambda r, s: org_ref(r.school_id),
            "terms": lambda r, s: [session_ref(i) for i in r.term_ids],
            "periods": lambda r, s: list(r.periods),
        }
    ),
    value_types={"dateLastModified": "datetime"},
    subfields={"course": GUIDREF_SUBFIELDS, "school": GUIDREF_SUBFIELDS, "terms": GUIDREF_SUBFIELDS},
)

USER = Resource(
    collection="users",
    singular="user",
    fields=_common(
        {
            "sourcedId": lambda r, s: s.user_sourced_id(r.sourced_id),
            "username": lambda r, s: r.username,
            "userIds": lambda r, s: (
                [{"type": "stateId", "identifier": r.state_id}] if r.state_id else []
            ),
            "enabledUser": lambda r, s: r.enabled_user,
            "givenName": lambda r, s: r.given_name,
            "familyName": lambda r, s: r.family_name,
            "middleName": lambda r, s: r.middle_name,
            "role": lambda r, s: r.role,
            "identifier": lambda r, s: r.identifier,
            "email": lambda r, s: r.email,
            "sms": lambda r, s: "",
            "phone": lambda r, s: "",
            "agents": lambda r, s: [],
            "orgs": lambda r, s: [org_ref(i) for i in r.org_ids],
            "grades": lambda r, s: list(r.grades),
        }
    ),
    value_types={"dateLastModified": "datetime"},
    subfields={"orgs": GUIDREF_SUBFIELDS, "agents": GUIDREF_SUBFIELDS, "userIds": USER_ID_SUBFIELDS},
)

ENROLLMENT = Resource(
    collection="enrollments",
    singular="enrollment",
    fields=_common(
        {
            "user": lambda r, s: user_ref(r.user_id, s),
            "class": lambda r, s: ref("classes", "class", r.class_id),
            "school": lambda r, s: org_ref(r.school_id),
            "role": lambda r, s: r.role,
            "primary": lambda r, s: r.primary,
            "beginDate": lambda r, s: r.begin_date,
            "endDate": lambda r, s: r.end_date,
        }
    ),
    value_types={"dateLastModified": "datetime", "beginDate": "date", "endDate": "date"},
    subfields={"user": GUIDREF_SUBFIELDS, "class": GUIDREF_SUBFIELDS, "school": GUIDREF_SUBFIELDS},
)


def render(value: object, base_url: str) -> object:
    """Convert accessor output to JSON-ready values with absolute hrefs under `base_url`."""
    if isinstance(value, dict):
        rendered = {key: render(item, base_url) for key, item in value.items()}
        href = rendered.get("href")
        if isinstance(href, str) and href.startswith("/"):
            rendered["href"] = base_url + href
        return rendered
    if isinstance(value, list):
        return [render(item, base_url) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return format_timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value

