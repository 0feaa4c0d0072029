"""A refresh that SIGKILLs itself at a named point of the lake's write path (kill tests).

Points: ``written`` (a partition file written, not yet named by its hash), ``sealed`` (named,
not yet in the catalog), ``publish`` (the staging warehouse with the new catalog about to be
swapped in), ``current`` (swapped in, ``_current.json`` not yet rewritten).
"""

from __future__ import annotations

import os
import signal
from typing import Any


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def run_until(settings_kwargs: dict, sources: list[str], options: dict[str, Any],
              point: str) -> None:
    from chokehold.config import load_settings  # noqa: PLC0415
    from chokehold.pipelines import refresh  # noqa: PLC0415
    from chokehold.warehouse import lake  # noqa: PLC0415

    def after(func):  # noqa: ANN001, ANN202
        def wrapped(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            func(*args, **kwargs)
            _die()
        return wrapped

    def before(func):  # noqa: ANN001, ANN202
        def wrapped(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            _die()
        return wrapped

    if point == "written":
        lake.write_temp = after(lake.write_temp)
    elif point == "sealed":
        lake.seal = after(lake.seal)
    elif point == "publish":
        refresh.publish = before(refresh.publish)
    elif point == "current":
        lake.write_current = before(lake.write_current)
    refresh.refresh_warehouse(load_settings(**settings_kwargs), sources, options)
