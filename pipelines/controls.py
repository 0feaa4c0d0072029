"""The export-control registry (data/controls/*.yaml) into the warehouse tables control_*."""

from __future__ import annotations

import hashlib

import duckdb

from chokehold.commodities import load_commodities
from chokehold.config import Settings
from chokehold.pipelines._common import files_fingerprint
from chokehold.registry import load_registry, registry_frames
from chokehold.warehouse import LoadResult, load_frame

SOURCE_ID = "chokehold_registry"


def fingerprint(settings: Settings, **_: object) -> str:
    """Every registry file (names and contents) and the commodity list it is checked against."""
    return files_fingerprint(settings.commodities_file,
                             *sorted(settings.controls_dir.glob("*.yaml")))


def refresh(con: duckdb.DuckDBPyConnection, settings: Settings, **_: object) -> list[LoadResult]:
    commodities = load_commodities(settings.commodities_file)
    countries = {r[0] for r in con.execute("SELECT iso3 FROM countries").fetchall()} or None
    registry = load_registry(settings.controls_dir, commodities, countries)
    digest = hashlib.sha256(b"".join(
        (settings.controls_dir / f"{mid}.yaml").read_bytes() for mid in sorted(registry)
    )).hexdigest()
    vintage = f"registry-{digest[:12]}"
    frames = registry_frames(registry, settings.controls_dir)
    # The registry is the whole truth: what left the folder leaves the warehouse.
    return [load_frame(con, table, frame, source_id=SOURCE_ID, vintage=vintage,
                       origin=settings.controls_dir, replace_scope="TRUE")
            for table, frame in frames.items()]
