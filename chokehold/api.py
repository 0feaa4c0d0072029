"""The Python API for notebooks: ``import chokehold as ck``.

    wh = ck.open()                                   # the warehouse (read-only)
    shares = wh.shares("JPN", "rare_earths")         # or ck.shares(...), which opens it itself
    ck.units(shares)                                 # {"value_usd": "USD", "share": ...}
    ck.to_arrow(shares).schema.field("share").metadata

Every function returns a polars DataFrame. Polars frames have no schema metadata, so the units,
column descriptions and provenance of a result travel in two ways:

* ``frame.chokehold`` (read it with ``ck.units(frame)`` / ``ck.describe(frame)``): a
  :class:`FrameInfo` set on the frame returned. Polars operations return new frames without it,
  so read it from the result itself (or convert first).
* ``ck.to_arrow(frame)`` / ``ck.write_parquet(frame, path)``: a pyarrow Table whose fields carry
  ``unit`` and ``description`` metadata and whose schema carries the title, source and vintage,
  which Parquet keeps in the file.

The functions call the same analysis code as the command line (chokehold.analysis); they only
read the warehouse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import duckdb
import polars as pl

from chokehold.config import Settings, load_settings
from chokehold.errors import ChokeholdError

__all__ = ["FrameInfo", "Warehouse", "controls", "describe", "open", "price_gap", "scenario",
           "screen", "shares", "to_arrow", "units", "write_parquet"]

COLUMNS: dict[str, tuple[str | None, str]] = {
    "period": (None, "first day of the period (annual: 1 January)"),
    "reporter_iso3": (None, "importing country, ISO 3166 alpha-3"),
    "importer_iso3": (None, "importing country, ISO 3166 alpha-3"),
    "partner_iso3": (None, "supplying country, ISO 3166 alpha-3"),
    "value_usd": ("USD", "import value (BACI: CIF-adjusted FOB, USD)"),
    "qty": ("t", "quantity in tonnes (rows in other units are not summed)"),
    "share": ("fraction (0-1)", "partner's share of the importer's imports, on the basis"),
    "hhi": ("index (0-1)", "Herfindahl-Hirschman index of the suppliers' shares"),
    "months": ("months", "months of data behind the period (12 = complete)"),
    "imports_usd": ("USD", "imports of the line in the year"),
    "own_exports_usd": ("USD", "the importer's own exports of the line"),
    "top_share": ("fraction (0-1)", "top supplier's share of the importer's imports"),
    "top_supplier_world_export_share": ("fraction (0-1)", "top supplier's share of world exports"),
    "import_dependence": ("fraction (0-1)", "imports / demand, where demand is known"),
    "imports_to_exports": ("ratio", "imports / own exports (EC low-substitutability proxy)"),
    "suppliers": ("countries", "number of supplying countries"),
    "overseas_usd_t": ("USD/t", "overseas price"),
    "domestic_usd_t_ex_vat": ("USD/t", "China-domestic price, VAT removed"),
    "domestic_usd_t_incl_vat": ("USD/t", "China-domestic price as quoted, VAT included"),
    "gap_usd_t": ("USD/t", "overseas minus domestic ex-VAT"),
    "gap_usd_t_incl_vat": ("USD/t", "overseas minus domestic incl. VAT"),
    "ratio": ("ratio", "overseas / domestic ex-VAT"),
    "ratio_incl_vat": ("ratio", "overseas / domestic incl. VAT"),
    "fx_cny_per_usd": ("CNY per USD", "exchange rate used for the domestic price"),
    "vat_rate": ("fraction", "Chinese VAT rate on the domestic date"),
    "overseas_value": ("see overseas_currency/overseas_unit", "overseas price as published"),
    "domestic_value": ("see domestic_currency/domestic_unit", "domestic price as published"),
    "overseas_age_days": ("days", "age of the overseas observation carried forward"),
    "domestic_age_days": ("days", "age of the domestic observation carried forward"),
    "month": ("months since the measure bites", "month of the horizon"),
    "licence_level": ("level 0-3", "0 report only, 1 licence, 2 case-by-case, 3 denial"),
}
"""Units and descriptions of the columns the API returns (others fall back to the table specs)."""


@dataclass(frozen=True)
class FrameInfo:
    """What a result frame is: its title, source, vintage, and each column's unit and meaning."""

    title: str
    source: str
    vintage: str | None
    units: dict[str, str | None]
    descriptions: dict[str, str]
    extra: dict[str, Any] = field(default_factory=dict)


