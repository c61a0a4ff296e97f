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
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone
from urllib.parse import urlsplit

import requests
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
    ) -> None:
        self._session = requests.Session()
        self._session.auth = OAuth1(
            consumer_key, consumer_secret, signature_method=signature_method
        )
        self._session.headers.update(default_headers or {})
        self.timeout_seconds = timeout_seconds
        self.retry_policy = retry_policy or RetryPolicy()
        self.log = logger or log
        self.request_count = 0
        self.credentials_hint = credentials_hint

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


def session_for(resource, logger: logging.Logger | None, credentials_hint: str) -> SignedSession:
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
    )
