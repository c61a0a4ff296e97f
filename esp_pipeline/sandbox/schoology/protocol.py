"""HTTP conventions shared by all routes: errors, paging envelopes and bulk bodies."""

from __future__ import annotations

import logging
from typing import Any, Callable
from urllib.parse import urlencode

from flask import Response, current_app, g, json, request

from .config import SchoologyConfig
from .errors import ApiError
from .values import as_int, query_flag, split_csv
from .views import Links

log = logging.getLogger(__name__)


def config() -> SchoologyConfig:
    return current_app.config["SCHOOLOGY_CONFIG"]


def links() -> Links:
    """Build links from `link_base_url`, else from the request's scheme and Host header."""
    base = config().link_base_url or request.host_url
    return Links(base)


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def error_response(status: int, message: str) -> Response:
    return json_response({"response_code": status, "message": message}, status)


def empty_response(status: int = 204) -> Response:
    return Response(b"", status=status)


def request_json() -> Any:
    """Return the parsed JSON body; an empty body reads as None and invalid JSON is a 400."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as err:
        raise ApiError(400, f"invalid JSON body: {err}") from None


def flag(name: str) -> bool:
    return query_flag(request.args.get(name))


def query_list(name: str, *, max_items: int | None = None) -> list[str]:
    """Read a comma-separated query parameter and count it as the request's items."""
    values = split_csv(request.args.get(name))
    g.items = len(values)
    limit = config().max_bulk_items if max_items is None else max_items
    if len(values) > limit:
        raise ApiError(
            config().too_many_items_status,
            f"too many values in {name}: {len(values)}, at most {limit} per request",
        )
    return values


def query_id_list(name: str) -> list[int]:
    return [as_int(value, name) for value in query_list(name)]


def bulk_items(body: Any, plural: str, singular: str) -> list[Any]:
    """Unwrap `{plural: {singular: [...]}}`, count the items and enforce the item limit."""
    wrapper = body.get(plural) if isinstance(body, dict) else None
    items = wrapper.get(singular) if isinstance(wrapper, dict) else None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise ApiError(400, f'invalid bulk body: expected {{"{plural}": {{"{singular}": [...]}}}}')
    g.items = len(items)
    if not items:
        raise ApiError(400, f"invalid bulk body: {plural}.{singular} is empty")
    limit = config().max_bulk_items
    if len(items) > limit:
        raise ApiError(
            config().too_many_items_status,
            f"too many items: {len(items)} {singular} objects, at most {limit} per request",
        )
    return items


def single_item(body: Any, kind: str) -> dict:
    if not isinstance(body, dict):
        raise ApiError(400, f"invalid body: expected a JSON object describing one {kind}")
    g.items = 1
    return body


def run_items(
    items: list[Any], handle: Callable[[Any], dict], key_fields: Callable[[Any], dict]
) -> list[dict]:
    """Run `handle` on every bulk item and collect one result per item, in input order.

    A successful item gets response_code 200 plus what `handle` returns. A failed one gets its
    error status and message next to the identifying fields that `key_fields` copies from the
    input, so the caller can tell which input failed.
    """
    results = []
    for item in items:
        try:
            results.append({"response_code": 200, **handle(item)})
        except ApiError as err:
            log.debug(
                "bulk item of %s %s failed with %s: %s",
                request.method,
                request.path,
                err.status,
                err.message,
            )
            results.append(
                {"response_code": err.status, **key_fields(item), "message": err.message}
            )
    return results


def item_field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else None


def page_bounds() -> tuple[int, int]:
    """Read start and limit; a limit above the maximum is capped without an error."""
    cfg = config()
    start = request.args.get("start", "0")
    limit = request.args.get("limit", "")
    start_number = as_int(start or "0", "start")
    if start_number < 0:
        raise ApiError(400, f"invalid start {start!r}: expected a non-negative integer")
    limit_number = as_int(limit, "limit") if limit.strip() else cfg.default_page_size
    if limit_number <= 0:
        limit_number = cfg.default_page_size
    return start_number, min(limit_number, cfg.max_page_size)


def page_url(start: int, limit: int) -> str:
    """Return the absolute URL of this request with start and limit replaced."""
    params = [(k, v) for k, v in request.args.items(multi=True) if k not in ("start", "limit")]
    params += [("start", str(start)), ("limit", str(limit))]
    return links().base_url + request.path + "?" + urlencode(params, safe=",")


def paged(
    key: str, rows: list[Any], shape: Callable[[Any], dict], total_as_number: bool = False
) -> dict:
    """Build a list envelope: the page of `rows` under `key`, `total` and `links`.

    `links.next` appears only while rows remain after this page. `total` is a string as on most
    Schoology collections, unless `total_as_number`.
    """
    start, limit = page_bounds()
    page = rows[start : start + limit]
    envelope: dict[str, Any] = {}
    if page or not config().omit_key_on_empty_page:
        envelope[key] = [shape(row) for row in page]
    envelope["total"] = len(rows) if total_as_number else str(len(rows))
    envelope["links"] = {"self": page_url(start, limit)}
    if start + limit < len(rows):
        envelope["links"]["next"] = page_url(start + limit, limit)
    return envelope


def sandbox_state():
    """Return the SchoologyState of the app serving this request."""
    return current_app.extensions["schoology_sandbox"].state


def acting_uid() -> int:
    """Return the user the request acts as: the X-Schoology-Run-As user or the key's owner."""
    run_as = getattr(g, "run_as_uid", None)
    return run_as if run_as is not None else sandbox_state().admin_uid
