"""Exchange rates: the bundled monthly averages of the Fed's H.10 rates (CNY and JPY per USD)."""

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
from chokehold.warehouse import LoadResult, load_frame

BUNDLED_FILE = "fx_usd_monthly_h10.csv"


def read_bundled_fx(settings: Settings) -> tuple[pl.DataFrame, dict]:
    path = settings.bundled_dir / BUNDLED_FILE
    meta = read_sidecar(path)
    raw = read_csv_strict(path, {"month": pl.Date, "base": pl.String, "quote": pl.String,
                                 "rate": pl.Float64})
    frame = raw.select(
        pl.col("month").alias("date"), "base", "quote", "rate",
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
    frame, meta = read_bundled_fx(settings)
    return [load_frame(con, "fx_rates", frame, source_id=meta["source_id"],
                       vintage=str(meta["vintage"]), origin=path, sha256=sha256_file(path))]
