"""The batch of documents in reports/matrix.yaml, expanded against the registry and warehouse."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chokehold.render import data
from chokehold.render.engine import Job, document_path
from chokehold.render.qmd import parse_qmd
from chokehold.yamlfiles import read_yaml, validate


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    report: str
    params: dict[str, Any] = Field(default_factory=dict)
    formats: list[str] | None = None
    for_each: Literal["in_force_control"] | None = None
    importers: int = Field(default=2, ge=1)
    min_import_usd: float = Field(default=data.MATERIALITY_USD, ge=0)
    """Materiality: an importer enters the pack only with imports from the issuer of at least
    this value (USD) in the latest trade year."""


class Matrix(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: date
    documents: list[Entry] = Field(min_length=1)


def load_matrix(path: Path) -> Matrix:
    """The matrix file, validated; errors name the file and the field."""
    return validate(Matrix, read_yaml(path) or {}, path)


def _control_jobs(entry: Entry, as_of: date) -> list[Job]:
    """Each export control in force on ``as_of`` x its main importers."""
    year = data.latest_trade_year(as_of)
    jobs = []
    for m in data.registry().values():
        if m.kind != "export_control" or m.status_on(as_of) != "in_force" or not m.commodities:
            continue
        among = m.destinations.countries if m.destinations.scope == "countries" else None
        # the first commodity the measure covers that the warehouse has trade for
        found = ((c, data.main_importers(c, year, entry.importers, m.issuer_iso3, among,
                                         minimum_usd=entry.min_import_usd))
                 for c in dict.fromkeys(i.commodity for i in m.items if i.commodity))
        commodity, importers = next(((c, i) for c, i in found if i), (None, []))
        for importer in importers:
            params = {"control": m.id, "importer": importer, "commodity": commodity,
                      "as_of": as_of.isoformat(), **entry.params}
            jobs.append(Job(entry.report, params, entry.formats))
    return jobs


def expand(matrix: Matrix) -> list[Job]:
    """Every job of the matrix, in file order."""
    jobs: list[Job] = []
    for entry in matrix.documents:
        if entry.for_each == "in_force_control":
            jobs += _control_jobs(entry, matrix.as_of)
        else:
            params = dict(entry.params)
            if "as_of" in parse_qmd(document_path(entry.report)).defaults():
                params.setdefault("as_of", matrix.as_of.isoformat())
            jobs.append(Job(entry.report, params, entry.formats))
    return jobs
