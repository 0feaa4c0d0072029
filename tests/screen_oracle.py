"""The global screen as SQL: a second, independent definition of what the kernel computes.

Written in DuckDB's dialect and kept to a subset SQLGlot transpiles to Spark SQL unchanged in
meaning: plain tables (``flows``: hs_revision, year, importer_code, exporter_code, hs6,
value_usd; ``countries``: code, iso3) rather than ``read_parquet`` over several files, no
``ORDER BY`` inside list aggregates, signed types only, every division by ``NULLIF(x, 0)``
(Spark 4 runs in ANSI mode). Ties for the top supplier go to the higher exporter code.
"""

from __future__ import annotations

SCREEN_SQL = """
WITH cells AS (
    SELECT hs_revision, year, importer_code, hs6, sum(value_usd) AS imports_usd,
           sum(value_usd * value_usd) AS sum_sq, count(*) AS suppliers,
           max(value_usd) AS top_usd
    FROM flows GROUP BY hs_revision, year, importer_code, hs6
), tops AS (
    SELECT f.hs_revision, f.year, f.importer_code, f.hs6, max(f.exporter_code) AS top_code
    FROM flows f JOIN cells c ON f.hs_revision = c.hs_revision AND f.year = c.year
        AND f.importer_code = c.importer_code AND f.hs6 = c.hs6 AND f.value_usd = c.top_usd
    GROUP BY f.hs_revision, f.year, f.importer_code, f.hs6
), exports AS (
    SELECT hs_revision, year, exporter_code, hs6, sum(value_usd) AS exports_usd
    FROM flows GROUP BY hs_revision, year, exporter_code, hs6
), world AS (
    SELECT hs_revision, year, hs6, sum(value_usd) AS world_usd
    FROM flows GROUP BY hs_revision, year, hs6
), screen AS (
    SELECT c.year, c.hs_revision, m.iso3 AS importer_iso3,
           lpad(CAST(c.hs6 AS VARCHAR), 6, '0') AS hs_code, c.imports_usd,
           c.sum_sq / NULLIF(c.imports_usd * c.imports_usd, 0) AS hhi, c.suppliers,
           x.iso3 AS top_supplier, c.top_usd / NULLIF(c.imports_usd, 0) AS top_share,
           coalesce(o.exports_usd, 0.0) AS own_exports_usd,
           tx.exports_usd / NULLIF(w.world_usd, 0) AS top_supplier_world_export_share,
           CAST(NULL AS DOUBLE) AS import_dependence,
           c.imports_usd / NULLIF(coalesce(o.exports_usd, 0.0), 0) AS imports_to_exports
    FROM cells c
    JOIN tops t ON t.hs_revision = c.hs_revision AND t.year = c.year
        AND t.importer_code = c.importer_code AND t.hs6 = c.hs6
    JOIN world w ON w.hs_revision = c.hs_revision AND w.year = c.year AND w.hs6 = c.hs6
    JOIN exports tx ON tx.hs_revision = c.hs_revision AND tx.year = c.year
        AND tx.exporter_code = t.top_code AND tx.hs6 = c.hs6
    LEFT JOIN exports o ON o.hs_revision = c.hs_revision AND o.year = c.year
        AND o.exporter_code = c.importer_code AND o.hs6 = c.hs6
    LEFT JOIN countries m ON m.code = c.importer_code
    LEFT JOIN countries x ON x.code = t.top_code
    WHERE c.imports_usd > 0
)
SELECT *, hhi > 0.4 AS flag_concentration, CAST(NULL AS BOOLEAN) AS flag_import_dependence,
       coalesce(imports_to_exports > 1.0, own_exports_usd = 0) AS flag_low_substitutability,
       hhi > 0.4 AND coalesce(imports_to_exports > 1.0, own_exports_usd = 0) AS dependent
FROM screen
"""


def spark_sql() -> str:
    """SCREEN_SQL transpiled by SQLGlot from DuckDB's dialect to Spark's."""
    import sqlglot

    (sql,) = sqlglot.transpile(SCREEN_SQL, read="duckdb", write="spark")
    return sql
