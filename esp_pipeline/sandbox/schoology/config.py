"""Settings of the sandbox Schoology server.

Defaults follow Schoology's documented behaviour where there is one. Where Schoology documents
nothing, or only secondary sources describe the behaviour, the default is a guess. The comment on
such a field marks it as a guess, and a test can switch to the other plausible behaviour.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field


@dataclass
class SchoologyConfig:
    """Settings for one sandbox tenant: credentials, limits and the guessed behaviours."""

    consumer_key: str = "sandbox-consumer-key"
    consumer_secret: str = "sandbox-consumer-secret"
    signature_methods: tuple[str, ...] = ("HMAC-SHA1", "PLAINTEXT")
    # Schoology rejects an oauth_timestamp older than the newest one already seen for the key.
    monotonic_timestamps: bool = True
    # Accepted clock skew of oauth_timestamp, in seconds, into the past and into the future.
    oauth_past_window_seconds: int = 600
    oauth_future_window_seconds: int = 300

    # Token bucket per consumer key. Schoology publishes no numbers; 50 credits refilled every
    # 5 s, GET/OPTIONS costing 1 and writes 3, is a secondary source's claim. 0 turns it off.
    rate_limit_capacity: int = 50
    rate_limit_refill_seconds: float = 5.0
    rate_limit_read_cost: int = 1
    rate_limit_write_cost: int = 3

    default_page_size: int = 20
    # Larger `limit` values are capped to this without an error.
    max_page_size: int = 200
    max_bulk_items: int = 50
    # Ed-Fi's client reads a missing array key on an empty page as []; True imitates that case.
    omit_key_on_empty_page: bool = False
    # Status for a bulk body of more than `max_bulk_items` items. Schoology does not document it.
    too_many_items_status: int = 400
    # Status of the bulk PUT endpoints. Schoology documents the body but not the status.
    bulk_put_status: int = 207
    # Per-item or single-request status for a duplicate key (school_uid, course_code, e-mail...).
    # Schoology documents no 409; duplicates appear as failed bulk items.
    duplicate_status: int = 400
    # Status of `DELETE gradingperiods/{id}` while sections still use the period (undocumented).
    grading_period_in_use_status: int = 400
    # Status of `users/ext/{school_uid}` for an unknown school_uid (undocumented).
    unknown_external_id_status: int = 404

    district_title: str = "Sandbox School District"
    district_fields: dict = field(default_factory=dict)
    admin_name_first: str = "API"
    admin_name_last: str = "Administrator"
    admin_school_uid: str = "sandbox-api-admin"
    admin_email: str = "api.admin@sandbox-district.example"

    # E-mail addresses already owned by accounts of another organisation, for conflict tests.
    # Each maps to whether its domain is claimed by this district, which
    # `email_conflict_resolution=2` (merge) requires.
    foreign_emails: dict[str, bool] = field(default_factory=dict)

    # Sections whose grading periods have all ended drop out of section lists unless the request
    # sends include_past=1. `today` fixes the date used for that test; None uses the local date.
    hide_past_sections: bool = True
    today: datetime.date | None = None

    # X-Schoology-Run-As is undocumented. Community reports state that it needs the numeric user
    # id and that Schoology returns 403 for an unknown user or when impersonation is disabled.
    run_as_enabled: bool = True
    # When True, a request running as a user without an administrator role may only read, and
    # its writes get 403. This permission model is a guess.
    run_as_read_only_for_non_admins: bool = True

    # -- gradebook --
    # Status of `PUT sections/{id}/grades`. Schoology documents the body but not the status.
    grades_put_status: int = 207
    # Weight of a grading category created without one. Schoology's documented POST example
    # returns 100, but a community report states that categories created through the API kept
    # weight 0 until someone set it, which left final grades null. The default follows the report.
    default_category_weight: float = 0
    # Schoology documents that some tenants return 403 for `GET users/{id}/grades` without
    # section_id. True imitates such a tenant.
    user_grades_require_section_id: bool = False
    # Captured responses give ungraded rows (grade null, timestamp 0) a malformed location,
    # `.../sections//assignments/{id}`. False gives them the section id like graded rows.
    malformed_ungraded_location: bool = True
    # With `timestamp=T`, True returns rows changed at or after T and False only rows changed
    # after T. Schoology documents "changed since" without saying which (a guess).
    grades_timestamp_inclusive: bool = True
    # Unix time at which the server clock behind grade timestamps starts. The clock then moves
    # only through SchoologyState.advance_clock. None follows the system clock.
    clock_start: int | None = None

    # Base for `links` and `location` URLs, e.g. "https://api.schoology.com". None builds them
    # from the request's scheme and Host header, so a client can follow them to the sandbox.
    link_base_url: str | None = None

    def current_date(self) -> datetime.date:
        """Return the date that decides whether a grading period has ended."""
        return self.today or datetime.date.today()
