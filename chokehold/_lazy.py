"""Polars, imported on first use.

``import polars`` costs about 0.2 s, more than the rest of ``chokehold status`` or of a refresh
that finds nothing new. The warehouse, vintage and pipeline modules build frames only in the
functions that load or diff data, so they take ``polars`` from here
(``from chokehold._lazy import polars as pl``): the real module is imported when one of its
attributes is first used, by ``importlib.import_module`` (thread-safe, one import per process).

``importlib.util.LazyLoader`` does not serve: any ``import polars`` statement elsewhere reads the
module's ``__spec__``, which loads it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any


class Deferred:
    """A stand-in for the module ``name`` that imports it when an attribute is first read."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        module: ModuleType = importlib.import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<deferred import of {self._name}>"


if TYPE_CHECKING:
    import polars
else:
    polars = Deferred("polars")
