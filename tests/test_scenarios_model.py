"""The Monte Carlo model: hand-computed answers, the loop oracle, and properties (hypothesis)."""

from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from scipy.special import betaincinv

from chokehold.analysis.scenarios.distributions import Beta, Fixed, Triangular, Uniform
from chokehold.analysis.scenarios.exposure import exposure_matrix, resolve_for
from chokehold.analysis.scenarios.model import (
    cumulative_unmet,
    run,
    sample,
    simulate,
    simulate_reference,
)
from chokehold.analysis.scenarios.spec import (
    PARAMETERS,
    SAMPLED_ORDER,
    DataValue,
    ResolvedParameter,
    load_scenario,
    resolve,
)
from chokehold.commodities import load_commodities
from chokehold.config import PROJECT_ROOT
from chokehold.registry import load_registry

FOLDER = PROJECT_ROOT / "data" / "scenarios"
SPEC = load_scenario(FOLDER, "base")


def fixed(**values: float) -> dict[str, ResolvedParameter]:
    base = {"supplier_share": 0.5, "coverage": 1.0, "scope_share": 1.0,
            "approval_probability": 0.0, "licensing_delay_months": 0.0, "stock_cover_months": 1.0,
            "substitution_rate": 0.0, "substitution_cap": 0.0, "demand_elasticity": -0.2,
            "supply_elasticity": 0.3, "baseline_consumption_t": 100.0, "imports_t": 100.0,
            "unit_value_usd_per_t": 1000.0, "horizon_months": 6}
    base.update(values)
    return {k: ResolvedParameter(k, Fixed(value=v), "r", "c", "test") for k, v in base.items()}


def test_known_answer_full_cut_drawn_from_stock_then_unmet():
    # 50 t/month cut (100 t imports x 0.5 share), 100 t stock: months 1-2 drawn from stock,
    # months 3-6 unmet 50 t = half of demand; dP/P = 0.5 / (0.2 + 0.3) = 1.0.
    result = run(fixed(), horizon=6, draws=3, seed=1, applies=True)
    months = result.months
    assert months["shortfall_t_p50"].to_list() == pytest.approx([0, 0, 50, 50, 50, 50])
    assert months["stock_t_p50"].to_list() == pytest.approx([50, 0, 0, 0, 0, 0])
    assert months["shortfall_share_p50"].to_list() == pytest.approx([0, 0, .5, .5, .5, .5])
    assert months["price_change_p50"].to_list() == pytest.approx([0, 0, 1, 1, 1, 1])
    summary = result.summary
    assert summary["cumulative_shortfall_t_p50"] == pytest.approx(200)
    assert summary["value_at_risk_usd"] == pytest.approx(200_000)
    assert summary["peak_shortfall_share_p90"] == pytest.approx(0.5)
    assert summary["first_shortfall_month_p50"] == 3
    assert result.sensitivity.is_empty()  # nothing uncertain, nothing to rank


def test_known_answer_delay_approval_and_substitution_ramp():
    # delay 1.5: month 1 fully blocked, month 2 half blocked. approval 0.5 afterwards.
    # cut = 50, 50*(0.5+0.5*0.5)=37.5, 25, 25; replaced 10%, 20%, 20% (cap), 20%.
    params = fixed(licensing_delay_months=1.5, approval_probability=0.5, stock_cover_months=0,
                   substitution_rate=0.1, substitution_cap=0.2, horizon_months=4)
    months = run(params, horizon=4, draws=2, seed=3, applies=True).months
    assert months["cut_t_p50"].to_list() == pytest.approx([50, 37.5, 25, 25])
    assert months["replaced_t_p50"].to_list() == pytest.approx([5, 7.5, 5, 5])
    assert months["shortfall_t_p50"].to_list() == pytest.approx([45, 30, 20, 20])


def test_affected_volume_is_capped_at_consumption():
    # a re-exporter: imports 300 t/month from the issuer, consumption 100 t/month, no stock
    params = fixed(supplier_share=1.0, imports_t=300.0, stock_cover_months=0)
    months = run(params, horizon=6, draws=2, seed=1, applies=True).months
    assert months["shortfall_share_p50"].max() == pytest.approx(1.0)


def test_distribution_quantiles_match_hand_values():
    u = np.array([0.0, 0.25, 0.5, 1.0])
    assert Uniform(low=2, high=4).ppf(u) == pytest.approx([2, 2.5, 3, 4])
    # symmetric triangular(0, 1, 2): median 1, P25 = sqrt(0.25 * 2 * 1) = 0.7071
    assert Triangular(low=0, mode=1, high=2).ppf(u) == pytest.approx([0, 0.5 ** 0.5, 1, 2])
    assert Beta(a=1, b=1, low=10, high=20).ppf(u) == pytest.approx([10, 12.5, 15, 20])
    assert Beta(a=2, b=2).ppf(np.array([0.5])) == pytest.approx([0.5])


