"""Price observations: the bundled antimony quotes (China domestic RMB/t, Rotterdam USD/t)."""

from __future__ import annotations

import duckdb
import polars as pl
from chokehold.pipelines._common import (
    files_fingerprint,
    read_csv_strict,
    read_sidecar,
    sha256_file,
)

from chokehold.config import Settings
from chokehold.errors import DataError
from chokehold.warehouse import LoadResult, load_frame

BUNDLED_FILE = "antimony_prices.csv"
BOOLEANS = {"true": True, "false": False}


def read_bundled_prices(settings: Settings) -> tuple[pl.DataFrame, dict]:
    path = settings.bundled_dir / BUNDLED_FILE
    meta = read_sidecar(path)
    raw = read_csv_strict(path, {"date": pl.Date, "low": pl.Float64, "high": pl.Float64,
                                 "series_id": pl.String, "market": pl.String,
                                 "currency": pl.String, "unit": pl.String,
                                 "vat_included": pl.String})
    bad = raw.filter(~pl.col("vat_included").is_in(list(BOOLEANS)))
    if bad.height:
        raise DataError("expected true or false", source=path,
                        row=int(bad["_source_row"][0]), field="vat_included")
    inverted = raw.filter(pl.col("high") < pl.col("low"))
    if inverted.height:
        raise DataError("high is below low", source=path,
                        row=int(inverted["_source_row"][0]), field="high")
    frame = raw.select(
        "series_id", pl.lit("antimony").alias("commodity"), "market", "date",
        ((pl.col("low") + pl.col("high")) / 2).alias("value"), "currency", "unit",
        pl.col("vat_included").replace_strict(BOOLEANS, return_dtype=pl.Boolean),
        pl.lit(meta["source_id"]).alias("source"), pl.lit(str(meta["vintage"])).alias("vintage"),
        "_source_row",
    )
    return frame, meta


def fingerprint(settings: Settings, **_: object) -> str:
    """The bundled CSV and its sidecar."""
    path = settings.bundled_dir / BUNDLED_FILE
    return files_fingerprint(path, path.with_name(path.stem + ".meta.yaml"))


def refresh(con: duckdb.DuckDBPyConnection, settings: Settings, **_: object) -> list[LoadResult]:
    path = settings.bundled_dir / BUNDLED_FILE
    frame, meta = read_bundled_prices(settings)
    return [load_frame(con, "prices", frame, source_id=meta["source_id"],
                       vintage=str(meta["vintage"]), origin=path, sha256=sha256_file(path))]
