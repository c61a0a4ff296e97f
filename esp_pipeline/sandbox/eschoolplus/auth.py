"""Request authentication per consumer profile: OAuth 1.0a signatures or OAuth 2.0 bearer tokens.

Each profile uses one method. OAuth 1.0a requests must be signed with the profile's single
signature method, and the signature covers the query string but not a JSON body. OAuth 2.0
requests carry a bearer token from the token endpoint. Either way the request gets the scopes of
its profile (OAuth 1.0a) or of its token (OAuth 2.0), which the app checks per route.
"""

from __future__ import annotations

from dataclasses import dataclass

from esp_pipeline.sandbox.oauth1 import Consumer, OAuth1Verifier

from .config import (
    GRADEBOOK_CREATEPUT,
    GRADEBOOK_DELETE,
    GRADEBOOK_READONLY,
    ROSTER_READONLY,
    ConsumerProfile,
    ESchoolPlusConfig,
)
from .oauth2 import OAuth2Provider


@dataclass(frozen=True)
class AuthResult:
    """The outcome of authenticating a request: its consumer and scopes, or the reason for a 401."""

    ok: bool
    reason: str = ""
    consumer_key: str | None = None
    scopes: frozenset[str] = frozenset()
    www_authenticate: str = 'OAuth realm="PLUS360"'


def required_scope(method: str, gradebook: bool) -> str:
    """Return the OneRoster 1.1 OAuth 2.0 scope a route needs."""
    if not gradebook:
        return ROSTER_READONLY
    if method in ("GET", "HEAD"):
        return GRADEBOOK_READONLY
    if method == "DELETE":
        return GRADEBOOK_DELETE
    return GRADEBOOK_CREATEPUT


class Authenticator:
    """Check requests against the consumer profiles of one sandbox."""

    def __init__(self, config: ESchoolPlusConfig) -> None:
        self.profiles: dict[str, ConsumerProfile] = {p.key: p for p in config.all_profiles()}
        self.oauth1 = OAuth1Verifier(
            consumers={
                p.key: Consumer(p.key, p.secret, signature_methods=(p.signature_method,))
                for p in self.profiles.values()
            },
            past_window_seconds=config.past_window_seconds,
            future_window_seconds=config.future_window_seconds,
            nonce_per_timestamp=config.nonce_per_timestamp,
        )
        self.oauth2 = OAuth2Provider(self.profiles, config.oauth2_token_lifetime_seconds)
        self.token_path = config.token_path

    def authenticate(self, uris: list[str], method: str, headers: dict[str, str]) -> AuthResult:
        """Check one request; `uris` lists the URLs an OAuth 1.0a client may have signed."""
        authorization = headers.get("Authorization", "")
        if authorization[:7].lower() == "bearer ":
            return self._authenticate_bearer(uris[0], method, headers)
        result = self.oauth1.verify(uris, method, headers)
        if not result.ok:
            return AuthResult(False, f"OAuth 1.0a check failed: {result.reason}", result.consumer_key)
        profile = self.profiles[result.consumer_key]
        if profile.auth_method != "oauth1":
            return AuthResult(
                False,
                f"consumer profile {profile.key} is set to OAuth 2.0; send a bearer token "
                f"from POST {self.token_path}",
                profile.key,
            )
        if not profile.active:
            return AuthResult(False, f"consumer profile {profile.key} is inactive", profile.key)
        return AuthResult(True, "", profile.key, frozenset(profile.scopes))

    def _authenticate_bearer(self, uri: str, method: str, headers: dict[str, str]) -> AuthResult:
        check = self.oauth2.verify(uri, method, headers)
        if not check.ok:
            return AuthResult(
                False,
                f"OAuth 2.0 check failed: {check.reason}",
                check.consumer_key,
                www_authenticate=(
                    f'Bearer realm="PLUS360", error="invalid_token", '
                    f'error_description="{check.reason}"'
                ),
            )
        return AuthResult(True, "", check.consumer_key, check.scopes)
