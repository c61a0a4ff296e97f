"""OAuth 2.0 client credentials for consumer profiles set to OAuth 2.0.

Built on oauthlib's `BackendApplicationServer`: oauthlib parses the token request, runs the
client credentials grant (RFC 6749 section 4.4), writes the token response and its errors,
and extracts bearer tokens (RFC 6750). The RequestValidator below supplies what oauthlib leaves
to the server. It authenticates clients (HTTP Basic or `client_id`/`client_secret` form fields),
decides which profiles may use the grant and which scopes each may request, and keeps an
in-memory token table whose entries expire after the configured lifetime. Scope checks per route happen in the app,
so that a missing scope can be told apart from a bad token (403 against 401).
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote_plus

from oauthlib.oauth2 import BackendApplicationServer, RequestValidator

from .config import ConsumerProfile


@dataclass(frozen=True)
class IssuedToken:
    consumer_key: str
    scopes: frozenset[str]
    expires_at: float


@dataclass(frozen=True)
class BearerCheck:
    """The outcome of checking a bearer token: the consumer and scopes, or why it failed."""

    ok: bool
    reason: str = ""
    consumer_key: str | None = None
    scopes: frozenset[str] = frozenset()


class _ProfileValidator(RequestValidator):
    """oauthlib callbacks backed by the sandbox's consumer profiles and token table."""

    def __init__(self, provider: "OAuth2Provider") -> None:
        self.provider = provider

    def client_authentication_required(self, request, *args, **kwargs) -> bool:
        return True

    def authenticate_client(self, request, *args, **kwargs) -> bool:
        candidates = _basic_credentials(request.headers.get("Authorization", ""))
        if not candidates:
            candidates = [(request.client_id, getattr(request, "client_secret", None))]
        for client_id, secret in candidates:
            profile = self.provider.profiles.get(client_id or "")
            if profile is not None and secret == profile.secret and profile.active:
                request.client = _Client(profile)
                request.client_id = profile.key
                return True
        return False

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs) -> bool:
        return grant_type == "client_credentials" and client.profile.auth_method == "oauth2"

    def get_default_scopes(self, client_id, request, *args, **kwargs) -> list[str]:
        return list(self.provider.profiles[client_id].scopes)

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs) -> bool:
        return set(scopes) <= set(client.profile.scopes)

    def save_bearer_token(self, token, request, *args, **kwargs) -> None:
        self.provider.save_token(
            token["access_token"], request.client_id, request.scopes, token["expires_in"]
        )

    def validate_bearer_token(self, token, scopes, request) -> bool:
        check = self.provider.lookup(token)
        request.bearer_check = check
        return check.ok


@dataclass(frozen=True)
class _Client:
    profile: ConsumerProfile

    @property
    def client_id(self) -> str:
        return self.profile.key


def _basic_credentials(header: str) -> list[tuple[str, str]]:
    """Decode `Authorization: Basic ...` into candidate (client id, secret) pairs.

    RFC 6749 section 2.3.1 form-encodes the id and secret before Base64, but many clients
    (requests' HTTPBasicAuth among them) send them raw, so both readings are returned.
    """
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return []
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return []
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        return []
    raw = (client_id, secret)
    form_decoded = (unquote_plus(client_id), unquote_plus(secret))
    return [raw] if raw == form_decoded else [raw, form_decoded]


class OAuth2Provider:
    """The token endpoint and bearer-token check for the OAuth 2.0 consumer profiles.

    `clock` returns the current time in seconds; tests may replace it to expire tokens.
    """

    def __init__(
        self,
        profiles: dict[str, ConsumerProfile],
        lifetime_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.profiles = profiles
        self.lifetime_seconds = lifetime_seconds
        self.clock = clock
        self._tokens: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()
        self.server = BackendApplicationServer(
            _ProfileValidator(self), token_expires_in=lifetime_seconds
        )

    def create_token_response(
        self, uri: str, body: str, headers: dict[str, str]
    ) -> tuple[dict, str, int]:
        """Handle a token request and return the response headers, JSON body and status."""
        return self.server.create_token_response(uri, "POST", body, headers)

    def verify(self, uri: str, method: str, headers: dict[str, str]) -> BearerCheck:
        """Check the request's bearer token."""
        _, request = self.server.verify_request(uri, method, None, headers, scopes=[])
        check = getattr(request, "bearer_check", None)
        if check is None:
            return BearerCheck(False, "missing or malformed bearer token")
        return check

    def save_token(self, token: str, consumer_key: str, scopes, expires_in: int) -> None:
        now = self.clock()
        with self._lock:
            # Drop expired tokens now and then so a long-running sandbox does not grow.
            if len(self._tokens) > 10_000:
                self._tokens = {k: v for k, v in self._tokens.items() if v.expires_at > now}
            self._tokens[token] = IssuedToken(consumer_key, frozenset(scopes), now + expires_in)

    def lookup(self, token: str) -> BearerCheck:
        """Return the consumer and scopes of a token, or why it is not valid."""
        with self._lock:
            issued = self._tokens.get(token)
        if issued is None:
            return BearerCheck(False, "unknown bearer token")
        if self.clock() >= issued.expires_at:
            return BearerCheck(False, "bearer token expired", issued.consumer_key)
        profile = self.profiles.get(issued.consumer_key)
        if profile is None or not profile.active:
            return BearerCheck(False, "consumer profile is inactive", issued.consumer_key)
        return BearerCheck(True, "", issued.consumer_key, issued.scopes)

    def expire_all(self) -> None:
        """Make every issued token expired, as if its lifetime had passed."""
        with self._lock:
            self._tokens = {
                token: IssuedToken(issued.consumer_key, issued.scopes, 0.0)
                for token, issued in self._tokens.items()
            }
