"""`limit`/`offset` paging and the `Link` header."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from .config import ESchoolPlusConfig
from .errors import ApiError


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def _parse_count(args, name: str, default: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_data", f"{name} must be a whole number, got {raw!r}") from None
    return value


def parse_page(args, config: ESchoolPlusConfig) -> Page:
    """Read `limit` and `offset`; raise ApiError 400 for values that are not usable."""
    limit = _parse_count(args, "limit", config.default_limit)
    offset = _parse_count(args, "offset", 0)
    if limit < 1:
        raise ApiError(400, "invalid_data", f"limit must be at least 1, got {limit}")
    if offset < 0:
        raise ApiError(400, "invalid_data", f"offset must not be negative, got {offset}")
    if limit > config.max_limit:
        if config.limit_above_max == "reject":
            raise ApiError(
                400, "invalid_data", f"limit {limit} exceeds the maximum of {config.max_limit}"
            )
        limit = config.max_limit
    return Page(limit=limit, offset=offset)


def link_header(base_url: str, args, page: Page, total: int) -> str:
    """Build a `Link` header with first, prev, next and last pages, keeping the other
    query parameters (filter, sort, fields) as they were."""
    others = [(key, value) for key, value in args.items(multi=True) if key not in ("limit", "offset")]

    def url(offset: int) -> str:
        params = others + [("limit", str(page.limit)), ("offset", str(offset))]
        return f"{base_url}?{urlencode(params, quote_via=quote)}"

    last_offset = max(0, (total - 1) // page.limit * page.limit)
    links = [(url(0), "first")]
    if page.offset > 0:
        links.append((url(max(0, page.offset - page.limit)), "prev"))
    if page.offset + page.limit < total:
        links.append((url(page.offset + page.limit), "next"))
    links.append((url(last_offset), "last"))
    return ", ".join(f'<{target}>; rel="{rel}"' for target, rel in links)
