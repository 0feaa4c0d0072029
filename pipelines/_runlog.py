"""What a source tells the refresh run log: retries, warnings, periods requested and received.

Sources (and the HTTP layer) call ``note_retry``, ``note_warning`` and ``note_periods`` while a
refresh runs them; outside a refresh these do nothing. Records logged at WARNING or above on a
``chokehold`` logger count as warnings too, and records carrying ``extra={"retry": True}`` (or
a message saying it is retrying) count as retries, so a connector that only logs is counted.

Every text that reaches a log file, a run record or a manifest goes through ``Redactor``, which
blanks the values of the secret settings (API keys).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from chokehold.config import Settings
from chokehold.provenance import REDACTED

LOGGER_NAME = "chokehold"
MAX_WARNINGS = 50
RETRY_MESSAGE = re.compile(r"\bretrying\b", re.IGNORECASE)
"""A WARNING that says it is retrying counts as a retry (tenacity's ``before_sleep_log`` says
"Retrying ...", pipelines/_http "...; retrying")."""


@dataclass
class SourceStats:
    retries: int = 0
    warnings: list[str] = field(default_factory=list)
    periods_requested: str | None = None
    periods_received: str | None = None


_lock = threading.Lock()
_current: SourceStats | None = None


def describe_periods(periods: Iterable[object]) -> str | None:
    """``first..last (n)`` for a set of period labels; None when empty."""
    labels = sorted({str(p) for p in periods})
    if not labels:
        return None
    return labels[0] if len(labels) == 1 else f"{labels[0]}..{labels[-1]} ({len(labels)})"


def note_retry(reason: str = "") -> None:
    """Count one retried request of the source being refreshed."""
    with _lock:
        if _current is not None:
            _current.retries += 1


def note_warning(message: str) -> None:
    """Record a warning for the source being refreshed (kept in refresh_run_sources)."""
    with _lock:
        if _current is not None and len(_current.warnings) < MAX_WARNINGS:
            _current.warnings.append(message)


def note_periods(*, requested: Iterable[object] | None = None,
                 received: Iterable[object] | None = None) -> None:
    """The periods the source asked for and the ones it got."""
    with _lock:
        if _current is None:
            return
        if requested is not None:
            _current.periods_requested = describe_periods(requested)
        if received is not None:
            _current.periods_received = describe_periods(received)


@contextmanager
def collecting() -> Iterator[SourceStats]:
    """Collect the notes of one source's refresh."""
    global _current
    stats = SourceStats()
    with _lock:
        _current = stats
    try:
        yield stats
    finally:
        with _lock:
            _current = None


class _StatsHandler(logging.Handler):
    """Turns log records of the running source into warnings and retries."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__(logging.WARNING)
        self.redactor = redactor

    def emit(self, record: logging.LogRecord) -> None:
        message = self.redactor(record.getMessage())
        if getattr(record, "retry", False) or RETRY_MESSAGE.search(message):
            note_retry(message)
        else:
            note_warning(message)


class Redactor:
    """Replaces the values of every secret setting (SecretStr fields) in a text."""

    def __init__(self, settings: Settings) -> None:
        values = (getattr(settings, name) for name in type(settings).model_fields)
        self.secrets = sorted({v.get_secret_value() for v in values
                               if isinstance(v, SecretStr) and v.get_secret_value()},
                              key=len, reverse=True)

    def __call__(self, text: object) -> str:
        out = str(text)
        for secret in self.secrets:
            out = out.replace(secret, REDACTED)
        return out


class _RedactingFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor, run_id: str) -> None:
        super().__init__(f"%(asctime)s %(levelname)s run={run_id} %(name)s: %(message)s")
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self.redactor(super().format(record))


@contextmanager
def run_logging(settings: Settings, run_id: str, log_file: Path | None = None
                ) -> Iterator[logging.Logger]:
    """The ``chokehold`` logger, writing (redacted) to the refresh log file for one run."""
    redactor = Redactor(settings)
    path = log_file or settings.refresh_log
    path.parent.mkdir(parents=True, exist_ok=True)
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setFormatter(_RedactingFormatter(redactor, run_id))
    stats_handler = _StatsHandler(redactor)
    logger = logging.getLogger(LOGGER_NAME)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(file_handler)
    logger.addHandler(stats_handler)
    try:
        yield logger
    finally:
        logger.removeHandler(file_handler)
        logger.removeHandler(stats_handler)
        logger.setLevel(previous_level)
        file_handler.close()
