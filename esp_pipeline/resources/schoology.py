"""Schoology REST API v1 client and its Dagster resource."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin

import dagster as dg
from pydantic import Field

from esp_pipeline.resources.http import (
    ApiError,
    SignedSession,
    WriteOutcomeUnknown,
    json_body,
    session_for,
)

log = logging.getLogger(__name__)

# Schoology rejects a bulk call of more than 50 items as a whole.
MAX_BULK_ITEMS = 50
# Schoology caps a page at 200 rows whatever `limit` requests.
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class BulkItemResult:
    """Outcome of one item of a bulk call, in the order the items were sent."""

    item: dict
    response_code: int
    body: dict

    @property
    def ok(self) -> bool:
        return 200 <= self.response_code < 300

    @property
    def message(self) -> str:
        return str(self.body.get("message") or self.body.get("error") or "")


def as_int(value: object) -> int | None:
    """Schoology sends ids and counts as numbers or strings; return an int or None."""
    if value is None or value == "":
        return None
    return int(value)


def nested(body: dict, keys: Sequence[str]) -> list:
    """Return the list at `keys` in a response body; a missing key means an empty list."""
    value: object = body
    for key in keys:
        if not isinstance(value, dict):
            return []
        value = value.get(key)
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    return list(value)


class SchoologyClient:
    """Paged reads and chunked bulk writes against Schoology's `/v1` API."""

    def __init__(
        self, base_url: str, session: SignedSession, page_size: int = 200, max_rereads: int = 3
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.session = session
        self.page_size = min(page_size, MAX_PAGE_SIZE)
        self.max_rereads = max_rereads

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path.lstrip("/"))

    def get(self, path: str, params: dict | None = None) -> dict:
        """GET one resource; a 303 is followed by a freshly signed GET, never a resent header."""
        url = self.url(path)
        for _ in range(3):
            response = self.session.request(
                "GET", url, params=params, idempotent=True, allow_statuses=frozenset({303})
            )
            if response.status_code != 303:
                return json_body(response)
            url = urljoin(url, response.headers["Location"])
            params = None
        raise ApiError(f"GET {path}: too many redirects", method="GET", url=url)

    def iter_pages(self, path: str, key: str, params: dict | None = None) -> Iterator[dict]:
        """Yield every row of a collection once, following `links.next` until it is absent.

        When the envelope carries `total`, the rows read are counted against it and the whole
        collection is read again (up to `max_rereads` times) if a page came back short, so a cut
        feed never passes for a complete one.
        """
        for attempt in range(self.max_rereads + 1):
            rows, total = self._read_pages(path, key, params)
            if total is None or len(rows) >= total:
                yield from rows
                return
            self.session.log.warning(
                "GET %s returned %d of %d rows; reading it again (attempt %d)",
                path, len(rows), total, attempt + 1,
            )
        raise ApiError(
            f"GET {path}: read {len(rows)} rows but Schoology reports total {total} after "
            f"{self.max_rereads + 1} attempts; the feed is incomplete",
            method="GET",
            url=self.url(path),
        )

    def _read_pages(self, path: str, key: str, params: dict | None) -> tuple[list[dict], int | None]:
        url: str | None = self.url(path)
        query = {"start": 0, "limit": self.page_size, **(params or {})}
        rows: dict[object, dict] = {}
        anonymous: list[dict] = []
        total: int | None = None
        while url:
            response = self.session.request("GET", url, params=query, idempotent=True)
            body = json_body(response)
            page = nested(body, (key,))
            for row in page:
                row_id = row.get("id")
                if row_id is None:
                    anonymous.append(row)
                else:
                    rows[str(row_id)] = row
            if body.get("total") not in (None, ""):
                total = as_int(body["total"])
            url = (body.get("links") or {}).get("next")
            query = None
            if not page:
                break
        return [*rows.values(), *anonymous], total

    def bulk(
        self,
        method: str,
        path: str,
        items: Sequence[dict],
        *,
        request_keys: Sequence[str],
        response_keys: Sequence[str],
        params: dict | None = None,
        idempotent: bool,
    ) -> Iterator[BulkItemResult]:
        """Send `items` in chunks of 50 and yield one result per item, in input order.

        `request_keys` wrap the items, e.g. ("users", "user") for `{"users": {"user": [...]}}`.
        A 207 response is not a success by itself: each item carries its own `response_code`.
        """
        for start in range(0, len(items), MAX_BULK_ITEMS):
            chunk = list(items[start : start + MAX_BULK_ITEMS])
            body: object = chunk
            for key in reversed(request_keys):
                body = {key: body}
            response = self.session.request(
                method, self.url(path), params=params, json=body, idempotent=idempotent
            )
            yield from self._item_results(
                method, path, chunk, self._write_body(method, path, response), response_keys
            )

    def bulk_delete(
        self, path: str, id_param: str, ids: Sequence[str], *, response_keys: Sequence[str],
        params: dict | None = None,
    ) -> Iterator[BulkItemResult]:
        """Delete by id list in the query string, 50 ids per call."""
        for start in range(0, len(ids), MAX_BULK_ITEMS):
            chunk = [str(i) for i in ids[start : start + MAX_BULK_ITEMS]]
            query = {**(params or {}), id_param: ",".join(chunk)}
            response = self.session.request("DELETE", self.url(path), params=query, idempotent=True)
            items = [{"id": i} for i in chunk]
            yield from self._item_results(
                "DELETE", path, items, self._write_body("DELETE", path, response), response_keys
            )

    def _write_body(self, method: str, path: str, response) -> dict:
        """Parse a write's response; a body cut off leaves the write's outcome unknown."""
        try:
            return json_body(response)
        except ValueError as error:
            raise WriteOutcomeUnknown(
                f"{method} {path}: the response to a write is not complete JSON ({error}); "
                "the server may have applied it",
                status=response.status_code,
                method=method,
                url=self.url(path),
            ) from error

    def _item_results(
        self, method: str, path: str, chunk: list[dict], body: dict, response_keys: Sequence[str]
    ) -> Iterator[BulkItemResult]:
        results = nested(body, response_keys)
        if len(results) != len(chunk):
            raise ApiError(
                f"{method} {path}: sent {len(chunk)} items but the response lists {len(results)}",
                method=method,
                url=self.url(path),
            )
        for item, result in zip(chunk, results):
            yield BulkItemResult(item, as_int(result.get("response_code")) or 0, result)


class SchoologyResource(dg.ConfigurableResource):
    """Connection to Schoology REST API v1 with a district system-admin API key."""

    base_url: str = Field(
        default="https://api.schoology.com/v1", description="API root, ending in /v1."
    )
    consumer_key: str = Field(description="Two-legged OAuth consumer key.")
    consumer_secret: str = Field(description="Two-legged OAuth consumer secret.")
    signature_method: str = Field(default="HMAC-SHA1", description="HMAC-SHA1 or PLAINTEXT.")
    page_size: int = Field(default=200, description="Rows per page; Schoology caps it at 200.")
    timeout_seconds: float = Field(default=60.0, description="Per-request timeout in seconds.")
    max_attempts: int = Field(default=6, description="Attempts per request before giving up.")

    def get_client(self, logger: logging.Logger | None = None) -> SchoologyClient:
        session = session_for(
            self,
            logger,
            (
                "check SCHOOLOGY_CONSUMER_KEY, SCHOOLOGY_CONSUMER_SECRET "
                "(or the resource config) and the server clock"
            ),
        )
        return SchoologyClient(self.base_url, session, self.page_size)
