"""Scenario files: loading, deep merge, precedence, validation errors, and the JSON schema."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chokehold.analysis.scenarios.spec import (
    PARAMETERS,
    DataValue,
    load_scenario,
    resolve,
    schema_json,
)
from chokehold.config import PROJECT_ROOT
from chokehold.errors import ChokeholdError, DataError, UnknownValueError

FOLDER = PROJECT_ROOT / "data" / "scenarios"
DATA = {p: DataValue(v, "test", "test") for p, v in {
    "supplier_share": 0.6, "coverage": 0.5, "scope_share": 1.0, "baseline_consumption_t": 100.0,
    "imports_t": 90.0, "unit_value_usd_per_t": 1000.0}.items()}


def _resolve(spec, importer="KOR", control="c", commodity="rare_earths", level=1, **kw):
    return resolve(spec, control=control, commodity=commodity, importer=importer,
                   licence_level=level, data=DATA, **kw)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "scenarios"
    shutil.copytree(FOLDER, target)
    return target


def test_every_bundled_scenario_resolves_every_parameter_with_unit_rationale_citation():
    for name in ("base", "tight"):
        params = _resolve(load_scenario(FOLDER, name))
        assert set(params) == set(PARAMETERS)
        for p in params.values():
            assert p.unit and p.rationale and p.citation
            assert p.record()["distribution"] != "derived"


def test_schema_file_is_up_to_date():
    assert (FOLDER / "scenario.schema.json").read_text(encoding="utf-8") == schema_json(), \
        "run `chokehold scenario schema --write` and commit data/scenarios/scenario.schema.json"


def test_tight_merges_onto_base_field_by_field():
    base, tight = load_scenario(FOLDER, "base"), load_scenario(FOLDER, "tight")
    b, t = _resolve(base), _resolve(tight)
    assert t["stock_cover_months"].distribution.model_dump() == \
        {"kind": "triangular", "low": 0.5, "mode": 1.0, "high": 2.0}
    assert t["demand_elasticity"] == b["demand_elasticity"]
    assert t["demand_elasticity"].origin == "scenario base"
    assert t["stock_cover_months"].origin == "scenario tight"
    # licence level 1: approval replaced, delay inherited from base
    assert t["approval_probability"].distribution.model_dump()["a"] == 2
    assert t["licensing_delay_months"] == b["licensing_delay_months"]
    assert len(tight.overrides) == len(base.overrides)


def test_precedence_targeted_then_later_file_then_set():
    base, tight = load_scenario(FOLDER, "base"), load_scenario(FOLDER, "tight")
    # base: the JPN override beats base's general stock cover
    assert _resolve(base, importer="JPN")["stock_cover_months"].distribution.mode == 3
    # tight (a later file) beats base's targeted JPN override
    assert _resolve(tight, importer="JPN")["stock_cover_months"].distribution.mode == 1
    with_set = load_scenario(FOLDER, "tight", ["stock_cover_months=uniform(4, 5)"])
    got = _resolve(with_set, importer="JPN")["stock_cover_months"]
    assert (got.distribution.low, got.distribution.high, got.origin) == (4, 5, "--set")


def test_pinned_fact_beats_scenario_override():
    spec = load_scenario(FOLDER, "base")
    control = "cn-2026-japan-military-end-use-ban"
    assert _resolve(spec, control=control)["scope_share"].distribution.kind == "triangular"
    pinned = {"scope_share": DataValue(0.0, "registry", "does not reach")}
    assert _resolve(spec, control=control, pinned=pinned)["scope_share"].distribution.value == 0


def test_licence_level_table_gives_approval_and_delay():
    spec = load_scenario(FOLDER, "base")
    level0 = _resolve(spec, level=0)
    assert level0["approval_probability"].distribution.value == 1
    assert level0["licensing_delay_months"].distribution.value == 0
    assert _resolve(spec, level=3)["approval_probability"].origin == "licence level 3"


@pytest.mark.parametrize("assignment, message", [
    ("approval_probability=1.2", ("approval_probability, a probability or share, must lie in "
                                 "[0, 1]; fixed(1.2)")),
    ("coverage=uniform(-0.1, 0.5)", "--set coverage: coverage, a probability or share, must"),
    ("stock_cover_months=-1", "stock_cover_months"),
    ("demand_elasticity=0.3", "demand elasticity (negative by convention)"),
    ("supply_elasticity=-0.1", "supply elasticity (positive by convention)"),
    ("horizon_months=12.5", "fixed whole number"),
    ("supplier_share=triangular(0.5, 0.4, 0.6)", "low <= mode <= high"),
    ("supplier_share=lognormal(1, 2)", "neither a number nor"),
    ("stock_cover_months", "expected param=value"),
])
def test_bad_set_values_are_clear_errors(assignment, message):
    with pytest.raises(ChokeholdError) as err:
        load_scenario(FOLDER, "base", [assignment])
    assert message in str(err.value)


def test_unknown_parameter_and_scenario_list_valid_names():
    with pytest.raises(UnknownValueError, match="stock_cover_months"):
        load_scenario(FOLDER, "base", ["stock_months=2"])
    with pytest.raises(UnknownValueError, match="valid: base, tight"):
        load_scenario(FOLDER, "nope")


def test_bad_file_names_file_and_field(folder: Path):
    (folder / "bad.yaml").write_text(
        "description: x\nparameters:\n  stock_cover:\n    distribution: {kind: fixed, value: 1}\n"
        "    rationale: r\n    citation: c\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_scenario(folder, "bad")
    assert "bad.yaml" in str(err.value) and "parameters.stock_cover" in str(err.value)
    (folder / "prob.yaml").write_text(
        "description: x\nlicence_levels:\n  2:\n    approval_probability:\n"
        "      distribution: {kind: uniform, low: 0.5, high: 1.5}\n      rationale: r\n"
        "      citation: assumption\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"licence_levels.2.approval_probability: approval_pro"):
        load_scenario(folder, "prob")
    (folder / "a.yaml").write_text("description: x\nextends: b\n", encoding="utf-8")
    (folder / "b.yaml").write_text("description: y\nextends: a\n", encoding="utf-8")
    with pytest.raises(DataError, match="loops"):
        load_scenario(folder, "a")


def test_underivable_parameter_says_how_to_supply_it():
    spec = load_scenario(FOLDER, "base")
    with pytest.raises(ChokeholdError, match="--set supplier_share=VALUE"):
        resolve(spec, control="c", commodity="gallium", importer="JPN", licence_level=1,
                data={k: v for k, v in DATA.items() if k != "supplier_share"})


def test_zero_elasticities_are_refused():
    spec = load_scenario(FOLDER, "base", ["demand_elasticity=0", "supply_elasticity=0"])
    with pytest.raises(ChokeholdError, match="price response is undefined"):
        _resolve(spec)
