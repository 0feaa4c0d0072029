"""The export-control registry: one YAML file per measure in data/controls/, validated here.

A measure's status on a date comes from its status timeline: before the first period it is
``announced`` (or ``not_announced`` before its announcement), inside a period it has that
period's status, and after the last closed period it is ``unknown`` until the registry says more.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from chokehold._lazy import polars as pl
from chokehold.commodities import Commodity
from chokehold.errors import DataError, UnknownValueError
from chokehold.yamlfiles import Strict, load_yaml_model

Status = Literal["in_force", "suspended", "lifted"]
LICENCE_LEVELS = {
    0: "no licence needed (report only)",
    1: "licence required",
    2: "case-by-case review",
    3: "presumption of denial",
}


class Citation(Strict):
    source: str = Field(description="The document a reader can look up: an issuer's document "
                        "number, or a publication and date (secondary sources).")
    states: str = Field(description="What this source states.")
    primary: bool = Field(default=False, description="The measure's own document (issuer's).")
    issuer: str | None = None
    number: str | None = Field(default=None, description="The issuer's document number "
                               "(e.g. 'Announcement 2023 No. 23'), or what names a document "
                               "that has none (e.g. 'announcement of 2025-12-31').")
    published: date | None = None
    url: str | None = Field(default=None, description="Where the document, or its issuer's "
                            "announcements, can be opened.")
    url_kind: Literal["document", "index"] | None = Field(
        default=None, description="'document': the URL opens this document; 'index': only the "
        "issuer's index of announcements (no specific address was found in two independent "
        "public sources), and reports say so.")

    @model_validator(mode="after")
    def _openable(self) -> Citation:
        if self.url and self.url_kind is None:
            raise ValueError("a citation with a url needs url_kind: document or index")
        if self.url_kind and not self.url:
            raise ValueError("url_kind without a url")
        if self.primary:
            missing = [f for f in ("issuer", "number", "published", "url")
                       if getattr(self, f) is None]
            if missing:
                raise ValueError(f"a primary citation needs {', '.join(missing)}")
        return self


class StatusPeriod(Strict):
    status: Status
    start: date
    end: date | None = None
    source: str

    @model_validator(mode="after")
    def _ordered(self) -> StatusPeriod:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")
        return self


class CoveredItem(Strict):
    description: str
    commodity: str | None = None
    elements: list[str] = Field(default_factory=list)
    hs_codes: list[str] = Field(default_factory=list)
    control_codes: list[str] = Field(default_factory=list)


class Destinations(Strict):
    scope: Literal["all", "countries", "end_use"]
    countries: list[str] = Field(default_factory=list, description="ISO3 codes.")
    end_use: str | None = Field(default=None, description="End-use or end-user condition.")
    end_use_share_hint: str | None = Field(
        default=None, description="What share of demand the condition touches, in words.")

    @model_validator(mode="after")
    def _consistent(self) -> Destinations:
        if self.scope == "countries" and not self.countries:
            raise ValueError("scope 'countries' needs a list of countries")
        if self.scope == "end_use" and not self.end_use:
            raise ValueError("scope 'end_use' needs an end_use condition")
        return self


class Extraterritorial(Strict):
    de_minimis_value_share: float = Field(gt=0, lt=1)
    elements: list[str]
    origin_iso3: str
    applies_to: str


class Measure(Strict):
    id: str
    kind: Literal["export_control", "catalogue", "enforcement"] = "export_control"
    title: str
    title_zh: str | None = None
    issuer_iso3: str = "CHN"
    authorities: list[str]
    document_number: str | None = None
    announced: date
    effective: date | None = None
    status: list[StatusPeriod]
    items: list[CoveredItem]
    destinations: Destinations
    licence_level: int | None = Field(default=None, ge=0, le=3, validate_default=True)
    licence_note: str | None = None
    extraterritorial: Extraterritorial | None = None
    citations: list[Citation] = Field(min_length=1)
    verify: bool = False
    verify_note: str | None = None

    @field_validator("status")
    @classmethod
    def _timeline(cls, status: list[StatusPeriod]) -> list[StatusPeriod]:
        periods = sorted(status, key=lambda p: p.start)
        for before, after in zip(periods, periods[1:]):
            if before.end is None or before.end >= after.start:
                raise ValueError(
                    f"status periods overlap: {before.status} from {before.start} "
                    f"(to {before.end or 'open'}) and {after.status} from {after.start}")
        return periods

    @field_validator("licence_level")
    @classmethod
    def _level_required(cls, level: int | None, info: ValidationInfo) -> int | None:
        if level is None and info.data.get("kind", "export_control") == "export_control":
            raise ValueError("an export_control measure needs a licence_level (0-3)")
        return level

    @property
    def commodities(self) -> list[str]:
        return sorted({i.commodity for i in self.items if i.commodity})

    def status_on(self, day: date) -> str:
        """The measure's status on ``day`` (see the module docstring)."""
        for period in self.status:
            if period.start <= day and (period.end is None or day <= period.end):
                return period.status
        if day < self.announced:
            return "not_announced"
        if not self.status or day < min(p.start for p in self.status):
            return "announced"
        return "unknown"

    def status_note(self, day: date) -> str | None:
        """Why the status on ``day`` is unknown (None when it is known): unknown is never
        "not in force"."""
        if self.status_on(day) != "unknown":
            return None
        ended = [p for p in self.status if p.end is not None and p.end < day]
        if not ended:
            return "unknown (no status recorded for this date in the registry)"
        last = max(ended, key=lambda p: p.end)
        return (f"unknown (the {last.status} status recorded ends {last.end}; no later status "
                "in the registry)")

    def applies_to(self, importer_iso3: str) -> bool:
        """Whether the destination scope reaches this importer at all."""
        scope = self.destinations
        return scope.scope != "countries" or importer_iso3 in scope.countries