@pytest.mark.parametrize("a, b", [(0.5, 0.5), (1, 19), (6, 2), (3, 3), (0.7, 9)])
def test_tabulated_beta_quantiles_match_exact_inversion(a, b):
    u = np.random.default_rng(5).random(20_000)
    assert np.max(np.abs(Beta(a=a, b=b).ppf(u) - betaincinv(a, b, u))) < 1e-6


def test_licence_level_defaults_are_stochastically_ordered():
    """What makes 'stricter never lowers the shortfall' hold draw by draw: each level's approval
    quantiles lie below the laxer level's, and its delay quantiles above."""
    grid = np.linspace(0.001, 0.999, 999)
    levels = [SPEC.licence_levels[n] for n in range(4)]
    for lax, strict in itertools.pairwise(levels):
        assert np.all(strict.approval_probability.distribution.ppf(grid)
                      <= lax.approval_probability.distribution.ppf(grid) + 1e-12)
        assert np.all(strict.licensing_delay_months.distribution.ppf(grid)
                      >= lax.licensing_delay_months.distribution.ppf(grid) - 1e-12)


# ---- properties -----------------------------------------------------------------------------

share = st.floats(0, 1)
positive = st.floats(0.01, 1e5)


@st.composite
def uncertain(draw, low: float, high: float):
    """A random distribution with support inside [low, high]."""
    a, b = sorted([draw(st.floats(low, high)), draw(st.floats(low, high))])
    kind = draw(st.sampled_from(["fixed", "uniform", "triangular", "beta"]))
    if kind == "fixed" or b - a < 1e-6:
        return Fixed(value=a)
    if kind == "uniform":
        return Uniform(low=a, high=b)
    if kind == "triangular":
        return Triangular(low=a, mode=draw(st.floats(a, b)), high=b)
    return Beta(a=draw(st.floats(0.5, 10)), b=draw(st.floats(0.5, 10)), low=a, high=b)


@st.composite
def parameter_sets(draw):
    dists = {
        "supplier_share": draw(uncertain(0, 1)), "coverage": draw(uncertain(0, 1)),
        "scope_share": draw(uncertain(0, 1)), "approval_probability": draw(uncertain(0, 1)),
        "licensing_delay_months": draw(uncertain(0, 12)),
        "stock_cover_months": draw(uncertain(0, 12)),
        "substitution_rate": draw(uncertain(0, 1)), "substitution_cap": draw(uncertain(0, 1)),
        "demand_elasticity": draw(uncertain(-1, -0.01)),
        "supply_elasticity": draw(uncertain(0, 1)),
        "baseline_consumption_t": draw(uncertain(0, 1e4)), "imports_t": draw(uncertain(0, 2e4)),
        "unit_value_usd_per_t": draw(uncertain(0, 1e5)),
    }
    return {k: ResolvedParameter(k, v, "r", "c", "test") for k, v in dists.items()}


SETTINGS = hsettings(max_examples=40, deadline=None)


@SETTINGS
@given(parameter_sets(), st.integers(1, 36), st.integers(0, 2**32 - 1))
def test_shortfall_between_zero_and_demand_and_bands_ordered(params, horizon, seed):
    x = sample(params, 300, seed)
    paths = simulate(x, horizon)
    consumption = x["baseline_consumption_t"][None, :]
    assert np.all(paths.unmet_t >= 0)
    assert np.all(paths.unmet_t <= consumption * (1 + 1e-12) + 1e-9)
    assert np.all((paths.share >= 0) & (paths.share <= 1 + 1e-12))
    assert np.all(paths.stock_t >= -1e-9)
    months = run(params, horizon=horizon, draws=300, seed=seed, applies=True,
                 tornado_draws=50).months
    for what in ("shortfall_t", "shortfall_share", "price_change"):
        assert (months[f"{what}_p10"] <= months[f"{what}_p50"] + 1e-12).all()
        assert (months[f"{what}_p50"] <= months[f"{what}_p90"] + 1e-12).all()


@SETTINGS
@given(parameter_sets(), st.integers(0, 2**32 - 1))
def test_vectorised_model_equals_the_loop(params, seed):
    x = sample(params, 40, seed)
    assert simulate(x, 12).unmet_t == pytest.approx(simulate_reference(x, 12), abs=1e-6)


DATA = {"supplier_share", "coverage", "scope_share", "baseline_consumption_t", "imports_t",
        "unit_value_usd_per_t"}


