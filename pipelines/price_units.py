"""Currencies, quantity units and VAT: the explicit conversions behind every USD/t figure.

A price in CUR per UNIT becomes USD per tonne as ``value * UNITS_PER_TONNE[unit] / fx`` where
``fx`` is CUR per USD (or times USD per CUR for currencies quoted the other way, like EUR).
The table is small on purpose: each factor is written out and tested.
"""

from __future__ import annotations

from datetime import date
from itertools import pairwise
from pathlib import Path

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chokehold.errors import DataError, UnknownValueError

POUND_KG = 0.45359237
"""International avoirdupois pound, exactly (1959 agreement)."""

UNITS_PER_TONNE: dict[str, float] = {
    "t": 1.0,
    "kg": 1000.0,
    "lb": 1000.0 / POUND_KG,
    "mtu": 100.0,
}
"""How many of each unit make one metric tonne. 1 mtu (metric-ton unit) = 10 kg of contained
WO3 (tungsten APT, concentrates), so 100 mtu = 1 t of WO3: USD/mtu x 100 = USD per t WO3."""

CONVERTED_BASIS: dict[str, str] = {
    "t": "per t of material",
    "kg": "per t of material",
    "lb": "per t of material",
    "mtu": "per t of contained WO3 (1 mtu = 10 kg WO3)",
}

UNIT_ALIASES: dict[str, str] = {
    "t": "t", "mt": "t", "tonne": "t", "tonnes": "t", "ton": "t", "metric ton": "t", "吨": "t",
    "kg": "kg", "公斤": "kg", "千克": "kg",
    "lb": "lb", "lbs": "lb", "pound": "lb", "磅": "lb",
    "mtu": "mtu",
}

CURRENCY_ALIASES: dict[str, str] = {
    "USD": "USD", "US$": "USD", "$": "USD", "美元": "USD",
    "CNY": "CNY", "RMB": "CNY", "元": "CNY", "人民币": "CNY", "¥": "CNY",
    "EUR": "EUR", "€": "EUR", "欧元": "EUR",
    "JPY": "JPY", "日元": "JPY",
}
CURRENCIES: tuple[str, ...] = tuple(sorted(set(CURRENCY_ALIASES.values())))


def normalise_unit(text: str) -> str:
    """The canonical unit (t, kg, lb, mtu) for a unit as vendors write it; unknown -> error."""
    key = text.strip().lower()
    if key not in UNIT_ALIASES:
        raise UnknownValueError("unit", text, UNIT_ALIASES)
    return UNIT_ALIASES[key]


def normalise_currency(text: str) -> str:
    """ISO 4217 code for a currency as vendors write it (RMB -> CNY); unknown -> error."""
    key = text.strip()
    code = CURRENCY_ALIASES.get(key.upper()) or CURRENCY_ALIASES.get(key)
    if code is None:
        raise UnknownValueError("currency", text, CURRENCY_ALIASES)
    return code


def split_price_unit(text: str) -> tuple[str, str]:
    """``"CNY/t"`` or ``"元/吨"`` -> (currency, unit), both normalised."""
    currency, sep, unit = text.partition("/")
    if not sep:
        raise UnknownValueError("price unit (CURRENCY/UNIT)", text, ["USD/t", "CNY/t", "USD/kg"])
    return normalise_currency(currency), normalise_unit(unit)


def usd_per_tonne(value: float, currency: str, unit: str, fx_per_usd: float | None) -> float:
    """A price in ``currency`` per ``unit`` as USD per tonne; ``fx_per_usd`` is currency per USD.

    For USD prices ``fx_per_usd`` is ignored. EUR and other currencies are converted with the
    rate expressed as currency per USD (1 / (USD per EUR) for the ECB's quotation).
    """
    per_tonne = value * UNITS_PER_TONNE[normalise_unit(unit)]
    if normalise_currency(currency) == "USD":
        return per_tonne
    if fx_per_usd is None or fx_per_usd <= 0:
        raise ValueError(f"no exchange rate for {currency}")
    return per_tonne / fx_per_usd


def units_frame() -> pl.DataFrame:
    """The unit table as a frame (the warehouse view ``price_units`` is built from it)."""
    return pl.DataFrame({
        "unit": list(UNITS_PER_TONNE),
        "units_per_tonne": list(UNITS_PER_TONNE.values()),
        "converted_basis": [CONVERTED_BASIS[u] for u in UNITS_PER_TONNE],
    })


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
