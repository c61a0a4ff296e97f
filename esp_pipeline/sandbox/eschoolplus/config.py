"""Settings for the eSchoolPLUS (PLUS360 OneRoster 1.1) sandbox."""

from __future__ import annotations

from dataclasses import dataclass

SIGNATURE_METHODS = ("HMAC-SHA1", "HMAC-SHA256")


@dataclass
class ESchoolPlusConfig:
    """One API profile plus the server behaviours no public PLUS360 document pins down.

    `signature_method` is the profile's single accepted OAuth 1.0a method (eSchoolPLUS offers
    HMAC-SHA1, the default, and HMAC-SHA256 from 21.4.0.0). The default timestamp window is
    the clock skew OneRoster consumers are advised to tolerate: 10 minutes past, 5 minutes future.
    `rate_limit_capacity=0` turns rate limiting off.
    """

    consumer_key: str = "OneRoster_SANDBOX_1"
    consumer_secret: str = "sandbox-secret"
    signature_method: str = "HMAC-SHA1"
    district_code: str = "SANDBOX"
    past_window_seconds: int = 600
    future_window_seconds: int = 300
    rate_limit_capacity: int = 0
    rate_limit_refill_seconds: float = 5.0
    default_limit: int = 100
    # NOTE: PLUS360's real maximum page size is not published; 10000 covers the 5000 that
    # Microsoft SDS requests.
    max_limit: int = 10000
    # Handling of a limit above max_limit: "clamp" returns max_limit items, "reject" returns 400.
    limit_above_max: str = "clamp"
    # NOTE: the path under /plus360api/v1/<code>/ is not published, so the sandbox serves the
    # resources both under this OneRoster prefix and, when serve_bare_root is set, directly.
    oneroster_prefix: str = "ims/oneroster/v1p1"
    serve_bare_root: bool = True

    def __post_init__(self) -> None:
        if self.signature_method not in SIGNATURE_METHODS:
            raise ValueError(
                f"signature_method must be one of {', '.join(SIGNATURE_METHODS)}, "
                f"got {self.signature_method!r}"
            )
        if self.limit_above_max not in ("clamp", "reject"):
            raise ValueError(
                f"limit_above_max must be 'clamp' or 'reject', got {self.limit_above_max!r}"
            )
        if not 1 <= self.default_limit <= self.max_limit:
            raise ValueError(
                f"default_limit ({self.default_limit}) must be between 1 and max_limit "
                f"({self.max_limit})"
            )

    @property
    def base_path(self) -> str:
        """The path of the API base, e.g. /plus360api/v1/SANDBOX."""
        return f"/plus360api/v1/{self.district_code}"

    @property
    def oneroster_path(self) -> str:
        """The OneRoster root path, e.g. /plus360api/v1/SANDBOX/ims/oneroster/v1p1."""
        prefix = self.oneroster_prefix.strip("/")
        return f"{self.base_path}/{prefix}" if prefix else self.base_path
