"""USGS Mineral Commodity Summaries data-release CSVs: world production and US salient statistics.

Two shapes are read (``--path FILE``, the shape told by the header):

* the world table of one commodity (``mcs2024-raree_world.csv``: Source, Country, Type,
  Prod_t_est_2022, Prod_t_est_2023, ... ; the ``Type`` text names commodity, stage and unit);
* the long form (commodity, table, section, subsection, label_or_country, year, value_raw,
  units_note, source_pdf) with ``world_production`` and ``us_salient`` rows.

World production goes to ``production`` (countries via country_converter; the rounded world
total is checked against the countries, 'Other' included, and not stored); US salient statistics
(incl. net import reliance and apparent consumption) go to ``usgs_salient`` as published:
'—' is zero, W/NA are null with their qualifier kept, '>95' is 95 with qualifier '>', a year
'2025e' is 2025 marked estimated.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import duckdb

from chokehold._lazy import polars as pl
from chokehold.config import Settings
from chokehold.errors import ChokeholdError, DataError, fail_where
from chokehold.pipelines._common import FileOptions, sha256_file
from chokehold.warehouse import LoadResult, load_frame

SOURCE_ID = "usgs"
Options = FileOptions
"""Options: the input files (``path``)."""
COMMODITIES = {  # USGS name -> (commodity id, stored unit of world production, stage)
    "rare earths": ("rare_earths", "t REO", "mine"),
    "antimony": ("antimony", "t Sb", "mine"),
    "tungsten": ("tungsten", "t W", "mine"),
    "graphite (natural)": ("graphite", "t", "mine"),
    "gallium": ("gallium", "kg Ga", "refinery"),
    "germanium": ("germanium", "kg Ge", "refinery"),
}
NOT_COUNTRIES = {"Other", "Other countries"}
WORLD = re.compile(r"^World total", re.IGNORECASE)
WORLD_TOLERANCE = 0.05  # the world total is rounded to two significant figures
LONG_COLUMNS = ("commodity", "table", "section", "subsection", "label_or_country", "year",
                "value_raw", "units_note", "source_pdf")
WIDE_COLUMNS = ("Source", "Country", "Type")


def parse_values(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(value, qualifier) from USGS cell text."""
    text = raw.str.strip_chars()
    qualifier = (pl.when(text.is_in(["W", "NA", "E", "XX"])).then(text)
                 .when(text.str.starts_with(">")).then(pl.lit(">"))
                 .when(text.str.starts_with("<")).then(pl.lit("<")))
    number = (pl.when(text.is_in(["—", "-", "–"])).then(pl.lit("0"))
              .otherwise(text.str.replace_all(r"^[<>]|,", "")))
    return number.cast(pl.Float64, strict=False), qualifier


def _iso3(names: pl.Series) -> pl.Series:
    import country_converter as coco  # (pandas, ~0.5 s: only when a USGS file is read)

    converter = coco.CountryConverter()
    fixed = {"Burma": "MMR", "Korea, North": "PRK", "Korea, Republic of": "KOR", "Turkey": "TUR"}
    return pl.Series([fixed.get(n) or _one(converter.convert(n, to="ISO3", not_found="?"))
                      for n in names], dtype=pl.String)


def _one(value: object) -> str | None:
    return value if isinstance(value, str) and len(value) == 3 and value.isupper() else None


def production_rows(frame: pl.DataFrame, origin: Path, vintage: str) -> pl.DataFrame:
    """Long rows (commodity, country, year, qty_raw, _source_row) -> production rows."""
    frame = frame.with_columns(pl.col("year").str.strip_chars().alias("year_raw"))
    frame = frame.with_columns(
        pl.col("year_raw").str.extract(r"^(\d{4})e?$").cast(pl.Int32).alias("year"))
    _fail(frame, pl.col("year").is_null(), origin, "year", "is not a year")
    unknown = frame.filter(~pl.col("commodity").is_in(list(COMMODITIES)))
    if unknown.height:
        raise DataError(f"unknown USGS commodity {unknown['commodity'][0]!r}; known: "
                        f"{', '.join(COMMODITIES)}", source=origin,
                        row=int(unknown["_source_row"][0]), field="commodity")
    value, qualifier = parse_values(pl.col("value_raw"))
    frame = frame.with_columns(value.alias("qty"), qualifier.alias("qualifier"))
    _fail(frame, pl.col("qty").is_null() & pl.col("qualifier").is_null(), origin, "value_raw",
          "is not a number")
    _fail(frame, pl.col("qty") < 0, origin, "value_raw", "is negative")
    world = frame.filter(pl.col("country").str.contains(WORLD.pattern))
    parts = frame.filter(~pl.col("country").str.contains(WORLD.pattern))
    _check_world(parts, world, origin)
    countries = parts.filter(~pl.col("country").is_in(list(NOT_COUNTRIES)))
    countries = countries.with_columns(_iso3(countries["country"]).alias("country_iso3"))
    _fail(countries, pl.col("country_iso3").is_null(), origin, "country", "is not a country")
    meta = pl.DataFrame([(k, *v) for k, v in COMMODITIES.items()],
                        schema=["commodity", "commodity_id", "unit", "stage"], orient="row")
    return countries.filter(pl.col("qty").is_not_null()).join(meta, on="commodity").select(
        "country_iso3", pl.col("commodity_id").alias("commodity"), "year", "qty", "unit",
        "stage", pl.lit(SOURCE_ID).alias("source"), pl.lit(vintage).alias("vintage"),
        "_source_row")


