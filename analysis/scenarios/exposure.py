"""One control x importer x commodity run, and the exposure matrix over many (pure functions).

The matrix ranks every modelled measure in force on a date x importer x covered commodity by
expected cumulative shortfall and by value at risk. Where the measure does not reach the
importer, the row is there with zeros; where the data cannot give a parameter, the row says why.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from chokehold.analysis.scenarios.inputs import covered_lines, scope_share, trade_inputs
from chokehold.analysis.scenarios.model import Result, run, sample, simulate, summarise
from chokehold.analysis.scenarios.spec import (
    PARAMETERS,
    DataValue,
    ResolvedParameter,
    ScenarioSpec,
    resolve,
)
from chokehold.commodities import Commodity
from chokehold.errors import ChokeholdError, UnknownValueError
from chokehold.registry import Measure


def modelled(measure: Measure) -> bool:
    """Measures with a licence regime; enforcement campaigns add no new restriction."""
    return measure.licence_level is not None


def resolve_for(spec: ScenarioSpec, measure: Measure, commodity: Commodity, importer: str,
                flows: pl.DataFrame, production: pl.DataFrame, revision: str, *,
                published: pl.DataFrame | None = None
                ) -> tuple[dict[str, ResolvedParameter], bool]:
    """Every parameter for this combination, and whether the measure reaches the importer."""
    params, applies, _ = resolve_case(spec, measure, commodity, importer, flows, production,
                                      revision, published=published)
    return params, applies


def resolve_case(spec: ScenarioSpec, measure: Measure, commodity: Commodity, importer: str,
                 flows: pl.DataFrame, production: pl.DataFrame, revision: str, *,
                 published: pl.DataFrame | None = None
                 ) -> tuple[dict[str, ResolvedParameter], bool, tuple[str, ...]]:
    """:func:`resolve_for`, plus the flags the derived inputs carry (sorted, unique)."""
    if not modelled(measure):
        raise ChokeholdError(f"{measure.id} is a {measure.kind} measure without a licence "
                             "level; the model covers export_control and catalogue measures")
    if commodity.id not in measure.commodities:
        raise UnknownValueError(f"commodity for {measure.id}", commodity.id, measure.commodities)
    lines = commodity.lines(revision)
    mine = flows.filter(pl.col("hs_code").is_in(lines))
    factors = {line: f.factor for line, f in commodity.content_factors.items()}
    has_production = commodity.production is not None and bool(
        production.filter(pl.col("commodity") == commodity.id).height)
    data = trade_inputs(mine, production, importer=importer, supplier=measure.issuer_iso3,
                        commodity=commodity.id, covered=covered_lines(measure, commodity, revision),
                        lines=lines, factors=factors, published=published,
                        has_production=has_production)
    flags = tuple(sorted({f for v in data.values() for f in v.flags}))
    scope = scope_share(measure, importer)
    if scope is not None:
        data["scope_share"] = scope
    applies = scope is None or scope.value > 0
    pinned = {} if applies else {"scope_share": scope}
    if not applies:
        data = {**{p: DataValue(0.0, "not derived", "Not needed: the measure does not reach "
                                f"{importer}.") for p in PARAMETERS if PARAMETERS[p].derived_from},
                **data}
    params = resolve(spec, control=measure.id, commodity=commodity.id, importer=importer,
                     licence_level=measure.licence_level, data=data,  # type: ignore[arg-type]
                     pinned=pinned)
    return params, applies, flags


def run_one(spec: ScenarioSpec, measure: Measure, commodity: Commodity, importer: str,
            flows: pl.DataFrame, production: pl.DataFrame, revision: str, *, draws: int,
            seed: int, published: pl.DataFrame | None = None,
            extra_flags: tuple[str, ...] = ()) -> Result:
    """One run; ``extra_flags`` come from outside the inputs (e.g. ``later_release``)."""
    params, applies, flags = resolve_case(spec, measure, commodity, importer, flows, production,
                                          revision, published=published)
    return run(params, horizon=spec.horizon(), draws=draws, seed=seed, applies=applies,
               flags=(*flags, *extra_flags))


MATRIX_SCHEMA = {
    "as_of": pl.Date, "control_id": pl.String, "importer_iso3": pl.String,
    "commodity": pl.String, "status": pl.String, "licence_level": pl.Int64,
    "applies": pl.Boolean, "supplier_share": pl.Float64, "coverage": pl.Float64,
    "expected_cumulative_shortfall_t": pl.Float64, "cumulative_shortfall_t_p50": pl.Float64,
    "peak_shortfall_share_p50": pl.Float64, "peak_shortfall_share_p90": pl.Float64,
    "value_at_risk_usd": pl.Float64, "rank_shortfall": pl.Int64, "rank_value": pl.Int64,
    "flags": pl.String, "consumption_basis": pl.String, "note": pl.String,
}


NOT_A_FINDING = r"\b(saturated|thin_trade)\b"
"""Flags that keep a matrix row out of the ranking (its figures are a bound or immaterial)."""


def consumption_basis(params: dict[str, ResolvedParameter]) -> str:
    """``published``, ``apparent`` or ``imports`` (the basis of baseline consumption)."""
    rationale = params["baseline_consumption_t"].rationale
    return ("published" if rationale.startswith("Published") else
            "apparent" if rationale.startswith("Apparent") else
            "imports" if rationale.startswith("Imports") else "scenario")


def _median(param: ResolvedParameter) -> float:
    return float(param.distribution.ppf(np.array([0.5]))[0])


def exposure_matrix(spec: ScenarioSpec, measures: list[Measure], commodities: dict[str, Commodity],
                    importers: list[str], flows: pl.DataFrame, production: pl.DataFrame,
                    revision: str, *, as_of: date, draws: int, seed: int,
                    in_force_only: bool = True, published: pl.DataFrame | None = None,
                    extra_flags: tuple[str, ...] = ()) -> pl.DataFrame:
    """Every measure in force on ``as_of`` (with a licence level) x importer x commodity it
    covers, ranked by expected cumulative shortfall (t) and by value at risk (USD); rows
    flagged ``saturated`` or ``thin_trade`` are shown unranked (not findings).
    ``in_force_only=False`` keeps measures of any status ("if it bit again")."""
    rows = []
    horizon = spec.horizon()
    own = {i: flows.filter((pl.col("reporter_iso3") == i) | (pl.col("partner_iso3") == i))
           for i in importers}
    for measure in measures:
        status = measure.status_on(as_of)
        if (in_force_only and status != "in_force") or not modelled(measure):
            continue
        for cid in measure.commodities:
            for importer in importers:
                row = {"as_of": as_of, "control_id": measure.id, "importer_iso3": importer,
                       "commodity": cid, "status": status,
                       "licence_level": measure.licence_level, "note": None}
                try:
                    params, applies, flags = resolve_case(
                        spec, measure, commodities[cid], importer, own[importer], production,
                        revision, published=published)
                except ChokeholdError as exc:
                    rows.append({**row, "applies": measure.applies_to(importer)
                                 and importer != measure.issuer_iso3, "note": str(exc)})
                    continue
                x = sample(params, draws, seed)
                summary = summarise(simulate(x, horizon), x, applies,
                                    flags=(*flags, *extra_flags))
                rows.append({**row, **{k: summary[k] for k in MATRIX_SCHEMA if k in summary},
                             "supplier_share": _median(params["supplier_share"]),
                             "coverage": _median(params["coverage"]),
                             "flags": ", ".join(summary["flags"]),
                             "consumption_basis": consumption_basis(params),
                             "note": None if applies else "measure does not reach importer"})
    frame = pl.DataFrame(rows, schema={k: v for k, v in MATRIX_SCHEMA.items()
                                       if not k.startswith("rank_")})
    # a saturated or immaterial row is not a finding: it keeps its figures and flags, no rank
    finding = ~pl.col("flags").fill_null("").str.contains(NOT_A_FINDING)

    def rank(column: str) -> pl.Expr:
        return (pl.when(finding).then(pl.col(column)).otherwise(None)
                .rank("ordinal", descending=True).cast(pl.Int64))

    ranked = frame.with_columns(rank("expected_cumulative_shortfall_t").alias("rank_shortfall"),
                                rank("value_at_risk_usd").alias("rank_value"))
    return ranked.sort(["rank_shortfall", "control_id", "importer_iso3", "commodity"],
                       nulls_last=True).select(list(MATRIX_SCHEMA))
