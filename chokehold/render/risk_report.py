"""The supply-risk section of the reports: the indices side by side and the GeoPolRisk score
over time, every number from ``chokehold.analysis.risk``."""

from __future__ import annotations

from datetime import date

import polars as pl

from chokehold.analysis import risk
from chokehold.render import data
from chokehold.render.charts import Chart, Marker, Series, Table

LABELS = {
    "china_share_value": "China's share of imports (value)",
    "china_share_qty": "China's share of imports (quantity)",
    "import_hhi": "Import HHI",
    "production_hhi": "Production HHI",
    "net_import_reliance": "Net import reliance",
    "geopolrisk_import_risk": "GeoPolRisk import risk",
    "geopolrisk_score": "GeoPolRisk score",
    "geopolrisk_cf": "GeoPolRisk CF",
    "eu_supply_risk": "EU-method supply risk",
    "eu_trade_factor_china": "Trade factor t of China (EU method)",
}
SOURCES = ["baci", "world_mining_data", "wgi", "chokehold_registry"]


def inputs() -> risk.RiskData:
    """What the indices read, once per document."""
    return risk.load(data.connection(), data.settings())


def risk_year(inputs: risk.RiskData, commodity: str, until: date) -> int:
    """The latest year with trade, production and WGI scores for the commodity, up to until."""
    material = risk.resolve_material(inputs, commodity)
    mat = inputs.materials.filter(pl.col("material") == material)["commodity"][0]
    years = (set(inputs.production.filter(pl.col("commodity") == mat)["year"])
             & set(inputs.imports.filter(pl.col("material") == material)["year"])
             & set(inputs.governance["year"]))
    return max(y for y in years if y <= until.year)


def indices_table(inputs: risk.RiskData, importer: str, commodity: str, year: int,
                  as_of: date) -> Table:
    """Every index for the importer and commodity, with unit, source and method."""
    result = risk.compare(inputs, importer, commodity, year, as_of)
    rows = [{"index": LABELS[k], "value": result[k], "unit": n["unit"], "source": n["source"],
             "method": n["method"]} for k, n in result["notes"].items()]
    return Table(pl.DataFrame(rows), title=f"Supply-risk indices, {data.country_name(importer)}"
                 f", {data.commodity_label(commodity)}, {year} (controls as of {as_of})",
                 source=data.source_line(*SOURCES), decimals={"value": 3})


def geopolrisk_chart(inputs: risk.RiskData, importer: str, commodity: str, until: date
                     ) -> Chart:
    """The importer's GeoPolRisk score per data year, with the commodity's control dates."""
    series = risk.geopolrisk_series(inputs, importer, commodity)
    years = [date(y, 7, 1) for y in series["year"]]
    last = series.row(-1, named=True)
    first = series.row(0, named=True)
    where, label = data.country_name(importer), data.commodity_label(commodity)
    marks = [Marker(day, text) for day, text in data.control_events(commodity, until)
             if years and day >= years[0]]
    return Chart(
        title=f"{where}'s GeoPolRisk score for {label} was {last['score']:.3f} in "
              f"{last['year']} ({first['score']:.3f} in {first['year']})",
        y_label="GeoPolRisk score (HHI x import risk)", x_label="data year",
        source=data.source_line(*SOURCES[:3]) + ". Control dates from the registry.",
        series=[Series("GeoPolRisk score", years, series["score"].to_list())],
        markers=marks, decimals=2)
