"""Data-derived parameters: supplier share, coverage, scope, consumption (frames in, values out).

Quantities are BACI tonnes of product (gross weight) in the data's HS revision; production is
World Mining Data tonnes (of content, e.g. t REO for rare earths), so apparent consumption mixes
the two bases where an importer also produces: the rationale of each value says which it used.
"""

from __future__ import annotations

import polars as pl
from chokehold.analysis.scenarios.spec import DataValue
from chokehold.analysis.shares import partner_shares, supplier_share

from chokehold.commodities import Commodity
from chokehold.controls import Measure

BACI = "CEPII BACI HS92 (warehouse trade_flows)"
WMD = "World Mining Data (warehouse production)"


def covered_lines(measure: Measure, commodity: Commodity, revision: str) -> set[str] | None:
    """The commodity's ``revision`` lines the measure covers, or None when it lists no line.

    A line is covered when the measure lists it, or when the measure lists a line of the same
    commodity and HS heading (four digits) that ``revision`` does not have: its successor after
    a renumbering or split (e.g. HS92 811000 -> HS07 811010/811020/811090).
    """
    listed = {code for item in measure.items if item.commodity == commodity.id
              for code in item.hs_codes}
    if not listed:
        return None
    lines = set(commodity.lines(revision))
    successors = {code[:4] for code in listed - lines}
    return {line for line in lines if line in listed or line[:4] in successors}


def scope_share(measure: Measure, importer: str) -> DataValue | None:
    """1 where the measure reaches all the importer's demand, 0 where it does not reach it, None
    where an end-use condition narrows it (the scenario must then give the share)."""
    if importer == measure.issuer_iso3 or not measure.applies_to(importer):
        where = ("the issuer itself" if importer == measure.issuer_iso3
                 else f"not among {', '.join(measure.destinations.countries)}")
        return DataValue(0.0, f"data/controls/{measure.id}.yaml",
                         f"The measure does not reach {importer} ({where}).")
    if measure.destinations.scope == "end_use" or measure.destinations.end_use_share_hint:
        return None
    return DataValue(1.0, f"data/controls/{measure.id}.yaml",
                     f"Destination scope '{measure.destinations.scope}' reaches all of "
                     f"{importer}'s demand.")


def trade_inputs(flows: pl.DataFrame, production: pl.DataFrame, *, importer: str, supplier: str,
                 commodity: str, covered: set[str] | None, lines: list[str]
                 ) -> dict[str, DataValue]:
    """Supplier share, coverage, monthly imports and consumption, and unit value.

    ``flows`` holds trade_flows rows of the commodity's lines in which the importer is reporter
    (imports) or partner (its exports, mirrored); ``production`` holds production rows. Uses the
    importer's latest import year; returns {} when it has no imports of the commodity at all.
    """
    own = flows.filter(pl.col("reporter_iso3") == importer)
    if own.is_empty() or not (own["qty"].fill_null(0) > 0).any():
        return {}
    period = own["period"].max()
    year = period.year  # type: ignore[union-attr]
    imports = own.filter(pl.col("period") == period)
    total_t = float(imports["qty"].fill_null(0).sum())
    shares = supplier_share(partner_shares(imports, basis="qty"), supplier)
    share = float(shares["supplier_share"][0])
    from_supplier = imports.filter(pl.col("partner_iso3") == supplier)
    supplier_t = float(from_supplier["qty"].fill_null(0).sum())
    lines_text = ", ".join(lines)
    out = {
        "supplier_share": DataValue(share, BACI, f"{supplier} supplied {supplier_t:,.0f} t of the "
                                    f"{total_t:,.0f} t {importer} imported in {year} "
                                    f"(HS92 {lines_text})."),
        "imports_t": DataValue(total_t / 12, BACI, f"{importer} imported {total_t:,.0f} t in "
                               f"{year}; per month."),
    }
    if covered is not None:
        if supplier_t > 0:
            covered_t = float(from_supplier.filter(pl.col("hs_code").is_in(sorted(covered)))["qty"]
                              .fill_null(0).sum())
            out["coverage"] = DataValue(covered_t / supplier_t, f"registry x {BACI}",
                                        f"{covered_t:,.0f} of {supplier_t:,.0f} t from {supplier} "
                                        f"in {year} are in covered lines "
                                        f"{', '.join(sorted(covered)) or 'none'}.")
        else:
            out["coverage"] = DataValue(len(covered) / len(lines), "registry",
                                        f"No imports from {supplier} in {year}: share of the "
                                        f"commodity's {len(lines)} lines covered.")
    value_usd = float(from_supplier["value_usd"].fill_null(0).sum())
    basis_t, basis_v, whom = supplier_t, value_usd, f"from {supplier}"
    if supplier_t <= 0:
        basis_t, basis_v, whom = total_t, float(imports["value_usd"].fill_null(0).sum()), "(all)"
    out["unit_value_usd_per_t"] = DataValue(basis_v / basis_t, BACI,
                                            f"Import value over tonnes {whom}, {year}.")
    out["baseline_consumption_t"] = _consumption(flows, production, importer=importer,
                                                 commodity=commodity, period=period,
                                                 imports_t=total_t)
    return out


def _consumption(flows: pl.DataFrame, production: pl.DataFrame, *, importer: str, commodity: str,
                 period, imports_t: float) -> DataValue:
    year = period.year
    exports_t = float(flows.filter((pl.col("partner_iso3") == importer)
                                   & (pl.col("period") == period))["qty"].fill_null(0).sum())
    made = production.filter((pl.col("country_iso3") == importer)
                             & (pl.col("commodity") == commodity) & (pl.col("year") <= year))
    if made.is_empty():
        produced, made_text = 0.0, f"no production recorded to {year}"
    else:
        latest = int(made["year"].max())  # type: ignore[arg-type]
        rows = made.filter(pl.col("year") == latest)
        produced = float(rows["qty"].sum())
        made_text = f"production {produced:,.0f} {rows['unit'][0]} in {latest}"
    apparent = produced + imports_t - exports_t
    if apparent > 0:
        return DataValue(apparent / 12, f"{BACI}; {WMD}",
                         f"Apparent consumption {apparent:,.0f} t in {year} ({made_text}, imports "
                         f"{imports_t:,.0f} t, exports {exports_t:,.0f} t); per month.")
    return DataValue(imports_t / 12, BACI,
                     f"Imports {imports_t:,.0f} t in {year}, because apparent consumption is not "
                     f"positive ({made_text}, exports {exports_t:,.0f} t: a re-exporter); per month.")
