"""Routes for section enrollments and the multi-realm enrollments endpoint."""

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
    request_json,
    run_items,
    sandbox_state,
    single_item,
)
from .values import as_int, is_blank, split_csv
from .views import enrollment_view

enrollments_api = Blueprint("schoology_enrollments", __name__)


def _enrollment_key_fields(item) -> dict:
    return {"uid": item_field(item, "uid")}


def _enrollment_result(enrollment: dict) -> dict:
    # Bulk results carry uid as a number although list items carry it as a string.
    return {
        "id": str(enrollment["id"]),
        "uid": enrollment["uid"],
        "location": links().api(
            f"sections/{enrollment['section_id']}/enrollments/{enrollment['id']}"
        ),
    }


def _wrapped(results: list[dict]) -> dict:
    return {"enrollments": {"enrollment": results}}


@enrollments_api.get("/sections/<int:section_id>/enrollments")
def list_enrollments(section_id: int):
    state = sandbox_state()
    uids = [as_int(value, "uid") for value in split_csv(request.args.get("uid"))]
    statuses = [
        as_int(value, "enrollment_status")
        for value in split_csv(request.args.get("enrollment_status"))
    ]
    types = split_csv(request.args.get("type"))
    for kind in types:
        if kind not in ("admin", "member"):
            raise ApiError(400, f"invalid type {kind!r}: expected admin or member")
    with state.lock:
        rows = state.enrollment_records(section_id, uids, statuses, types)
        return json_response(
            paged("enrollment", rows, lambda e: enrollment_view(e, state, links()))
        )


@enrollments_api.post("/sections/<int:section_id>/enrollments")
def create_enrollments(section_id: int):
    state = sandbox_state()
    body = request_json()
    update_existing = flag("update_existing")
    if isinstance(body, dict) and "enrollments" in body:
        items = bulk_items(body, "enrollments", "enrollment")

        def create(item) -> dict:
            enrollment, _ = state.create_enrollment(
                section_id, item, update_existing=update_existing
            )
            return _enrollment_result(enrollment)

        with state.lock:
            state.get_section(section_id)
            results = run_items(items, create, _enrollment_key_fields)
        return json_response(_wrapped(results), 207)

    item = single_item(body, "enrollment")
    with state.lock:
        enrollment, _ = state.create_enrollment(section_id, item, update_existing=update_existing)
        view = enrollment_view(enrollment, state, links(), status_as_number=True)
        return json_response(view, 201)


@enrollments_api.put("/sections/<int:section_id>/enrollments")
def update_enrollments(section_id: int):
    state = sandbox_state()
    items = bulk_items(request_json(), "enrollments", "enrollment")

    def update(item) -> dict:
        raw_id = item_field(item, "id")
        if is_blank(raw_id):
            raise ApiError(400, "missing required field: id")
        enrollment = state.update_enrollment(section_id, as_int(raw_id, "id"), item)
        return {"id": str(enrollment["id"])}

    with state.lock:
        state.get_section(section_id)
        results = run_items(items, update, lambda item: {"id": item_field(item, "id")})
    return json_response(_wrapped(results), config().bulk_put_status)


@enrollments_api.get("/sections/<int:section_id>/enrollments/<int:enrollment_id>")
def get_enrollment(section_id: int, enrollment_id: int):
    state = sandbox_state()
    with state.lock:
        enrollment = state.get_enrollment(section_id, enrollment_id)
        return json_response(enrollment_view(enrollment, state, links()))


@enrollments_api.put("/sections/<int:section_id>/enrollments/<int:enrollment_id>")
def update_enrollment(section_id: int, enrollment_id: int):
    state = sandbox_state()
    item = single_item(request_json(), "enrollment")
    with state.lock:
        state.update_enrollment(section_id, enrollment_id, item)
    return empty_response()


@enrollments_api.delete("/sections/<int:section_id>/enrollments/<int:enrollment_id>")
def delete_enrollment(section_id: int, enrollment_id: int):
    state = sandbox_state()
    g.items = 1
    with state.lock:
        state.get_section(section_id)
        state.delete_enrollment(enrollment_id, section_id)
    return empty_response()


@enrollments_api.post("/enrollments")
def create_multi_realm_enrollments():
    """Create enrollments across sections; each item names its `realm` and `section_id`."""
    state = sandbox_state()
    items = bulk_items(request_json(), "enrollments", "enrollment")
    update_existing = flag("update_existing")

    def create(item) -> dict:
        realm = item_field(item, "realm")
        if realm == "group":
            raise ApiError(400, "invalid realm 'group': the sandbox has no groups")
        if realm != "section":
            raise ApiError(400, f"invalid realm {realm!r}: expected 'section' or 'group'")
        if is_blank(item.get("section_id")):
            raise ApiError(400, "missing required field: section_id")
        section_id = as_int(item["section_id"], "section_id")
        try:
            state.get_section(section_id)
        except ApiError:
            raise ApiError(400, f"invalid section_id {section_id}: section not found") from None
        enrollment, _ = state.create_enrollment(section_id, item, update_existing=update_existing)
        return {
            **_enrollment_result(enrollment),
            "realm": "section",
            "realm_id": str(section_id),
        }

    def key_fields(item) -> dict:
        return {
            **_enrollment_key_fields(item),
            "realm": item_field(item, "realm"),
            "realm_id": item_field(item, "section_id"),
        }

    with state.lock:
        results = run_items(items, create, key_fields)
    return json_response(_wrapped(results), 207)


@enrollments_api.delete("/enrollments")
def delete_enrollments():
    state = sandbox_state()
    if not request.args.get("enrollment_ids"):
        raise ApiError(
            400, "missing enrollment_ids: send a comma-separated list of enrollment ids"
        )
    enrollment_ids = query_id_list("enrollment_ids")

    def delete(enrollment_id) -> dict:
        state.delete_enrollment(enrollment_id)
        return {"id": str(enrollment_id)}

    with state.lock:
        results = run_items(enrollment_ids, delete, lambda eid: {"id": str(eid)})
    return json_response(_wrapped(results), 207)
