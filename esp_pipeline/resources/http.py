"""Signed HTTP with retries, shared by the eSchoolPLUS and Schoology clients.

Every attempt is signed anew (OAuth 1.0a nonces are single-use, so a resent header is a replay).
Retries follow one rule: a request is repeated only when repeating it cannot apply a change twice.
Reads and idempotent writes retry on transport errors, 429 and 5xx. A non-idempotent write retries
only on 429, which both vendors send before doing any work. Any other failure of such a write
raises WriteOutcomeUnknown, so that the caller reconciles against the target's state.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone
from urllib.parse import urlsplit

import requests
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth1
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

log = logging.getLogger(__name__)

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


class ApiError(Exception):
    """A request failed for good; carries the status (None for transport errors)."""

    def __init__(self, message: str, *, status: int | None = None, method: str = "", url: str = ""):
        super().__init__(message)
        self.status = status
        self.method = method
        self.url = url


class TransientError(ApiError):
    """A failure worth another attempt; `retry_after` is the server's requested wait in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class WriteOutcomeUnknown(ApiError):
    """A non-idempotent write failed in a way that leaves open whether the server applied it."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry: exponential backoff with jitter, capped."""

    max_attempts: int = 6
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    retry_after_max_seconds: float = 120.0


def redact_url(url: str) -> str:
    """Return scheme, host and path only: query strings may carry ids worth keeping out of logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def parse_retry_after(value: str | None) -> float | None:
    """Parse a `Retry-After` header given either as seconds or as an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def json_body(response: requests.Response) -> dict:
    """Return the response's JSON body, parsed once (reads were parsed when checked)."""
    if hasattr(response, "parsed_json"):
        return response.parsed_json
    return response.json() if response.content else {}


class ClientCredentialsAuth(requests.auth.AuthBase):
    """OAuth 2.0 client-credentials bearer auth that fetches a token and renews it on expiry.

    The token is fetched with the client credentials grant and kept until `renew_margin_seconds`
    before it expires. `invalidate()` drops it, so a 401 on an expired token costs one new token.
    """

    def __init__(self, token_url: str, client_id: str, client_secret: str,
                 scopes: Sequence[str] = (), timeout_seconds: float = 60.0,
                 renew_margin_seconds: float = 30.0) -> None:
        parts = urlsplit(token_url)
        if parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(
                f"OAuth 2.0 token URL {redact_url(token_url)} is not HTTPS; the client secret "
                "would travel in clear text. Use the https:// address from the API profile."
            )
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.scopes = list(scopes)
        self.timeout_seconds = timeout_seconds
        self.renew_margin_seconds = renew_margin_seconds
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def _bearer(self) -> str:
        with self._lock:
            if self._token is None or time.time() >= self._expires_at:
                client = BackendApplicationClient(client_id=self.client_id, scope=self.scopes)
                # oauthlib builds the request and checks the response, and requests sends it,
                # so that the loopback sandbox (plain HTTP) works as the real HTTPS host does.
                response = requests.post(
                    self.token_url,
                    data=client.prepare_request_body(scope=self.scopes or None),
                    auth=(self.client_id, self.client_secret),
                    headers={"Accept": "application/json"},
                    timeout=self.timeout_seconds,
                )
                if response.status_code != 200:
                    raise ApiError(
                        f"POST {redact_url(self.token_url)}: HTTP {response.status_code} for the "
                        f"OAuth 2.0 token. Response: {response.text[:300]}",
                        status=response.status_code, method="POST", url=self.token_url,
                    )
                token = client.parse_request_body_response(response.text, scope=self.scopes)
                lifetime = float(token.get("expires_in") or 3600)
                self._token = token["access_token"]
                margin = min(self.renew_margin_seconds, lifetime / 2)
                self._expires_at = time.time() + lifetime - margin
            return self._token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._bearer()}"
        return request


