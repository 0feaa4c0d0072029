"""chokehold: exposure of economies to export controls on critical minerals.

``import chokehold as ck`` is cheap: the Python API (chokehold.api: ``ck.open``, ``ck.shares``,
``ck.screen``, ``ck.price_gap``, ``ck.scenario``, ``ck.controls``, ``ck.units``, ``ck.to_arrow``)
is imported on first use.
"""

from typing import Any

__version__ = "0.1.0"

_API = ("FrameInfo", "Warehouse", "controls", "describe", "open", "price_gap", "scenario",
        "screen", "shares", "to_arrow", "units", "write_parquet")


def __getattr__(name: str) -> Any:
    if name in _API:
        from chokehold import api

        return getattr(api, name)
    raise AttributeError(f"module 'chokehold' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
