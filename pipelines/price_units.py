"""Currencies, quantity units, scales and VAT: the explicit conversions behind every USD/t figure.

A price in CUR per UNIT becomes USD per tonne as ``value * scale * units_per_tonne / fx`` where
``fx`` is CUR per USD (or times USD per CUR for currencies quoted the other way, like EUR).
The units and scale words are data (``data/units.yaml``, loaded into the warehouse table
``units`` that the view ``price_units`` joins): ``10k CNY/t`` and ``万元/吨`` are 10,000 CNY per
tonne, ``元/公斤`` CNY per kg, ``USD/lb``, ``USD/mtu`` (1 mtu = 10 kg of contained WO3).
"""

from __future__ import annotations

from datetime import date
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chokehold._lazy import polars as pl
from chokehold.config import PROJECT_ROOT
from chokehold.errors import DataError, UnknownValueError
from chokehold.yamlfiles import load_yaml_model

UNITS_FILE = PROJECT_ROOT / "data" / "units.yaml"
"""The unit vocabulary the readers use and the refresh loads into ``units``."""

CURRENCY_ALIASES: dict[str, str] = {
    "USD": "USD", "US$": "USD", "$": "USD", "美元": "USD",
    "CNY": "CNY", "RMB": "CNY", "元": "CNY", "人民币": "CNY", "¥": "CNY",
    "EUR": "EUR", "€": "EUR", "欧元": "EUR",
    "JPY": "JPY", "日元": "JPY",
}
CURRENCIES: tuple[str, ...] = tuple(sorted(set(CURRENCY_ALIASES.values())))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnitSpec(_Strict):
    """One quantity unit: how many make a tonne, what the converted figure is per, and why."""

    units_per_tonne: float = Field(gt=0)
    converted_basis: str
    source: str
    spellings: list[str] = Field(min_length=1)


class UnitVocabulary(_Strict):
    """``data/units.yaml``: the units and the scale words written before a currency."""

    units: dict[str, UnitSpec] = Field(min_length=1)
    scales: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _spellings_unique(self) -> UnitVocabulary:
        seen: dict[str, str] = {}
        for unit, body in self.units.items():
            for spelling in body.spellings:
                key = spelling.strip().lower()
                if seen.setdefault(key, unit) != unit:
                    raise ValueError(f"spelling {spelling!r} names both {seen[key]} and {unit}")
        if any(v <= 0 for v in self.scales.values()):
            raise ValueError("scales must be positive")
        return self

    def aliases(self) -> dict[str, str]:
        return {s.strip().lower(): unit for unit, body in self.units.items()
                for s in body.spellings}


@cache
def vocabulary(path: Path = UNITS_FILE) -> UnitVocabulary:
    """The unit vocabulary in ``path`` (read once per path); errors name the file and field."""
    return load_yaml_model(path, UnitVocabulary, id_is_stem=False)


class PriceUnit(NamedTuple):
    """A price unit as published, normalised: ``万元/吨`` -> ("CNY", "t", 10000.0)."""

    currency: str
    unit: str
    scale: float


def normalise_unit(text: str) -> str:
    """The canonical unit (t, kg, lb, mtu) for a unit as vendors write it; unknown -> error."""
    aliases = vocabulary().aliases()
    key = text.strip().lower()
    if key not in aliases:
        raise UnknownValueError("unit", text, aliases)
    return aliases[key]


def normalise_currency(text: str) -> str:
    """ISO 4217 code for a currency as vendors write it (RMB -> CNY); unknown -> error."""
    key = text.strip()
    code = CURRENCY_ALIASES.get(key.upper()) or CURRENCY_ALIASES.get(key)
    if code is None:
        raise UnknownValueError("currency", text, CURRENCY_ALIASES)
    return code


def scaled_currency(text: str) -> tuple[str, float]:
    """A currency with an optional scale word before it: ``10k CNY`` or ``万元`` -> (CNY, 10000)."""
    key = text.strip()
    scales = vocabulary().scales
    for word in sorted(scales, key=len, reverse=True):
        if key.lower().startswith(word.lower()) and key[len(word):].strip():
            rest = key[len(word):].strip()
            if (CURRENCY_ALIASES.get(rest.upper()) or CURRENCY_ALIASES.get(rest)) is not None:
                return normalise_currency(rest), float(scales[word])
    try:
        return normalise_currency(key), 1.0
    except UnknownValueError as exc:
        scaled = [f"{w}{c}" for w in scales for c in ("CNY", "元")]
        raise UnknownValueError("currency", text, [*CURRENCY_ALIASES, *scaled]) from exc


