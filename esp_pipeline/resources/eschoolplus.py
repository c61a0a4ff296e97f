"""eSchoolPLUS (PLUS360 OneRoster 1.1) client and its Dagster resource."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import urljoin

import dagster as dg
from pydantic import Field

from esp_pipeline.resources.http import ApiError, SignedSession, json_body, session_for

log = logging.getLogger(__name__)


class OneRosterClient:
    """Read OneRoster collections with `limit`/`offset` paging."""

    def __init__(
        self, root_url: str, session: SignedSession, page_size: int = 1000, max_empty_pages: int = 3
    ) -> None:
        self.root_url = root_url.rstrip("/") + "/"
        self.session = session
        self.page_size = page_size
        self.max_empty_pages = max_empty_pages

    def iter_collection(
        self, path: str, envelope: str, *, filter_expression: str | None = None
    ) -> Iterator[dict]:
        """Yield every record of a collection, page by page.

        Paging stops when the server's `X-Total-Count` is reached (or, without that header, at a
        short page). A page that repeats an id already seen is a server ordering fault and
        raises, because silently skipping it would lose records.
        """
        url = urljoin(self.root_url, path.lstrip("/"))
        offset = 0
        empty_pages = 0
        seen: set[str] = set()
        while True:
            params = {"limit": self.page_size, "offset": offset}
            if filter_expression:
                params["filter"] = filter_expression
            response = self.session.request("GET", url, params=params, idempotent=True)
            body = json_body(response)
            if envelope not in body:
                raise ApiError(
                    f"GET {path}: response has no '{envelope}' array; keys were {sorted(body)}",
                    status=response.status_code,
                    method="GET",
                    url=url,
                )
            page = body[envelope] or []
            for record in page:
                sourced_id = record.get("sourcedId")
                if sourced_id in seen:
                    raise ApiError(
                        f"GET {path}: record {sourced_id} appeared on two pages "
                        f"(offset {offset}); the server's order is unstable",
                        method="GET",
                        url=url,
                    )
                seen.add(sourced_id)
                yield record
            offset += len(page)
            total = response.headers.get("X-Total-Count")
            if total is None or not total.strip().isdigit():
                if len(page) < self.page_size:
                    return
                continue
            if offset >= int(total):
                return
            # A short page only moves the offset on. An empty page before the total is reached is
            # requested again and then reported, because stopping there would lose records.
            empty_pages = empty_pages + 1 if not page else 0
            if empty_pages > self.max_empty_pages:
                raise ApiError(
                    f"GET {path}: {empty_pages} empty pages at offset {offset} although "
                    f"X-Total-Count is {total}; the feed was cut short",
                    method="GET",
                    url=url,
                )

    def get_all(self, path: str, envelope: str, **kwargs) -> list[dict]:
        return list(self.iter_collection(path, envelope, **kwargs))


class ESchoolPlusResource(dg.ConfigurableResource):
    """Connection to the eSchoolPLUS PLUS360 OneRoster 1.1 API (two-legged OAuth 1.0a)."""

    base_url: str = Field(
        description=(
            "OneRoster 1.1 root URL, for example "
            "https://hac.district.org/plus360api/v1/CODE/ims/oneroster/v1p1"
        )
    )
    consumer_key: str = Field(description="API profile consumer key.")
    consumer_secret: str = Field(description="API profile consumer secret.")
    signature_method: str = Field(
        default="HMAC-SHA1", description="HMAC-SHA1 (eSchoolPLUS default) or HMAC-SHA256."
    )
    page_size: int = Field(default=1000, description="Records per page (the `limit` parameter).")
    timeout_seconds: float = Field(default=60.0, description="Per-request timeout in seconds.")
    max_attempts: int = Field(default=6, description="Attempts per request before giving up.")

    def get_client(self, logger: logging.Logger | None = None) -> OneRosterClient:
        session = session_for(
            self,
            logger,
            (
                "check ESCHOOLPLUS_CONSUMER_KEY, ESCHOOLPLUS_CONSUMER_SECRET and "
                "ESCHOOLPLUS_SIGNATURE_METHOD (or the resource config) and the server clock"
            ),
        )
        return OneRosterClient(self.base_url, session, self.page_size)
