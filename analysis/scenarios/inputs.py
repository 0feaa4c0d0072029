"""Data-derived parameters: supplier share, coverage, scope, consumption (frames in, values out).

Quantities are in *content* terms (the basis of the commodity's production series, e.g. t REO
for rare earths): BACI tonnes of product times the HS line's content factor
(``content_factors`` in data/commodities.yaml, each cited); a line without a factor is counted
at gross weight and the value says so (flag ``gross_weight_basis``). Baseline consumption is a
published apparent consumption where one is loaded (USGS salient statistics), else production
(the commodity's one preferred source) + imports - exports; a balance that is negative or a
small difference of two large gross flows is replaced by imports (``non_credible_balance``).
"""

from __future__ import annotations

import polars as pl

from chokehold.analysis.scenarios.flags import CREDIBLE_NET_SHARE, THIN_TRADE_USD
from chokehold.analysis.scenarios.spec import DataValue
from chokehold.commodities import Commodity
from chokehold.registry import Measure

BACI = "CEPII BACI HS92 (warehouse trade_flows)"
WMD = "World Mining Data (warehouse production)"
USGS = "USGS Mineral Commodity Summaries, US salient statistics (warehouse usgs_salient)"


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


def with_content(flows: pl.DataFrame, factors: dict[str, float]) -> pl.DataFrame:
    """The rows with ``content_t`` (tonnes times the line's content factor, or the gross tonnes
    where the line has none) and ``gross`` (no factor for the line)."""
    known = pl.col("hs_code").is_in(sorted(factors))
    factor = pl.col("hs_code").replace_strict(factors, default=1.0, return_dtype=pl.Float64)
    return flows.with_columns((pl.col("qty").fill_null(0) * factor).alias("content_t"),
                              (~known).alias("gross"))


def trade_inputs(flows: pl.DataFrame, production: pl.DataFrame, *, importer: str, supplier: str,
                 commodity: str, covered: set[str] | None, lines: list[str],
                 factors: dict[str, float] | None = None,
                 published: pl.DataFrame | None = None, has_production: bool = True,
                 thin_trade_usd: float = THIN_TRADE_USD) -> dict[str, DataValue]:
    """Supplier share, coverage, monthly imports and consumption, and unit value.

    ``flows`` holds trade_flows rows of the commodity's lines in which the importer is reporter
    (imports) or partner (its exports, mirrored); ``production`` holds the preferred source's
    production rows (``has_production`` False where the commodity has none loaded);
    ``published`` holds published apparent consumption (country_iso3, commodity, year, qty in
    t of content, citation). Uses the importer's latest import year; returns {} when it has no
    imports of the commodity at all.
    """
    flows = with_content(flows, factors or {})
    own = flows.filter(pl.col("reporter_iso3") == importer)
    if own.is_empty() or not (own["qty"].fill_null(0) > 0).any():
        return {}
    period = own["period"].max()
    year = period.year  # type: ignore[union-attr]
    imports = own.filter(pl.col("period") == period)
    total_t = float(imports["content_t"].sum())
    gross = tuple(["gross_weight_basis"]) if bool(
        imports.filter(pl.col("gross") & (pl.col("qty").fill_null(0) > 0)).height) else ()
    basis = "t, gross weight" if gross else "t of content"
    by_partner = imports.group_by("partner_iso3").agg(pl.col("content_t").sum())
    from_supplier = imports.filter(pl.col("partner_iso3") == supplier)
    supplier_t = float(from_supplier["content_t"].sum())
    share = supplier_t / total_t if total_t > 0 else 0.0
    value_usd = float(from_supplier["value_usd"].fill_null(0).sum())
    thin = ("thin_trade",) if value_usd < thin_trade_usd else ()
    lines_text = ", ".join(lines)
    out = {
        "supplier_share": DataValue(share, BACI, f"{supplier} supplied {supplier_t:,.0f} of the "
                                    f"{total_t:,.0f} {basis} {importer} imported in {year} from "
                                    f"{by_partner.height} partners (HS92 {lines_text}; USD "
                                    f"{value_usd:,.0f} from {supplier}).", thin + gross),
        "imports_t": DataValue(total_t / 12, BACI, f"{importer} imported {total_t:,.0f} {basis} "
                               f"in {year}; per month.", gross),
    }
    if covered is not None:
        if supplier_t > 0:
            covered_t = float(from_supplier.filter(pl.col("hs_code").is_in(sorted(covered)))
                              ["content_t"].sum())
            out["coverage"] = DataValue(covered_t / supplier_t, f"registry x {BACI}",
                                        f"{covered_t:,.0f} of {supplier_t:,.0f} {basis} from "
                                        f"{supplier} in {year} are in covered lines "
                                        f"{', '.join(sorted(covered)) or 'none'}.")
        else:
            out["coverage"] = DataValue(len(covered) / len(lines), "registry",
                                        f"No imports from {supplier} in {year}: share of the "
                                        f"commodity's {len(lines)} lines covered.")
    basis_t, basis_v, whom = supplier_t, value_usd, f"from {supplier}"
    if supplier_t <= 0:
        basis_t, basis_v, whom = total_t, float(imports["value_usd"].fill_null(0).sum()), "(all)"
    out["unit_value_usd_per_t"] = DataValue(basis_v / basis_t, BACI,
                                            f"Import value over {basis} {whom}, {year}.")
    out["baseline_consumption_t"] = baseline_consumption(
        flows, production, importer=importer, commodity=commodity, year=year, imports_t=total_t,
        basis=basis, gross=gross, published=published, has_production=has_production)
    return out


