"""Mapping assets: `mappings/schools.csv` and `mappings/terms.csv`, checked against both systems."""


from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource
from pydantic import Field

from esp_pipeline import mappings as mapping_csv
from esp_pipeline.warehouse import markdown_preview, replace_table

GROUP = "mappings"


class MappingFilesResource(dg.ConfigurableResource):
    """Folder of the district's mapping CSV files."""

    directory: str = Field(
        default="mappings", description="Folder holding schools.csv and terms.csv."
    )

    def path(self, name: str) -> Path:
        return Path(self.directory) / name


def _fail(error: mapping_csv.MappingFileError) -> dg.Failure:
    return dg.Failure(description=str(error), metadata={"file": str(error.path)})


@dg.asset(
    key=[GROUP, "schools"],
    group_name=GROUP,
    kinds={"duckdb", "csv"},
    deps=[dg.AssetKey(["eschoolplus", "orgs"]), dg.AssetKey(["schoology", "buildings"])],
    description="SIS school → Schoology building, with what syncs per building.",
)
def schools(
    context: dg.AssetExecutionContext,
    mapping_files: MappingFilesResource,
    warehouse: DuckDBResource,
) -> dg.MaterializeResult:
    path = mapping_files.path("schools.csv")
    with warehouse.get_connection() as con:
        sis_schools = [r[0] for r in con.execute(
            "SELECT sourced_id FROM eschoolplus.orgs WHERE type = 'school' AND status = 'active'"
        ).fetchall()]
        building_ids = {r[0] for r in con.execute("SELECT id FROM schoology.buildings").fetchall()}
    try:
        rows = mapping_csv.validate_school_mappings(path, sis_schools, building_ids)
    except mapping_csv.MappingFileError as error:
        raise _fail(error) from error

    frame = pd.DataFrame([
        {"sis_school_id": r.sis_school_id, "schoology_building_id": r.schoology_building_id,
         "sync_users": r.sync_users, "sync_courses": r.sync_courses,
         "sync_sections": r.sync_sections}
        for r in rows
    ])
    columns = {"sis_school_id": "VARCHAR", "schoology_building_id": "VARCHAR",
               "sync_users": "BOOLEAN", "sync_courses": "BOOLEAN", "sync_sections": "BOOLEAN"}
    with warehouse.get_connection() as con:
        count = replace_table(con, f"{GROUP}.schools", frame, columns)
    unmapped = sorted(set(sis_schools) - {r.sis_school_id for r in rows})
    if unmapped:
        context.log.warning("SIS schools with no row in %s (not synced): %s", path, unmapped)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": count,
            "unmapped_sis_schools": unmapped,
            "preview": dg.MetadataValue.md(markdown_preview(frame)),
        }
    )


TERMS_IN_USE_SQL = """
SELECT DISTINCT c.school_sourced_id AS sis_school_id, s.school_year, s.title AS term_code,
       s.sourced_id AS term_sourced_id, TRY_CAST(s.start_date AS DATE) AS start_date,
       TRY_CAST(s.end_date AS DATE) AS end_date
FROM (SELECT school_sourced_id, unnest(term_sourced_ids) AS term_sourced_id
      FROM eschoolplus.classes
      WHERE status = 'active' AND sourced_id NOT IN (
          SELECT sourced_id FROM eschoolplus.quarantine WHERE entity = 'class')) c
JOIN mappings.schools m ON m.sis_school_id = c.school_sourced_id AND m.sync_sections
JOIN eschoolplus.academic_sessions s ON s.sourced_id = c.term_sourced_id
WHERE s.sourced_id NOT IN (SELECT sourced_id FROM eschoolplus.quarantine WHERE entity = 'term')
ORDER BY 1, 2, 3
"""


@dg.asset(
    key=[GROUP, "terms"],
    group_name=GROUP,
    kinds={"duckdb", "csv"},
    deps=[
        dg.AssetKey(["eschoolplus", "academic_sessions"]),
        dg.AssetKey(["eschoolplus", "classes"]),
        dg.AssetKey(["eschoolplus", "quarantine"]),
        dg.AssetKey([GROUP, "schools"]),
    ],
    description="Each SIS term in use, resolved to the Schoology grading period it maps to.",
)
def terms(
    context: dg.AssetExecutionContext,
    mapping_files: MappingFilesResource,
    warehouse: DuckDBResource,
) -> dg.MaterializeResult:
    path = mapping_files.path("terms.csv")
    with warehouse.get_connection() as con:
        in_use = con.execute(TERMS_IN_USE_SQL).df()
        sis_schools = {r[0] for r in con.execute(
            "SELECT sourced_id FROM eschoolplus.orgs WHERE type = 'school'"
        ).fetchall()}
    try:
        rows = mapping_csv.read_term_mappings(path)
        unknown = [
            mapping_csv.Problem(
                str(path), r.line, "sis_school_id", r.sis_school_id,
                f"The SIS has no school with id {r.sis_school_id}.",
                "Use an SIS school id (" + ", ".join(sorted(sis_schools)) + "), or leave the "
                "column blank to apply the row to every school.",
            )
            for r in rows if r.sis_school_id is not None and r.sis_school_id not in sis_schools
        ]
        if unknown:
            raise mapping_csv.MappingFileError(path, unknown)
        mapping_csv.check_terms_against_sis(
            rows,
            [(r.sis_school_id, r.school_year, r.term_code) for r in in_use.itertuples()],
            path,
        )
    except mapping_csv.MappingFileError as error:
        raise _fail(error) from error

    in_use["grading_period_title"] = [
        mapping_csv.resolve_grading_period(rows, r.sis_school_id, r.school_year, r.term_code)
        for r in in_use.itertuples()
    ]
    columns = {"term_sourced_id": "VARCHAR", "sis_school_id": "VARCHAR", "school_year": "VARCHAR",
               "term_code": "VARCHAR", "start_date": "DATE", "end_date": "DATE",
               "grading_period_title": "VARCHAR"}
    with warehouse.get_connection() as con:
        count = replace_table(con, f"{GROUP}.terms", in_use, columns)
    context.log.info("%d SIS terms in use, all mapped", count)
    return dg.MaterializeResult(
        metadata={"dagster/row_count": count,
                  "preview": dg.MetadataValue.md(markdown_preview(in_use))}
    )


mapping_assets = [schools, terms]
