"""The extraterritorial 0.1% de-minimis test (MOFCOM Announcement 2025 No. 61, docs/domain.md section 2).

A foreign-made item (rare-earth permanent-magnet material or target) needs a Chinese licence to
be exported to third countries when Chinese-origin content of the listed elements (Sm, Dy, Gd,
Tb, Lu, Sc, Y) is worth 0.1% or more of the item's value, and only while the rule is in force.

Bill of materials CSV, one row per component and controlled element (repeat the component's
columns for each element; leave the element columns empty for a component without any):

    component, value, currency, country_of_origin, element, element_value, element_origin

``value`` is the component's value and ``element_value`` the value of that element's content in
it, both in ``currency``; ``element_origin`` (ISO3) defaults to the component's origin.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from chokehold.countries import reference_countries, resolve_iso3
from chokehold.errors import DataError, UnknownValueError, fail_where
from chokehold.pipelines._common import read_csv_strict
from chokehold.registry import Measure

REQUIRED = {"component": pl.String, "value": pl.Float64, "currency": pl.String,
            "country_of_origin": pl.String}
OPTIONAL = {"element": pl.String, "element_value": pl.Float64, "element_origin": pl.String}


def _fail(path: Path, frame: pl.DataFrame, mask: pl.Series, field: str, message: str) -> None:
    fail_where(frame, mask, source=path, field=field, message=message)


def read_bom(path: Path) -> pl.DataFrame:
    """Read and check a BOM; errors name the file, row and field. Currencies stay as written
    (upper-cased) and are checked against the FX table when converting."""
    if not Path(path).is_file():
        raise DataError("no such file", source=path)
    if Path(path).stat().st_size == 0:
        raise DataError(f"the file is empty; a bill of materials needs a header with "
                        f"{', '.join(REQUIRED)} and one row per component", source=path)
    header = pl.read_csv(path, n_rows=0, infer_schema=False).columns
    schema = {**REQUIRED, **{k: v for k, v in OPTIONAL.items() if k in header}}
    frame = read_csv_strict(Path(path), schema)
    for col, dtype in OPTIONAL.items():
        if col not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(col))
    frame = frame.with_columns(
        pl.col(c).str.strip_chars().replace("", None) for c in
        ("component", "currency", "country_of_origin", "element", "element_origin"))
    if frame.is_empty():
        raise DataError("the bill of materials has no rows", source=path)
    for col in REQUIRED:
        _fail(path, frame, frame[col].is_null(), col, "missing value")
    _fail(path, frame, frame["value"] < 0, "value", "a value cannot be negative")
    _fail(path, frame, frame["element"].is_not_null() & frame["element_value"].is_null(),
          "element_value", "an element needs the value of its content")
    _fail(path, frame, frame["element"].is_null() & frame["element_value"].is_not_null(),
          "element", "an element value needs its element")
    _fail(path, frame, frame["element_value"] < 0, "element_value", "a value cannot be negative")
    _fail(path, frame, frame["element_value"] > frame["value"], "element_value",
          "content worth more than its component")
    known = set(reference_countries()["iso3"])
    for col in ("country_of_origin", "element_origin"):
        for n, value in enumerate(frame[col]):
            if value is not None:
                try:
                    resolve_iso3(value, known)
                except UnknownValueError as exc:
                    raise DataError(str(exc), source=path, row=int(frame["_source_row"][n]),
                                    field=col) from exc
    frame = frame.with_columns(
        pl.col("currency").str.to_uppercase(),
        pl.col("country_of_origin").map_elements(lambda v: resolve_iso3(v, known),
                                                 return_dtype=pl.String),
        pl.col("element").str.to_titlecase(),
        pl.col("element_origin").map_elements(lambda v: resolve_iso3(v, known),
                                              return_dtype=pl.String),
    ).with_columns(pl.col("element_origin").fill_null(pl.col("country_of_origin")))
    clash = frame.group_by("component").agg(
        pl.col("_source_row").max(),
        pl.struct("value", "currency", "country_of_origin").n_unique().alias("variants"))
    _fail(path, clash, clash["variants"] > 1, "component",
          "the same component appears with different value, currency or origin")
    return frame


def usd_rates(fx: pl.DataFrame, currencies: set[str], as_of: date) -> dict[str, tuple[float, date]]:
    """Units of each currency per USD, from the latest fx_rates date on or before ``as_of``."""
    rates: dict[str, tuple[float, date]] = {}
    usd_quoted = fx.filter((pl.col("base") == "USD") & (pl.col("date") <= as_of))
    valid = sorted({"USD", *fx.filter(pl.col("base") == "USD")["quote"].to_list()})
    for currency in sorted(currencies):
        if currency == "USD":
            rates[currency] = (1.0, as_of)
            continue
        rows = usd_quoted.filter(pl.col("quote") == currency).sort("date")
        if rows.is_empty():
            if currency in valid:
                raise DataError(f"no {currency} per USD rate on or before {as_of}",
                                source="fx_rates", field="date")
            raise UnknownValueError("currency (no USD rate in fx_rates)", currency, valid)
        rates[currency] = (float(rows["rate"][-1]), rows["date"][-1])
    return rates


def deminimis(components: pl.DataFrame, fx: pl.DataFrame, measure: Measure, *, as_of: date,
              item_value: float | None = None, item_currency: str = "USD") -> dict:
    """Value share of the origin country's listed elements in the item, the threshold test, and
    whether a licence is needed on ``as_of`` given the measure's status timeline."""
    rule = measure.extraterritorial
    if rule is None:
        raise DataError(f"{measure.id} has no extraterritorial rule", field="extraterritorial")
    currencies = {*components["currency"].to_list(), item_currency.upper()}
    rates = usd_rates(fx, currencies, as_of)
    rate = pl.col("currency").replace_strict({c: r for c, (r, _) in rates.items()},
                                             return_dtype=pl.Float64)
    rows = components.with_columns((pl.col("value") / rate).alias("value_usd"),
                                   (pl.col("element_value") / rate).alias("element_value_usd"))
    parts = rows.unique("component", keep="first", maintain_order=True)
    if item_value is None:
        total, basis = float(parts["value_usd"].sum()), "sum of component values"
    else:
        total = item_value / rates[item_currency.upper()][0]
        basis = f"given: {item_value:,.2f} {item_currency.upper()}"
    if total <= 0:
        raise DataError("the item's value is zero; the share is undefined", field="value")
    content = rows.filter(pl.col("element").is_not_null()).group_by(
        "element", "element_origin").agg(pl.col("element_value_usd").sum().alias("value_usd"))
    content = content.with_columns(
        (pl.col("value_usd") / total).alias("share_of_item"),
        (pl.col("element").is_in(rule.elements) & (pl.col("element_origin") == rule.origin_iso3))
        .alias("counted"),
    ).sort("value_usd", descending=True)
    controlled = float(content.filter("counted")["value_usd"].sum())
    share = controlled / total
    reaches = share >= rule.de_minimis_value_share
    status = measure.status_on(as_of)
    known = status != "unknown"
    # Unknown is never "not needed": with the threshold reached and no status on the date the
    # answer is None (JSON null) and status_known is false.
    needed = (reaches and status == "in_force") if known or not reaches else None
    if not reaches:
        reason = (f"{share:.4%} of the item's value is below the "
                  f"{rule.de_minimis_value_share:.1%} threshold")
    elif needed:
        reason = f"{share:.4%} reaches the {rule.de_minimis_value_share:.1%} threshold and the " \
                 f"rule is in force on {as_of}"
    elif not known:
        reason = (f"{share:.4%} reaches the threshold; whether a licence is needed on {as_of} is "
                  f"{measure.status_note(as_of)}")
    else:
        reason = f"{share:.4%} reaches the threshold, but the rule is {status} on {as_of}"
    return {
        "control": measure.id, "as_of": as_of.isoformat(), "status_on_date": status,
        "threshold": rule.de_minimis_value_share, "item_value_usd": total,
        "item_value_basis": basis, "controlled_value_usd": controlled,
        "controlled_share": share, "reaches_threshold": reaches, "licence_needed": needed,
        "status_known": known,
        "reason": reason, "counted_elements": rule.elements, "origin": rule.origin_iso3,
        "scope_note": f"Applies to: {rule.applies_to}; check the item is of that kind.",
        "fx": [{"currency": c, "per_usd": r, "date": d.isoformat()} for c, (r, d) in
               rates.items()],
        "elements": content.to_dicts(),
    }
