"""One module per data source: extract -> validate -> load into the warehouse.

``SOURCES`` names each source's module; ``OFFLINE_SOURCES`` are the ones the embedded default
data serve (``chokehold refresh --offline``), in dependency order.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from chokehold.errors import UnknownValueError

SOURCES: dict[str, str] = {
    "reference": "chokehold.pipelines.reference",
    "controls": "chokehold.pipelines.controls",
    "baci": "chokehold.pipelines.baci",
    "world_mining_data": "chokehold.pipelines.world_mining_data",
    "fx": "chokehold.pipelines.fx",
    "prices": "chokehold.pipelines.prices",
    "comtrade": "chokehold.pipelines.comtrade",
    "japan_customs": "chokehold.pipelines.japan_customs",
    "usgs": "chokehold.pipelines.usgs",
    "wgi": "chokehold.pipelines.wgi",
}
OFFLINE_SOURCES: tuple[str, ...] = (
    "reference", "controls", "baci", "world_mining_data", "fx", "prices", "wgi",
)


def source_module(name: str) -> ModuleType:
    """The pipeline module of a source; unknown names list the valid ones."""
    if name not in SOURCES:
        raise UnknownValueError("source", name, SOURCES)
    return importlib.import_module(SOURCES[name])
