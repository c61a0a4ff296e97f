"""eSchoolPLUS (PLUS360 OneRoster 1.1) client and its Dagster resource."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import urljoin

import dagster as dg
from pydantic import Field

from esp_pipeline.resources.http import (
    ApiError,
    ClientCredentialsAuth,
    SignedSession,
    json_body,
    session_for,
)

# OneRoster 1.1 scope that rostering reads need when the profile uses OAuth 2.0.
ROSTER_READONLY_SCOPE = "https://purl.imsglobal.org/spec/or/v1p1/scope/roster.readonly"

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
    auth_method: str = Field(
        default="oauth1",
        description="oauth1 (signed requests, the eSchoolPLUS default) or oauth2 (client "
        "credentials bearer token), as the API profile is set.",
    )
    token_url: str = Field(
        default="",
        description="OAuth 2.0 token endpoint from the profile's integration details; only for "
        "auth_method oauth2.",
    )
    scopes: list[str] = Field(
        default_factory=lambda: [ROSTER_READONLY_SCOPE],
        description="OAuth 2.0 scopes to request; only for auth_method oauth2.",
    )

    def get_client(self, logger: logging.Logger | None = None) -> OneRosterClient:
        auth = None
        if self.auth_method == "oauth2":
            if not self.token_url:
                raise ValueError(
                    "eschoolplus resource: auth_method is oauth2 but token_url is empty; set "
                    "ESCHOOLPLUS_TOKEN_URL to the token endpoint from the API profile"
                )
            auth = ClientCredentialsAuth(self.token_url, self.consumer_key,
                                         self.consumer_secret, self.scopes, self.timeout_seconds)
        elif self.auth_method != "oauth1":
            raise ValueError(
                f"eschoolplus resource: auth_method {self.auth_method!r} is invalid; use oauth1 "
                "or oauth2"
            )
        session = session_for(
            self,
            logger,
            (
                "check ESCHOOLPLUS_CONSUMER_KEY, ESCHOOLPLUS_CONSUMER_SECRET and "
                "ESCHOOLPLUS_SIGNATURE_METHOD (or the resource config) and the server clock"
            ),
            auth,
        )
        return OneRosterClient(self.base_url, session, self.page_size)