def parse_price_unit(text: str) -> PriceUnit:
    """``"CNY/t"``, ``"10k CNY/t"``, ``"万元/吨"``, ``"元/公斤"`` -> PriceUnit, all normalised."""
    currency, sep, unit = text.partition("/")
    if not sep:
        raise UnknownValueError("price unit (CURRENCY/UNIT)", text,
                                ["USD/t", "CNY/t", "10k CNY/t", "万元/吨", "USD/kg", "USD/lb"])
    code, scale = scaled_currency(currency)
    return PriceUnit(code, normalise_unit(unit), scale)


def units_per_tonne(unit: str) -> float:
    """How many of ``unit`` (any spelling) make one tonne."""
    return vocabulary().units[normalise_unit(unit)].units_per_tonne


def usd_per_tonne(value: float, currency: str, unit: str, fx_per_usd: float | None) -> float:
    """A price in ``currency`` per ``unit`` as USD per tonne; ``fx_per_usd`` is currency per USD.

    For USD prices ``fx_per_usd`` is ignored. EUR and other currencies are converted with the
    rate expressed as currency per USD (1 / (USD per EUR) for the ECB's quotation). A scaled
    currency (``10k CNY``) multiplies the value by its scale.
    """
    code, scale = scaled_currency(currency)
    per_tonne = value * scale * units_per_tonne(unit)
    if code == "USD":
        return per_tonne
    if fx_per_usd is None or fx_per_usd <= 0:
        raise ValueError(f"no exchange rate for {currency}")
    return per_tonne / fx_per_usd


def units_frame(path: Path = UNITS_FILE) -> pl.DataFrame:
    """The unit table as a frame: the warehouse table ``units`` (the view ``price_units``)."""
    vocab = vocabulary(path)
    return pl.DataFrame(
        [{"unit": u, "units_per_tonne": b.units_per_tonne, "converted_basis": b.converted_basis,
          "spellings": b.spellings, "source": b.source} for u, b in vocab.units.items()],
        schema={"unit": pl.String, "units_per_tonne": pl.Float64, "converted_basis": pl.String,
                "spellings": pl.List(pl.String), "source": pl.String})


class VatPeriod(_Strict):
    rate: float = Field(ge=0, lt=1, description="0.13 for 13%.")
    start: date
    end: date | None = None
    source: str


class VatSchedule(_Strict):
    country_iso3: str
    tax: str
    applies_to: str
    periods: list[VatPeriod] = Field(min_length=1)

    @model_validator(mode="after")
    def _contiguous(self) -> VatSchedule:
        periods = sorted(self.periods, key=lambda p: p.start)
        for before, after in pairwise(periods):
            if before.end is None or before.end >= after.start:
                raise ValueError(f"VAT periods overlap: {before.start} and {after.start}")
        return self


def load_vat(path: Path) -> list[VatSchedule]:
    """The VAT schedules in ``data/vat_rates.yaml``; errors name the file and field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"cannot read VAT rates: {exc}", source=path) from exc
    try:
        return [VatSchedule(**body) for body in raw["schedules"]]
    except (KeyError, TypeError) as exc:
        raise DataError("expected a list under 'schedules'", source=path) from exc
    except ValidationError as exc:
        err = exc.errors()[0]
        raise DataError(err["msg"], source=path,
                        field=".".join(str(p) for p in err["loc"])) from exc


def vat_frame(schedules: list[VatSchedule]) -> pl.DataFrame:
    """One row per country and VAT period: the warehouse table ``vat_rates``."""
    return pl.DataFrame(
        [{"country_iso3": s.country_iso3, "start_date": p.start, "end_date": p.end,
          "rate": p.rate, "tax": s.tax, "applies_to": s.applies_to, "source": p.source}
         for s in schedules for p in s.periods],
        schema={"country_iso3": pl.String, "start_date": pl.Date, "end_date": pl.Date,
                "rate": pl.Float64, "tax": pl.String, "applies_to": pl.String,
                "source": pl.String},
    )


def vat_on(schedules: list[VatSchedule], country_iso3: str, day: date) -> float:
    """The VAT rate in force in ``country_iso3`` on ``day``."""
    for s in schedules:
        if s.country_iso3 != country_iso3:
            continue
        for p in s.periods:
            if p.start <= day and (p.end is None or day <= p.end):
                return p.rate
    raise DataError(f"no VAT rate for {country_iso3} on {day}", source="data/vat_rates.yaml")
