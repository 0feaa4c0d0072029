"""Japan Customs monthly trade statistics (the CSV download of the Trade Statistics search).

One row per direction (``Exp or Imp``: 1 export, 2 import), year, HS nine-digit code and
country (Japan Customs' three-digit code), with ``Unit1``/``Unit2`` and, per month,
``Quantity1-Jan``, ``Quantity2-Jan``, ``Value-Jan`` ... (values in thousand yen; the ``-Year``
columns, when present, must equal the sum of the months). Countries map to ISO3 through
``data/reference/japan_customs_country_codes.csv`` (country_codes scheme ``japan_customs``);
values become USD at the warehouse's monthly USD/JPY rate, and the yen values, both quantities
and the rate used are kept in ``trade_flows_national``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from chokehold._lazy import polars as pl
from chokehold.config import Settings
from chokehold.errors import ChokeholdError, DataError, fail_where
from chokehold.pipelines._common import FileOptions, read_sidecar, sha256_file
from chokehold.warehouse import Load, LoadResult, load_frames, read_query

SOURCE_ID = "japan_customs"
DEPENDS_ON = ("reference", "fx")
"""Yen values become USD at the warehouse's FX rates: fx loads first where missing."""
Options = FileOptions
"""Options: the input files (``path``)."""
CODES_FILE = "reference/japan_customs_country_codes.csv"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
KEY_COLUMNS = ("Exp or Imp", "Year", "HS", "Country", "Unit1", "Unit2")
DIRECTIONS = {"1": "export", "2": "import"}
# Japan applies each HS edition from 1 January of its year.
HS_EDITIONS = ((2022, "HS22"), (2017, "HS17"), (2012, "HS12"), (2007, "HS07"), (2002, "HS02"),
               (1996, "HS96"), (0, "HS92"))
TONNES = {"KG": 0.001, "MT": 1.0, "TNE": 1.0}
FX_PREFERENCE = ("fed_h10",)
VALUE_TOLERANCE = 1.0  # thousand yen: months vs the Year column (rounding)


def country_codes_frame(settings: Settings) -> tuple[pl.DataFrame, Path, dict]:
    """The bundled code table as country_codes rows of scheme japan_customs."""
    path = settings.data_dir / CODES_FILE
    meta = read_sidecar(path)
    table = pl.read_csv(path, infer_schema=False)
    return (table.select(pl.lit(SOURCE_ID).alias("scheme"), "code", "iso3", "name"), path, meta)


def hs_revision_of(year: pl.Expr) -> pl.Expr:
    expr = pl.lit("HS92")
    for start, revision in reversed(HS_EDITIONS[:-1]):
        expr = pl.when(year >= start).then(pl.lit(revision)).otherwise(expr)
    return expr


def _number(col: str) -> pl.Expr:
    return pl.col(col).str.strip_chars().str.replace_all(",", "").replace("", None)


def read_file(path: Path) -> pl.DataFrame:
    """The CSV as text, header checked; ``_source_row`` is the line number."""
    try:
        raw = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise DataError(f"cannot read Japan Customs CSV: {exc}", source=path) from exc
    raw = raw.rename({c: c.strip() for c in raw.columns})
    needed = [*KEY_COLUMNS, *(f"{k}-{m}" for m in MONTHS
                              for k in ("Quantity1", "Quantity2", "Value"))]
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        raise DataError(f"missing column; the file has {raw.columns[:12]}...", source=path,
                        row=1, field=missing[0])
    return raw.with_row_index("_source_row", offset=2)


def to_long(raw: pl.DataFrame, origin: Path) -> pl.DataFrame:
    """One row per line and month with trade; numbers parsed and checked."""
    frame = raw.with_columns(
        pl.col("HS").str.strip_chars().str.strip_chars("'\"").alias("hs_code"),
        pl.col("Country").str.strip_chars().str.zfill(3).alias("country_code"),
        pl.col("Year").str.strip_chars().cast(pl.Int32, strict=False).alias("year"),
        pl.col("Exp or Imp").str.strip_chars().replace_strict(DIRECTIONS, default=None)
        .alias("flow"),
        *(pl.col(u).str.strip_chars().replace("", None).alias(u.lower())
          for u in ("Unit1", "Unit2")),
    )
    _fail(frame, pl.col("flow").is_null(), origin, "Exp or Imp", "is not 1 (export) or 2 (import)")
    _fail(frame, pl.col("year").is_null(), origin, "Year", "is not a year")
    _fail(frame, ~pl.col("hs_code").str.contains(r"^\d{9}$"), origin, "HS",
          "is not a nine-digit statistical code")
    numeric = [f"{k}-{m}" for m in MONTHS for k in ("Quantity1", "Quantity2", "Value")]
    numeric += [c for c in ("Quantity1-Year", "Quantity2-Year", "Value-Year") if c in raw.columns]
    for col in numeric:
        parsed = _number(col).cast(pl.Float64, strict=False)
        _fail(frame, parsed.is_null() & _number(col).is_not_null(), origin, col,
              "is not a number")
        _fail(frame, parsed < 0, origin, col, "is negative")
        frame = frame.with_columns(parsed.alias(col))
    if "Value-Year" in frame.columns:
        months_sum = pl.sum_horizontal([pl.col(f"Value-{m}").fill_null(0) for m in MONTHS])
        _fail(frame, (months_sum - pl.col("Value-Year").fill_null(0)).abs() > VALUE_TOLERANCE,
              origin, "Value-Year", "differs from the sum of the months")
    long = pl.concat([
        frame.select("_source_row", "flow", "year", "hs_code", "country_code", "unit1", "unit2",
                     pl.lit(n, pl.Int8).alias("month"),
                     pl.col(f"Quantity1-{m}").alias("qty1"), pl.col(f"Quantity2-{m}").alias("qty2"),
                     pl.col(f"Value-{m}").alias("value_kjpy"))
        for n, m in enumerate(MONTHS, start=1)])
    long = long.filter((pl.col("value_kjpy").fill_null(0) > 0) | (pl.col("qty1").fill_null(0) > 0)
                       | (pl.col("qty2").fill_null(0) > 0))
    for q, unit in (("qty1", "unit1"), ("qty2", "unit2")):
        _fail(long.with_columns(pl.col(q).alias(unit.capitalize())),
              (pl.col(q) > 0) & pl.col(unit).is_null(), origin, unit.capitalize(),
              "(quantity) given without a unit")
    return long.with_columns(  # a zero quantity in a unit-less column means "not reported"
        *(pl.when(pl.col(u).is_null()).then(None).otherwise(pl.col(q)).alias(q)
          for q, u in (("qty1", "unit1"), ("qty2", "unit2"))),
        pl.date("year", "month", 1).alias("period"))


