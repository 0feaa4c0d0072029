"""A lake in exactly the layout of the lakehouse contract (issue 12), for the Spark tests and
benchmarks: ``baci_flows/hs_revision=R/year=Y/<content-hash>.parquet`` with the columns
exporter_code INT16, importer_code INT16, hs6 INT32, value_usd DOUBLE, qty DOUBLE, and
``_current.json`` listing the files that make the table now."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

LAKE_SCHEMA = pa.schema([("exporter_code", pa.int16()), ("importer_code", pa.int16()),
                         ("hs6", pa.int32()), ("value_usd", pa.float64()), ("qty", pa.float64())])


def write_partition(lake: Path, hs_revision: str, year: int, flows: pa.Table) -> dict:
    """One partition file named by its content hash; returns its _current.json entry."""
    folder = lake / "baci_flows" / f"hs_revision={hs_revision}" / f"year={year}"
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / ".staged.parquet"
    pq.write_table(flows.select(LAKE_SCHEMA.names).cast(LAKE_SCHEMA), staged)
    digest = hashlib.sha256(staged.read_bytes()).hexdigest()
    target = folder / f"{digest[:16]}.parquet"
    staged.replace(target)
    return {"path": target.relative_to(lake).as_posix(), "hs_revision": hs_revision,
            "year": year, "release": "V209901", "rows": flows.num_rows, "sha256": digest}


def publish(lake: Path, entries: list[dict]) -> None:
    """Write _current.json: these files are baci_flows now."""
    current = {"format": "chokehold-lake/1",
               "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
               "tables": {"baci_flows": entries}}
    (lake / "_current.json").write_text(json.dumps(current, indent=2))