class SignedSession:
    """A requests session that signs each attempt with two-legged OAuth 1.0a."""

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: str,
        *,
        signature_method: str = "HMAC-SHA1",
        timeout_seconds: float = 60.0,
        retry_policy: RetryPolicy | None = None,
        default_headers: dict[str, str] | None = None,
        logger: logging.Logger | None = None,
        credentials_hint: str = "",
        auth: requests.auth.AuthBase | None = None,
    ) -> None:
        self._session = requests.Session()
        self._session.auth = auth or OAuth1(
            consumer_key, consumer_secret, signature_method=signature_method
        )
        self._session.headers.update(default_headers or {})
        self.timeout_seconds = timeout_seconds
        self.retry_policy = retry_policy or RetryPolicy()
        self.log = logger or log
        self.request_count = 0
        self.credentials_hint = credentials_hint
        self._renewed = False

    def close(self) -> None:
        self._session.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict | None = None,
        json: object | None = None,
        idempotent: bool,
        ok_statuses: frozenset[int] = frozenset({200, 201, 204, 207}),
        allow_statuses: frozenset[int] = frozenset(),
    ) -> requests.Response:
        """Send one logical request, retrying as the module docstring describes.

        Statuses in `allow_statuses` are returned to the caller instead of raising (for example
        303 or 404 when the caller handles them).
        """
        policy = self.retry_policy

        def should_retry(error: BaseException) -> bool:
            return isinstance(error, TransientError)

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            retry_after = getattr(error, "retry_after", None)
            if retry_after is not None:
                return min(retry_after, policy.retry_after_max_seconds)
            exponential = policy.backoff_initial_seconds * (2 ** (state.attempt_number - 1))
            return random.uniform(0, min(exponential, policy.backoff_max_seconds))

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            self.log.warning(
                "retrying %s %s after attempt %d: %s (waiting %.1f s)",
                method,
                redact_url(url),
                state.attempt_number,
                error,
                state.next_action.sleep if state.next_action else 0.0,
            )

        retrying = Retrying(
            stop=stop_after_attempt(policy.max_attempts),
            wait=wait,
            retry=retry_if_exception(should_retry),
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(
            self._attempt, method, url, params, json, idempotent, ok_statuses, allow_statuses
        )

    def _attempt(
        self,
        method: str,
        url: str,
        params: dict | None,
        json: object | None,
        idempotent: bool,
        ok_statuses: frozenset[int],
        allow_statuses: frozenset[int],
    ) -> requests.Response:
        self.request_count += 1
        where = f"{method} {redact_url(url)}"
        try:
            response = self._session.request(
                method,
                url,
                params=params,
                json=json,
                timeout=self.timeout_seconds,
                allow_redirects=False,
            )
        except requests.exceptions.ConnectTimeout as error:
            # The connection was never made, so nothing was sent: safe for every method.
            raise TransientError(f"{where}: connect timeout ({error})", method=method, url=url)
        except (
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ) as error:
            if idempotent:
                raise TransientError(f"{where}: {type(error).__name__}", method=method, url=url)
            raise WriteOutcomeUnknown(
                f"{where}: {type(error).__name__} after the request was sent; "
                "the server may or may not have applied it",
                method=method,
                url=url,
            ) from error

        status = response.status_code
        invalidate = getattr(self._session.auth, "invalidate", None)
        if status == 401 and invalidate is not None and not self._renewed:
            # A bearer token may have expired early; fetch a new one and try once more.
            invalidate()
            self._renewed = True
            raise TransientError(f"{where}: HTTP 401 with a bearer token; renewing it",
                                 status=status, method=method, url=url)
        self._renewed = False
        if status in ok_statuses or status in allow_statuses:
            if method == "GET" and status == 200:
                self._check_json(response, where)
            return response
        body = response.text[:300]
        if status == 429 or (idempotent and status in TRANSIENT_STATUSES):
            raise TransientError(
                f"{where}: HTTP {status}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                status=status,
                method=method,
                url=url,
            )
        if status in TRANSIENT_STATUSES:
            raise WriteOutcomeUnknown(
                f"{where}: HTTP {status} on a non-idempotent write; the server may have applied "
                f"part of it. Response: {body}",
                status=status,
                method=method,
                url=url,
            )
        hint = ""
        if status == 401 and self.credentials_hint:
            hint = f" The server rejected the credentials: {self.credentials_hint}."
        raise ApiError(
            f"{where}: HTTP {status}. Response: {body}{hint}",
            status=status,
            method=method,
            url=url,
        )

    @staticmethod
    def _check_json(response: requests.Response, where: str) -> None:
        """Treat a read whose JSON body is cut off as a transient failure worth a retry."""
        if not response.content:
            return
        try:
            response.parsed_json = response.json()
        except ValueError as error:
            raise TransientError(
                f"{where}: response body is not complete JSON ({error})",
                method="GET",
                url=response.url,
            ) from error


def session_for(resource, logger: logging.Logger | None, credentials_hint: str,
                auth: requests.auth.AuthBase | None = None) -> SignedSession:
    """Build the SignedSession a resource's fields describe (key, secret, method, limits)."""
    return SignedSession(
        resource.consumer_key,
        resource.consumer_secret,
        signature_method=resource.signature_method,
        timeout_seconds=resource.timeout_seconds,
        retry_policy=RetryPolicy(max_attempts=resource.max_attempts),
        default_headers={"Accept": "application/json"},
        logger=logger,
        credentials_hint=credentials_hint,
        auth=auth,
    )
