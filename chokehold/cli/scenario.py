"""`chokehold scenario run|matrix|list|schema` and `chokehold deminimis`: exposure under controls."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from chokehold.analysis.deminimis import deminimis, read_bom
from chokehold.analysis.scenarios import store
from chokehold.analysis.scenarios.exposure import exposure_matrix, modelled, run_one
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
from chokehold.commodities import load_commodities, require_commodity
from chokehold.config import Settings
from chokehold.controls import load_registry, require_measure
from chokehold.countries import resolve_iso3
from chokehold.errors import ChokeholdError
from chokehold.warehouse import read_query

scenario_app = typer.Typer(help="Exposure scenarios: Monte Carlo shortfall and price paths under "
                           "each control (scenarios in data/scenarios/).", no_args_is_help=True)

DEFAULT_IMPORTERS = "JPN,USA,KOR,DEU,FRA,GBR,ITA,IND,TWN,VNM"
SCENARIO_OPTION = typer.Option("--scenario", help="Scenario name (data/scenarios/NAME.yaml).")
SEED_OPTION = typer.Option("--seed", help="Random seed (same seed, same result).")


def scenario_dir(settings: Settings) -> Path:
    return settings.data_dir / "scenarios"


def _schema_file(settings: Settings) -> Path:
    return scenario_dir(settings) / "scenario.schema.json"


def _parse_date(text: str | None) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)") from exc


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
    fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table,
) -> None:
    """Shortfall, stock drawdown and price paths with P10/P50/P90 bands, plus a tornado table."""
    settings = settings_of(ctx)
    spec = load_scenario(scenario_dir(settings), scenario, sets or [])
    commodities = load_commodities(settings.commodities_file)
    registry = load_registry(settings.controls_dir, commodities)
    measure = require_measure(registry, control)
    good = require_commodity(commodities, commodity)
    with open_read(ctx) as con:
        iso3 = resolve_iso3(importer, store.known_countries(con))
        revision = store.trade_revision(con)
        flows = store.load_flows(con, good.lines(revision), [iso3], revision)
        production = store.load_production(con)
    result = run_one(spec, measure, good, iso3, flows, production, revision, draws=draws,
                     seed=seed)
    run_id = None
    if save:
        with open_write(ctx) as con:
            run_id = store.save_run(con, result, control=measure.id, importer=iso3,
                                    commodity=good.id, scenario=scenario,
                                    horizon=spec.horizon())
    payload = {
        "control": measure.id, "importer": iso3, "commodity": good.id, "scenario": scenario,
        "status_today": measure.status_on(date.today()), "run_id": run_id,
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
    emit([{"figure": k, "value": v} for k, v in result.summary.items()], fmt, title="Summary")
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
    fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table,
) -> None:
    """Every measure in force x importer x covered commodity, ranked by expected shortfall and
    value at risk (zero rows where the measure does not reach the importer)."""
    settings = settings_of(ctx)
    day = _parse_date(as_of)
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
        known = store.known_countries(con)
        iso3s = list(dict.fromkeys(resolve_iso3(c, known) for c in importers.split(",")
                                   if c.strip()))
        revision = store.trade_revision(con)
        lines = sorted({line for c in commodities.values() for line in c.lines(revision)})
        flows = store.load_flows(con, lines, iso3s, revision)
        production = store.load_production(con)
    with Progress(transient=True, console=Console(stderr=True),
                  disable=not sys.stderr.isatty()) as progress:
        progress.add_task(f"simulating {len(chosen)} measures x {len(iso3s)} importers",
                          total=None)
        frame = exposure_matrix(spec, chosen, commodities, iso3s, flows, production, revision,
                                as_of=day, draws=draws, seed=seed)
    if save:
        with open_write(ctx) as con:
            store.save_matrix(con, frame, scenario=scenario, as_of=day, draws=draws, seed=seed)
    emit(frame, fmt, title=f"Exposure matrix, measures in force on {day} ({scenario})")


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
        fx = read_query(con, "SELECT date, base, quote, rate FROM fx_rates")
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
