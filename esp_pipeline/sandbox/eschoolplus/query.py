"""The `filter`, `sort`, `orderBy` and `fields` query parameters of a collection request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import ApiError
from .filters import FilterError, compile_filter, parse_filter
from .resources import Resource
from .store import RosterStore


def parse_fields(args, resource: Resource) -> list[str] | None:
    """Read `fields=a,b`; raise ApiError 400 invalid_selection_field for an unknown field."""
    raw = args.get("fields")
    if raw is None or raw.strip() == "":
        return None
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in names if name not in resource.fields]
    if unknown:
        raise ApiError(
            400,
            "invalid_selection_field",
            f"fields: {', '.join(unknown)} not a field of {resource.singular}",
        )
    return names


@dataclass
class CollectionQuery:
    """A parsed filter, sort order and field selection for one resource."""

    resource: Resource
    store: RosterStore
    test: Callable[[object], bool] | None = None
    sort_field: str | None = None
    descending: bool = False
    fields: list[str] | None = None

    @classmethod
    def from_args(cls, args, resource: Resource, store: RosterStore) -> "CollectionQuery":
        query = cls(resource, store)
        raw_filter = args.get("filter")
        if raw_filter is not None and raw_filter.strip() != "":
            try:
                expression = parse_filter(raw_filter)
            except FilterError as err:
                raise ApiError(400, "invalid_filter_field", str(err)) from None
            unknown = [field for field in expression.fields if not resource.check_field(field)]
            if unknown:
                raise ApiError(
                    400,
                    "invalid_filter_field",
                    f"filter: {', '.join(unknown)} not a field of {resource.singular}",
                )
            try:
                query.test = compile_filter(
                    expression,
                    lambda path: resource.values_getter(path, store),
                    resource.value_type,
                )
            except FilterError as err:
                raise ApiError(400, "invalid_filter_field", f"filter: {err}") from None

        sort = args.get("sort")
        if sort is not None and sort.strip() != "":
            sort = sort.strip()
            if not resource.check_field(sort):
                raise ApiError(
                    400, "invalid_sort_field", f"sort: {sort} not a field of {resource.singular}"
                )
            query.sort_field = sort
        order = (args.get("orderBy") or "asc").strip().lower()
        if order not in ("asc", "desc"):
            raise ApiError(400, "invalid_sort_field", f"orderBy must be asc or desc, got {order!r}")
        query.descending = order == "desc"
        query.fields = parse_fields(args, resource)
        return query

    def run(self, records: list) -> list:
        """Filter and order `records`, which arrive sorted by sourcedId."""
        if self.test is not None:
            records = [record for record in records if self.test(record)]
        if self.sort_field is not None:
            values_of = self.resource.values_getter(self.sort_field, self.store)
            # Python's sort is stable, so ties keep the sourcedId order underneath.
            records = sorted(records, key=lambda r: _sort_key(values_of(r)))
        if self.descending:
            records = list(reversed(records))
        return records


def _sort_key(values: list) -> tuple:
    """Order records by a field's values; GUIDRefs sort by sourcedId, empty fields first."""
    return tuple(value.get("sourcedId") if isinstance(value, dict) else value for value in values)