def _spec_columns() -> dict[str, tuple[str | None, str]]:
    from chokehold.warehouse import table_specs

    out: dict[str, tuple[str | None, str]] = {}
    for table in table_specs().values():
        for col in table.columns:
            out.setdefault(col.name, (col.unit, col.description))
    return out


def _annotate(frame: pl.DataFrame, title: str, source: str, vintage: str | None,
              **extra: Any) -> pl.DataFrame:
    specs = _spec_columns()
    known = {c: COLUMNS.get(c) or specs.get(c) or (None, "") for c in frame.columns}
    frame.chokehold = FrameInfo(title, source, vintage, {c: u for c, (u, _) in known.items()},
                                {c: d for c, (_, d) in known.items()}, extra)
    return frame


def describe(frame: pl.DataFrame) -> FrameInfo:
    """The FrameInfo of a frame this API returned; ChokeholdError for any other frame."""
    info = getattr(frame, "chokehold", None)
    if not isinstance(info, FrameInfo):
        raise ChokeholdError("this frame carries no chokehold metadata (polars operations "
                             "return new frames without it: read it from the API's result)")
    return info


def units(frame: pl.DataFrame) -> dict[str, str | None]:
    """Each column's unit (None for names, codes and dates)."""
    return describe(frame).units


def to_arrow(frame: pl.DataFrame) -> Any:
    """A pyarrow Table with the units and descriptions as field metadata, provenance as schema
    metadata (``chokehold.title``, ``chokehold.source``, ``chokehold.vintage``)."""
    import pyarrow as pa

    info = describe(frame)
    table = frame.to_arrow()
    fields = [f.with_metadata({"unit": info.units.get(f.name) or "",
                               "description": info.descriptions.get(f.name, "")})
              for f in table.schema]
    meta = {"chokehold.title": info.title, "chokehold.source": info.source,
            "chokehold.vintage": info.vintage or "",
            "chokehold.extra": json.dumps(info.extra, default=str)}
    return table.cast(pa.schema(fields, metadata=meta))


