"""Start both sandbox servers together and describe them as the pipeline's environment variables."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from esp_pipeline.sandbox.districts import District
from esp_pipeline.sandbox.eschoolplus import ESchoolPlusConfig, ESchoolPlusSandbox
from esp_pipeline.sandbox.httpserver import SandboxServer
from esp_pipeline.sandbox.schoology import SchoologyConfig, SchoologySandbox

DISTRICT_CODE = "SANDBOX"


@dataclass
class RunningSandboxes:
    """Both sandboxes, their servers and the credentials a client needs."""

    eschoolplus: ESchoolPlusSandbox
    schoology: SchoologySandbox
    eschoolplus_server: SandboxServer
    schoology_server: SandboxServer
    eschoolplus_key: str
    eschoolplus_secret: str
    schoology_key: str
    schoology_secret: str

    @property
    def oneroster_root(self) -> str:
        return f"{self.eschoolplus_server.url}/plus360api/v1/{DISTRICT_CODE}/ims/oneroster/v1p1"

    @property
    def schoology_base_url(self) -> str:
        return f"{self.schoology_server.url}/v1"

    def environment(self) -> dict[str, str]:
        """Return the variables the pipeline reads, pointing at these sandboxes."""
        return {
            "ESCHOOLPLUS_BASE_URL": self.oneroster_root,
            "ESCHOOLPLUS_CONSUMER_KEY": self.eschoolplus_key,
            "ESCHOOLPLUS_CONSUMER_SECRET": self.eschoolplus_secret,
            "SCHOOLOGY_BASE_URL": self.schoology_base_url,
            "SCHOOLOGY_CONSUMER_KEY": self.schoology_key,
            "SCHOOLOGY_CONSUMER_SECRET": self.schoology_secret,
        }


def schoology_buildings(district: District) -> list[dict[str, str]]:
    """Return one Schoology building per SIS school, as a fresh district tenant has."""
    return [{"title": school.name, "building_code": school.sourced_id} for school in district.schools]


@contextlib.contextmanager
def running_sandboxes(
    district: District,
    *,
    eschoolplus_port: int = 0,
    schoology_port: int = 0,
    schoology_rate_limit: int = 0,
    eschoolplus_rate_limit: int = 0,
    secret: str | None = None,
) -> Iterator[RunningSandboxes]:
    """Serve `district` from a sandbox eSchoolPLUS and an empty sandbox Schoology on loopback.

    Port 0 picks a free port. Rate limits are credits per 5 s window; 0 turns limiting off.
    `secret` fixes the consumer secrets (handy for a long-running sandbox); by default each start
    gets fresh random ones.
    """
    esp_secret = secret or secrets.token_urlsafe(24)
    sgy_secret = secret or secrets.token_urlsafe(24)
    eschoolplus = ESchoolPlusSandbox(
        district,
        ESchoolPlusConfig(
            consumer_key="esp-sandbox-key",
            consumer_secret=esp_secret,
            rate_limit_capacity=eschoolplus_rate_limit,
            district_code=DISTRICT_CODE,
        ),
    )
    schoology = SchoologySandbox(
        SchoologyConfig(
            consumer_key="sgy-sandbox-key",
            consumer_secret=sgy_secret,
            rate_limit_capacity=schoology_rate_limit,
        ),
        buildings=schoology_buildings(district),
    )
    with eschoolplus.serve(port=eschoolplus_port) as esp_server, schoology.serve(
        port=schoology_port
    ) as sgy_server:
        yield RunningSandboxes(
            eschoolplus, schoology, esp_server, sgy_server,
            "esp-sandbox-key", esp_secret, "sgy-sandbox-key", sgy_secret,
        )
