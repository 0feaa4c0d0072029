"""A file source: ``<folder>/fx.csv`` (month,rate) -> fx_rates USD/XTS, vintage from the file."""

from __future__ import annotations

from pathlib import Path

import duckdb

from chokehold._lazy import polars as pl
from chokehold.config import Settings
from chokehold.pipelines._common import files_fingerprint, sha256_file
from chokehold.warehouse import LoadResult, load_frame

DEPENDS_ON = ()
SOURCE_ID = "tinyfx"
FILE = "fx.csv"


def input_file(path: list[Path] | None) -> Path:
    if not path:
        raise ValueError("tinyfx needs --path <folder>")
    return Path(path[0]) / FILE


def read(file: Path) -> pl.DataFrame:
    raw = pl.read_csv(file, schema={"month": pl.String, "rate": pl.Float64})
    digest = sha256_file(file)[:8]
    return raw.select(
        pl.col("month").str.to_date("%Y-%m-%d").alias("date"), pl.lit("USD").alias("base"),
        pl.lit("XTS").alias("quote"), "rate", pl.lit(SOURCE_ID).alias("source"),
        pl.lit(f"tiny-{digest}").alias("vintage"))


def fingerprint(settings: Settings, path: list[Path] | None = None, **_: object) -> str:
    return files_fingerprint(input_file(path))


def refresh(con: duckdb.DuckDBPyConnection, settings: Settings, path: list[Path] | None = None,
            **_: object) -> list[LoadResult]:
    file = input_file(path)
    frame = read(file)
    return [load_frame(con, "fx_rates", frame, source_id=SOURCE_ID,
                       vintage=frame["vintage"][0], origin=file, sha256=sha256_file(file))]
