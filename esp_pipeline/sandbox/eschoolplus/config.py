"""Settings for the eSchoolPLUS (PLUS360 OneRoster 1.1) sandbox."""

from __future__ import annotations

from dataclasses import dataclass, field

SIGNATURE_METHODS = ("HMAC-SHA1", "HMAC-SHA256")
AUTH_METHODS = ("oauth1", "oauth2")

SCOPE_PREFIX = "https://purl.imsglobal.org/spec/or/v1p1/scope/"
ROSTER_READONLY = SCOPE_PREFIX + "roster.readonly"
GRADEBOOK_READONLY = SCOPE_PREFIX + "gradebook.readonly"
GRADEBOOK_CREATEPUT = SCOPE_PREFIX + "gradebook.createput"
GRADEBOOK_DELETE = SCOPE_PREFIX + "gradebook.delete"
ALL_SCOPES = (ROSTER_READONLY, GRADEBOOK_READONLY, GRADEBOOK_CREATEPUT, GRADEBOOK_DELETE)


@dataclass(frozen=True)
class ConsumerProfile:
    """One eSchoolPLUS API profile: a consumer key and secret and how the consumer signs in.

    `auth_method` "oauth1" signs each request with two-legged OAuth 1.0a using the one
    `signature_method` the profile accepts. "oauth2" fetches a bearer token with the client
    credentials grant and may ask for any of `scopes`. An inactive profile is rejected with 401.
    """

    key: str
    secret: str
    auth_method: str = "oauth1"
    signature_method: str = "HMAC-SHA1"
    scopes: tuple[str, ...] = ALL_SCOPES
    active: bool = True

    def __post_init__(self) -> None:
        if self.auth_method not in AUTH_METHODS:
            raise ValueError(
                f"auth_method must be one of {', '.join(AUTH_METHODS)}, got {self.auth_method!r}"
            )
        if self.signature_method not in SIGNATURE_METHODS:
            raise ValueError(
                f"signature_method must be one of {', '.join(SIGNATURE_METHODS)}, "
                f"got {self.signature_method!r}"
            )
        unknown = sorted(set(self.scopes) - set(ALL_SCOPES))
        if unknown:
            raise ValueError(f"unknown scopes {unknown}; known scopes: {', '.join(ALL_SCOPES)}")


def _choice(name: str, value: object, allowed: tuple) -> None:
    if value not in allowed:
        options = ", ".join(repr(option) for option in allowed)
        raise ValueError(f"{name} must be one of {options}, got {value!r}")