def write_parquet(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write a result to Parquet with its units and provenance in the file's schema."""
    import pyarrow.parquet as pq

    pq.write_table(to_arrow(frame), str(path))
    return Path(path)


class Warehouse:
    """A read-only handle on the warehouse; use it as a context manager or ``close()`` it."""

    def __init__(self, settings: Settings) -> None:
        from chokehold.warehouse import open_warehouse

        self.settings = settings
        self.con: duckdb.DuckDBPyConnection = open_warehouse(settings.warehouse, read_only=True)

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def __repr__(self) -> str:
        return f"<chokehold warehouse {self.settings.warehouse}>"

    def sql(self, query: str, params: list | None = None) -> pl.DataFrame:
        """Any read-only SQL over the warehouse's tables and views, as a frame."""
        from chokehold.warehouse import read_query

        return read_query(self.con, query, params)

    def _vintage(self, source: str) -> str | None:
        from chokehold.analysis import read

        return read.latest_vintage(self.con, source)

    def _commodities(self) -> dict:
        from chokehold.commodities import load_commodities

        return load_commodities(self.settings.commodities_file)

    def shares(self, importer: str, commodity: str, *,
               freq: Literal["annual", "monthly", "rolling12"] = "annual",
               basis: Literal["value", "qty"] = "value", source: str = "baci",
               revision: str | None = None) -> pl.DataFrame:
        """Each partner's share of ``importer``'s imports of a commodity group, with the HHI.

        ``importer``: ISO3 or a country name. ``freq``: annual, monthly or rolling12 (monthly
        sources only). ``basis``: value (USD) or qty (t). Same numbers as `trade shares`.
        """
        from chokehold.analysis import dependence, read
        from chokehold.commodities import require_commodity
        from chokehold.countries import resolve_iso3
        from chokehold.coverage import require_lines

        good = require_commodity(self._commodities(), commodity)
        known = read.importers(self.con, source)
        if not known:
            raise ChokeholdError(f"the warehouse holds no {source} imports; load them first")
        iso3 = resolve_iso3(importer, known)
        matched = read.commodity_flows(self.con, commodity, source=source, reporter=iso3,
                                       revision=revision)
        if matched.height == 0:
            require_lines(self.con, good, source)
            raise ChokeholdError(f"no {source} imports of {commodity} by {iso3}")
        table = dependence.import_shares(matched, basis, freq).with_columns(
            pl.lit(commodity).alias("commodity"), pl.lit(basis).alias("basis"))
        return _annotate(table, f"{iso3} imports of {commodity} by partner ({source}, {basis})",
                         source, self._vintage(source), importer=iso3, commodity=commodity,
                         freq=freq, basis=basis)

    def screen(self, year: int, *, source: str = "baci", revision: str | None = None,
               top: int | None = None) -> pl.DataFrame:
        """Every importer x HS6 line of ``year`` with the line's description: HHI, top
        supplier, the EC SWD(2021) 352 flags (HHI > 0.4; imports > 50% of demand where known;
        imports / own exports > 1)."""
        from chokehold.analysis import dependence, read

        table = dependence.with_descriptions(dependence.global_screen(
            self.con, year, source=source, hs_revision=revision, limit=top),
            read.hs_descriptions(self.con))
        return _annotate(table, f"Dependence screen {year} ({source})", source,
                         self._vintage(source), year=year)

    def price_gap(self, commodity: str, *, max_carry_days: int = 7) -> pl.DataFrame:
        """Overseas vs China-domestic price of ``commodity`` in USD/t by date: gap and ratio
        ex- and incl. VAT, with the FX and VAT used and how the two sides were aligned."""
        from chokehold.analysis import read
        from chokehold.commodities import require_commodity

        require_commodity(self._commodities(), commodity)
        table = read.price_gap(self.con, commodity, max_carry_days)
        if table.is_empty():
            raise ChokeholdError(f"no price series pair (China domestic and overseas) for "
                                 f"{commodity} in the warehouse")
        sources = read.price_sources(self.con, commodity)
        return _annotate(table, f"{commodity}: overseas vs China domestic (USD/t)",
                         ", ".join(sources["source"]), ", ".join(sources["vintage"]),
                         max_carry_days=max_carry_days)

    def scenario(self, control: str, importer: str, commodity: str, *, scenario: str = "base",
                 draws: int = 10_000, seed: int = 1, sets: list[str] | None = None
                 ) -> pl.DataFrame:
        """The monthly shortfall, stock and price bands (P10/P50/P90) if ``control`` bites on
        ``importer``'s imports of ``commodity``; the summary, the resolved parameters and the
        tornado are in ``ck.describe(frame).extra``. Same model as `scenario run`."""
        from chokehold.analysis import read
        from chokehold.analysis.scenarios import store
        from chokehold.analysis.scenarios.exposure import run_one
        from chokehold.analysis.scenarios.spec import load_scenario
        from chokehold.commodities import require_commodity
        from chokehold.countries import resolve_iso3
        from chokehold.registry import load_registry, require_measure

        commodities = self._commodities()
        spec = load_scenario(self.settings.data_dir / "scenarios", scenario, sets or [])
        measure = require_measure(load_registry(self.settings.controls_dir, commodities), control)
        good = require_commodity(commodities, commodity)
        iso3 = resolve_iso3(importer, read.country_iso3s(self.con))
        revision = read.trade_revision(self.con, self.settings.hs_revision)
        flows = store.load_flows(self.con, good.lines(revision), [iso3], revision)
        result = run_one(spec, measure, good, iso3, flows, store.load_production(self.con),
                         revision, draws=draws, seed=seed)
        return _annotate(result.months, f"{measure.id} -> {iso3}, {good.id} ({scenario}, "
                         f"{draws:,} draws, seed {seed})", "baci", self._vintage("baci"),
                         summary=result.summary,
                         parameters={k: p.record() for k, p in result.parameters.items()},
                         sensitivity=result.sensitivity.to_dicts())

    def controls(self, as_of: date | str | None = None, *, destination: str | None = None,
                 commodity: str | None = None) -> pl.DataFrame:
        """Export-control measures announced by ``as_of`` (default today), with their status on
        that date; optionally only those reaching ``destination`` or covering ``commodity``."""
        return controls(as_of, destination=destination, commodity=commodity,
                        settings=self.settings)


def open(warehouse: str | Path | None = None, **settings: Any) -> Warehouse:  # noqa: A001
    """Open the warehouse read-only (default: the configured one, data/warehouse.duckdb).

    Build it first with ``chokehold refresh --offline`` (or ``make demo``). Extra keyword
    arguments are settings (see chokehold.config.Settings).
    """
    return Warehouse(load_settings(warehouse=warehouse, **settings))


def _with_warehouse(warehouse: Warehouse | None, method: str, *args: Any, **kwargs: Any
                    ) -> pl.DataFrame:
    if warehouse is not None:
        return getattr(warehouse, method)(*args, **kwargs)
    with open() as wh:
        return getattr(wh, method)(*args, **kwargs)


def shares(importer: str, commodity: str, *, freq: Literal["annual", "monthly", "rolling12"]
           = "annual", basis: Literal["value", "qty"] = "value", source: str = "baci",
           revision: str | None = None, warehouse: Warehouse | None = None) -> pl.DataFrame:
    """Partner shares and HHI (see :meth:`Warehouse.shares`); opens the default warehouse
    unless ``warehouse`` is given."""
    return _with_warehouse(warehouse, "shares", importer, commodity, freq=freq, basis=basis,
                           source=source, revision=revision)


def screen(year: int, *, source: str = "baci", revision: str | None = None,
           top: int | None = None, warehouse: Warehouse | None = None) -> pl.DataFrame:
    """The EC-style dependence screen of a year (see :meth:`Warehouse.screen`)."""
    return _with_warehouse(warehouse, "screen", year, source=source, revision=revision, top=top)


def price_gap(commodity: str, *, max_carry_days: int = 7, warehouse: Warehouse | None = None
              ) -> pl.DataFrame:
    """The domestic-vs-overseas price gap (see :meth:`Warehouse.price_gap`)."""
    return _with_warehouse(warehouse, "price_gap", commodity, max_carry_days=max_carry_days)


def scenario(control: str, importer: str, commodity: str, *, scenario: str = "base",
             draws: int = 10_000, seed: int = 1, sets: list[str] | None = None,
             warehouse: Warehouse | None = None) -> pl.DataFrame:
    """A Monte Carlo exposure scenario (see :meth:`Warehouse.scenario`)."""
    return _with_warehouse(warehouse, "scenario", control, importer, commodity,
                           scenario=scenario, draws=draws, seed=seed, sets=sets)


def controls(as_of: date | str | None = None, *, destination: str | None = None,
             commodity: str | None = None, settings: Settings | None = None) -> pl.DataFrame:
    """The export-control registry on a date (reads data/controls/, not the warehouse)."""
    from chokehold.commodities import load_commodities, require_commodity
    from chokehold.countries import reference_countries, resolve_iso3
    from chokehold.registry import load_registry, select_measures, summary_row

    settings = settings or load_settings()
    try:
        day = date.fromisoformat(as_of) if isinstance(as_of, str) else (as_of or date.today())
    except ValueError as exc:
        raise ChokeholdError(f"as_of {as_of!r} is not a date (YYYY-MM-DD)") from exc
    commodities = load_commodities(settings.commodities_file)
    if commodity:
        require_commodity(commodities, commodity)
    iso3 = (resolve_iso3(destination, set(reference_countries()["iso3"])) if destination
            else None)
    chosen = select_measures(load_registry(settings.controls_dir, commodities), as_of=day,
                             destination=iso3, commodity=commodity)
    schema = {"id": pl.String, "title": pl.String, "announced": pl.String,
              "effective": pl.String, "status": pl.String, "commodities": pl.List(pl.String),
              "licence_level": pl.Int64, "destinations": pl.String, "verify": pl.Boolean}
    frame = pl.DataFrame([summary_row(m, day) for m in chosen], schema=schema, orient="row"
                         ).with_columns(pl.col("announced", "effective").str.to_date())
    return _annotate(frame, f"Export controls as of {day}", "chokehold_registry", None,
                     as_of=day.isoformat())
