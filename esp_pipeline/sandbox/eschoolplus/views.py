"""Response helpers shared by the rostering and gradebook routes."""

from __future__ import annotations

import json
from collections.abc import Callable

from flask import Response, g, request

from .config import ESchoolPlusConfig
from .errors import ApiError, status_info_set
from .paging import Page, link_header, parse_page
from .query import CollectionQuery, parse_fields
from .resources import Resource, render
from .store import RosterStore


def json_response(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        headers=headers,
        mimetype="application/json",
    )


def error_response(error: ApiError, headers: dict | None = None) -> Response:
    body = status_info_set(error.code_minor, error.description, error.details)
    return json_response(body, error.status, headers)


class Views:
    """Collection and single-object responses for the resources mounted at one root."""

    def __init__(self, store: RosterStore, config: ESchoolPlusConfig, root: str) -> None:
        self.store = store
        self.config = config
        self.root = root

    def base_url(self) -> str:
        return request.host_url.rstrip("/") + self.root

    def collection(self, resource: Resource, ids: Callable[[], list[str]], table: dict) -> Response:
        """Build a collection response: filter, sort, page and select fields of `table[ids()]`."""
        page: Page = parse_page(request.args, self.config)
        store = self.store
        with store.lock:
            query = CollectionQuery.from_args(request.args, resource, store)
            records = query.run([table[i] for i in ids()])
            total = len(records)
            selected = records[page.offset : page.offset + page.limit]
            items = [resource.payload(r, store, query.fields) for r in selected]
        g.items = len(items)
        body = {resource.collection: render(items, self.base_url())}
        headers = {"X-Total-Count": str(total)}
        links = link_header(request.base_url, request.args, page, total)
        if links:
            headers["Link"] = links
        return json_response(body, headers=headers)

    def single(self, resource: Resource, record, label: str, status: int = 200) -> Response:
        """Build a response with one object in its singular envelope; raise ApiError 404 when
        `record` is None."""
        if record is None:
            raise ApiError(404, "unknownobject", f"{label} not found")
        fields = parse_fields(request.args, resource)
        with self.store.lock:
            payload = resource.payload(record, self.store, fields)
        g.items = 1
        return json_response({resource.singular: render(payload, self.base_url())}, status)

    @staticmethod
    def require(table: dict, sourced_id: str, label: str, kind_check=None):
        """Return `table[sourced_id]`; raise ApiError 404 when it is missing or of the wrong kind."""
        record = table.get(sourced_id)
        if record is None or (kind_check is not None and not kind_check(record)):
            raise ApiError(404, "unknownobject", f"{label} {sourced_id} not found")
        return record

    @staticmethod
    def get_one(table: dict, sourced_id: str, label: str, kind_check=None):
        record = table.get(sourced_id)
        if record is not None and kind_check is not None and not kind_check(record):
            record = None
        return record, f"{label} {sourced_id}"
