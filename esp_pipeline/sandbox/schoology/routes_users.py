"""Routes for users: lists, single and bulk writes, deactivation and external-id lookups."""

from __future__ import annotations

from flask import Blueprint, g, redirect, request

from .errors import ApiError
from .protocol import (
    acting_uid,
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
from .store_users import EmailOptions
from .values import as_int, is_blank, split_csv
from .views import inactive_user_view, section_view, user_view

users_api = Blueprint("schoology_users", __name__)


def _email_options() -> EmailOptions:
    resolution = request.args.get("email_conflict_resolution", "0").strip() or "0"
    if resolution not in ("0", "1", "2"):
        raise ApiError(400, f"invalid email_conflict_resolution {resolution!r}: expected 0, 1 or 2")
    return EmailOptions(
        ignore_email_conflicts=flag("ignore_email_conflicts"),
        email_conflict_resolution=int(resolution),
    )


def _user_key_fields(item) -> dict:
    return {"school_uid": item_field(item, "school_uid")}


@users_api.get("/users")
def list_users():
    state = sandbox_state()
    building = request.args.get("building_id")
    building_id = as_int(building, "building_id") if building else None
    role_ids = [as_int(value, "role_ids") for value in split_csv(request.args.get("role_ids"))]
    school_uids = query_list("school_uids") if request.args.get("school_uids") else None
    with state.lock:
        rows = state.active_users(building_id, role_ids, school_uids)
        return json_response(paged("user", rows, lambda u: user_view(u, links())))


@users_api.post("/users")
def create_users():
    state = sandbox_state()
    body = request_json()
    update_existing = flag("update_existing")
    email_options = _email_options()
    if isinstance(body, dict) and "users" in body:
        items = bulk_items(body, "users", "user")

        def create(item) -> dict:
            user, _ = state.create_user(
                item, update_existing=update_existing, email_options=email_options
            )
            return {
                "id": str(user["id"]),
                "school_uid": user["school_uid"],
                "location": links().api(f"users/{user['id']}"),
            }

        with state.lock:
            results = run_items(items, create, _user_key_fields)
        return json_response({"user": results}, 207)

    item = single_item(body, "user")
    with state.lock:
        user, _ = state.create_user(
            item, update_existing=update_existing, email_options=email_options
        )
        return json_response(user_view(user, links()), 201)


@users_api.put("/users")
def update_users():
    state = sandbox_state()
    items = bulk_items(request_json(), "users", "user")
    email_options = _email_options()

    def update(item) -> dict:
        raw_id = item_field(item, "id")
        if is_blank(raw_id):
            raise ApiError(400, "missing required field: id")
        user = state.update_user(as_int(raw_id, "id"), item, email_options)
        return {"id": str(user["id"]), "school_uid": user["school_uid"]}

    def key_fields(item) -> dict:
        return {"id": item_field(item, "id"), **_user_key_fields(item)}

    with state.lock:
        results = run_items(items, update, key_fields)
    return json_response({"user": results}, config().bulk_put_status)


def _delete_options() -> dict:
    notification = request.args.get("email_notification", "1").strip()
    return {
        "keep_enrollments": flag("option_keep_enrollments"),
        # Schoology e-mails the user unless the request sends email_notification=0.
        "email_notification": notification != "0",
        "comment": request.args.get("option_comment", ""),
    }


@users_api.delete("/users")
def delete_users():
    state = sandbox_state()
    if not request.args.get("uids"):
        raise ApiError(400, "missing uids: send a comma-separated list of user ids")
    uids = query_id_list("uids")
    options = _delete_options()

    def deactivate(uid) -> dict:
        state.deactivate_user(uid, actor_uid=acting_uid(), **options)
        return {"uid": str(uid)}

    with state.lock:
        results = run_items(uids, deactivate, lambda uid: {"uid": str(uid)})
    return json_response({"user": results}, 207)


@users_api.get("/users/<int:uid>")
def get_user(uid: int):
    state = sandbox_state()
    with state.lock:
        return json_response(user_view(state.get_active_user(uid), links()))


@users_api.put("/users/<int:uid>")
def update_user(uid: int):
    state = sandbox_state()
    item = single_item(request_json(), "user")
    with state.lock:
        state.update_user(uid, item, _email_options())
    return empty_response()


@users_api.delete("/users/<int:uid>")
def delete_user(uid: int):
    state = sandbox_state()
    g.items = 1
    with state.lock:
        state.deactivate_user(uid, actor_uid=acting_uid(), **_delete_options())
    return empty_response()


@users_api.get("/users/inactive")
def list_inactive_users():
    state = sandbox_state()
    with state.lock:
        rows = state.inactive_user_records()
        # Schoology's documented example gives this collection's total as a number.
        return json_response(paged("user", rows, inactive_user_view, total_as_number=True))


@users_api.get("/users/inactive/<int:uid>")
def get_inactive_user(uid: int):
    state = sandbox_state()
    with state.lock:
        return json_response(inactive_user_view(state.get_inactive_user(uid)))


@users_api.put("/users/reactivate")
def reactivate_users():
    state = sandbox_state()
    body = request_json()
    if isinstance(body, dict) and "users" in body:
        items = bulk_items(body, "users", "user")
    else:
        items = bulk_items({"users": body}, "users", "user")

    def reactivate(item) -> dict:
        raw_uid = item_field(item, "uid")
        if is_blank(raw_uid):
            raise ApiError(400, "missing required field: uid")
        reenroll = not is_blank(item.get("option_reenroll")) and str(item["option_reenroll"]) == "1"
        user = state.reactivate_user(as_int(raw_uid, "uid"), reenroll=reenroll)
        return {
            "uid": str(user["id"]),
            "location": links().api(f"users/{user['id']}"),
            "message": "",
        }

    with state.lock:
        results = run_items(items, reactivate, lambda item: {"uid": item_field(item, "uid")})
    return json_response({"user": results}, config().bulk_put_status)


@users_api.get("/users/ext/<school_uid>")
def get_user_by_school_uid(school_uid: str):
    """Redirect to the user with this school_uid, as Schoology does with 303 See Other."""
    state = sandbox_state()
    with state.lock:
        user = state.find_user_by_school_uid(school_uid)
    if user is None:
        raise ApiError(
            config().unknown_external_id_status, f"no user with school_uid {school_uid!r}"
        )
    return redirect(links().api(f"users/{user['id']}"), code=303)


@users_api.get("/users/me")
def get_me():
    return redirect(links().api(f"users/{acting_uid()}"), code=303)


@users_api.get("/users/<int:uid>/sections")
def list_user_sections(uid: int):
    state = sandbox_state()
    with state.lock:
        state.get_active_user(uid)
        rows = state.sections_of_user(uid, include_past=flag("include_past"))
        return json_response(paged("section", rows, lambda s: section_view(s, state, links())))
