"""Gradebook routes: OneRoster 1.1 categories, lineItems and results, plus the 1.2 POST
collections that PLUS360 added in 21.4.18 (postLineItemsForClass, postLineItemsForSchool,
postResultsForLineItem)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Response, g, request

from .errors import ApiError, success_status_info_set
from .gradebook import CATEGORY, LINE_ITEM, RESULT
from .views import Views, json_response

if TYPE_CHECKING:
    from .app import ESchoolPlusSandbox

# The app recognises gradebook routes (for OAuth 2.0 scopes) by this blueprint name prefix.
GRADEBOOK_BLUEPRINT_PREFIX = "gradebook_"


def _json_body(envelope: str):
    """Return `body[envelope]` of the request's JSON body; raise ApiError 400 when absent."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or envelope not in body:
        raise ApiError(
            400, "invalid_data", f"the request body must be a JSON object with a {envelope!r} field"
        )
    return body[envelope]


def gradebook_blueprint(sandbox: "ESchoolPlusSandbox", views: Views) -> Blueprint:
    """Build the gradebook routes, to be mounted at `views.root`."""
    store = sandbox.store
    gradebook = sandbox.gradebook
    config = sandbox.config
    blueprint = Blueprint("gradebook", __name__)
    collection = views.collection
    single = views.single
    require = views.require

    def line_item_ids(class_id: str | None = None, school_id: str | None = None) -> list[str]:
        return [
            item.sourced_id
            for item in gradebook.line_items(class_id)
            if school_id is None or item.school_id == school_id
        ]

    def result_ids(line_item_ids_in: list[str] | None = None, student_id: str | None = None):
        wanted = None if line_item_ids_in is None else set(line_item_ids_in)
        return [
            result.sourced_id
            for result in gradebook.results(student_id=student_id)
            if wanted is None or result.line_item_id in wanted
        ]

    def is_school(org) -> bool:
        return org.type == "school"

    def deleted() -> Response:
        g.items = 1
        if config.delete_status == 204:
            return Response(status=204)
        return json_response(success_status_info_set("deleted"), 200)

    # --- categories ------------------------------------------------------------------------

    @blueprint.get("/categories")
    def get_all_categories():
        return collection(CATEGORY, lambda: sorted(gradebook.category_table), gradebook.category_table)

    @blueprint.get("/categories/<sourced_id>")
    def get_category(sourced_id):
        return single(CATEGORY, *views.get_one(gradebook.category_table, sourced_id, "categories"))

    # --- lineItems -------------------------------------------------------------------------

    @blueprint.get("/lineItems")
    def get_all_line_items():
        return collection(LINE_ITEM, line_item_ids, gradebook.line_item_table)

    @blueprint.get("/lineItems/<sourced_id>")
    def get_line_item(sourced_id):
        return single(LINE_ITEM, *views.get_one(gradebook.line_item_table, sourced_id, "lineItems"))

    @blueprint.get("/classes/<class_id>/lineItems")
    def get_line_items_for_class(class_id):
        require(store.classes, class_id, "classes")
        return collection(LINE_ITEM, lambda: line_item_ids(class_id), gradebook.line_item_table)

    @blueprint.get("/schools/<school_id>/lineItems")
    def get_line_items_for_school(school_id):
        require(store.orgs, school_id, "schools", is_school)
        return collection(
            LINE_ITEM, lambda: line_item_ids(school_id=school_id), gradebook.line_item_table
        )

    @blueprint.put("/lineItems/<sourced_id>")
    def put_line_item(sourced_id):
        body = _json_body("lineItem")
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_data", "lineItem must be a JSON object")
        item, created = gradebook.put_line_item(sourced_id, body)
        return single(LINE_ITEM, item, f"lineItems {sourced_id}", 201 if created else 200)

    @blueprint.delete("/lineItems/<sourced_id>")
    def delete_line_item(sourced_id):
        gradebook.delete_line_item(sourced_id)
        return deleted()

    @blueprint.post("/classes/<class_id>/lineItems")
    def post_line_items_for_class(class_id):
        require(store.classes, class_id, "classes")
        pairs = gradebook.post_line_items(_json_body("lineItems"), class_id=class_id)
        g.items = len(pairs)
        return json_response({"sourcedIdPairs": pairs}, 201)

    @blueprint.post("/schools/<school_id>/lineItems")
    def post_line_items_for_school(school_id):
        require(store.orgs, school_id, "schools", is_school)
        pairs = gradebook.post_line_items(_json_body("lineItems"), school_id=school_id)
        g.items = len(pairs)
        return json_response({"sourcedIdPairs": pairs}, 201)

    # --- results ---------------------------------------------------------------------------

    @blueprint.get("/results")
    def get_all_results():
        return collection(RESULT, result_ids, gradebook.result_table)

    @blueprint.get("/results/<sourced_id>")
    def get_result(sourced_id):
        return single(RESULT, *views.get_one(gradebook.result_table, sourced_id, "results"))

    @blueprint.get("/lineItems/<line_item_id>/results")
    def get_results_for_line_item(line_item_id):
        require(gradebook.line_item_table, line_item_id, "lineItems")
        return collection(RESULT, lambda: result_ids([line_item_id]), gradebook.result_table)

    @blueprint.get("/classes/<class_id>/lineItems/<line_item_id>/results")
    def get_results_for_line_item_for_class(class_id, line_item_id):
        require(store.classes, class_id, "classes")
        require(
            gradebook.line_item_table, line_item_id, f"classes/{class_id}/lineItems",
            lambda item: item.class_id == class_id,
        )
        return collection(RESULT, lambda: result_ids([line_item_id]), gradebook.result_table)

    @blueprint.get("/classes/<class_id>/results")
    def get_results_for_class(class_id):
        require(store.classes, class_id, "classes")
        return collection(
            RESULT, lambda: result_ids(line_item_ids(class_id)), gradebook.result_table
        )

    @blueprint.get("/classes/<class_id>/students/<student_id>/results")
    def get_results_for_student_for_class(class_id, student_id):
        require(store.classes, class_id, "classes")
        student_id = store.strip_user_id(student_id)
        require(store.users, student_id, "students", lambda user: user.role == "student")
        return collection(
            RESULT,
            lambda: result_ids(line_item_ids(class_id), student_id),
            gradebook.result_table,
        )

    @blueprint.put("/results/<sourced_id>")
    def put_result(sourced_id):
        body = _json_body("result")
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_data", "result must be a JSON object")
        result, created = gradebook.put_result(sourced_id, body)
        return single(RESULT, result, f"results {sourced_id}", 201 if created else 200)

    @blueprint.delete("/results/<sourced_id>")
    def delete_result(sourced_id):
        gradebook.delete_result(sourced_id)
        return deleted()

    @blueprint.post("/lineItems/<line_item_id>/results")
    def post_results_for_line_item(line_item_id):
        require(gradebook.line_item_table, line_item_id, "lineItems")
        pairs = gradebook.post_results(line_item_id, _json_body("results"))
        g.items = len(pairs)
        return json_response({"sourcedIdPairs": pairs}, 201)

    return blueprint
