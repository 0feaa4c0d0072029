"""`chokehold controls list|show`: the export-control registry and what was in force when."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
import yaml
from rich.console import Console

from chokehold.cli._output import note_empty
from chokehold.cli._shared import FORMAT_OPTION, OutputFormat, emit, records, settings_of
from chokehold.commodities import load_commodities, require_commodity
from chokehold.countries import reference_countries, resolve_iso3
from chokehold.registry import (
    LICENCE_LEVELS,
    load_registry,
    require_measure,
    select_measures,
    summary_row,
)

controls_app = typer.Typer(help="The export-control registry (data/controls/).",
                           no_args_is_help=True)


def _registry(ctx: typer.Context):
    settings = settings_of(ctx)
    commodities = load_commodities(settings.commodities_file)
    return load_registry(settings.controls_dir, commodities), commodities


@controls_app.command("list")
def list_controls(
    ctx: typer.Context,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Date (YYYY-MM-DD) the status is read on; default today.")] = None,
    destination: Annotated[str | None, typer.Option(
        "--destination", help="Only measures that reach this importer (ISO3 or name).")] = None,
    commodity: Annotated[str | None, typer.Option(
        "--commodity", help="Only measures covering this commodity id.")] = None,
    fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table,
) -> None:
    """List measures announced by the date, with their status on it."""
    day = _parse_date(as_of) if as_of else date.today()
    registry, commodities = _registry(ctx)
    if commodity:
        require_commodity(commodities, commodity)
    iso3 = resolve_iso3(destination, set(reference_countries()["iso3"])) if destination else None
    chosen = select_measures(registry, as_of=day, destination=iso3, commodity=commodity)
    if not chosen:
        first = min((m.announced for m in registry.values()), default=None)
        note_empty(f"no measure in the registry ({settings_of(ctx).controls_dir}) was announced "
                   f"by {day}{' for ' + iso3 if iso3 else ''}"
                   f"{' covering ' + commodity if commodity else ''}"
                   + (f"; the earliest was announced {first}" if first else ""))
    emit([summary_row(m, day) for m in chosen], fmt, title=f"Export controls as of {day}")


@controls_app.command("show")
def show_control(
    ctx: typer.Context,
    control_id: Annotated[str, typer.Argument(help="Measure id (see `controls list`).")],
    fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table,
) -> None:
    """Everything the registry holds on one measure."""
    registry, _ = _registry(ctx)
    measure = require_measure(registry, control_id)
    data = measure.model_dump(mode="json")
    data["status_today"] = measure.status_on(date.today())
    data["licence_level_meaning"] = LICENCE_LEVELS.get(measure.licence_level)
    if fmt is OutputFormat.table:
        Console().print(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    else:
        emit(records([data]), fmt)


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def register(app: typer.Typer) -> None:
    app.add_typer(controls_app, name="controls")
