"""Routes for schools, buildings and roles."""

from __future__ import annotations

from flask import Blueprint

from .protocol import json_response, links, paged, sandbox_state
from .views import place_view, role_view

org_api = Blueprint("schoology_org", __name__)


@org_api.get("/schools")
def list_schools():
    state = sandbox_state()
    with state.lock:
        envelope = paged("school", [state.school_record], lambda s: place_view(s, links()))
        return json_response(envelope)


@org_api.get("/schools/<int:school_id>")
def get_school(school_id: int):
    """Return the school or one of its buildings, which Schoology addresses the same way."""
    state = sandbox_state()
    with state.lock:
        return json_response(place_view(state.school_or_building(school_id), links()))


@org_api.get("/schools/<int:school_id>/buildings")
def list_buildings(school_id: int):
    state = sandbox_state()
    with state.lock:
        place = state.school_or_building(school_id)
        rows = state.building_records() if place is state.school_record else []
        return json_response(paged("building", rows, lambda b: place_view(b, links())))


@org_api.get("/roles")
def list_roles():
    state = sandbox_state()
    with state.lock:
        return json_response(paged("role", state.role_records(), lambda r: role_view(r, links())))


@org_api.get("/roles/<int:role_id>")
def get_role(role_id: int):
    state = sandbox_state()
    with state.lock:
        return json_response(role_view(state.get_role(role_id), links()))
