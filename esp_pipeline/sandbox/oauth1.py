"""Two-legged OAuth 1.0a request verification shared by both sandbox servers.

Signature maths comes from oauthlib (RFC 5849); this module adds what the vendors layer on top:
per-consumer signature methods, a timestamp window, single-use nonces, timestamps that must not
go backwards (Schoology), and a reason string for every rejection so tests can tell a replay from
a bad signature.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from oauthlib.common import Request
from oauthlib.oauth1 import RequestValidator
from oauthlib.oauth1.rfc5849 import errors, signature
from oauthlib.oauth1.rfc5849.endpoints.base import BaseEndpoint

REPLAY_MESSAGE = "Duplicate timestamp/nonce combination, possible replay attack. Request rejected."


@dataclass
class Consumer:
    """One API consumer: key, secret and the signature methods its profile accepts."""

    key: str
    secret: str
    signature_methods: tuple[str, ...] = ("HMAC-SHA1",)


@dataclass
class VerifyResult:
    ok: bool
    reason: str = ""
    consumer_key: str | None = None


class _PermissiveValidator(RequestValidator):
    """Validator whose format checks accept every real client we have seen.

    oauthlib's defaults demand 20-30 character nonces and HTTPS; schoolopy sends 8-digit nonces
    and the sandboxes serve plain HTTP on loopback, so both checks are relaxed here. The replay
    and key checks live in OAuth1Verifier instead.
    """

    enforce_ssl = False

    @property
    def allowed_signature_methods(self):
        return ("HMAC-SHA1", "HMAC-SHA256", "PLAINTEXT")

    def check_client_key(self, client_key):
        return 0 < len(client_key) <= 200

    def check_nonce(self, nonce):
        return 0 < len(nonce) <= 200

    @property
    def timestamp_lifetime(self):
        # The window is enforced by OAuth1Verifier with its own configurable limits.
        return 10**10


@dataclass
class OAuth1Verifier:
    """Verify `Authorization: OAuth ...` headers against a set of consumers.

    `past_window_seconds` and `future_window_seconds` bound the clock skew accepted;
    `monotonic_timestamps` rejects a timestamp older than the newest one already seen for the
    same key, as Schoology documents.
    """

    consumers: dict[str, Consumer]
    past_window_seconds: int = 600
    future_window_seconds: int = 300
    monotonic_timestamps: bool = False
    # False: a nonce is single-use per consumer whatever the timestamp, as eSchoolPLUS logs every
    # nonce. True: only the nonce and timestamp pair is single-use (RFC 5849 allows either).
    nonce_per_timestamp: bool = True
    nonce_memory_seconds: int = 5400
    _seen: dict[tuple[str, str, str], float] = field(default_factory=dict)
    _latest_timestamp: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._endpoint = BaseEndpoint(_PermissiveValidator())

    def verify(self, uris: list[str], method: str, headers: dict[str, str]) -> VerifyResult:
        """Check one request; `uris` lists the URLs the client may have signed.

        More than one URL is accepted because a client may address the sandbox as
        `127.0.0.1:port` while sending `Host: api.schoology.com`, as schoolopy does.
        """
        headers = {
            name: value.decode() if isinstance(value, bytes) else value
            for name, value in headers.items()
        }
        if not headers.get("Authorization", "").startswith("OAuth "):
            return VerifyResult(False, "missing OAuth Authorization header")
        try:
            request = self._endpoint._create_request(uris[0], method, "", headers)
            self._endpoint._check_mandatory_parameters(request)
        except errors.OAuth1Error as err:
            return VerifyResult(False, f"invalid OAuth request: {err.description}")

        consumer = self.consumers.get(request.client_key)
        if consumer is None:
            return VerifyResult(False, "unknown consumer key")
        if request.signature_method not in consumer.signature_methods:
            allowed = ", ".join(consumer.signature_methods)
            return VerifyResult(
                False,
                f"signature method {request.signature_method} is not enabled for this consumer "
                f"(allowed: {allowed})",
                consumer.key,
            )
        timestamp = int(request.timestamp)
        now = time.time()
        if timestamp < now - self.past_window_seconds or timestamp > now + self.future_window_seconds:
            return VerifyResult(False, "stale or future oauth_timestamp", consumer.key)

        # A seen nonce is rejected before the signature is checked, so a client that follows a
        # redirect with its old header gets the replay message, as from Schoology, rather than
        # "invalid signature" for the new URL.
        nonce_key = (
            consumer.key, request.timestamp if self.nonce_per_timestamp else "", request.nonce
        )
        with self._lock:
            if nonce_key in self._seen:
                return VerifyResult(False, REPLAY_MESSAGE, consumer.key)

        if not any(self._signature_matches(uri, method, headers, consumer) for uri in uris):
            return VerifyResult(False, "invalid signature", consumer.key)

        with self._lock:
            self._forget_old_nonces(now)
            if nonce_key in self._seen:
                return VerifyResult(False, REPLAY_MESSAGE, consumer.key)
            latest = self._latest_timestamp.get(consumer.key, 0)
            if self.monotonic_timestamps and timestamp < latest:
                return VerifyResult(
                    False, "oauth_timestamp is earlier than a previous request's", consumer.key
                )
            self._seen[nonce_key] = now
            self._latest_timestamp[consumer.key] = max(latest, timestamp)
        return VerifyResult(True, "", consumer.key)

    def _signature_matches(
        self, uri: str, method: str, headers: dict[str, str], consumer: Consumer
    ) -> bool:
        request = self._endpoint._create_request(uri, method, "", headers)
        method_name = request.signature_method
        if method_name == "PLAINTEXT":
            return signature.verify_plaintext(request, consumer.secret, None)
        if method_name == "HMAC-SHA1":
            return signature.verify_hmac_sha1(request, consumer.secret, None)
        if method_name == "HMAC-SHA256":
            return signature.verify_hmac_sha256(request, consumer.secret, None)
        return False

    def _forget_old_nonces(self, now: float) -> None:
        if len(self._seen) < 50_000:
            return
        cutoff = now - self.nonce_memory_seconds
        self._seen = {key: seen_at for key, seen_at in self._seen.items() if seen_at >= cutoff}


def request_uris(url: str, host_header: str | None, scheme: str = "http") -> list[str]:
    """Return the URL as received plus the same path under the `Host` header's name."""
    uris = [url]
    if host_header:
        _, _, rest = url.partition("://")
        path = rest[rest.find("/") :] if "/" in rest else "/"
        for candidate_scheme in (scheme, "https"):
            candidate = f"{candidate_scheme}://{host_header}{path}"
            if candidate not in uris:
                uris.append(candidate)
    return uris


__all__ = ["Consumer", "OAuth1Verifier", "REPLAY_MESSAGE", "Request", "VerifyResult", "request_uris"]
