"""Exchange rates: the bundled monthly means of the Fed's H.10 rates, and daily rate files.

Daily files (``chokehold refresh --source fx --path FILE``) come as FRED downloads
(``observation_date,DEXCHUS`` or ``DATE,VALUE``, with ``.`` for a day without a rate) or as a
generic ``date,value`` CSV. The currency pair comes from the FRED series id (in the header or
the file name: DEXCHUS, DEXJPUS, DEXUSEU, ...) or from a file name such as ``USD_CNY.csv``.
Days without a rate are dropped, never filled. Monthly means of daily rates are computed in
the warehouse view ``fx_monthly`` (arithmetic mean of the days with a rate, the count stated);
a published monthly mean (the bundled H.10 file) is preferred where both exist.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb

from chokehold._lazy import polars as pl
from chokehold.config import Settings
from chokehold.errors import DataError
from chokehold.pipelines._common import (
    FileOptions,
    files_fingerprint,
    read_csv_strict,
    read_sidecar,
    sha256_file,
)
from chokehold.pipelines.price_units import CURRENCIES
from chokehold.warehouse import LoadResult, load_frame

BUNDLED_FILE = "fx_usd_monthly_h10.csv"
Options = FileOptions
"""Options: daily rate files (``path``) beside the bundled monthly means."""
SOURCE_ID = "fed_h10"
"""The bundled monthly means' source (their sidecar's source_id): what a load of fx records."""
FRED_SOURCE = "fed_h10_daily"
FILE_SOURCE = "fx_user_file"
FRED_PAIRS: dict[str, tuple[str, str]] = {
    "DEXCHUS": ("USD", "CNY"),
    "DEXJPUS": ("USD", "JPY"),
    "DEXKOUS": ("USD", "KRW"),
    "DEXUSEU": ("EUR", "USD"),
    "DEXUSUK": ("GBP", "USD"),
}
"""FRED H.10 daily series and the pair each quotes (base, quote): DEXUSEU is USD per EUR."""

DATE_COLUMNS = ("observation_date", "date")
MIN_DATE = date(1960, 1, 1)


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


def fx_pair(path: Path, value_column: str) -> tuple[tuple[str, str], bool]:
    """(base, quote) of a daily rate file, and whether it is a FRED H.10 series."""
    for label in (value_column.upper(), path.stem.upper()):
        for series_id, pair in FRED_PAIRS.items():
            if series_id in label:
                return pair, True
    match = re.search(r"([A-Z]{3})[_\-]?([A-Z]{3})", path.stem.upper())
    if match and match.group(1) in CURRENCIES and match.group(2) in CURRENCIES:
        return (match.group(1), match.group(2)), False
    raise DataError(f"cannot tell the currency pair: name the file after a FRED series "
                    f"({', '.join(FRED_PAIRS)}) or the pair, e.g. USD_CNY.csv (quote per base)",
                    source=path)


def read_daily_fx(path: Path, *, today: date | None = None) -> tuple[pl.DataFrame, str, int]:
    """A daily rate file as fx_rates rows (source set), and the number of days without a rate.

    ``.`` and blanks are days without a rate (dropped). Anything else that is not a positive
    number, an unparseable or implausible date, or a date given twice is a DataError naming
    the file, row and column.
    """
    try:
        raw = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise DataError(f"cannot read CSV: {exc}", source=path) from exc
    names = {c.lower().lstrip("\ufeff"): c for c in raw.columns}
    date_col = next((names[c] for c in DATE_COLUMNS if c in names), None)
    if date_col is None or len(raw.columns) != 2:
        raise DataError(f"expected two columns, a date ({' or '.join(DATE_COLUMNS)}) and a rate;"
                        f" the file has {raw.columns}", source=path, field=date_col)
    value_col = next(c for c in raw.columns if c != date_col)
    (base, quote), is_fred = fx_pair(path, value_col)
    frame = raw.with_row_index("_source_row", offset=2).with_columns(
        pl.col(date_col).str.strip_chars().str.to_date("%Y-%m-%d", strict=False).alias("date"),
        pl.col(value_col).str.strip_chars().alias("text"))
    latest = today or date.today()
    for bad, field, what in (
        (frame["date"].is_null(), date_col, "is not a date (YYYY-MM-DD)"),
        ((frame["date"] < MIN_DATE) | (frame["date"] > latest), date_col,
         f"is outside {MIN_DATE} to {latest}"),
    ):
        if bad.any():
            row = frame.filter(bad).row(0, named=True)
            raise DataError(f"{row[date_col]!r} {what}", source=path, row=row["_source_row"],
                            field=field)
    missing = frame["text"].is_null() | frame["text"].is_in([".", ""])
    present = frame.filter(~missing).with_columns(
        pl.col("text").cast(pl.Float64, strict=False).alias("rate"))
    bad = present.filter(pl.col("rate").is_null() | (pl.col("rate") <= 0))
    if bad.height:
        raise DataError(f"rate {bad['text'][0]!r} is not a positive number", source=path,
                        row=int(bad["_source_row"][0]), field=value_col)
    repeated = present.filter(pl.col("date").is_duplicated())
    if repeated.height:
        raise DataError(f"date {repeated['date'][0]} appears twice", source=path,
                        row=int(repeated["_source_row"][-1]), field=date_col)
    if not present.height:
        raise DataError("the file has no rates", source=path, field=value_col)
    source = FRED_SOURCE if is_fred else FILE_SOURCE
    rows = present.select("date", pl.lit(base).alias("base"), pl.lit(quote).alias("quote"),
                          "rate", pl.lit(source).alias("source"), "_source_row")
    return rows, source, int(missing.sum())


def fx_series_frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"source": pl.String, "base": pl.String, "quote": pl.String,
                                      "freq": pl.String, "method": pl.String,
                                      "origin": pl.String})


def fingerprint(settings: Settings, path: list[Path] | None = None, **_: object) -> str:
    """The bundled file, its sidecar and the daily files named by ``path``."""
    bundled = settings.bundled_dir / BUNDLED_FILE
    return files_fingerprint(bundled, bundled.with_name(bundled.stem + ".meta.yaml"),
                             *(Path(p) for p in path or []))


def refresh(con: duckdb.DuckDBPyConnection, settings: Settings,
            path: list[Path] | None = None, **_: object) -> list[LoadResult]:
    """The bundled monthly means, plus the daily rate files named by ``path``."""
    bundled = settings.bundled_dir / BUNDLED_FILE
    frame, meta = read_bundled_fx(settings)
    results = [load_frame(con, "fx_rates", frame, source_id=meta["source_id"],
                          vintage=str(meta["vintage"]), origin=bundled, sha256=sha256_file(bundled))]
    described = [{"source": meta["source_id"], "base": b, "quote": q, "freq": "M",
                  "method": f"published monthly mean: {meta['aggregation']}",
                  "origin": BUNDLED_FILE}
                 for b, q in frame.select("base", "quote").unique().sort("quote").iter_rows()]
    for file in path or []:
        rows, source, n_missing = read_daily_fx(Path(file))
        sha = sha256_file(Path(file))
        vintage = f"{rows['date'].max()}+sha256:{sha[:12]}"
        results.append(load_frame(con, "fx_rates", rows.with_columns(
            pl.lit(vintage).alias("vintage")), source_id=source, vintage=vintage,
            origin=file, sha256=sha))
        base, quote = rows["base"][0], rows["quote"][0]
        described.append({"source": source, "base": base, "quote": quote, "freq": "D",
                          "method": f"daily rates as published; {n_missing} days without a "
                                    "rate dropped, none filled",
                          "origin": Path(file).name})
    results.append(load_frame(con, "fx_series", fx_series_frame(described),
                              source_id=meta["source_id"], origin=bundled))
    return results
