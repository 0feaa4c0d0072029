"""tinyfx, slowed down: loads its file in chunks, sleeping between them (for kill tests).

The delay per chunk comes from ``<folder>/delay`` (seconds, default 0.05).
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from chokehold.config import Settings
from chokehold.pipelines._common import sha256_file
from chokehold.warehouse import LoadResult, load_frame
from fakesources.tinyfx import fingerprint, input_file, read  # noqa: F401 (fingerprint is API)

DEPENDS_ON = ()
CHUNKS = 4


def refresh(con: duckdb.DuckDBPyConnection, settings: Settings, path: list[Path] | None = None,
            **_: object) -> list[LoadResult]:
    file = input_file(path)
    delay_file = file.with_name("delay")
    delay = float(delay_file.read_text()) if delay_file.exists() else 0.05
    frame = read(file)
    size = -(-frame.height // CHUNKS)
    results = []
    for start in range(0, frame.height, size):
        time.sleep(delay)
        results.append(load_frame(con, "fx_rates", frame.slice(start, size), source_id="tinyfx",
                                  vintage=frame["vintage"][0], origin=file,
                                  sha256=sha256_file(file)))
    return results