def _check_references(measure: Measure, path: Path, commodities: dict[str, Commodity],
                      countries: set[str] | None) -> None:
    for n, item in enumerate(measure.items):
        if item.commodity is not None and item.commodity not in commodities:
            raise DataError(f"unknown commodity {item.commodity!r}; valid: "
                            f"{', '.join(sorted(commodities))}", source=path,
                            field=f"items.{n}.commodity")
        lines = ({code for lines in commodities[item.commodity].hs.values() for code in lines}
                 if item.commodity else set())
        for code in item.hs_codes:
            if code not in lines:
                raise DataError(
                    f"HS code {code!r} is not a line of commodity {item.commodity!r} in "
                    "data/commodities.yaml", source=path, field=f"items.{n}.hs_codes")
    named = measure.destinations.countries + (
        [measure.extraterritorial.origin_iso3] if measure.extraterritorial else [])
    for code in named:
        if countries is not None and code not in countries:
            raise DataError(f"unknown country {code!r}", source=path, field="destinations")


def load_measure(path: Path, commodities: dict[str, Commodity],
                 countries: set[str] | None = None) -> Measure:
    """Parse and validate one registry file; every error names the file and the field."""
    measure = load_yaml_model(path, Measure)
    _check_references(measure, path, commodities, countries)
    return measure


def load_registry(folder: Path, commodities: dict[str, Commodity],
                  countries: set[str] | None = None) -> dict[str, Measure]:
    """Every measure in ``folder``, keyed by id, in announcement order."""
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise DataError("no measures found (*.yaml)", source=folder)
    measures = [load_measure(f, commodities, countries) for f in files]
    return {m.id: m for m in sorted(measures, key=lambda m: (m.announced, m.id))}


def require_measure(registry: dict[str, Measure], control_id: str) -> Measure:
    if control_id not in registry:
        raise UnknownValueError("control", control_id, registry)
    return registry[control_id]


def select_measures(registry: dict[str, Measure], *, as_of: date | None = None,
                    destination: str | None = None, commodity: str | None = None
                    ) -> list[Measure]:
    """Measures announced by ``as_of`` that reach ``destination`` and cover ``commodity``."""
    chosen = []
    for m in registry.values():
        if as_of is not None and m.announced > as_of:
            continue
        if destination is not None and not m.applies_to(destination):
            continue
        if commodity is not None and commodity not in m.commodities:
            continue
        chosen.append(m)
    return chosen


def summary_row(m: Measure, as_of: date) -> dict:
    """The listing record: what `chokehold controls list` prints."""
    return {
        "id": m.id,
        "title": m.title,
        "announced": m.announced.isoformat(),
        "effective": m.effective.isoformat() if m.effective else None,
        "status": m.status_on(as_of),
        "status_note": m.status_note(as_of),
        "commodities": m.commodities,
        "licence_level": m.licence_level,
        "destinations": m.destinations.scope if m.destinations.scope != "countries"
        else ",".join(m.destinations.countries),
        "verify": m.verify,
    }


def registry_frames(registry: dict[str, Measure], folder: Path) -> dict[str, pl.DataFrame]:
    """The control_measures, control_status and control_items warehouse tables."""
    measures, statuses, items = [], [], []
    for m in registry.values():
        sha = hashlib.sha256((folder / f"{m.id}.yaml").read_bytes()).hexdigest()
        measures.append({
            "control_id": m.id, "kind": m.kind, "title": m.title, "title_zh": m.title_zh,
            "issuer_iso3": m.issuer_iso3, "authorities": m.authorities,
            "document_number": m.document_number, "announced": m.announced,
            "effective": m.effective, "licence_level": m.licence_level,
            "destination_scope": m.destinations.scope,
            "destinations": m.destinations.countries or None,
            "end_use": m.destinations.end_use,
            "de_minimis_share": m.extraterritorial.de_minimis_value_share
            if m.extraterritorial else None,
            "verify": m.verify, "file_sha256": sha,
        })
        statuses += [{"control_id": m.id, "status": p.status, "start_date": p.start,
                      "end_date": p.end, "source": p.source} for p in m.status]
        for n, item in enumerate(m.items):
            for code in item.hs_codes or [""]:
                items.append({"control_id": m.id, "item_no": n, "commodity": item.commodity,
                              "hs_code": code, "elements": item.elements or None,
                              "control_codes": item.control_codes or None,
                              "description": item.description})
    list_str = pl.List(pl.String)
    return {
        "control_measures": pl.DataFrame(measures, schema_overrides={
            "authorities": list_str, "destinations": list_str, "licence_level": pl.Int64,
            "de_minimis_share": pl.Float64, "effective": pl.Date, "title_zh": pl.String,
            "document_number": pl.String, "end_use": pl.String}),
        "control_status": pl.DataFrame(statuses, schema_overrides={"end_date": pl.Date}),
        "control_items": pl.DataFrame(items, schema_overrides={
            "elements": list_str, "control_codes": list_str, "commodity": pl.String}),
    }

