"""Backtests: the model's predicted first-year change in the issuer's supply against the data.

For each modelled measure whose aftermath is in the loaded trade data and each main importer:

* the **base year** is the last calendar year before the measure took effect; the model's
  inputs come from trade up to that year only (no look-ahead; ``--data-mode real-time`` cuts
  them further to what was released by the effective date);
* the **aftermath year** is the first full calendar year after the effective date when the
  data have it, else the effective year itself (partial: only the months in force count);
* **predicted** change = - (tonnes the measure cuts in the months of the aftermath year, each
  month weighted by its overlap with the year) / (the base year's tonnes from the issuer), per
  draw; P10/P50/P90 across draws. The cut is before substitution: other suppliers replace
  volume, the issuer's own supply still falls by the whole cut;
* **observed** change = aftermath-year tonnes from the issuer / base-year tonnes - 1, in the
  same content terms (data/commodities.yaml ``content_factors``);
* **error** = predicted P50 - observed (share points); ``within_band`` says whether the
  observed change lies in the P10-P90 band.

A large error is a finding about the model (demand trends, front-running before the effective
date, licences granted faster than assumed, rerouting through third countries), not a failure.
"""

from __future__ import annotations

import calendar
from datetime import date

import numpy as np
import polars as pl

from chokehold.analysis.scenarios.exposure import modelled, resolve_case
from chokehold.analysis.scenarios.inputs import with_content
from chokehold.analysis.scenarios.model import sample, simulate
from chokehold.analysis.scenarios.spec import ScenarioSpec
from chokehold.commodities import Commodity
from chokehold.errors import ChokeholdError
from chokehold.registry import Measure

SCHEMA = {
    "control_id": pl.String, "effective": pl.Date, "commodity": pl.String,
    "importer_iso3": pl.String, "base_year": pl.Int64, "aftermath_year": pl.Int64,
    "months_in_force": pl.Float64, "issuer_t_base": pl.Float64, "issuer_t_after": pl.Float64,
    "observed_change": pl.Float64, "predicted_change_p10": pl.Float64,
    "predicted_change_p50": pl.Float64, "predicted_change_p90": pl.Float64,
    "error": pl.Float64, "within_band": pl.Boolean, "flags": pl.String, "note": pl.String,
}


def _add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def years_for(effective: date, last_year: int) -> tuple[int, int] | None:
    """(base year, aftermath year), or None when the data end before the measure took effect."""
    if effective.year > last_year:
        return None
    after = effective.year + 1 if effective.year + 1 <= last_year else effective.year
    return effective.year - 1, after


def month_weights(effective: date, year: int, horizon: int) -> np.ndarray:
    """For model months 1..horizon (month m runs from effective + m-1 months to effective + m),
    the share of each month inside calendar ``year``."""
    start, end = date(year, 1, 1), date(year + 1, 1, 1)
    out = np.zeros(horizon)
    for m in range(horizon):
        lo, hi = _add_months(effective, m), _add_months(effective, m + 1)
        overlap = (min(hi, end) - max(lo, start)).days
        out[m] = max(overlap, 0) / (hi - lo).days
    return out


def issuer_tonnes(flows: pl.DataFrame, importer: str, issuer: str, year: int,
                  factors: dict[str, float]) -> float:
    rows = flows.filter((pl.col("reporter_iso3") == importer) & (pl.col("partner_iso3") == issuer)
                        & (pl.col("period").dt.year() == year))
    return float(with_content(rows, factors)["content_t"].sum()) if rows.height else 0.0


def backtest(spec: ScenarioSpec, measures: list[Measure], commodities: dict[str, Commodity],
             importers: dict[tuple[str, str], list[str]], inputs: pl.DataFrame,
             observed: pl.DataFrame, production: pl.DataFrame, revision: str, *,
             last_year: int, draws: int, seed: int, published: pl.DataFrame | None = None,
             extra_flags: tuple[str, ...] = ()) -> pl.DataFrame:
    """One row per measure x commodity x importer (``importers[(measure id, commodity)]``).

    ``inputs`` are the trade rows the model may see (cut to the base year here); ``observed``
    the rows the outcome is read from (all loaded years).
    """
    rows = []
    for m in measures:
        if not modelled(m) or m.effective is None:
            continue
        years = years_for(m.effective, last_year)
        if years is None:
            continue
        base, after = years
        for cid in m.commodities:
            good = commodities[cid]
            lines = good.lines(revision)
            factors = {line: f.factor for line, f in good.content_factors.items()}
            head = {"control_id": m.id, "effective": m.effective, "commodity": cid,
                    "base_year": base, "aftermath_year": after}
            present = observed.filter(pl.col("hs_code").is_in(lines))
            if present.is_empty():
                rows.append({**head, "note": f"no {cid} lines ({', '.join(lines)}) in the loaded "
                             "trade data: cannot be backtested"})
                continue
            for importer in importers.get((m.id, cid), []):
                rows.append(_one(spec, m, good, importer, inputs, observed, production, revision,
                                 head, factors, draws, seed, published, extra_flags))
    return pl.DataFrame(rows, schema=SCHEMA)


def _one(spec: ScenarioSpec, m: Measure, good: Commodity, importer: str, inputs: pl.DataFrame,
         observed: pl.DataFrame, production: pl.DataFrame, revision: str, head: dict,
         factors: dict[str, float], draws: int, seed: int, published: pl.DataFrame | None,
         extra_flags: tuple[str, ...]) -> dict:
    base, after = head["base_year"], head["aftermath_year"]
    row = {**head, "importer_iso3": importer}
    before = issuer_tonnes(observed, importer, m.issuer_iso3, base, factors)
    later = issuer_tonnes(observed, importer, m.issuer_iso3, after, factors)
    row |= {"issuer_t_base": before, "issuer_t_after": later}
    if before <= 0:
        return {**row, "note": f"no imports from {m.issuer_iso3} in {base}"}
    seen = inputs.filter((pl.col("period").dt.year() <= base)
                         & ((pl.col("reporter_iso3") == importer)
                            | (pl.col("partner_iso3") == importer)))
    try:
        params, applies, flags = resolve_case(spec, m, good, importer, seen, production,
                                              revision, published=published)
    except ChokeholdError as exc:
        return {**row, "note": str(exc)}
    assert m.effective is not None
    weights = month_weights(m.effective, after, max(spec.horizon(), 36))
    horizon = int(np.flatnonzero(weights)[-1]) + 1
    x = sample(params, draws, seed)
    paths = simulate(x, horizon)
    cut_year = weights[:horizon] @ paths.cut_t                # tonnes cut in the year, per draw
    supply_year = 12 * x["imports_t"] * x["supplier_share"]   # base-year tonnes from the issuer
    predicted = -np.divide(cut_year, supply_year, out=np.zeros_like(cut_year),
                           where=supply_year > 0)
    p10, p50, p90 = (float(v) for v in np.quantile(predicted, (0.1, 0.5, 0.9)))
    change = later / before - 1
    return {**row, "months_in_force": float(weights.sum()), "observed_change": change,
            "predicted_change_p10": p10, "predicted_change_p50": p50,
            "predicted_change_p90": p90, "error": p50 - change,
            "within_band": min(p10, p90) <= change <= max(p10, p90),
            "flags": ", ".join(sorted({*flags, *extra_flags})),
            "note": None if applies else "the measure does not reach the importer"}
