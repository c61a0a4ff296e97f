"""DuckDB table layout and write helpers.

Every table is written whole inside one transaction, so a failed or killed step leaves the
previous version in place instead of a half-written table.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
from dagster_duckdb import DuckDBResource

SCHEMAS = ("eschoolplus", "schoology", "mappings", "provisioning", "log")

# The sync log: one row per API outcome of the apply job.
SYNC_LOG_DDL = """
CREATE TABLE IF NOT EXISTS log.sync_log (
    run_id VARCHAR,
    logged_at TIMESTAMP DEFAULT current_timestamp,
    entity VARCHAR,
    action VARCHAR,
    sis_key VARCHAR,
    schoology_id VARCHAR,
    http_method VARCHAR,
    endpoint VARCHAR,
    response_code INTEGER,
    outcome VARCHAR,
    message VARCHAR
)
"""

# Objects the pipeline created or linked: the only ones it may later deactivate or remove.
OWNED_DDL = """
CREATE TABLE IF NOT EXISTS log.owned (
    entity VARCHAR,
    sis_key VARCHAR,
    schoology_id VARCHAR,
    run_id VARCHAR,
    recorded_at TIMESTAMP DEFAULT current_timestamp,
    PRIMARY KEY (entity, sis_key)
)
"""


class WarehouseResource(DuckDBResource):
    """The DuckDB warehouse file; its folder is created on first use.

    DuckDB lets one process write a file at a time, so run one sync at a time.
    """

    @contextmanager
    def get_connection(self):
        if self.database not in ("", ":memory:"):
            Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with super().get_connection() as con:
            yield con


def ensure_schemas(con: duckdb.DuckDBPyConnection) -> None:
    for schema in SCHEMAS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    con.execute(SYNC_LOG_DDL)
    con.execute(OWNED_DDL)


def replace_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pd.DataFrame,
    columns: dict[str, str],
) -> int:
    """Replace `table` with `frame`'s rows, typed by `columns` (name → DuckDB type).

    Columns missing from the frame are written as NULL, so an empty frame still yields a typed,
    empty table. Returns the row count.
    """
    ensure_schemas(con)
    for name in columns:
        if name not in frame.columns:
            frame = frame.assign(**{name: None})
    frame = frame[list(columns)]
    column_ddl = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())
    select = ", ".join(f'CAST("{name}" AS {kind}) AS "{name}"' for name, kind in columns.items())
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("incoming_frame", frame)
        con.execute(f"CREATE OR REPLACE TABLE {table} ({column_ddl})")
        if len(frame):
            con.execute(f"INSERT INTO {table} SELECT {select} FROM incoming_frame")
        con.unregister("incoming_frame")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(frame)


def read_frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchone()
    return bool(row and row[0])


def markdown_preview(frame: pd.DataFrame, limit: int = 50) -> str:
    """Render the first rows of a frame as a Markdown table for asset metadata."""
    if frame.empty:
        return "_no rows_"
    table = frame.head(limit).to_markdown(index=False)
    more = f"\n\n_{len(frame) - limit} more rows in the table_" if len(frame) > limit else ""
    return table + more
