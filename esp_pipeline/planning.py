"""Pure functions that turn desired and current state into a plan of changes."""

from __future__ import annotations

import json

import pandas as pd

# `scope` is the Schoology building a change belongs to (blank for district-wide objects); the
# deletion and feed gates hold changes per scope. `plan_run_id` ties a plan to the run that made it.
PLAN_COLUMNS = {
    "plan_run_id": "VARCHAR",
    "scope": "VARCHAR",
    "action": "VARCHAR",
    "sis_key": "VARCHAR",
    "schoology_id": "VARCHAR",
    "payload": "VARCHAR",
    "changed_fields": "VARCHAR",
    "reason": "VARCHAR",
}

# Records the plan could not take as they are. Severity "warning": synced without the field
# named in the reason; "error": left out of the plan until the SIS data is fixed.
EXCEPTION_COLUMNS = {
    "entity": "VARCHAR",
    "sis_key": "VARCHAR",
    "severity": "VARCHAR",
    "reason": "VARCHAR",
    "fix": "VARCHAR",
}


def normalise(value: object) -> str | None:
    """Compare values as text, with None, NaN and empty strings all meaning "no value"."""
    if value is None:
        return None
    if isinstance(value, float) and pd.isna(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    text = str(value).strip()
    return text or None


def diff_records(
    desired: pd.DataFrame,
    current: pd.DataFrame,
    *,
    key: str,
    fields: list[str],
    current_id: str = "id",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split desired records into creates and updates against current ones.

    Returns (creates, updates). Both keep every desired column; updates add `schoology_id` and
    `changed_fields` (the names of the fields that differ, comma-separated). Records equal in
    every field appear in neither.
    """
    desired = desired.reset_index(drop=True)
    lookup = {row[key]: row for row in current.to_dict("records")} if len(current) else {}
    create_rows, update_rows = [], []
    for record in desired.to_dict("records"):
        existing = lookup.get(record[key])
        if existing is None:
            create_rows.append(record)
            continue
        changed = [f for f in fields if normalise(record.get(f)) != normalise(existing.get(f))]
        if changed:
            update_rows.append(
                {**record, "schoology_id": str(existing[current_id]),
                 "changed_fields": ",".join(changed)}
            )
    columns = list(desired.columns)
    creates = pd.DataFrame(create_rows, columns=columns)
    updates = pd.DataFrame(update_rows, columns=[*columns, "schoology_id", "changed_fields"])
    return creates, updates


def plan_rows(
    frame: pd.DataFrame,
    *,
    action: str,
    key: str,
    payload_fields: list[str],
    reason: str,
    scope: str | None = "building_id",
) -> pd.DataFrame:
    """Shape records into plan rows with a JSON payload of the fields to send.

    `scope` names the column holding the row's building id (None for district-wide rows).
    """
    rows = []
    for record in frame.to_dict("records"):
        payload = {f: _json_value(record.get(f)) for f in payload_fields}
        rows.append({
            "scope": normalise(record.get(scope)) if scope else "",
            "action": action,
            "sis_key": record[key],
            "schoology_id": record.get("schoology_id"),
            "payload": json.dumps(payload, sort_keys=True, ensure_ascii=False),
            "changed_fields": record.get("changed_fields") or "",
            "reason": reason,
        })
    return pd.DataFrame(rows, columns=list(PLAN_COLUMNS))


def _json_value(value: object) -> object:
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    if normalise(value) is None:
        return None
    return value


def concat_plans(*frames: pd.DataFrame) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=list(PLAN_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def action_counts(plan: pd.DataFrame) -> dict[str, int]:
    if plan.empty:
        return {}
    return {str(k): int(v) for k, v in plan["action"].value_counts().sort_index().items()}
