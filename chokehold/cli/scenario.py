"""`chokehold scenario run|matrix|list|schema` and `chokehold deminimis`: exposure under controls."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import duckdb
import polars as pl
import typer
from rich.console import Console
from rich.progress import Progress

from chokehold.analysis import defaults, read
from chokehold.analysis.deminimis import deminimis, read_bom
from chokehold.analysis.scenarios import store
from chokehold.analysis.scenarios.asof import DATA_MODES
from chokehold.analysis.scenarios.backtest import backtest
from chokehold.analysis.scenarios.exposure import exposure_matrix, modelled, run_one
from chokehold.analysis.scenarios.flags import THIN_TRADE_USD
from chokehold.analysis.scenarios.spec import load_scenario, scenario_names, schema_json
from chokehold.cli._shared import (
    FORMAT_OPTION,
    OutputFormat,
    emit,
    open_read,
    open_write,
    records,
    settings_of,
)
from chokehold.commodities import Commodity, load_commodities, require_commodity
from chokehold.config import Settings
from chokehold.countries import resolve_iso3
from chokehold.errors import ChokeholdError
from chokehold.registry import load_registry, require_measure

scenario_app = typer.Typer(help="Exposure scenarios: Monte Carlo shortfall and price paths under "
                           "each control (scenarios in data/scenarios/).", no_args_is_help=True)

DEFAULT_IMPORTERS = ",".join(defaults.DEFAULT_IMPORTERS)
SCENARIO_OPTION = typer.Option("--scenario", help="Scenario name (data/scenarios/NAME.yaml).")
SEED_OPTION = typer.Option("--seed", help="Random seed (same seed, same result).")
DATA_MODE_OPTION = typer.Option(
    "--data-mode", help="latest: every loaded row; real-time: only data released on or before "
    "--as-of (BACI release calendar, WMD and USGS editions; docs/scenarios.md).")


def _cut(mode: str, day: date | None) -> store.DataCut:
    if mode not in DATA_MODES:
        raise ChokeholdError(f"--data-mode {mode!r}: valid values are {', '.join(DATA_MODES)}")
    if mode == "real-time" and day is None:
        raise ChokeholdError("--data-mode real-time needs --as-of YYYY-MM-DD")
    return store.DataCut(mode, day)  # type: ignore[arg-type]


def read_inputs(con: duckdb.DuckDBPyConnection, commodities: dict[str, Commodity],
                lines: list[str], importers: list[str], cut: store.DataCut,
                prefer: str | None = None
                ) -> tuple[str, pl.DataFrame, pl.DataFrame, pl.DataFrame, tuple[str, ...]]:
    """Revision (``prefer``, the hs_revision setting, where loaded), flows, production
    (preferred source), published consumption, extra flags."""
    revision = read.trade_revision(con, prefer)
    flows = store.load_flows(con, lines, importers, revision, cut)
    production = store.load_production(con, commodities, cut)
    published = store.load_published_consumption(con, cut)
    _, later = store.baci_years(con, revision, cut)
    return revision, flows, production, published, ("later_release",) if later else ()


def scenario_dir(settings: Settings) -> Path:
    return settings.scenarios_dir


def _schema_file(settings: Settings) -> Path:
    return scenario_dir(settings) / "scenario.schema.json"


def _parse_date(text: str | None) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ChokeholdError(f"--as-of {text!r} is not a date (YYYY-MM-DD)") from exc


@scenario_app.command("run")
def run_scenario(
    ctx: typer.Context,
    control: Annotated[str, typer.Option("--control", help="Measure id (`controls list`).")],
    importer: Annotated[str, typer.Option("--importer", help="Importer, ISO3 or name.")],
    commodity: Annotated[str, typer.Option("--commodity", help="Commodity id.")],
    scenario: Annotated[str, SCENARIO_OPTION] = "base",
    draws: Annotated[int, typer.Option("--draws", min=100, max=500_000,
                                       help="Monte Carlo draws.")] = 10_000,
    seed: Annotated[int, SEED_OPTION] = 1,
    sets: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a parameter: name=0.3 or name=uniform(a,b), triangular(a,m,b), "
        "beta(a,b[,low,high]); repeatable.")] = None,
    save: Annotated[bool, typer.Option("--save", help="Save the run to the warehouse.")] = False,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Date of a real-time run (YYYY-MM-DD), with --data-mode real-time.")
    ] = None,
    data_mode: Annotated[str, DATA_MODE_OPTION] = "latest",
    fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table,
) -> None:
    """Shortfall, stock drawdown and price paths with P10/P50/P90 bands, plus a tornado table."""
    settings = settings_of(ctx)
    cut = _cut(data_mode, None if as_of is None else _parse_date(as_of))
    spec = load_scenario(scenario_dir(settings), scenario, sets or [])
    commodities = load_commodities(settings.commodities_file)
    registry = load_registry(settings.controls_dir, commodities)
    measure = require_measure(registry, control)
    good = require_commodity(commodities, commodity)
    with open_read(ctx) as con:
        iso3 = resolve_iso3(importer, read.country_iso3s(con))
        revision, flows, production, published, extra = read_inputs(
            con, commodities, good.lines(read.trade_revision(con, settings.hs_revision)), [iso3],
            cut, settings.hs_revision)
    result = run_one(spec, measure, good, iso3, flows, production, revision, draws=draws,
                     seed=seed, published=published, extra_flags=extra)
    run_id = None
    if save:
        with open_write(ctx) as con:
            run_id = store.save_run(con, result, control=measure.id, importer=iso3,
                                    commodity=good.id, scenario=scenario,
                                    horizon=spec.horizon())
    payload = {
        "control": measure.id, "importer": iso3, "commodity": good.id, "scenario": scenario,
        "status_today": measure.status_on(date.today()), "run_id": run_id,
        "data_mode": cut.line(), "flags": result.summary["flags"],
        "parameters": {name: p.record() for name, p in result.parameters.items()},
        "months": records(result.months), "summary": result.summary,
        "sensitivity": records(result.sensitivity),
    }
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
        return
    if fmt is OutputFormat.csv:
        emit(result.months, fmt)
        return
    title = f"{measure.id} -> {iso3}, {good.id} ({scenario}, {draws:,} draws, seed {seed})"
    emit([{k: p[k] for k in ("name", "distribution", "unit", "origin")}
          for p in payload["parameters"].values()], fmt,
         title=f"Parameters: {title} (rationale and citation: --format json)")
    emit(result.months.select("month", "shortfall_t_p10", "shortfall_t_p50", "shortfall_t_p90",
                              "shortfall_share_p50", "price_change_p50", "stock_t_p50"),
         fmt, title="Monthly path (P10/P50/P90 across draws)")
    emit([{"figure": k, "value": ", ".join(v) if isinstance(v, list) else v}
          for k, v in result.summary.items()], fmt, title=f"Summary ({cut.line()})")
    emit(result.sensitivity.select("parameter", "value_p10", "value_p90",
                                   "shortfall_t_p50_at_p10", "shortfall_t_p50_at_p90", "swing_t"),
         fmt, title="Tornado: P50 cumulative shortfall (t) with each parameter at its P10 / P90")
    if run_id:
        Console(stderr=True).print(f"saved as run {run_id}")


@scenario_app.command("matrix")
def matrix(
    ctx: typer.Context,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Measures in force on this date (YYYY-MM-DD); default today.")] = None,
    importers: Annotated[str, typer.Option(
        "--importers", help="Importers, ISO3, comma-separated.")] = DEFAULT_IMPORTERS,
    scenario: Annotated[str, SCENARIO_OPTION] = "base",
    draws: Annotated[int, typer.Option("--draws", min=100, max=100_000,
                                       help="Monte Carlo draws per row.")] = 10_000,
    seed: Annotated[int, SEED_OPTION] = 1,
    save: Annotated[bool, typer.Option("--save", help="Save the matrix to the warehouse "
                                       "(replacing the one for this date and scenario).")] = False,
    data_mode: Annotated[str, DATA_MODE_OPTION] = "latest",
    fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table,
) -> None:
    """Every measure in force x importer x covered commodity, ranked by expected shortfall and
    value at risk (zero rows where the measure does not reach the importer), with the flags
    that limit each row."""
    settings = settings_of(ctx)
    day = _parse_date(as_of)
    cut = _cut(data_mode, day)
    spec = load_scenario(scenario_dir(settings), scenario)
    commodities = load_commodities(settings.commodities_file)
    registry = load_registry(settings.controls_dir, commodities)
    chosen = [m for m in registry.values() if modelled(m) and m.status_on(day) == "in_force"]
    if not chosen:
        in_force = sorted(m.effective or m.announced for m in registry.values() if modelled(m))
        raise ChokeholdError(f"no modelled measure is in force on {day}, so the matrix would be "
                             "empty" + (f"; the first takes effect {in_force[0]}" if in_force
                                        else ""))
    with open_read(ctx) as con:
        known = read.country_iso3s(con)
        iso3s = list(dict.fromkeys(resolve_iso3(c, known) for c in importers.split(",")
                                   if c.strip()))
        revision = read.trade_revision(con, settings.hs_revision)
        lines = sorted({line for c in commodities.values() for line in c.lines(revision)})
        revision, flows, production, published, extra = read_inputs(
            con, commodities, lines, iso3s, cut, settings.hs_revision)
    with Progress(transient=True, console=Console(stderr=True),
                  disable=not sys.stderr.isatty()) as progress:
        progress.add_task(f"simulating {len(chosen)} measures x {len(iso3s)} importers",
                          total=None)
        frame = exposure_matrix(spec, chosen, commodities, iso3s, flows, production, revision,
                                as_of=day, draws=draws, seed=seed, published=published,
                                extra_flags=extra)
    if save:
        with open_write(ctx) as con:
            store.save_matrix(con, frame, scenario=scenario, as_of=day, draws=draws, seed=seed)
    emit(frame, fmt, title=f"Exposure matrix, measures in force on {day} ({scenario}; "
         f"{cut.line()})")


@scenario_app.command("backtest")
def backtest_command(
    ctx: typer.Context,
    importers: Annotated[int, typer.Option(
        "--importers", min=1, max=20, help="Main importers per measure (by value of imports "
        "from the issuer in the base year).")] = 5,
    min_import_usd: Annotated[float, typer.Option(
        "--min-import-usd", min=0, help="Materiality: importers below this value of imports "
        "from the issuer in the base year are left out (USD).")] = THIN_TRADE_USD,
    scenario: Annotated[str, SCENARIO_OPTION] = "base",
    draws: Annotated[int, typer.Option("--draws", min=100, max=100_000,
                                       help="Monte Carlo draws per row.")] = 10_000,
    seed: Annotated[int, SEED_OPTION] = 1,
    data_mode: Annotated[str, typer.Option(
        "--data-mode", help="Model inputs: latest (trade up to the base year) or real-time "
        "(also only what was released by each measure's effective date).")] = "latest",
    fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table,
) -> None:
    """The model's predicted first-year change in the issuer's supply to each main importer
    against the change the trade data show, for every measure whose aftermath is loaded."""
    settings = settings_of(ctx)
    _cut(data_mode, date.today())  # checks the value; each measure's cut is its own date
    spec = load_scenario(scenario_dir(settings), scenario)
    commodities = load_commodities(settings.commodities_file)
    registry = load_registry(settings.controls_dir, commodities)
    measures = sorted((m for m in registry.values() if modelled(m) and m.effective),
                      key=lambda m: m.effective)  # type: ignore[arg-type,return-value]
    frames = []
    with open_read(ctx) as con:
        revision = read.trade_revision(con, settings.hs_revision)
        last_year = read.last_baci_year(con, revision)
        for m in measures:
            cut = store.DataCut(data_mode, m.effective)  # type: ignore[arg-type]
            chosen = {}
            for cid in m.commodities:
                lines = commodities[cid].lines(revision)
                chosen[(m.id, cid)] = store.main_importers(
                    con, lines, revision, m.issuer_iso3, (m.effective.year - 1),  # type: ignore
                    importers, min_import_usd,
                    m.destinations.countries if m.destinations.scope == "countries" else None)
            who = sorted({i for found in chosen.values() for i in found}) or ["---"]
            lines = sorted({line for c in m.commodities for line in commodities[c].lines(revision)})
            revision, inputs, production, published, extra = read_inputs(
                con, commodities, lines, who, cut)
            observed = store.load_flows(con, lines, who, revision)
            frames.append(backtest(spec, [m], commodities, chosen, inputs, observed, production,
                                   revision, last_year=last_year, draws=draws, seed=seed,
                                   published=published, extra_flags=extra))
    frame = pl.concat(frames)
    if fmt is OutputFormat.table:  # the columns that fit a terminal; csv/json carry them all
        frame = frame.select(
            "control_id", "commodity", pl.col("importer_iso3").alias("importer"),
            pl.format("{}->{}", "base_year", "aftermath_year").alias("years"),
            pl.col("observed_change").round(3).alias("observed"),
            pl.col("predicted_change_p50").round(3).alias("predicted_p50"),
            pl.format("{} to {}", pl.col("predicted_change_p10").round(2),
                      pl.col("predicted_change_p90").round(2)).alias("p10_to_p90"),
            pl.col("error").round(3), "within_band",
            pl.coalesce("note", "flags").alias("flags_or_note"))
    emit(frame, fmt, title=f"Backtest: predicted vs observed change in the issuer's supply in "
         f"the first year after each measure ({scenario}, {draws:,} draws; inputs "
         f"{'real-time' if data_mode == 'real-time' else 'up to the base year'}; BACI to "
         f"{last_year}; docs/scenarios.md)")
    if fmt is OutputFormat.table:
        Console(stderr=True).print(
            "error = predicted P50 - observed, as shares (-0.08: 8 points). Caveats: annual data "
            "cannot separate the months before and after the effective date or front-running; "
            "the model has no demand trend; rerouting through third countries shows as a fall "
            "in the issuer's recorded supply; content factors are averages.", soft_wrap=True)


@scenario_app.command("list")
def list_scenarios(ctx: typer.Context,
                   fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table) -> None:
    """The scenarios in data/scenarios/, each validated, with what it extends."""
    folder = scenario_dir(settings_of(ctx))
    rows = []
    for name in scenario_names(folder):
        spec = load_scenario(folder, name)
        rows.append({"name": name, "description": spec.description,
                     "horizon_months": spec.horizon(), "overrides": len(spec.overrides)})
    emit(rows, fmt, title="Scenarios")


@scenario_app.command("schema")
def schema(ctx: typer.Context,
           write: Annotated[bool, typer.Option(
               "--write", help="Write data/scenarios/scenario.schema.json instead of printing."
           )] = False) -> None:
    """The JSON schema of scenario files (for editors; YAML files point at it)."""
    text = schema_json()
    if write:
        target = _schema_file(settings_of(ctx))
        target.write_text(text, encoding="utf-8")
        Console(stderr=True).print(f"wrote {target}")
    else:
        sys.stdout.write(text)


def deminimis_command(
    ctx: typer.Context,
    bom: Annotated[Path, typer.Argument(help="Bill of materials CSV (see README).")],
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Date the licence question is asked on (YYYY-MM-DD); default today.")
    ] = None,
    control: Annotated[str, typer.Option(
        "--control", help="Extraterritorial measure.")] = "cn-2025-61-extraterritorial-rare-earths",
    item_value: Annotated[float | None, typer.Option(
        "--item-value", help="Value of the finished item; default the sum of the components.",
        min=0)] = None,
    item_currency: Annotated[str, typer.Option(
        "--item-currency", help="Currency of --item-value.")] = "USD",
    fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table,
) -> None:
    """Share of Chinese-origin controlled rare-earth content in an item's value, whether it
    reaches the 0.1% de-minimis threshold, and whether a licence is needed on the date."""
    settings = settings_of(ctx)
    day = _parse_date(as_of)
    commodities = load_commodities(settings.commodities_file)
    measure = require_measure(load_registry(settings.controls_dir, commodities), control)
    if measure.extraterritorial is None:
        raise ChokeholdError(f"{control} has no extraterritorial (de-minimis) rule")
    components = read_bom(bom)
    with open_read(ctx) as con:
        fx = read.fx_rates(con)
    result = deminimis(components, fx, measure, as_of=day, item_value=item_value,
                       item_currency=item_currency)
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps(result, indent=2, default=str) + "\n")
        return
    if fmt is OutputFormat.csv:
        emit(result["elements"], fmt)
        return
    emit([{"figure": k, "value": "unknown" if v is None and k == "licence_needed" else v}
          for k, v in result.items() if not isinstance(v, (list, dict))], fmt,
         title=f"De-minimis under {control} on {day}")
    emit(result["elements"], fmt, title="Content by element (counted: listed element of "
         f"{result['origin']} origin)")


def register(app: typer.Typer) -> None:
    app.add_typer(scenario_app, name="scenario")
    app.command("deminimis")(deminimis_command)
