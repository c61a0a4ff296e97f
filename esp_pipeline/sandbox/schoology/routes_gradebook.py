"""Routes for a section's gradebook setup: assignments, grade items, categories, scales, periods."""

from __future__ import annotations

from flask import Blueprint, g, request

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
    request_json,
    run_items,
    sandbox_state,
    single_item,
)
from .values import as_int, is_blank
from .views_grades import (
    assignment_view,
    grading_category_created_view,
    grading_category_updated_view,
    grading_category_view,
    grading_scale_view,
    section_grading_period_view,
)

gradebook_api = Blueprint("schoology_gradebook", __name__)


def _unpaged(key: str, rows: list[dict]) -> dict:
    """Build the envelope of a collection that Schoology returns whole, without `total`."""
    return {key: rows, "links": {"self": links().base_url + request.full_path.rstrip("?")}}


# -- assignments and grade items ---------------------------------------------------------------


@gradebook_api.get("/sections/<int:section_id>/assignments")
def list_assignments(section_id: int):
    state = sandbox_state()
    with_stats = flag("with_dropbox_stats")
    with state.lock:
        gradebook = state.gradebook(section_id)
        rows = state.grade_item_records(section_id, types=("assignment",))
        return json_response(
            paged(
                "assignment",
                rows,
                lambda item: assignment_view(
                    item, gradebook, links(), with_dropbox_stats=with_stats
                ),
                total_as_number=True,
            )
        )


@gradebook_api.post("/sections/<int:section_id>/assignments")
def create_assignment(section_id: int):
    state = sandbox_state()
    item = single_item(request_json(), "assignment")
    with state.lock:
        assignment = state.create_grade_item(section_id, item)
        view = assignment_view(assignment, state.gradebook(section_id), links())
        return json_response(view, 201)


@gradebook_api.get("/sections/<int:section_id>/assignments/<int:assignment_id>")
def get_assignment(section_id: int, assignment_id: int):
    state = sandbox_state()
    with state.lock:
        assignment = state.get_grade_item(section_id, assignment_id, "assignment")
        view = assignment_view(
            assignment,
            state.gradebook(section_id),
            links(),
            with_dropbox_stats=flag("with_dropbox_stats"),
        )
        return json_response(view)


@gradebook_api.put("/sections/<int:section_id>/assignments/<int:assignment_id>")
def update_assignment(section_id: int, assignment_id: int):
    state = sandbox_state()
    item = single_item(request_json(), "assignment")
    with state.lock:
        state.update_grade_item(section_id, assignment_id, item, "assignment")
    return empty_response()


@gradebook_api.delete("/sections/<int:section_id>/assignments/<int:assignment_id>")
def delete_assignment(section_id: int, assignment_id: int):
    state = sandbox_state()
    g.items = 1
    with state.lock:
        state.delete_grade_item(section_id, assignment_id, "assignment")
    return empty_response()


@gradebook_api.get("/sections/<int:section_id>/grade_items")
def list_grade_items(section_id: int):
    state = sandbox_state()
    with state.lock:
        gradebook = state.gradebook(section_id)
        rows = state.grade_item_records(section_id)
        return json_response(
            paged(
                "assignment",
                rows,
                lambda item: assignment_view(
                    item,
                    gradebook,
                    links(),
                    self_path=f"sections/{section_id}/grade_items/{item['id']}",
                ),
                total_as_number=True,
            )
        )


@gradebook_api.get("/sections/<int:section_id>/grade_items/<int:item_id>")
def get_grade_item(section_id: int, item_id: int):
    """Return one grade item of any type, the target of a grade item's `links.self`."""
    state = sandbox_state()
    with state.lock:
        item = state.get_grade_item(section_id, item_id)
        view = assignment_view(
            item, state.gradebook(section_id), links(), self_path=request.path.removeprefix("/v1/")
        )
        return json_response(view)


# -- grading categories ------------------------------------------------------------------------


def _category_key_fields(item) -> dict:
    return {"id": item_field(item, "id"), "title": item_field(item, "title")}


@gradebook_api.get("/sections/<int:section_id>/grading_categories")
def list_grading_categories(section_id: int):
    state = sandbox_state()
    with state.lock:
        rows = [grading_category_view(c) for c in state.grading_category_records(section_id)]
        return json_response(_unpaged("grading_category", rows))


@gradebook_api.post("/sections/<int:section_id>/grading_categories")
def create_grading_categories(section_id: int):
    state = sandbox_state()
    body = request_json()
    if isinstance(body, dict) and "grading_categories" in body:
        items = bulk_items(body, "grading_categories", "grading_category")

        def create(item) -> dict:
            return grading_category_created_view(state.create_grading_category(section_id, item))

        with state.lock:
            state.get_section(section_id)
            results = run_items(items, create, _category_key_fields)
        return json_response({"grading_category": results}, 207)

    item = single_item(body, "grading category")
    with state.lock:
        category = state.create_grading_category(section_id, item)
        return json_response(grading_category_view(category, detail=True), 201)


@gradebook_api.put("/sections/<int:section_id>/grading_categories")
def update_grading_categories(section_id: int):
    state = sandbox_state()
    items = bulk_items(request_json(), "grading_categories", "grading_category")

    def update(item) -> dict:
        raw_id = item_field(item, "id")
        if is_blank(raw_id):
            raise ApiError(400, "missing required field: id")
        category = state.update_grading_category(section_id, as_int(raw_id, "id"), item)
        return grading_category_updated_view(category, acting_uid())

    with state.lock:
        state.get_section(section_id)
        results = [
            # Schoology's documented bulk PUT gives each updated category response_code 204.
            {**result, "response_code": 204} if result["response_code"] == 200 else result
            for result in run_items(items, update, _category_key_fields)
        ]
    return json_response({"grading_category": results}, config().bulk_put_status)


@gradebook_api.get("/sections/<int:section_id>/grading_categories/<int:category_id>")
def get_grading_category(section_id: int, category_id: int):
    state = sandbox_state()
    with state.lock:
        category = state.get_grading_category(section_id, category_id)
        return json_response(grading_category_view(category, detail=True))


@gradebook_api.put("/sections/<int:section_id>/grading_categories/<int:category_id>")
def update_grading_category(section_id: int, category_id: int):
    """Update one category; Schoology documents a 200 with the category, not a 204."""
    state = sandbox_state()
    item = single_item(request_json(), "grading category")
    with state.lock:
        category = state.update_grading_category(section_id, category_id, item)
        return json_response(grading_category_updated_view(category, acting_uid()))


@gradebook_api.delete("/sections/<int:section_id>/grading_categories/<int:category_id>")
def delete_grading_category(section_id: int, category_id: int):
    state = sandbox_state()
    g.items = 1
    with state.lock:
        state.delete_grading_category(section_id, category_id)
    return empty_response()


# -- grading scales and grading periods --------------------------------------------------------


@gradebook_api.get("/sections/<int:section_id>/grading_scales")
def list_grading_scales(section_id: int):
    state = sandbox_state()
    with state.lock:
        rows = [grading_scale_view(s) for s in state.grading_scale_records(section_id)]
        return json_response(_unpaged("grading_scale", rows))


@gradebook_api.get("/sections/<int:section_id>/grading_periods")
def list_section_grading_periods(section_id: int):
    state = sandbox_state()
    with state.lock:
        weights = state.section_period_weights(section_id)
        rows = [
            section_grading_period_view(state.get_grading_period(period_id), weight)
            for period_id, weight in weights.items()
        ]
        return json_response(_unpaged("grading_period", rows))
