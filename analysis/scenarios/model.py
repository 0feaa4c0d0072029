"""The Monte Carlo shortfall-and-price model (vectorised NumPy: draws x months arrays).

For each draw and month t = 1..H (all volumes in tonnes per month):

    affected   V   = min(imports x supplier_share x coverage x scope_share, consumption)
    blocked    b_t = clip(delay - (t - 1), 0, 1)       share of month t before licences flow
    cut        c_t = V x (b_t + (1 - b_t) x (1 - approval))
    replaced   r_t = min(substitution_rate x t, substitution_cap)
    gap        g_t = c_t x (1 - r_t)
    stock      S   = stock_cover_months x consumption, drawn down first:
    unmet      u_t = max(G_t - S, 0) - max(G_{t-1} - S, 0),  G_t = g_1 + ... + g_t
    share      s_t = u_t / consumption                          (0 <= s_t <= 1)
    price      dP/P_t = s_t / (|demand elasticity| + supply elasticity)

Sign conventions: the demand elasticity is negative and the supply elasticity positive; the
price response uses their magnitudes, so a shortfall raises the price (dP/P >= 0). It is a
partial-equilibrium, first-order response: read large values as "very large", not literally.
Arrays are months x draws. Percentile bands are taken across draws month by month; cumulative
and peak figures are percentiles of each draw's own total or maximum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from chokehold.analysis.scenarios.flags import SATURATION_SHARE
from chokehold.analysis.scenarios.spec import SAMPLED_ORDER, ResolvedParameter

QUANTILES = (0.1, 0.5, 0.9)


def sample(params: dict[str, ResolvedParameter], draws: int, seed: int) -> dict[str, np.ndarray]:
    """One array of ``draws`` values per parameter; parameter i always uses uniform row i."""
    uniforms = np.random.default_rng(seed).random((len(SAMPLED_ORDER), draws))
    return {name: params[name].distribution.ppf(uniforms[i])
            for i, name in enumerate(SAMPLED_ORDER)}


def affected(x: dict[str, np.ndarray]) -> np.ndarray:
    """Monthly volume the measure reaches (t), capped at consumption."""
    return np.minimum(x["imports_t"] * x["supplier_share"] * x["coverage"] * x["scope_share"],
                      x["baseline_consumption_t"])


@dataclass(frozen=True)
class Paths:
    """Months x draws arrays of the simulated path (each month's draws are contiguous)."""

    cut_t: np.ndarray
    replaced_t: np.ndarray
    unmet_t: np.ndarray
    stock_t: np.ndarray
    share: np.ndarray
    price_change: np.ndarray
    consumption: np.ndarray
    response: np.ndarray
    steady_cut_from: int
    """Month index (0-based) from which every draw's cut no longer changes."""


def _cut_and_replaced(x: dict[str, np.ndarray], horizon: int) -> tuple[np.ndarray, np.ndarray,
                                                                          int]:
    """Months x draws tonnes cut and tonnes replaced, and the month the cut stops changing."""
    volume = affected(x)
    months = np.arange(1, horizon + 1, dtype=float)[:, None]
    delay, approval = x["licensing_delay_months"], x["approval_probability"]
    cut = np.empty((horizon, volume.size))
    cut[:] = volume * (1.0 - approval)               # after licensing: only refusals are cut
    blocked_months = min(horizon, int(np.ceil(delay.max(initial=0.0))))
    if blocked_months:                                # b_t > 0 only while t - 1 < delay
        blocked = np.clip(delay - (months[:blocked_months] - 1.0), 0.0, 1.0)
        cut[:blocked_months] = volume * (1.0 - approval * (1.0 - blocked))
    replaced = np.minimum(months * x["substitution_rate"], x["substitution_cap"])
    replaced *= cut
    return cut, replaced, blocked_months


def simulate(x: dict[str, np.ndarray], horizon: int) -> Paths:
    """The monthly path for every draw (see the module docstring for the equations).

    Arrays are laid out months x draws and updated in place: at 100,000 draws the cost is
    memory traffic, so fewer temporaries is most of the speed.
    """
    consumption = x["baseline_consumption_t"]
    cut, replaced, blocked_months = _cut_and_replaced(x, horizon)
    gap = np.subtract(cut, replaced)
    cumulative = np.cumsum(gap, axis=0, out=gap)      # G_t (gap is not kept)
    stock0 = x["stock_cover_months"] * consumption
    unmet = np.subtract(cumulative, stock0)
    np.maximum(unmet, 0.0, out=unmet)                 # cumulative unmet
    for t in range(horizon - 1, 0, -1):               # monthly unmet, last month first
        unmet[t] -= unmet[t - 1]
    np.minimum(cumulative, stock0, out=cumulative)
    stock = np.subtract(stock0, cumulative, out=cumulative)
    safe = np.where(consumption > 0, consumption, np.inf)
    share = unmet / safe
    response = np.abs(x["demand_elasticity"]) + x["supply_elasticity"]
    return Paths(cut_t=cut, replaced_t=replaced, unmet_t=unmet, stock_t=stock, share=share,
                 price_change=share / response, consumption=consumption, response=response,
                 steady_cut_from=blocked_months)


def cumulative_unmet(x: dict[str, np.ndarray], horizon: int) -> np.ndarray:
    """Unmet demand summed over the horizon, per draw: max(G_H - S, 0), as the monthly unmet
    amounts telescope (what the tornado needs, without the monthly path)."""
    cut, replaced, _ = _cut_and_replaced(x, horizon)
    gap_total = cut.sum(axis=0) - replaced.sum(axis=0)
    return np.maximum(gap_total - x["stock_cover_months"] * x["baseline_consumption_t"], 0.0)


def simulate_reference(x: dict[str, np.ndarray], horizon: int) -> np.ndarray:
    """The same model, one draw and one month at a time in plain Python: the test oracle and
    the benchmark baseline. Returns unmet demand (tonnes) as months x draws."""
    draws = len(x["supplier_share"])
    out = []
    for i in range(draws):
        p = {k: float(v[i]) for k, v in x.items()}
        consumption = p["baseline_consumption_t"]
        volume = min(p["imports_t"] * p["supplier_share"] * p["coverage"] * p["scope_share"],
                     consumption)
        stock = p["stock_cover_months"] * consumption
        row = []
        for t in range(1, horizon + 1):
            blocked = min(max(p["licensing_delay_months"] - (t - 1), 0.0), 1.0)
            cut = volume * (blocked + (1 - blocked) * (1 - p["approval_probability"]))
            gap = cut * (1 - min(p["substitution_rate"] * t, p["substitution_cap"]))
            drawn = min(stock, gap)
            stock -= drawn
            row.append(gap - drawn)
        out.append(row)
    return np.array(out).T.reshape(horizon, draws)


def _quantiles(values: np.ndarray, qs: tuple[float, ...] = QUANTILES) -> list[np.ndarray]:
    """np.quantile's default (linear) percentiles along the last axis, from one sort (NumPy's
    vectorised sort is several times faster than np.quantile's partitioning here)."""
    ordered = np.sort(values, axis=-1)
    n = ordered.shape[-1]
    out = []
    for q in qs:
        h = (n - 1) * q
        lo = int(np.floor(h))
        hi = min(lo + 1, n - 1)
        low, high = ordered[..., lo], ordered[..., hi]
        out.append(low + (h - lo) * (high - low))
    return out


def monthly_table(paths: Paths) -> pl.DataFrame:
    """One row per month: P10/P50/P90 of unmet demand, share and price change, and medians of
    the cut, replaced volume and stock left."""
    horizon = paths.unmet_t.shape[0]
    t10, t50, t90 = bands = _quantiles(paths.unmet_t)
    # a fixed consumption (the usual, data-derived case) or price response only rescales the
    # bands, so the sort is skipped; each sort of 100,000 x 24 values is most of a run's time
    consumption = paths.consumption
    if consumption.size and np.all(consumption == consumption[0]):
        s10, s50, s90 = shares = [b / consumption[0] if consumption[0] > 0 else b * 0.0
                                  for b in bands]
    else:
        s10, s50, s90 = shares = _quantiles(paths.share)
    response = paths.response
    if response.size and np.all(response == response[0]):
        p10, p50, p90 = (b / response[0] for b in shares)
    else:
        p10, p50, p90 = _quantiles(paths.price_change)
    steady = min(paths.steady_cut_from, horizon - 1)
    (cut,) = _quantiles(paths.cut_t[: steady + 1], (0.5,))
    cut = np.concatenate([cut, np.repeat(cut[-1:], horizon - steady - 1)])
    (replaced,), (stock,) = (_quantiles(a, (0.5,)) for a in (paths.replaced_t, paths.stock_t))
    return pl.DataFrame({
        "month": np.arange(1, horizon + 1),
        "shortfall_t_p10": t10, "shortfall_t_p50": t50, "shortfall_t_p90": t90,
        "shortfall_share_p10": s10, "shortfall_share_p50": s50, "shortfall_share_p90": s90,
        "price_change_p10": p10, "price_change_p50": p50, "price_change_p90": p90,
        "cut_t_p50": cut, "replaced_t_p50": replaced, "stock_t_p50": stock,
    })


def saturated_share(x: dict[str, np.ndarray]) -> float:
    """Share of draws in which the volume the measure reaches is at least consumption (the cap
    of :func:`affected` binds: the figures then come from the cap, not from the data)."""
    raw = x["imports_t"] * x["supplier_share"] * x["coverage"] * x["scope_share"]
    hit = raw > x["baseline_consumption_t"] * (1 + 1e-9)
    return float(hit.mean()) if hit.size else 0.0


def summarise(paths: Paths, x: dict[str, np.ndarray], applies: bool,
              p50_path: np.ndarray | None = None, flags: tuple[str, ...] = ()) -> dict:
    """Peak and cumulative figures per draw, then their percentiles, mean and value at risk,
    and the result's flags (the inputs' ``flags`` plus ``saturated`` from the draws).

    Value at risk is the expected (mean) value of unmet demand over the horizon at the draw's
    unit value (USD per t). ``p50_path`` (the monthly P50 shortfall) saves a sort when known.
    """
    cumulative = paths.unmet_t.sum(axis=0)
    peak_share = paths.share.max(axis=0)
    peak_price = paths.price_change.max(axis=0)
    c10, c50, c90 = _quantiles(cumulative)
    k10, k50, k90 = _quantiles(peak_share)
    _, pp50, pp90 = _quantiles(peak_price)
    if p50_path is None:
        (p50_path,) = _quantiles(paths.unmet_t, (0.5,))
    first = np.flatnonzero(p50_path > 0)
    (volume,) = _quantiles(affected(x), (0.5,))
    capped = saturated_share(x)
    flagged = set(flags) | ({"saturated"} if capped > SATURATION_SHARE else set())
    return {
        "applies": applies,
        "peak_shortfall_share_p10": float(k10), "peak_shortfall_share_p50": float(k50),
        "peak_shortfall_share_p90": float(k90),
        "cumulative_shortfall_t_p10": float(c10), "cumulative_shortfall_t_p50": float(c50),
        "cumulative_shortfall_t_p90": float(c90),
        "expected_cumulative_shortfall_t": float(cumulative.mean()),
        "value_at_risk_usd": float((cumulative * x["unit_value_usd_per_t"]).mean()),
        "peak_price_change_p50": float(pp50), "peak_price_change_p90": float(pp90),
        "first_shortfall_month_p50": int(first[0]) + 1 if first.size else None,
        "affected_t_per_month_p50": float(volume),
        "consumption_t_per_month_p50": float(_quantiles(x["baseline_consumption_t"], (0.5,))[0]),
        "draws": int(cumulative.size),
        "saturated_share": capped,
        "flags": sorted(flagged),
    }


def tornado(x: dict[str, np.ndarray], horizon: int, params: dict[str, ResolvedParameter],
            base: float | None = None) -> pl.DataFrame:
    """Which parameters move the P50 cumulative shortfall most: each uncertain parameter is
    pinned at its own P10 and P90 while the others keep their draws (common random numbers).
    ``base`` is the headline's P50 of the same draws (computed here when not given)."""
    if base is None:
        (base,) = (float(v) for v in _quantiles(cumulative_unmet(x, horizon), (0.5,)))
    rows = []
    for name in SAMPLED_ORDER:
        dist = params[name].distribution
        if dist.degenerate:
            continue
        at = {}
        for label, q in (("low", 0.1), ("high", 0.9)):
            value = float(dist.ppf(np.array([q]))[0])
            pinned = {**x, name: np.full_like(x[name], value)}
            (median,) = _quantiles(cumulative_unmet(pinned, horizon), (0.5,))
            at[label] = (value, float(median))
        rows.append({"parameter": name, "value_p10": at["low"][0], "value_p90": at["high"][0],
                     "shortfall_t_p50_at_p10": at["low"][1],
                     "shortfall_t_p50_at_p90": at["high"][1],
                     "swing_t": abs(at["high"][1] - at["low"][1]), "base_shortfall_t_p50": base})
    schema = {"parameter": pl.String, "value_p10": pl.Float64, "value_p90": pl.Float64,
              "shortfall_t_p50_at_p10": pl.Float64, "shortfall_t_p50_at_p90": pl.Float64,
              "swing_t": pl.Float64, "base_shortfall_t_p50": pl.Float64}
    return pl.DataFrame(rows, schema=schema).sort("swing_t", descending=True)


@dataclass(frozen=True)
class Result:
    parameters: dict[str, ResolvedParameter]
    months: pl.DataFrame
    summary: dict
    sensitivity: pl.DataFrame


def run(params: dict[str, ResolvedParameter], *, horizon: int, draws: int, seed: int,
        applies: bool, tornado_draws: int | None = None, flags: tuple[str, ...] = ()) -> Result:
    """Sample, simulate, summarise, and rank the parameters by their swing (pure).

    The tornado uses the same draws as the headline and its base is the headline's P50 (one
    base per result); ``tornado_draws`` (tests only) cuts it to the first draws, base and all.
    """
    x = sample(params, draws, seed)
    paths = simulate(x, horizon)
    months = monthly_table(paths)
    summary = summarise(paths, x, applies, months["shortfall_t_p50"].to_numpy(), flags=flags)
    if tornado_draws is None or tornado_draws >= draws:
        sensitivity = tornado(x, horizon, params, base=summary["cumulative_shortfall_t_p50"])
    else:
        sensitivity = tornado({k: v[:tornado_draws] for k, v in x.items()}, horizon, params)
    return Result(params, months, {**summary, "seed": seed}, sensitivity)
