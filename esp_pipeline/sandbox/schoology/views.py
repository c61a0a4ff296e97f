"""JSON shapes of the objects the sandbox returns.

The types are as loose as Schoology's own. A user carries `uid` as a string next to `id` as a
number. School, role, section and enrollment ids are strings, while course, user and grading
period ids are numbers. Flags are 0/1, sometimes as strings ("synced": "0" on sections). An
enrollment has `admin` as a number but `status` as a string.
"""

from __future__ import annotations

from .state import PLACE_FIELDS, SchoologyState
from .store_users import USER_FLAG_FIELDS

DEFAULT_PICTURE = "/sites/all/themes/schoology_theme/images/user-default.gif"
COURSE_PICTURE = "/sites/all/themes/schoology_theme/images/course-default.gif"


class Links:
    """Builder of the absolute URLs in `links` and `location` fields."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def api(self, path: str) -> str:
        return f"{self.base_url}/v1/{path.lstrip('/')}"


def place_view(place: dict, links: Links) -> dict:
    view = {"id": str(place["id"]), "title": place["title"]}
    for name in PLACE_FIELDS:
        view[name] = place[name]
    if "building_code" in place:
        view["building_code"] = place["building_code"]
    view["links"] = {"self": links.api(f"schools/{place['id']}")}
    return view


def role_view(role: dict, links: Links) -> dict:
    return {
        "id": str(role["id"]),
        "title": role["title"],
        "faculty": role["faculty"],
        "role_type": role["role_type"],
        "links": {"self": links.api(f"roles/{role['id']}")},
    }


def _name_display(user: dict) -> str:
    first = user["name_first"]
    if user.get("use_preferred_first_name") and user["name_first_preferred"]:
        first = user["name_first_preferred"]
    return f"{first} {user['name_last']}".strip()


def user_view(user: dict, links: Links) -> dict:
    view = {
        "uid": str(user["id"]),
        "id": user["id"],
        "school_id": user["school_id"],
        "synced": user["synced"],
        "school_uid": user["school_uid"],
        "building_id": user["building_id"],
        "additional_buildings": ",".join(str(b) for b in user["additional_buildings"]),
        "name_title": user["name_title"],
        "name_title_show": user["name_title_show"],
        "name_first": user["name_first"],
        "name_first_preferred": user["name_first_preferred"],
        "use_preferred_first_name": str(user["use_preferred_first_name"]),
        "name_middle": user["name_middle"],
        "name_middle_show": user["name_middle_show"],
        "name_last": user["name_last"],
        "name_display": _name_display(user),
        "username": user["username"],
        "primary_email": user["primary_email"],
        "picture_url": user["profile_url"] or links.base_url + DEFAULT_PICTURE,
        "gender": user["gender"] or None,
        "position": user["position"] or None,
        "grad_year": user["grad_year"],
        "birthday_date": user["birthday_date"],
        "password": "",
        "role_id": user["role_id"],
        "tz_offset": -5,
        "tz_name": user["tz_name"],
        "parents": None,
        "child_uids": user["child_uids"] or None,
        "language": user["language"],
        "send_message": 0,
        "links": {"self": links.api(f"users/{user['id']}")},
    }
    # email_login_info is write-only because it only requests a login e-mail on creation.
    for name in USER_FLAG_FIELDS:
        if name != "email_login_info":
            view.setdefault(name, user[name])
    return view


def inactive_user_view(user: dict) -> dict:
    return {
        "uid": user["id"],
        "name": _name_display(user),
        "school_uid": user["school_uid"],
        "synced": user["synced"],
        "inactive_timestamp": user["inactive_timestamp"],
        "modified_by_uid": user["modified_by_uid"],
    }


def course_view(course: dict, links: Links, with_district_name: bool = False) -> dict:
    view = {
        "id": course["id"],
        "title": course["title"],
        "course_code": course["course_code"],
        "department": course["department"],
        "description": course["description"],
        "credits": course["credits"],
        "subject_area": course["subject_area"],
        "grade_level_range_start": course["grade_level_range_start"],
        "grade_level_range_end": course["grade_level_range_end"],
        "synced": course["synced"],
        "building_id": str(course["building_id"]),
    }
    if with_district_name:
        view["district_course_name"] = course["district_course_name"]
    view["links"] = {"self": links.api(f"courses/{course['id']}")}
    return view


def section_view(section: dict, state: SchoologyState, links: Links) -> dict:
    course = state.get_course(section["course_id"])
    return {
        "id": str(section["id"]),
        "course_title": course["title"],
        "course_code": course["course_code"],
        "course_id": str(course["id"]),
        "school_id": str(state.school_record["id"]),
        "building_id": str(course["building_id"]),
        "access_code": section["access_code"],
        "section_title": section["title"],
        "section_code": section["section_code"],
        "section_school_code": section["section_school_code"],
        "synced": str(section["synced"]),
        "active": section["active"],
        "description": section["description"],
        "grading_periods": list(section["grading_periods"]),
        "profile_url": section["profile_url"] or links.base_url + COURSE_PICTURE,
        "location": section["location"],
        # Schoology sends [""] when a section has no meeting days.
        "meeting_days": [str(day) for day in section["meeting_days"]] or [""],
        "start_time": section["start_time"],
        "end_time": section["end_time"],
        "class_periods": [str(period) for period in section["class_periods"]],
        "weight": section["weight"],
        "options": dict(section["options"]),
        "links": {"self": links.api(f"sections/{section['id']}")},
        "admin": 1,
    }


def enrollment_view(
    enrollment: dict, state: SchoologyState, links: Links, status_as_number: bool = False
) -> dict:
    """Shape an enrollment. Schoology's create response has `status` as a number, lists a string."""
    user = state.user_record(enrollment["uid"])
    return {
        "id": str(enrollment["id"]),
        "uid": str(user["id"]),
        "school_uid": user["school_uid"],
        "name_title": user["name_title"],
        "name_title_show": str(user["name_title_show"]),
        "name_first": user["name_first"],
        "name_first_preferred": user["name_first_preferred"],
        "name_middle": user["name_middle"],
        "name_middle_show": str(user["name_middle_show"]),
        "name_last": user["name_last"],
        "name_display": _name_display(user),
        "admin": enrollment["admin"],
        "status": enrollment["status"] if status_as_number else str(enrollment["status"]),
        "picture_url": user["profile_url"] or links.base_url + DEFAULT_PICTURE,
        "links": {
            "self": links.api(
                f"sections/{enrollment['section_id']}/enrollments/{enrollment['id']}"
            )
        },
    }


def grading_period_view(period: dict, state: SchoologyState, links: Links) -> dict:
    return {
        "id": period["id"],
        "title": period["title"],
        "start": period["start"],
        "end": period["end"],
        # NOTE: the sandbox derives `active` from the end date; Schoology does not document how
        # it sets the flag.
        "active": "1" if state.grading_period_is_active(period) else "0",
        "links": {"self": links.api(f"gradingperiods/{period['id']}")},
    }
