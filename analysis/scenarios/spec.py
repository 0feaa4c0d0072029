"""Scenario specification: the parameter catalogue, scenario files, merging and resolution.

A scenario file (data/scenarios/NAME.yaml) holds parameter entries (a distribution, a one-line
rationale, a citation or "assumption"), licence-level defaults and targeted overrides for one
control, commodity or importer. ``base.yaml`` is complete; a named scenario ``extends`` another
and is deep-merged onto it (a parameter entry is replaced whole, licence levels merge per field,
targeted overrides accumulate). The merged result is validated before any run.

Resolution for one control x importer x commodity: a later file beats the file it extends;
within one file a matching targeted override beats the general entry (and a later override an
earlier one); ``--set`` beats everything. Parameters still marked ``derived`` then come from the
licence-level table (approval, delay) or from the data (warehouse and registry).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from chokehold.analysis.scenarios.distributions import (
    Derived,
    Distribution,
    Fixed,
    Sampled,
    parse_distribution,
)
from chokehold.errors import ChokeholdError, DataError, UnknownValueError

INF = math.inf


@dataclass(frozen=True)
class ParamDef:
    """What a parameter measures: unit, meaning, valid domain, and what can derive it."""

    unit: str
    description: str
    low: float
    high: float
    derived_from: str | None = None


PARAMETERS: dict[str, ParamDef] = {
    "supplier_share": ParamDef(
        "share of import quantity", "Issuer's share of the importer's imports of the commodity "
        "(tonnes, latest BACI year).", 0, 1, "warehouse: trade_flows"),
    "coverage": ParamDef(
        "share of the issuer's supply", "Share of the issuer's shipments (tonnes) in the HS "
        "lines the measure covers.", 0, 1, "registry HS lines x warehouse trade_flows"),
    "scope_share": ParamDef(
        "share of the importer's demand", "Share of the importer's demand that the measure's "
        "destination and end-use condition reaches (0 when it does not reach the importer).",
        0, 1, "registry destinations"),
    "approval_probability": ParamDef(
        "probability", "Share of licence applications (by volume) approved once review ends.",
        0, 1, "licence level"),
    "licensing_delay_months": ParamDef(
        "months", "Months before the first licensed shipment (nothing covered flows before).",
        0, 60, "licence level"),
    "stock_cover_months": ParamDef(
        "months of consumption", "Commercial plus national stockpiles, in months of baseline "
        "consumption, drawn down before demand goes unmet.", 0, INF),
    "substitution_rate": ParamDef(
        "share of lost volume per month", "Ramp of replacement supply from other suppliers: "
        "share of the lost volume replaced grows by this much each month.", 0, 1),
    "substitution_cap": ParamDef(
        "share of lost volume", "Ceiling on the share of lost volume other suppliers can "
        "replace within the horizon.", 0, 1),
    "demand_elasticity": ParamDef(
        "dimensionless (<= 0)", "Short-run price elasticity of demand; negative by convention "
        "(its magnitude enters the price response).", -INF, 0),
    "supply_elasticity": ParamDef(
        "dimensionless (>= 0)", "Short-run price elasticity of supply from other sources; "
        "positive by convention.", 0, INF),
    "baseline_consumption_t": ParamDef(
        "t per month", "Baseline monthly consumption: apparent consumption (production + "
        "imports - exports) where positive, else imports.", 0, INF, "warehouse: trade_flows, "
        "production"),
    "imports_t": ParamDef(
        "t per month", "Baseline monthly imports of the commodity (all partners).", 0, INF,
        "warehouse: trade_flows"),
    "unit_value_usd_per_t": ParamDef(
        "USD per t", "Average unit value of the importer's imports from the issuer, for value "
        "at risk.", 0, INF, "warehouse: trade_flows"),
    "horizon_months": ParamDef(
        "months", "Length of the simulated path (a fixed whole number).", 1, 120),
}
SAMPLED_ORDER: tuple[str, ...] = tuple(p for p in PARAMETERS if p != "horizon_months")
"""Order in which parameters receive their uniform draws; append only (keeps seeds stable)."""
LICENCE_PARAMETERS = ("approval_probability", "licensing_delay_months")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParameterEntry(_Strict):
    distribution: Distribution
    rationale: str = Field(min_length=1, description="One line: why this distribution.")
    citation: str = Field(min_length=1, description='Source, or "assumption".')


ParameterSet = create_model(
    "ParameterSet", __config__=ConfigDict(extra="forbid", frozen=True),
    **{name: (ParameterEntry | None, Field(None, description=f"{d.description} Unit: {d.unit}."))
       for name, d in PARAMETERS.items()},
)


class LicenceDefaults(_Strict):
    meaning: str | None = None
    approval_probability: ParameterEntry | None = None
    licensing_delay_months: ParameterEntry | None = None


class TargetedOverride(_Strict):
    """Parameter entries that apply only to matching runs (unset filters match everything)."""

    control: str | None = None
    commodity: str | None = None
    importer: str | None = None
    parameters: ParameterSet  # type: ignore[valid-type]

    def matches(self, control: str, commodity: str, importer: str) -> bool:
        return all(want is None or want == have for want, have in (
            (self.control, control), (self.commodity, commodity), (self.importer, importer)))


class ScenarioFile(_Strict):
    """One file in data/scenarios/ (the JSON schema editors use is generated from this)."""

    description: str = Field(min_length=1)
    extends: str | None = Field(None, description="Scenario this one is merged onto; base "
                                "has none, others default to base.")
    parameters: ParameterSet = Field(default_factory=ParameterSet)  # type: ignore[valid-type]
    licence_levels: dict[int, LicenceDefaults] = Field(
        default_factory=dict, description="Defaults per licence level 0-3 (keys 0, 1, 2, 3).")
    overrides: list[TargetedOverride] = Field(default_factory=list)

    @field_validator("licence_levels")
    @classmethod
    def _levels(cls, levels: dict[int, LicenceDefaults]) -> dict[int, LicenceDefaults]:
        bad = sorted(set(levels) - {0, 1, 2, 3})
        if bad:
            raise ValueError(f"licence levels are 0-3, not {bad}")
        return levels


@dataclass(frozen=True)
class ResolvedParameter:
    name: str
    distribution: Sampled
    rationale: str
    citation: str
    origin: str

    @property
    def unit(self) -> str:
        return PARAMETERS[self.name].unit

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "unit": self.unit, "distribution": self.distribution.label(),
                **self.distribution.model_dump(), "rationale": self.rationale,
                "citation": self.citation, "origin": self.origin}


def _check_domain(name: str, entry: ParameterEntry, where: str, *, derived_ok: bool) -> None:
    d = PARAMETERS[name]
    dist = entry.distribution
    if isinstance(dist, Derived):
        if not derived_ok or d.derived_from is None:
            raise ValueError(f"{where}: {name} cannot be 'derived' here; give a distribution")
        return
    low, high = dist.support()
    if low < d.low or high > d.high:
        kind = {"dimensionless (<= 0)": "a demand elasticity (negative by convention)",
                "dimensionless (>= 0)": "a supply elasticity (positive by convention)"}
        what = f"{name}, a probability or share," if (d.low, d.high) == (0, 1) else \
            kind.get(d.unit, f"{name} ({d.unit})")
        raise ValueError(f"{where}: {what} must lie in [{d.low:g}, {d.high:g}]; "
                         f"{dist.label()} reaches [{low:g}, {high:g}]")
    if name == "horizon_months" and not (isinstance(dist, Fixed) and dist.value.is_integer()):
        raise ValueError(f"{where}: horizon_months must be a fixed whole number of months")


class ScenarioSpec(ScenarioFile):
    """A merged scenario: every parameter and licence level present, every support in its domain."""

    name: str
    sets: ParameterSet = Field(default_factory=ParameterSet)  # type: ignore[valid-type]
    layers: list[str] = Field(default_factory=list, description="Files merged, base first.")
    parameter_layers: dict[str, int] = Field(default_factory=dict)
    override_layers: list[int] = Field(default_factory=list)

    def layer_name(self, layer: int) -> str:
        return self.layers[layer] if layer < len(self.layers) else self.name

    @model_validator(mode="after")
    def _complete(self) -> ScenarioSpec:
        missing = [p for p in PARAMETERS if getattr(self.parameters, p) is None]
        if missing:
            raise ValueError(f"parameters missing: {', '.join(missing)}")
        for p in PARAMETERS:
            _check_domain(p, getattr(self.parameters, p), f"parameters.{p}", derived_ok=True)
        for level in (0, 1, 2, 3):
            defaults = self.licence_levels.get(level)
            for p in LICENCE_PARAMETERS:
                entry = getattr(defaults, p) if defaults else None
                if entry is None:
                    raise ValueError(f"licence_levels.{level}.{p} is missing")
                _check_domain(p, entry, f"licence_levels.{level}.{p}", derived_ok=False)
        for n, override in enumerate(self.overrides):
            for p in PARAMETERS:
                entry = getattr(override.parameters, p)
                if entry is not None:
                    _check_domain(p, entry, f"overrides.{n}.parameters.{p}", derived_ok=False)
        for p in PARAMETERS:
            entry = getattr(self.sets, p)
            if entry is not None:
                _check_domain(p, entry, f"--set {p}", derived_ok=False)
        return self

    def horizon(self) -> int:
        return int(self.parameters.horizon_months.distribution.value)  # type: ignore[union-attr]


def _merge(base: Any, over: Any) -> Any:
    """Deep merge: mappings recurse, lists concatenate, a parameter entry is replaced whole."""
    if isinstance(base, dict) and isinstance(over, dict) and "distribution" not in over:
        merged = dict(base)
        for key, value in over.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    if isinstance(base, list) and isinstance(over, list):
        return base + over
    return over


def scenario_names(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.yaml"))


def _read_file(folder: Path, name: str) -> dict:
    path = folder / f"{name}.yaml"
    if not path.is_file():
        raise UnknownValueError("scenario", name, scenario_names(folder))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DataError(f"cannot parse YAML: {exc}", source=path) from exc
    if not isinstance(raw, dict):
        raise DataError("expected a mapping", source=path)
    try:
        ScenarioFile.model_validate(raw)
    except ValidationError as exc:
        raise _as_data_error(exc, path) from exc
    return raw


def _as_data_error(exc: ValidationError, source: object) -> DataError:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or None
    message = err["msg"].removeprefix("Value error, ")
    return DataError(message, source=str(source), field=field)


def set_entries(assignments: list[str]) -> dict:
    """``["stock_cover_months=2", "supplier_share=uniform(0.5,0.7)"]`` -> parameter entries."""
    entries: dict[str, dict] = {}
    for text in assignments:
        name, sep, value = text.partition("=")
        name = name.strip()
        if not sep:
            raise ChokeholdError(f"--set {text!r}: expected param=value")
        if name not in PARAMETERS:
            raise UnknownValueError("parameter", name, PARAMETERS)
        try:
            dist = parse_distribution(value)
        except ValueError as exc:
            raise ChokeholdError(f"--set {name}: {exc}") from exc
        entries[name] = {"distribution": dist, "rationale": "set on the command line",
                         "citation": "user"}
    return entries


def load_scenario(folder: Path, name: str = "base", sets: list[str] | None = None) -> ScenarioSpec:
    """The named scenario merged onto what it extends (down to base), plus ``--set`` values."""
    chain, current = [], name
    while current is not None:
        if current in chain:
            raise DataError(f"scenario 'extends' loops: {' -> '.join([*chain, current])}",
                            source=folder / f"{name}.yaml", field="extends")
        chain.append(current)
        raw = _read_file(folder, current)
        current = raw.get("extends", None if current == "base" else "base")
    merged: dict = {}
    parameter_layers: dict[str, int] = {}
    override_layers: list[int] = []
    for layer, part in enumerate(reversed(chain)):
        raw = {k: v for k, v in _read_file(folder, part).items() if k != "extends"}
        parameter_layers |= {p: layer for p in raw.get("parameters") or {}}
        override_layers += [layer] * len(raw.get("overrides") or [])
        merged = _merge(merged, raw)
    try:
        return ScenarioSpec.model_validate({
            **merged, "name": name, "sets": set_entries(sets or []),
            "layers": list(reversed(chain)), "parameter_layers": parameter_layers,
            "override_layers": override_layers})
    except ValidationError as exc:
        if exc.errors()[0]["loc"][:1] == ("sets",) or "--set" in str(exc):
            raise ChokeholdError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from exc
        raise _as_data_error(exc, folder / f"{name}.yaml") from exc


def _stable(value: float) -> float:
    """12 significant digits: the order in which a parallel query sums floats must not change
    a seeded result."""
    return float(f"{value:.12g}")


@dataclass(frozen=True)
class DataValue:
    """A value derived from the warehouse or registry, with where it came from."""

    value: float
    citation: str
    rationale: str
    flags: tuple[str, ...] = ()
    """What limits the value (see ``analysis.scenarios.flags``)."""


def resolve(spec: ScenarioSpec, *, control: str, commodity: str, importer: str,
            licence_level: int, data: dict[str, DataValue],
            pinned: dict[str, DataValue] | None = None) -> dict[str, ResolvedParameter]:
    """Every parameter as a concrete distribution for one control x importer x commodity.

    ``data`` carries the derived values available (a missing one that is still 'derived' after
    all overrides is an error that says how to supply it); ``pinned`` values are facts that beat
    every scenario entry (a measure that does not reach the importer has scope 0).
    """
    candidates: dict[str, list[tuple[tuple, ParameterEntry, str]]] = {}
    for p in PARAMETERS:
        layer = spec.parameter_layers.get(p, 0)
        candidates[p] = [((layer, 0, 0), getattr(spec.parameters, p),
                          f"scenario {spec.layer_name(layer)}")]
    for n, override in enumerate(spec.overrides):
        if override.matches(control, commodity, importer):
            layer = spec.override_layers[n] if n < len(spec.override_layers) else 0
            target = ", ".join(f"{k}={v}" for k, v in override.model_dump(
                include={"control", "commodity", "importer"}).items() if v)
            for p in PARAMETERS:
                entry = getattr(override.parameters, p)
                if entry is not None:
                    candidates[p].append(((layer, 1, n), entry,
                                          f"scenario {spec.layer_name(layer)} ({target})"))
    for p in PARAMETERS:
        if getattr(spec.sets, p) is not None:
            candidates[p].append(((INF, 0, 0), getattr(spec.sets, p), "--set"))
    for p, value in (pinned or {}).items():
        candidates[p].append(((INF, 1, 0), ParameterEntry(
            distribution=Fixed(value=_stable(value.value)), rationale=value.rationale,
            citation=value.citation), PARAMETERS[p].derived_from or "data"))
    entries = {p: max(found, key=lambda c: c[0])[1:] for p, found in candidates.items()}
    level = spec.licence_levels[licence_level]
    resolved = {}
    for p, (entry, origin) in entries.items():
        if isinstance(entry.distribution, Derived):
            if p in LICENCE_PARAMETERS:
                entry, origin = getattr(level, p), f"licence level {licence_level}"
            elif p in data:
                value = data[p]
                entry = ParameterEntry(distribution=Fixed(value=_stable(value.value)),
                                       rationale=value.rationale, citation=value.citation)
                origin = PARAMETERS[p].derived_from or "data"
            else:
                raise ChokeholdError(
                    f"{p} for {importer} x {commodity} under {control} cannot be derived from "
                    f"the data; supply it with --set {p}=VALUE or a targeted override in the "
                    "scenario file")
            try:
                _check_domain(p, entry, p, derived_ok=False)
            except ValueError as exc:
                raise ChokeholdError(str(exc)) from exc
        resolved[p] = ResolvedParameter(p, entry.distribution, entry.rationale,  # type: ignore
                                        entry.citation, origin)
    demand_hi = resolved["demand_elasticity"].distribution.support()[1]
    supply_lo = resolved["supply_elasticity"].distribution.support()[0]
    if supply_lo - demand_hi <= 0:
        raise ChokeholdError("demand and supply elasticities can both be zero, so the price "
                             "response is undefined; keep |demand| + supply above zero")
    return resolved


def schema_json() -> str:
    """The JSON schema of a scenario file, for editors (data/scenarios/scenario.schema.json)."""
    schema = ScenarioFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "chokehold scenario file"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
