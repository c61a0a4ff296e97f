"""Routes for courses, course sections and grading periods."""

from __future__ import annotations

from flask import Blueprint, g, request

from .errors import ApiError
from .protocol import (
    bulk_items,
    config,
    empty_response,
    flag,
    item_field,
    json_response,
    links,
    paged,
    query_id_list,
    query_list,
    request_json,
    run_items,
    sandbox_state,
    single_item,
)
from .values import as_int, is_blank
from .views import course_view, grading_period_view, section_view

courses_api = Blueprint("schoology_courses", __name__)


def _course_key_fields(item) -> dict:
    return {"course_code": item_field(item, "course_code")}


def _section_key_fields(item) -> dict:
    return {
        "section_code": item_field(item, "section_code"),
        "section_school_code": item_field(item, "section_school_code"),
    }


def _section_result(section: dict) -> dict:
    return {
        "id": str(section["id"]),
        "location": links().api(f"sections/{section['id']}"),
        "section_code": section["section_code"],
        "section_school_code": section["section_school_code"],
        "synced": str(section["synced"]),
        "grading_periods": list(section["grading_periods"]),
    }


def _item_id(item) -> int:
    raw_id = item_field(item, "id")
    if is_blank(raw_id):
        raise ApiError(400, "missing required field: id")
    return as_int(raw_id, "id")


# -- courses -----------------------------------------------------------------------------------


@courses_api.get("/courses")
def list_courses():
    state = sandbox_state()
    building = request.args.get("building_id")
    building_id = as_int(building, "building_id") if building else None
    with_district_name = flag("fetch_district_course_name")
    with state.lock:
        rows = state.course_records(building_id)
        return json_response(
            paged("course", rows, lambda c: course_view(c, links(), with_district_name))
        )


@courses_api.post("/courses")
def create_courses():
    state = sandbox_state()
    body = request_json()
    update_existing = flag("update_existing")
    if isinstance(body, dict) and "courses" in body:
        items = bulk_items(body, "courses", "course")

        def create(item) -> dict:
            course, _ = state.create_course(item, update_existing=update_existing)
            result = {
                "id": course["id"],
                "course_code": course["course_code"],
                "location": links().api(f"courses/{course['id']}"),
            }
            embedded = item.get("sections")
            if embedded is not None:
                # NOTE: Schoology documents that a bulk course item may embed sections, but not
                # how their results come back. The sandbox nests them as the request does.
                sections = bulk_items({"sections": embedded}, "sections", "section")
                result["sections"] = {
                    "section": run_items(
                        sections,
                        lambda section: _section_result(
                            state.create_section(
                                course["id"], section, update_existing=update_existing
                            )[0]
                        ),
                        _section_key_fields,
                    )
                }
            return result

        with state.lock:
            results = run_items(items, create, _course_key_fields)
            g.items = len(items)
        return json_response({"course": results}, 207)

    item = single_item(body, "course")
    with state.lock:
        course, _ = state.create_course(item, update_existing=update_existing)
        return json_response(course_view(course, links()), 201)


@courses_api.put("/courses")
def update_courses():
    state = sandbox_state()
    items = bulk_items(request_json(), "courses", "course")

    def update(item) -> dict:
        course = state.update_course(_item_id(item), item)
        return {"id": str(course["id"]), "course_code": course["course_code"]}

    def key_fields(item) -> dict:
        return {"id": item_field(item, "id"), **_course_key_fields(item)}

    with state.lock:
        results = run_items(items, update, key_fields)
    return json_response({"course": results}, config().bulk_put_status)


@courses_api.delete("/courses")
def delete_courses():
    state = sandbox_state()
    if not request.args.get("course_ids"):
        raise ApiError(400, "missing course_ids: send a comma-separated list of course ids")
    course_ids = query_id_list("course_ids")

    def delete(course_id) -> dict:
        state.delete_course(course_id)
        return {"id": str(course_id)}

    with state.lock:
        results = run_items(course_ids, delete, lambda course_id: {"id": str(course_id)})
    return json_response({"course": results}, 207)


@courses_api.get("/courses/<int:course_id>")
def get_course(course_id: int):
    state = sandbox_state()
    with state.lock:
        course = state.get_course(course_id)
        return json_response(course_view(course, links(), flag("fetch_district_course_name")))


@courses_api.put("/courses/<int:course_id>")
def update_course(course_id: int):
    state = sandbox_state()
    item = single_item(request_json(), "course")
    with state.lock:
        state.update_course(course_id, item)
    return empty_response()


@courses_api.delete("/courses/<int:course_id>")
def delete_course(course_id: int):
    state = sandbox_state()
    g.items = 1
    with state.lock:
        state.delete_course(course_id)
    return empty_response()