def _fail(frame: pl.DataFrame, condition: pl.Expr, origin: Path, field: str, what: str) -> None:
    fail_where(frame, condition, source=origin, field=field,
               message=lambda value: f"value {value!r} {what}")


def usd_per_jpy(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Monthly JPY per USD from fx_rates (the preferred source where several exist)."""
    rates = read_query(con, "SELECT date AS period, rate AS fx_rate, source AS fx_source "
                            "FROM fx_rates WHERE base = 'USD' AND quote = 'JPY'")
    order = {s: i for i, s in enumerate(FX_PREFERENCE)}
    return (rates.with_columns(pl.col("fx_source").replace_strict(order, default=99).alias("_o"))
            .sort("period", "_o").unique("period", keep="first").drop("_o"))


def build(long: pl.DataFrame, codes: pl.DataFrame, fx: pl.DataFrame, origin: Path,
          vintage: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """trade_flows and trade_flows_national rows; unknown countries or months without a rate
    fail naming the row."""
    mapping = dict(zip(codes["code"], codes["iso3"]))
    frame = long.with_columns(
        pl.col("country_code").replace_strict(mapping, default=None).alias("partner_iso3"))
    _fail(frame.rename({"country_code": "Country"}), pl.col("partner_iso3").is_null(), origin,
          "Country", "is not a known Japan Customs country code "
          f"({settings_hint()})")
    frame = frame.join(fx, on="period", how="left")
    missing = frame.filter(pl.col("fx_rate").is_null())
    if missing.height:
        month = missing.sort("period")["period"][0]
        raise DataError(f"no USD/JPY rate for {month:%Y-%m} in fx_rates; load exchange rates "
                        "first (`chokehold refresh --source fx`)", source=origin,
                        row=int(missing["_source_row"][0]), field="Value")
    frame = frame.with_columns(
        (pl.col("value_kjpy").fill_null(0) * 1000.0).alias("value_local"),
        hs_revision_of(pl.col("year")).alias("hs_revision"),
        pl.col("unit1").str.to_uppercase().replace_strict(TONNES, default=None).alias("_to_t"),
        pl.lit("JPN").alias("reporter_iso3"), pl.lit("M").alias("freq"),
        pl.lit(SOURCE_ID).alias("source"), pl.lit(vintage).alias("vintage"))
    flows = frame.select(
        "reporter_iso3", "partner_iso3", "flow", "period", "freq", "hs_code", "hs_revision",
        (pl.col("value_local") / pl.col("fx_rate")).alias("value_usd"),
        pl.when(pl.col("_to_t").is_not_null()).then(pl.col("qty1") * pl.col("_to_t"))
        .otherwise(pl.col("qty1")).alias("qty"),
        pl.when(pl.col("qty1").is_null()).then(None)
        .when(pl.col("_to_t").is_not_null()).then(pl.lit("t")).otherwise(pl.col("unit1"))
        .alias("qty_unit"),
        "source", "vintage", "_source_row")
    national = frame.select(
        "reporter_iso3", "partner_iso3", "flow", "period", "freq", "hs_code", "hs_revision",
        pl.lit("JPY").alias("currency"), "value_local", "qty1", "unit1", "qty2", "unit2",
        "fx_rate", "fx_source", "source", "vintage", "_source_row")
    return flows, national


def settings_hint() -> str:
    return f"codes are listed in data/{CODES_FILE}"


def refresh(con: duckdb.DuckDBPyConnection, settings: Settings, *,
            path: Sequence[Path] | Path | None = None, **_: object) -> list[LoadResult]:
    """Load Japan Customs CSVs (``--path``); the country codes are (re)loaded first."""
    if not path:
        raise ChokeholdError("give the Japan Customs CSV with --path FILE")
    paths = [Path(path)] if isinstance(path, (str, Path)) else [Path(p) for p in path]
    codes, codes_path, codes_meta = country_codes_frame(settings)
    fx = usd_per_jpy(con)
    prepared = []
    for file in paths:
        if not file.exists():
            raise DataError("no such file", source=file)
        vintage = f"{file.name} sha256:{sha256_file(file)[:12]}"
        long = to_long(read_file(file), file)
        prepared.append((file, vintage, *build(long, codes, fx, file, vintage)))
    loads = [Load("country_codes", codes, SOURCE_ID, str(codes_meta["vintage"]), codes_path)]
    for file, vintage, flows, national in prepared:  # a file's two tables load together
        digest = sha256_file(file)
        loads += [Load("reported_flows", flows, SOURCE_ID, vintage, file, digest),
                  Load("trade_flows_national", national, SOURCE_ID, vintage, file, digest)]
    return load_frames(con, loads)
