"""Supply-risk indices side by side: compare (one importer x commodity) and screen (all)."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Annotated

import typer

from chokehold.analysis import risk
from chokehold.cli._shared import FORMAT_OPTION, OutputFormat, emit, open_read, settings_of

risk_app = typer.Typer(help="Supply-risk indices: GeoPolRisk, EU CRM supply risk, concentration.",
                       no_args_is_help=True)

IMPORTER = typer.Option("--importer", "-i",
                        help="ISO3 (JPN), a region (EU27, G7) or a comma list (JPN,KOR).")
AS_OF = typer.Option("--as-of", help="Date the export controls are read on (YYYY-MM-DD; "
                     "default today): sets the EU method's trade factor t.")
Year = Annotated[int, typer.Option(help="Data year.")]
AsOf = Annotated[str | None, AS_OF]
Format = Annotated[OutputFormat, FORMAT_OPTION]


def _inputs(ctx: typer.Context, year: int, as_of: str | None) -> tuple[risk.RiskData, date]:
    """The indices' inputs for the year, and the day the controls are read on."""
    if as_of is None:
        day = date.today()
    else:
        try:
            day = date.fromisoformat(as_of)
        except ValueError as exc:
            raise typer.BadParameter(f"{as_of!r} is not a date (YYYY-MM-DD)") from exc
    with open_read(ctx) as con:
        return risk.load(con, settings_of(ctx), [year]), day


def compare(
    ctx: typer.Context,
    importer: Annotated[str, IMPORTER],
    commodity: Annotated[str, typer.Option(
        "--commodity", "-c", help="A commodity id (rare_earths) or a GeoPolRisk raw material "
        "('Cobalt', 'Lithium (Li2O)').")],
    year: Year,
    as_of: AsOf = None,
    fmt: Format = OutputFormat.table,
) -> None:
    """Every index for one importer, commodity and year, each with unit, source and method."""
    data, day = _inputs(ctx, year, as_of)
    result = risk.compare(data, importer, commodity, year, day)
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
        return
    rows = [{"index": key, "value": result[key], **note}
            for key, note in result["notes"].items()]
    emit(rows, fmt, title=f"{result['importer']} - {result['material']} - {year} "
         f"(controls as of {day})")


def screen(
    ctx: typer.Context,
    importer: Annotated[str, IMPORTER],
    year: Year,
    as_of: AsOf = None,
    fmt: Format = OutputFormat.table,
) -> None:
    """Every commodity the importer imports in the year, ranked by each index (1 = riskiest)."""
    data, day = _inputs(ctx, year, as_of)
    table = risk.screen(data, importer, year, day)
    emit(table, fmt, title=f"{importer} {year}: supply-risk indices (controls as of {day})")


def register(app: typer.Typer) -> None:
    for command in (compare, screen):
        risk_app.command()(command)
    app.add_typer(risk_app, name="risk")