@SETTINGS
@given(st.fixed_dictionaries({"supplier_share": share, "coverage": share, "scope_share": share,
                              "baseline_consumption_t": positive, "imports_t": positive,
                              "unit_value_usd_per_t": positive}),
       st.integers(0, 2**32 - 1))
def test_stricter_licence_level_never_lowers_expected_shortfall(values, seed):
    data = {k: DataValue(v, "t", "t") for k, v in values.items()}
    expected = []
    for level in range(4):
        params = resolve(SPEC, control="c", commodity="x", importer="KOR", licence_level=level,
                         data=data)
        expected.append(run(params, horizon=24, draws=500, seed=seed, applies=True,
                            tornado_draws=10).summary["expected_cumulative_shortfall_t"])
    assert all(a <= b * (1 + 1e-9) + 1e-9 for a, b in itertools.pairwise(expected)), expected


@SETTINGS
@given(parameter_sets(), st.floats(0, 12), st.floats(0, 12), st.integers(0, 2**32 - 1))
def test_more_stock_cover_never_raises_shortfall(params, s1, s2, seed):
    low, high = sorted([s1, s2])
    out = []
    for cover in (low, high):
        p = {**params, "stock_cover_months": ResolvedParameter(
            "stock_cover_months", Fixed(value=cover), "r", "c", "t")}
        x = sample(p, 300, seed)
        unmet = simulate(x, 24).unmet_t
        out.append((unmet.sum(axis=0).mean(), unmet))
    assert out[1][0] <= out[0][0] * (1 + 1e-9) + 1e-9
    assert np.all(out[1][1].sum(axis=0) <= out[0][1].sum(axis=0) + 1e-6)


@SETTINGS
@given(parameter_sets(), st.integers(0, 2**32 - 1))
def test_same_seed_same_result(params, seed):
    a = run(params, horizon=12, draws=200, seed=seed, applies=True, tornado_draws=20)
    b = run(params, horizon=12, draws=200, seed=seed, applies=True, tornado_draws=20)
    assert a.months.equals(b.months) and a.summary == b.summary
    assert a.sensitivity.equals(b.sensitivity)


def test_different_seeds_differ_when_uncertain():
    params = fixed()
    params["stock_cover_months"] = ResolvedParameter("stock_cover_months",
                                                     Uniform(low=0, high=3), "r", "c", "t")
    a = run(params, horizon=6, draws=500, seed=1, applies=True).summary
    b = run(params, horizon=6, draws=500, seed=2, applies=True).summary
    assert a["expected_cumulative_shortfall_t"] != b["expected_cumulative_shortfall_t"]


def test_tornado_ranks_the_parameter_that_matters():
    params = fixed(horizon_months=12)
    params["stock_cover_months"] = ResolvedParameter("stock_cover_months",
                                                     Uniform(low=0, high=6), "r", "c", "t")
    params["demand_elasticity"] = ResolvedParameter("demand_elasticity",
                                                    Uniform(low=-0.5, high=-0.1), "r", "c", "t")
    table = run(params, horizon=12, draws=2000, seed=1, applies=True).sensitivity
    assert table["parameter"].to_list() == ["stock_cover_months", "demand_elasticity"]
    top = table.row(0, named=True)
    # 50 t/month over 12 months = 600 t less the stock: P10 0.6 months (60 t), P90 5.4 (540 t)
    assert top["shortfall_t_p50_at_p10"] == pytest.approx(540, rel=1e-6)
    assert top["shortfall_t_p50_at_p90"] == pytest.approx(60, rel=1e-6)
    assert table.row(1, named=True)["swing_t"] == 0  # elasticities move prices, not volumes


# ---- a measure that does not reach the importer ----------------------------------------------

COMMODITIES = load_commodities(PROJECT_ROOT / "data" / "commodities.yaml")
REGISTRY = load_registry(PROJECT_ROOT / "data" / "controls", COMMODITIES)
FLOWS = pl.DataFrame({
    "reporter_iso3": ["USA", "USA", "JPN", "JPN", "FRA"],
    "partner_iso3": ["CHN", "MYS", "CHN", "USA", "JPN"],
    "period": [date(2024, 1, 1)] * 5,
    "hs_code": ["280530", "284690", "280530", "284610", "280530"],
    "value_usd": [1e6, 5e5, 2e6, 1e5, 3e5], "qty": [100.0, 50.0, 240.0, 60.0, 30.0],
    "qty_unit": ["t"] * 5})
PRODUCTION = pl.DataFrame({"country_iso3": ["USA"], "commodity": ["rare_earths"],
                           "year": [2024], "qty": [1200.0], "unit": ["t REO"]},
                          schema_overrides={"year": pl.Int64})