@dataclass
class ESchoolPlusConfig:
    """One API profile plus the server behaviours no public PLUS360 document pins down.

    `consumer_key`, `consumer_secret`, `auth_method` and `signature_method` describe the main
    profile; `profiles` adds more consumers. eSchoolPLUS offers OAuth 1.0a with HMAC-SHA1 (the
    default) or HMAC-SHA256 (from 21.4.0.0), and OAuth 2.0 on newer builds. The default
    timestamp window is the clock skew OneRoster consumers are advised to tolerate: 10 minutes
    past, 5 minutes future. `rate_limit_capacity=0` turns rate limiting off.
    """

    consumer_key: str = "OneRoster_SANDBOX_1"
    consumer_secret: str = "sandbox-secret"
    signature_method: str = "HMAC-SHA1"
    auth_method: str = "oauth1"
    profiles: list[ConsumerProfile] = field(default_factory=list)
    district_code: str = "SANDBOX"
    past_window_seconds: int = 600
    # Whether a nonce may come back with another timestamp. The eSchoolPLUS API logs each nonce
    # and treats it as single-use, so by default it may not.
    nonce_per_timestamp: bool = False
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

    # --- OAuth 2.0 ---------------------------------------------------------------------------
    # NOTE: PowerSchool does not publish the PLUS360 token URL; this path under the API base
    # is a guess.
    oauth2_token_path: str = "oauth/token"
    oauth2_token_lifetime_seconds: int = 3600

    # --- eSchool flavour ---------------------------------------------------------------------
    # Student and staff ids are char(10) columns in eSchoolPLUS. With pad_ids the user
    # sourcedIds go out right-padded with spaces to 10 characters, as some exports carry them.
    pad_ids: bool = False
    # Marking periods derived under each term of a district that has none: this many per
    # semester-length term, twice as many for a term longer than 200 days. 0 derives none.
    grading_periods_per_semester: int = 2

    # --- gradebook write-back ----------------------------------------------------------------
    # eSchool stores the vendor's lineItem and result ids in varchar(64) columns.
    max_sourced_id_length: int = 64
    # A second result sourcedId for a (lineItem, student) pair that already has one:
    # "reject" returns 409, "overwrite" replaces the old result (and its sourcedId).
    duplicate_result: str = "reject"
    # A lineItem title over 255 characters (the width of the eSchool assignment DESCRIPTION
    # column): "reject" returns 422, "truncate" stores the first 255 characters.
    long_title: str = "reject"
    # When set, a score above resultValueMax is rejected with 422; otherwise it is kept as
    # extra credit.
    reject_score_above_max: bool = False
    # When set, every lineItem must name its gradingPeriod.
    require_grading_period: bool = False
    # When set, assignDate and dueDate must lie inside the lineItem's grading period, or inside
    # one of its class's terms when no grading period is given.
    check_line_item_dates: bool = True
    # When set, the POST collection endpoints allocate their own sourcedIds and report them in
    # sourcedIdPairs; otherwise they keep the supplied ones.
    allocate_sourced_ids: bool = False
    # Status of a successful DELETE: 204 (no body) or 200 (with a statusInfoSet success body).
    delete_status: int = 204

    def __post_init__(self) -> None:
        _choice("limit_above_max", self.limit_above_max, ("clamp", "reject"))
        _choice("duplicate_result", self.duplicate_result, ("reject", "overwrite"))
        _choice("long_title", self.long_title, ("reject", "truncate"))
        _choice("delete_status", self.delete_status, (200, 204))
        if not 1 <= self.default_limit <= self.max_limit:
            raise ValueError(
                f"default_limit ({self.default_limit}) must be between 1 and max_limit "
                f"({self.max_limit})"
            )
        if self.oauth2_token_lifetime_seconds < 1:
            raise ValueError(
                "oauth2_token_lifetime_seconds must be at least 1, "
                f"got {self.oauth2_token_lifetime_seconds}"
            )
        if self.grading_periods_per_semester < 0:
            raise ValueError(
                "grading_periods_per_semester must not be negative, "
                f"got {self.grading_periods_per_semester}"
            )
        keys = [profile.key for profile in self.all_profiles()]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError(f"consumer keys must be unique, duplicated: {', '.join(duplicates)}")

    def all_profiles(self) -> list[ConsumerProfile]:
        """Return the main profile (built from the flat fields) followed by `profiles`."""
        main = ConsumerProfile(
            key=self.consumer_key,
            secret=self.consumer_secret,
            auth_method=self.auth_method,
            signature_method=self.signature_method,
        )
        return [main, *self.profiles]

    @property
    def base_path(self) -> str:
        """The path of the API base, e.g. /plus360api/v1/SANDBOX."""
        return f"/plus360api/v1/{self.district_code}"

    @property
    def oneroster_path(self) -> str:
        """The OneRoster root path, e.g. /plus360api/v1/SANDBOX/ims/oneroster/v1p1."""
        prefix = self.oneroster_prefix.strip("/")
        return f"{self.base_path}/{prefix}" if prefix else self.base_path

    @property
    def token_path(self) -> str:
        """The OAuth 2.0 token endpoint path, e.g. /plus360api/v1/SANDBOX/oauth/token."""
        return f"{self.base_path}/{self.oauth2_token_path.strip('/')}"