def baseline_consumption(flows: pl.DataFrame, production: pl.DataFrame, *, importer: str,
                         commodity: str, year: int, imports_t: float, basis: str,
                         gross: tuple[str, ...] = (), published: pl.DataFrame | None = None,
                         has_production: bool = True) -> DataValue:
    """Monthly consumption: published where loaded, else a credible apparent consumption, else
    imports (the basis and every caveat in the rationale and flags). ``flows`` must carry
    ``content_t`` (:func:`with_content`)."""
    if published is not None and not published.is_empty():
        mine = published.filter((pl.col("country_iso3") == importer)
                                & (pl.col("commodity") == commodity) & (pl.col("year") <= year)
                                & pl.col("qty").is_not_null())
        if not mine.is_empty():
            row = mine.sort("year").row(-1, named=True)
            return DataValue(float(row["qty"]) / 12, row.get("citation") or USGS,
                             f"Published apparent consumption {row['qty']:,.0f} t of content in "
                             f"{row['year']} ({row.get('citation') or USGS}); per month.")
    exports_t = float(flows.filter((pl.col("partner_iso3") == importer)
                                   & (pl.col("period").dt.year() == year))["content_t"].sum())
    made = production.filter((pl.col("country_iso3") == importer)
                             & (pl.col("commodity") == commodity) & (pl.col("year") <= year))
    flags = list(gross)
    if not has_production:
        produced, made_text = 0.0, "no production series loaded for the commodity"
        flags.append("no_production_data")
    elif made.is_empty():
        produced, made_text = 0.0, f"no production recorded for {importer} to {year}"
    else:
        latest = int(made["year"].max())  # type: ignore[arg-type]
        rows = made.filter(pl.col("year") == latest)
        produced = float(rows["qty"].sum())
        made_text = f"production {produced:,.0f} {rows['unit'][0]} in {latest}"
    apparent = produced + imports_t - exports_t
    gross_trade = imports_t + exports_t
    if apparent > 0 and apparent >= CREDIBLE_NET_SHARE * gross_trade:
        return DataValue(apparent / 12, f"{BACI}; {WMD}",
                         f"Apparent consumption {apparent:,.0f} {basis} in {year} ({made_text}, "
                         f"imports {imports_t:,.0f}, exports {exports_t:,.0f}); per month.",
                         tuple(flags))
    flags.append("non_credible_balance")
    return DataValue(imports_t / 12, BACI,
                     f"Imports {imports_t:,.0f} {basis} in {year}: production + imports - exports "
                     f"= {apparent:,.0f} is {'not positive' if apparent <= 0 else 'under '}"
                     f"{'' if apparent <= 0 else f'{CREDIBLE_NET_SHARE:.0%} of gross trade '}"
                     f"({made_text}, imports {imports_t:,.0f}, exports {exports_t:,.0f}), not a "
                     "credible consumption; import-only basis; per month.", tuple(flags))
