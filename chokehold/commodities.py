"""Commodity groups and their HS lines per revision, from data/commodities.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from chokehold._lazy import polars as pl
from chokehold.errors import UnknownValueError
from chokehold.yamlfiles import Strict, load_yaml_mapping

HsRevision = Literal["HS92", "HS96", "HS02", "HS07", "HS12", "HS17", "HS22"]
HS_REVISIONS: tuple[str, ...] = ("HS92", "HS96", "HS02", "HS07", "HS12", "HS17", "HS22")


class ProductionSource(Strict):
    """The production series a commodity's analysis reads: one source, never a sum of several."""

    source: str = Field(description="Source id of the production rows (e.g. world_mining_data).")
    unit: str = Field(description="Unit of that source's rows (t, t REO, t W, ...).")
    basis: str = Field(description="What is counted: stage and content.")


class ContentFactor(Strict):
    """Tonnes of content (metal, oxide: the production unit's basis) per tonne of an HS line."""

    factor: float = Field(gt=0, le=2)
    citation: str


class Commodity(Strict):
    id: str
    name: str
    name_zh: str | None = None
    elements: list[str] = Field(default_factory=list)
    hs: dict[HsRevision, dict[str, str]]
    note: str | None = None
    concordance: str
    production: ProductionSource | None = None
    content_factors: dict[str, ContentFactor] = Field(default_factory=dict)
    """Per HS line (any revision); a line without one is counted at gross weight."""

    @field_validator("hs")
    @classmethod
    def _six_digit_lines(cls, hs: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for revision, lines in hs.items():
            for code in lines:
                if not (len(code) == 6 and code.isdigit()):
                    raise ValueError(f"{revision}: HS code {code!r} is not six digits")
        return hs

    def lines(self, revision: str) -> list[str]:
        """The commodity's HS lines in ``revision`` (all revisions are listed in the file)."""
        if revision not in self.hs:
            raise UnknownValueError("HS revision", revision, self.hs)
        return sorted(self.hs[revision])  # type: ignore[index]


def load_commodities(path: Path) -> dict[str, Commodity]:
    """Read and validate the commodities file; errors name the file and the field."""
    return load_yaml_mapping(path, Commodity)


def require_commodity(commodities: dict[str, Commodity], commodity_id: str) -> Commodity:
    if commodity_id not in commodities:
        raise UnknownValueError("commodity", commodity_id, commodities)
    return commodities[commodity_id]


def known_hs_codes(commodities: dict[str, Commodity]) -> set[str]:
    """Every HS line any commodity lists, in any revision."""
    return {code for c in commodities.values() for lines in c.hs.values() for code in lines}


def commodity_frames(commodities: dict[str, Commodity]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The ``commodities`` and ``commodity_hs`` warehouse tables."""
    groups = pl.DataFrame(
        [{"commodity_id": c.id, "name": c.name, "name_zh": c.name_zh, "elements": c.elements,
          "note": c.note,
          **{f"production_{k}": getattr(c.production, k, None) for k in ("source", "unit",
                                                                         "basis")}}
         for c in commodities.values()],
        schema={"commodity_id": pl.String, "name": pl.String, "name_zh": pl.String,
                "elements": pl.List(pl.String), "note": pl.String,
                "production_source": pl.String, "production_unit": pl.String,
                "production_basis": pl.String},
    )
    lines = pl.DataFrame(
        [{"commodity_id": c.id, "hs_revision": rev, "hs_code": code, "description": desc}
         for c in commodities.values() for rev, codes in c.hs.items()
         for code, desc in codes.items()],
    )
    return groups, lines