@SETTINGS
@given(st.sampled_from(["USA", "FRA", "DEU", "CHN"]), st.integers(0, 2**32 - 1))
def test_measure_that_does_not_cover_the_importer_gives_zero(importer, seed):
    measure = REGISTRY["cn-2026-japan-military-end-use-ban"]
    params, applies = resolve_for(SPEC, measure, COMMODITIES["rare_earths"], importer, FLOWS,
                                  PRODUCTION, "HS92")
    assert not applies
    result = run(params, horizon=24, draws=300, seed=seed, applies=applies, tornado_draws=20)
    assert result.summary["expected_cumulative_shortfall_t"] == 0
    assert result.summary["peak_shortfall_share_p90"] == 0
    assert result.months["price_change_p90"].max() == 0


def test_resolve_for_derives_hand_checked_inputs():
    measure = REGISTRY["cn-2025-18-medium-heavy-rare-earths"]
    params, applies = resolve_for(SPEC, measure, COMMODITIES["rare_earths"], "JPN", FLOWS,
                                  PRODUCTION, "HS92")
    value = {k: p.distribution.ppf(np.array([0.5]))[0] for k, p in params.items()
             if k in DATA}
    assert applies
    # content terms (t REO): 280530 x 1.17, 284610/284690 x 0.8 (data/commodities.yaml)
    jpn_t = 240 * 1.17 + 60 * 0.8
    assert value["supplier_share"] == pytest.approx(240 * 1.17 / jpn_t)
    assert value["coverage"] == 1.0  # all of CHN's 240 t are in 280530, a covered line
    assert value["imports_t"] == pytest.approx(jpn_t / 12)
    # apparent consumption = 0 production + imports - exports (FRA's 30 t of 280530 from JPN)
    assert value["baseline_consumption_t"] == pytest.approx((jpn_t - 30 * 1.17) / 12)
    assert value["unit_value_usd_per_t"] == pytest.approx(2e6 / (240 * 1.17))
    usa, _ = resolve_for(SPEC, measure, COMMODITIES["rare_earths"], "USA", FLOWS, PRODUCTION,
                         "HS92")
    # USA: 1200 t REO produced + imports 100 x 1.17 + 50 x 0.8 - exports 60 x 0.8 (to JPN)
    assert usa["baseline_consumption_t"].distribution.value == pytest.approx(
        (1200 + 117 + 40 - 48) / 12)
    assert usa["coverage"].distribution.value == 1.0


def test_matrix_has_zero_rows_where_the_measure_does_not_reach_and_ranks():
    measures = [REGISTRY["cn-2026-japan-military-end-use-ban"],
                REGISTRY["cn-2025-18-medium-heavy-rare-earths"]]
    frame = exposure_matrix(SPEC, measures, COMMODITIES, ["JPN", "USA"], FLOWS, PRODUCTION,
                            "HS92", as_of=date(2026, 2, 1), draws=500, seed=1)
    jp_usa = frame.filter((pl.col("control_id") == measures[0].id)
                          & (pl.col("importer_iso3") == "USA") & (pl.col("commodity") ==
                                                                  "rare_earths")).row(0, named=True)
    assert jp_usa["applies"] is False and jp_usa["expected_cumulative_shortfall_t"] == 0
    assert jp_usa["value_at_risk_usd"] == 0
    # JPN x gallium has no trade rows: a row that says why, not a crash
    gallium = frame.filter((pl.col("importer_iso3") == "JPN") & (pl.col("commodity") == "gallium"))
    assert gallium["note"][0].startswith("supplier_share for JPN x gallium")
    ranked = frame.filter(pl.col("rank_shortfall").is_not_null())
    assert ranked["expected_cumulative_shortfall_t"].is_sorted(descending=True)
    assert set(frame["control_id"]) == {m.id for m in measures}
    # the extraterritorial and October 2025 measures are suspended on this date: not in the matrix
    frame2 = exposure_matrix(SPEC, [REGISTRY["cn-2025-61-extraterritorial-rare-earths"]],
                             COMMODITIES, ["JPN"], FLOWS, PRODUCTION, "HS92",
                             as_of=date(2026, 2, 1), draws=100, seed=1)
    assert frame2.is_empty()


def test_sampling_order_covers_every_sampled_parameter():
    assert set(SAMPLED_ORDER) == set(PARAMETERS) - {"horizon_months"}


@SETTINGS
@given(parameter_sets(), st.integers(1, 36), st.integers(0, 2**32 - 1))
def test_cumulative_shortcut_equals_the_summed_path(params, horizon, seed):
    x = sample(params, 200, seed)
    assert cumulative_unmet(x, horizon) == pytest.approx(
        simulate(x, horizon).unmet_t.sum(axis=0), rel=1e-9, abs=1e-6)
