"""Summaries the reports and the CLI show: frames in, frames out (no warehouse access).

``analysis.read`` queries the rows; these turn them into the concentration summary, the
reliance balance, partner shares over time, production shares and the main importers.
"""

from __future__ import annotations

import polars as pl

from chokehold.analysis import dependence as dep
from chokehold.analysis.defaults import SUPPLIER, TOP_PARTNERS

SUMMARY_SCHEMA = {"year": pl.Int32, "supplier_share": pl.Float64,
                  "supplier_value_usd": pl.Float64, "total_value_usd": pl.Float64,
                  "hhi": pl.Float64, "partners": pl.UInt32, "top_partner": pl.String,
                  "top_share": pl.Float64, "top3_share": pl.Float64}


def concentration_summary(shares: pl.DataFrame, supplier: str = SUPPLIER) -> pl.DataFrame:
    """Per year (``dependence.import_shares`` rows of one importer, annual): the supplier's
    share and value, the total, HHI, number of partners, the top supplier and the top-3 share."""
    if shares.is_empty():
        return pl.DataFrame(schema=SUMMARY_SCHEMA)
    conc = dep.concentration(shares, top_n=3, supplier=supplier)
    from_supplier = shares.filter(pl.col("partner_iso3") == supplier).group_by("period").agg(
        pl.col("value_usd").sum().alias("supplier_value_usd"))
    return (conc.join(from_supplier, on="period", how="left")
            .select(pl.col("period").dt.year().alias("year"),
                    pl.col(f"{supplier.lower()}_share").alias("supplier_share"),
                    pl.col("supplier_value_usd").fill_null(0.0), "total_value_usd", "hhi",
                    "partners", "top_partner", "top_share", "top3_share")
            .cast(SUMMARY_SCHEMA).sort("year"))


def partner_shares_over_time(shares: pl.DataFrame, names: dict[str, str] | None = None,
                             top: int = TOP_PARTNERS) -> pl.DataFrame:
    """Per year, the shares of the ``top`` largest suppliers of the latest year and of all other
    partners together ('other'): year, partner (named by ``names``), share."""
    if shares.is_empty():
        return pl.DataFrame(schema={"year": pl.Int32, "partner": pl.String,
                                    "share": pl.Float64})
    latest = shares.filter(pl.col("period") == pl.col("period").max())
    leaders = latest.sort("share", descending=True)["partner_iso3"].head(top).to_list()
    grouped = shares.with_columns(
        pl.when(pl.col("partner_iso3").is_in(leaders)).then(pl.col("partner_iso3"))
        .otherwise(pl.lit("other")).alias("partner"))
    order = {code: n for n, code in enumerate([*leaders, "other"])}
    return (grouped.group_by("period", "partner").agg(pl.col("share").sum())
            .with_columns(pl.col("period").dt.year().cast(pl.Int32).alias("year"),
                          pl.col("partner").replace_strict(order, return_dtype=pl.Int32)
                          .alias("_order"),
                          pl.col("partner").replace(names or {}).alias("partner"))
            .sort("_order", "year").select("year", "partner", "share"))


def _tonnes_per_year(flows: pl.DataFrame, name: str) -> pl.DataFrame:
    return (flows.filter(pl.col("qty_unit") == "t")
            .group_by(pl.col("period").dt.year().cast(pl.Int32).alias("year"))
            .agg(pl.col("qty").sum().alias(name)))


def reliance_balance(production: pl.DataFrame, imports: pl.DataFrame, exports: pl.DataFrame,
                     country: str) -> pl.DataFrame:
    """Net import reliance per year (``dependence.net_import_reliance``) of ``country``.

    ``production``: one source's rows (``read.production``: country_iso3, year, qty, unit);
    the country's production is 0 where the source records none for it in a year it covers.
    ``imports``/``exports``: the country's trade rows of the commodity (tonnes are used).
    Empty when the source has no production rows at all."""
    if production.is_empty():
        return pl.DataFrame()
    produced = production.group_by(pl.col("year").cast(pl.Int32)).agg(
        pl.col("qty").filter(pl.col("country_iso3") == country).sum().alias("production"),
        pl.col("unit").first(),
        (pl.col("country_iso3") == country).any().alias("production_recorded"))
    balance = (produced.join(_tonnes_per_year(imports, "imports"), on="year", how="inner")
               .join(_tonnes_per_year(exports, "exports"), on="year", how="left")
               .with_columns(pl.col("exports").fill_null(0.0)))
    return dep.net_import_reliance(balance).select(
        "year", "production", "unit", "production_recorded", "imports", "exports",
        "apparent_consumption", "net_import_reliance").sort("year")


def production_shares(production: pl.DataFrame, country: str) -> pl.DataFrame:
    """Per year and stage (one source's rows): the country's production, the world's (sum of
    countries) and the country's share of it."""
    return (production.group_by("year", "stage", "unit")
            .agg(pl.col("qty").filter(pl.col("country_iso3") == country).sum()
                 .alias("country_qty"), pl.col("qty").sum().alias("world_qty"))
            .with_columns((pl.col("country_qty") / pl.col("world_qty")).alias("country_share"))
            .select("year", "stage", "unit", "country_qty", "world_qty", "country_share")
            .sort("year", "stage"))


def importers_by_value(flows: pl.DataFrame) -> pl.DataFrame:
    """Each importer's total value in ``flows`` (one commodity, supplier and year), largest
    first (ties by code)."""
    return (flows.group_by("reporter_iso3").agg(pl.col("value_usd").sum())
            .sort(["value_usd", "reporter_iso3"], descending=[True, False]))


def main_importers(flows: pl.DataFrame, n: int, among: list[str] | None = None,
                   minimum_usd: float = 0.0) -> list[str]:
    """The ``n`` largest importers by value in ``flows`` (one commodity, supplier and year)
    with at least ``minimum_usd``, optionally only those ``among`` a list."""
    ranked = importers_by_value(flows).filter(pl.col("value_usd") >= minimum_usd)
    codes = ranked["reporter_iso3"].to_list()
    return [c for c in codes if among is None or c in among][:n]
