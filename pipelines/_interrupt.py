"""SIGINT and SIGTERM during a refresh: raise, so the run unwinds, is recorded and publishes nothing.

Python turns SIGINT into KeyboardInterrupt but lets SIGTERM kill the process outright (no
clean-up, no run record). Inside ``signals_raise()`` both raise ``Interrupted``, a BaseException
so that no ``except Exception`` in a source swallows it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from chokehold.errors import ChokeholdError

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):  # noqa: N818 - a signal, not an error
    """A signal arrived; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class RefreshInterrupted(ChokeholdError):
    """The refresh was stopped by a signal: exit 128 + its number (130 SIGINT, 143 SIGTERM)."""

    def __init__(self, signum: int, run_id: str) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"refresh {run_id} interrupted by {name}; nothing published "
                         "(recorded in refresh_runs as interrupted)")
        self.exit_code = 128 + signum


def _raise(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(signum)


@contextmanager
def signals_raise() -> Iterator[None]:
    """Within the block SIGINT and SIGTERM raise Interrupted (main thread only; elsewhere
    signals cannot be handled and the block runs as is)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise) for s in SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextmanager
def signals_ignored() -> Iterator[None]:
    """Within the block SIGINT and SIGTERM wait (used while the interruption is recorded)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def signal_number(exc: BaseException) -> int:
    """The signal behind an Interrupted or a KeyboardInterrupt."""
    return exc.signum if isinstance(exc, Interrupted) else int(signal.SIGINT)
