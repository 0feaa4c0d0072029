"""A second file source: ``<folder>/prices.csv`` (date,value) -> prices series tiny_price."""

from __future__ import annotations

from pathlib import Path

import duckdb

from chokehold._lazy import polars as pl
from chokehold.config import Settings
from chokehold.pipelines._common import files_fingerprint, sha256_file
from chokehold.warehouse import LoadResult, load_frame

DEPENDS_ON = ()
SOURCE_ID = "tinyprices"
FILE = "prices.csv"


def fingerprint(settings: Settings, path: list[Path] | None = None, **_: object) -> str:
    return files_fingerprint(Path(path[0]) / FILE)


def refresh(con: duckdb.DuckDBPyConnection, settings: Settings, path: list[Path] | None = None,
            **_: object) -> list[LoadResult]:
    file = Path(path[0]) / FILE
    raw = pl.read_csv(file, schema={"date": pl.String, "value": pl.Float64})
    frame = raw.select(
        pl.lit("tiny_price").alias("series_id"), pl.lit("antimony").alias("commodity"),
        pl.lit("test").alias("market"), pl.col("date").str.to_date("%Y-%m-%d"), "value",
        pl.lit("USD").alias("currency"), pl.lit("t").alias("unit"),
        pl.lit(False).alias("vat_included"), pl.lit(SOURCE_ID).alias("source"),
        pl.lit("tiny-prices-1").alias("vintage"))
    return [load_frame(con, "prices", frame, source_id=SOURCE_ID, vintage="tiny-prices-1",
                       origin=file, sha256=sha256_file(file))]