def _check_world(parts: pl.DataFrame, world: pl.DataFrame, origin: Path) -> None:
    sums = parts.group_by("commodity", "year").agg(pl.col("qty").sum().alias("parts"))
    joined = world.join(sums, on=["commodity", "year"], how="left").filter(
        (pl.col("qty") > 0)
        & ((pl.col("parts") - pl.col("qty")).abs() > WORLD_TOLERANCE * pl.col("qty")))
    if joined.height:
        row = joined.row(0, named=True)
        raise DataError(f"{row['commodity']} {row['year']}: countries sum to {row['parts']:,.0f} "
                        f"but the world total is {row['qty']:,.0f}", source=origin,
                        row=int(row["_source_row"]), field="value_raw")


def _fail(frame: pl.DataFrame, condition: pl.Expr, origin: Path, field: str, what: str) -> None:
    fail_where(frame, condition, source=origin, field=field,
               message=lambda value: f"value {value!r} {what}")


def read_long(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The long-form release: (production rows input, usgs_salient rows)."""
    raw = _read(path, LONG_COLUMNS)
    vintage = _edition(raw["source_pdf"].drop_nulls().first() or path.name)
    world = raw.filter(pl.col("table") == "world_production").select(
        "commodity", pl.col("label_or_country").alias("country"), "year", "value_raw",
        "_source_row")
    salient = raw.filter(pl.col("table") == "us_salient")
    value, qualifier = parse_values(pl.col("value_raw"))
    salient = salient.with_columns(
        pl.col("year").str.extract(r"^(\d{4})e?$").cast(pl.Int32).alias("year_int"),
        value.alias("value"), qualifier.alias("qualifier"))
    _fail(salient, pl.col("year_int").is_null(), path, "year", "is not a year")
    _fail(salient, pl.col("value").is_null() & pl.col("qualifier").is_null(), path,
          "value_raw", "is not a number")
    _fail(salient, pl.col("value") < 0, path, "value_raw", "is negative")
    ids = {k: v[0] for k, v in COMMODITIES.items()}
    salient = salient.select(
        pl.col("commodity").replace(ids), pl.col("year_int").alias("year"),
        pl.col("year").str.ends_with("e").alias("estimated"), "section",
        pl.col("subsection").fill_null(""), pl.col("label_or_country").alias("label"),
        pl.when(pl.col("qualifier").is_in(["W", "NA", "XX"])).then(None)
        .otherwise(pl.col("value")).alias("value"),
        "qualifier", "value_raw", pl.col("units_note").alias("unit_note"),
        pl.lit(SOURCE_ID).alias("source"), pl.lit(vintage).alias("vintage"), "_source_row")
    return production_rows(world, path, vintage), salient


def read_wide(path: Path) -> pl.DataFrame:
    """A one-commodity world table (Prod_t_est_YYYY columns) -> production rows."""
    raw = _read(path, WIDE_COLUMNS).filter(pl.col("Country").is_not_null()
                                           & (pl.col("Country").str.strip_chars() != ""))
    years = [c for c in raw.columns if re.fullmatch(r"Prod_t_(est_)?\d{4}", c)]
    if not years:
        raise DataError("no production columns (Prod_t_est_YYYY)", source=path, row=1,
                        field="Prod_t_est_YYYY")
    kinds = raw["Type"].str.to_lowercase().unique().to_list()
    commodity = next((k for k in COMMODITIES if all(t.startswith(k) for t in kinds)), None)
    if commodity is None:
        raise DataError(f"cannot tell the commodity from Type {kinds[0]!r}", source=path, row=2,
                        field="Type")
    vintage = _edition(raw["Source"].drop_nulls().first() or path.name)
    long = raw.unpivot(index=["Country", "_source_row"], on=years, variable_name="col",
                       value_name="value_raw").select(
        pl.lit(commodity).alias("commodity"), pl.col("Country").alias("country"),
        pl.col("col").str.extract(r"(\d{4})$").alias("year"), "value_raw", "_source_row")
    return production_rows(long, path, vintage)


def _read(path: Path, required: Sequence[str]) -> pl.DataFrame:
    try:
        raw = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise DataError(f"cannot read USGS CSV: {exc}", source=path) from exc
    raw = raw.rename({c: c.strip().lstrip("\ufeff") for c in raw.columns})
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise DataError(f"missing column; the file has {raw.columns[:10]}", source=path, row=1,
                        field=missing[0])
    return raw.with_row_index("_source_row", offset=2)


def _edition(text: str) -> str:
    match = re.search(r"mcs\s*(\d{4})", str(text), re.IGNORECASE)
    return f"MCS{match.group(1)}" if match else str(text)


def refresh(con: duckdb.DuckDBPyConnection, settings: Settings, *,
            path: Sequence[Path] | Path | None = None, **_: object) -> list[LoadResult]:
    """Load USGS MCS data-release CSVs given by ``--path`` (either shape)."""
    if not path:
        raise ChokeholdError("give a USGS MCS data-release CSV with --path FILE")
    results = []
    for file in [Path(path)] if isinstance(path, (str, Path)) else [Path(p) for p in path]:
        if not file.exists():
            raise DataError("no such file", source=file)
        with file.open(encoding="utf-8-sig", errors="replace") as fh:
            header = fh.readline()
        if header.startswith("commodity,table"):
            production, salient = read_long(file)
        else:
            production, salient = read_wide(file), None
        digest = sha256_file(file)
        vintage = production["vintage"].first() if production.height else None
        results.append(load_frame(con, "production", production, source_id=SOURCE_ID,
                                  vintage=vintage, origin=file, sha256=digest))
        if salient is not None:
            results.append(load_frame(con, "usgs_salient", salient, source_id=SOURCE_ID,
                                      vintage=salient["vintage"].first(), origin=file,
                                      sha256=digest))
    return results