# -- sections ----------------------------------------------------------------------------------


@courses_api.get("/courses/<int:course_id>/sections")
def list_course_sections(course_id: int):
    state = sandbox_state()
    with state.lock:
        state.get_course(course_id)
        rows = state.section_records(course_id, include_past=flag("include_past"))
        return json_response(paged("section", rows, lambda s: section_view(s, state, links())))


@courses_api.post("/courses/<int:course_id>/sections")
def create_sections(course_id: int):
    state = sandbox_state()
    body = request_json()
    update_existing = flag("update_existing")
    if isinstance(body, dict) and "sections" in body:
        items = bulk_items(body, "sections", "section")

        def create(item) -> dict:
            section, _ = state.create_section(course_id, item, update_existing=update_existing)
            return _section_result(section)

        with state.lock:
            state.get_course(course_id)
            results = run_items(items, create, _section_key_fields)
        return json_response({"section": results}, 207)

    item = single_item(body, "section")
    with state.lock:
        section, _ = state.create_section(course_id, item, update_existing=update_existing)
        return json_response(section_view(section, state, links()), 201)


@courses_api.get("/sections")
def list_sections_by_school_code():
    state = sandbox_state()
    if not request.args.get("section_school_codes"):
        raise ApiError(
            400, "missing section_school_codes: send a comma-separated list of section school codes"
        )
    codes = query_list("section_school_codes")
    with state.lock:
        rows = state.sections_by_school_codes(codes, include_past=flag("include_past"))
        return json_response(paged("section", rows, lambda s: section_view(s, state, links())))


@courses_api.put("/sections")
def update_sections():
    state = sandbox_state()
    items = bulk_items(request_json(), "sections", "section")

    def update(item) -> dict:
        return _section_result(state.update_section(_item_id(item), item))

    def key_fields(item) -> dict:
        return {"id": item_field(item, "id"), **_section_key_fields(item)}

    with state.lock:
        results = run_items(items, update, key_fields)
    return json_response({"section": results}, config().bulk_put_status)


@courses_api.delete("/sections")
def delete_sections():
    state = sandbox_state()
    if not request.args.get("section_ids"):
        raise ApiError(400, "missing section_ids: send a comma-separated list of section ids")
    section_ids = query_id_list("section_ids")

    def delete(section_id) -> dict:
        state.delete_section(section_id)
        return {"id": str(section_id)}

    with state.lock:
        results = run_items(section_ids, delete, lambda section_id: {"id": str(section_id)})
    return json_response({"section": results}, 207)


@courses_api.get("/sections/<int:section_id>")
def get_section(section_id: int):
    state = sandbox_state()
    with state.lock:
        return json_response(section_view(state.get_section(section_id), state, links()))


@courses_api.put("/sections/<int:section_id>")
def update_section(section_id: int):
    state = sandbox_state()
    item = single_item(request_json(), "section")
    with state.lock:
        state.update_section(section_id, item)
    return empty_response()


@courses_api.delete("/sections/<int:section_id>")
def delete_section(section_id: int):
    state = sandbox_state()
    g.items = 1
    with state.lock:
        state.delete_section(section_id)
    return empty_response()


# -- grading periods ---------------------------------------------------------------------------


@courses_api.get("/gradingperiods")
def list_grading_periods():
    state = sandbox_state()
    with state.lock:
        rows = state.grading_period_records(request.args.get("title"), flag("startswith"))
        return json_response(
            paged(
                "gradingperiods",
                rows,
                lambda p: grading_period_view(p, state, links()),
                total_as_number=True,
            )
        )


@courses_api.post("/gradingperiods")
def create_grading_period():
    state = sandbox_state()
    item = single_item(request_json(), "grading period")
    with state.lock:
        period = state.create_grading_period(item)
        return json_response(grading_period_view(period, state, links()), 201)


@courses_api.get("/gradingperiods/<int:period_id>")
def get_grading_period(period_id: int):
    state = sandbox_state()
    with state.lock:
        period = state.get_grading_period(period_id)
        return json_response(grading_period_view(period, state, links()))


@courses_api.put("/gradingperiods/<int:period_id>")
def update_grading_period(period_id: int):
    state = sandbox_state()
    item = single_item(request_json(), "grading period")
    with state.lock:
        state.update_grading_period(period_id, item)
    return empty_response()


@courses_api.delete("/gradingperiods/<int:period_id>")
def delete_grading_period(period_id: int):
    state = sandbox_state()
    g.items = 1
    with state.lock:
        state.delete_grading_period(period_id)
    return empty_response()
