"""eSchoolPLUS (PLUS360 OneRoster 1.1) client and its Dagster resource."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import urljoin

import dagster as dg
from pydantic import Field

from esp_pipeline.resources.http import ApiError, RetryPolicy, SignedSession, json_body

log = logging.getLogger(__name__)


class OneRosterClient:
    """Read OneRoster collections with `limit`/`offset` paging."""

    def __init__(self, root_url: str, session: SignedSession, page_size: int = 1000) -> None:
        self.root_url = root_url.rstrip("/") + "/"
        self.session = session
        self.page_size = page_size

    def iter_collection(
        self, path: str, envelope: str, *, filter_expression: str | None = None
    ) -> Iterator[dict]:
        """Yield every record of a collection, page by page.

        Paging stops when the server's `X-Total-Count` is reached or a page comes back short;
        a page that repeats an id already seen is a server ordering fault and raises, because
        silently skipping it would lose records.
        """
        url = urljoin(self.root_url, path.lstrip("/"))
        offset = 0
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
            if total is not None and total.strip().isdigit():
                if offset >= int(total):
                    return
                if not page:
                    raise ApiError(
                        f"GET {path}: empty page at offset {offset} although X-Total-Count "
                        f"is {total}; the feed was cut short",
                        method="GET",
                        url=url,
                    )
            elif len(page) < self.page_size:
                return

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
        session = SignedSession(
            self.consumer_key,
            self.consumer_secret,
            signature_method=self.signature_method,
            timeout_seconds=self.timeout_seconds,
            retry_policy=RetryPolicy(max_attempts=self.max_attempts),
            default_headers={"Accept": "application/json"},
            logger=logger,
        )
        return OneRosterClient(self.base_url, session, self.page_size)
