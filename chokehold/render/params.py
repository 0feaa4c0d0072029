"""Document parameters: typed from the parameters cell's defaults, checked against the data.

Everything here runs before any kernel starts, so bad input (an unknown control, importer,
commodity, scenario or market; a value of the wrong type; a date before the data) fails fast
with a message that lists the valid values.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from chokehold.countries import resolve_iso3
from chokehold.errors import ChokeholdError, UnknownValueError
from chokehold.render import data
from chokehold.render.qmd import QmdDocument

DATE_PARAMS = {"as_of", "start", "end"}
TRUE, FALSE = {"true", "yes", "1", "on"}, {"false", "no", "0", "off"}


class ParameterError(ChokeholdError):
    """A parameter value of the wrong type or outside the data."""


def split_assignments(pairs: list[str]) -> dict[str, str]:
    """``key=value`` (or Quarto's ``key:value``) strings to a mapping."""
    out = {}
    for pair in pairs:
        sep = "=" if "=" in pair else ":" if ":" in pair else None
        if sep is None:
            raise ParameterError(f"parameter {pair!r} is not key=value")
        key, value = pair.split(sep, 1)
        out[key.strip()] = value.strip()
    return out


def _coerce(name: str, raw: Any, default: Any) -> Any:
    """``raw`` as the type of the default (CLI values arrive as strings)."""
    kind = type(default).__name__
    if not isinstance(raw, str):
        if isinstance(default, float) and isinstance(raw, int) and not isinstance(raw, bool):
            return float(raw)
        if type(raw) is not type(default):
            raise ParameterError(f"parameter {name!r} must be {kind}, got {raw!r}")
        return raw
    try:
        if isinstance(default, bool):
            if raw.lower() not in TRUE | FALSE:
                raise ValueError(raw)
            return raw.lower() in TRUE
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, list):
            item = type(default[0]) if default else str
            return [_coerce(name, v.strip(), item("")) if item is not str else v.strip()
                    for v in raw.split(",") if v.strip()]
    except ValueError as exc:
        raise ParameterError(f"parameter {name!r} must be {kind}, got {raw!r}") from exc
    return raw


def coerce(doc: QmdDocument, given: dict[str, Any]) -> dict[str, Any]:
    """Defaults overridden by ``given``, typed; unknown names are refused."""
    defaults = doc.defaults()
    unknown = set(given) - set(defaults)
    if unknown:
        raise UnknownValueError(f"parameter of {doc.name}", min(unknown), defaults)
    values = dict(defaults)
    for name, raw in given.items():
        values[name] = _coerce(name, raw, defaults[name])
    for name in DATE_PARAMS & set(values):
        try:
            date.fromisoformat(str(values[name]))
        except ValueError as exc:
            raise ParameterError(f"parameter {name!r} must be a date (YYYY-MM-DD), got "
                                 f"{values[name]!r}") from exc
    return values


def check(values: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Check names and dates against the registry and warehouse; returns canonical values."""
    out = dict(values)
    if "control" in out:
        data.measure(out["control"])
    for name in ("commodity", "gap_commodity"):
        if name in out and out[name] not in data.commodities():
            raise UnknownValueError(name.replace("_", " "), out[name], data.commodities())
    if "importer" in out:
        importers = data.importers()
        logging.getLogger("country_converter").setLevel(logging.ERROR)
        try:
            out["importer"] = resolve_iso3(str(out["importer"]), importers)
        except UnknownValueError as exc:
            raise UnknownValueError("importer", out["importer"], importers) from exc
    if "scenario" in out:
        valid = data.scenario_ids() or [defaults["scenario"]]
        if out["scenario"] not in valid:
            raise UnknownValueError("scenario", out["scenario"], valid)
    if "markets" in out:
        valid = data.markets(out.get("commodity"))
        for market in out["markets"]:
            if market not in valid:
                raise UnknownValueError(f"market for {out.get('commodity', 'any commodity')}",
                                        market, valid)
    if "data_mode" in out:
        from chokehold.analysis.scenarios.asof import DATA_MODES
        if out["data_mode"] not in DATA_MODES:
            raise UnknownValueError("data_mode", out["data_mode"], DATA_MODES)
    first = data.first_trade_period()
    if "as_of" in out and date.fromisoformat(out["as_of"]) < first:
        raise ParameterError(f"as_of {out['as_of']} is before the data: trade_flows starts "
                             f"{first}")
    if "start" in out and "end" in out and out["end"] < out["start"]:
        raise ParameterError(f"end {out['end']} is before start {out['start']}")
    if "end" in out and "commodity" in out:
        earliest = data.price_series(out["commodity"])["date"].min()
        if earliest is not None and date.fromisoformat(out["end"]) < earliest:
            raise ParameterError(f"end {out['end']} is before the data: the first "
                                 f"{out['commodity']} price is of {earliest}")
    return out
