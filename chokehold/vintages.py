"""Published vintages: Parquet snapshots of the analysis tables, their manifests, and diffs.

Each refresh that changes data publishes ``<vintages_dir>/<id>/`` with one Parquet file per
analysis table, ``manifest.json`` (sources, their input checksums, row counts and content hashes,
code revision) and ``digest.md``/``digest.json`` (what changed since the previous vintage). The id
is the UTC date plus the first 8 hex digits of the content hash, so the same data give the same
hash. Reports reproduce last month's numbers with ``open_vintage(id)``, a read-only view of the
snapshot that needs neither the warehouse nor the network.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from chokehold.config import Settings, load_settings
from chokehold.errors import ChokeholdError, UnknownValueError
from chokehold.pipelines._common import sha256_file
from chokehold.provenance import code_revision
from chokehold.warehouse.schema import table_specs

MANIFEST = "manifest.json"
BOOKKEEPING_TABLES = frozenset({
    "load_runs", "refresh_runs", "refresh_run_sources", "source_state", "revisions",
    "published_vintages",
})
"""Tables about the loads rather than the data; every other table is snapshotted."""
HASH_EXCLUDED = frozenset({"vintages"})
PERIODS: dict[str, tuple[str, tuple[str, ...]]] = {
    "trade_flows": ("period", ("source", "freq")),
    "prices": ("date", ("series_id",)),
    "fx_rates": ("date", ("source", "base", "quote")),
    "production": ("year", ("source", "commodity", "stage")),
}
"""Per dataset: its period column and the columns naming a series, for 'new periods'."""
CONTROL_TABLES = ("control_measures", "control_status", "control_items")
NUMERIC_TYPES = ("DOUBLE", "FLOAT", "REAL", "INTEGER", "BIGINT", "SMALLINT", "HUGEINT", "DECIMAL")
TMP_PREFIX = ".tmp-"


def snapshot_tables() -> list[str]:
    """Every dataset (a view, not the tables it is stored in) except the bookkeeping tables."""
    return [name for name, spec in table_specs().items()
            if name not in BOOKKEEPING_TABLES and spec.part_of is None]


def _quiet(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """No progress bar. Inside a Jupyter kernel (a report reading the diff) DuckDB refuses to
    touch the setting at all without ipywidgets; there it draws no bar anyway."""
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.InvalidInputException:
        pass
    return con


def table_digests(con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> dict[str, dict]:
    """Row count and an order-independent hash of each table's rows."""
    out = {}
    for name in tables:
        rows, digest = con.execute(
            f"SELECT count(*), coalesce(bit_xor(hash(t)), 0) FROM {name} t").fetchall()[0]
        out[name] = {"rows": int(rows), "hash": f"{int(digest):016x}"}
    return out


def content_hash(digests: dict[str, dict]) -> str:
    """Hash of the tables' digests, leaving out ``vintages`` (its fetch times change every run,
    the data need not): the same data give the same hash."""
    kept = {name: {"rows": d["rows"], "hash": d["hash"]} for name, d in digests.items()
            if name not in HASH_EXCLUDED}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()


@dataclass
class Snapshot:
    """A written snapshot in its temporary folder, not yet published."""

    vintage_id: str
    folder: Path
    final: Path
    manifest: dict[str, Any]


def write_snapshot(con: duckdb.DuckDBPyConnection, settings: Settings, *, run_id: str,
                   published_at: datetime, extra: dict[str, Any]) -> Snapshot:
    """Write Parquet files and manifest.json of every analysis table into a temporary folder."""
    _quiet(con)
    tables = snapshot_tables()
    digests = table_digests(con, tables)
    chash = content_hash(digests)
    vintage_id = f"{published_at:%Y%m%d}-{chash[:8]}"
    folder = settings.vintages_dir / f"{TMP_PREFIX}{vintage_id}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name in tables:
        target = folder / f"{name}.parquet"
        con.execute(f"COPY {name} TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
        digests[name].update(file=target.name, sha256=sha256_file(target))
    manifest = {
        "vintage_id": vintage_id, "run_id": run_id,
        "published_at": published_at.isoformat(timespec="seconds") + "Z",
        "content_hash": chash, "code_revision": code_revision(), **extra, "tables": digests,
    }
    return Snapshot(vintage_id, folder, settings.vintages_dir / vintage_id, manifest)


def write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def finalize(snapshot: Snapshot) -> None:
    """Move the finished snapshot to its final name (replacing an orphan of a crashed run)."""
    write_text(snapshot.folder / MANIFEST, json.dumps(snapshot.manifest, indent=2, default=str))
    if snapshot.final.exists():
        shutil.rmtree(snapshot.final)
    snapshot.folder.rename(snapshot.final)


def remove_incomplete(settings: Settings) -> list[Path]:
    """Delete temporary snapshot folders a crashed refresh left (call under the refresh lock)."""
    if not settings.vintages_dir.is_dir():
        return []
    leftovers = [p for p in settings.vintages_dir.iterdir()
                 if p.is_dir() and p.name.startswith(TMP_PREFIX)]
    for path in leftovers:
        shutil.rmtree(path)
    return leftovers


def remove_orphans(settings: Settings, published: set[str]) -> list[Path]:
    """Delete finished snapshot folders of this warehouse that it never published (a refresh
    killed between writing the snapshot and swapping the warehouse); call under the lock."""
    if not settings.vintages_dir.is_dir():
        return []
    orphans = []
    for folder in settings.vintages_dir.iterdir():
        if folder.name.startswith(TMP_PREFIX) or folder.name in published:
            continue
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if manifest.get("warehouse") == str(settings.warehouse):
            shutil.rmtree(folder)
            orphans.append(folder)
    return orphans


def retained(vintages: Iterable[tuple[str, datetime]], keep_last: int,
             keep_quarter_ends: bool) -> set[str]:
    """Ids to keep: the ``keep_last`` newest, and the newest of each calendar quarter."""
    ordered = sorted(vintages, key=lambda v: (v[1], v[0]))
    keep = {vid for vid, _ in ordered[-keep_last:]}
    if keep_quarter_ends:
        last_of_quarter: dict[tuple[int, int], str] = {}
        for vid, when in ordered:
            last_of_quarter[(when.year, (when.month - 1) // 3)] = vid
        keep |= set(last_of_quarter.values())
    return keep


# ---------------------------------------------------------------------------------------------
# Reading vintages


def read_manifest(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ChokeholdError(f"cannot read the manifest of vintage {folder}: {exc}") from exc


def available(settings: Settings) -> list[dict[str, Any]]:
    """Manifests of the vintages on disk, oldest first."""
    if not settings.vintages_dir.is_dir():
        return []
    manifests = [read_manifest(p) for p in settings.vintages_dir.iterdir()
                 if p.is_dir() and not p.name.startswith(TMP_PREFIX) and (p / MANIFEST).exists()]
    return sorted(manifests, key=lambda m: (m["published_at"], m["vintage_id"]))


def resolve(vintage_id: str, settings: Settings) -> Path:
    """The folder of a vintage; ``latest`` and ``previous`` name the newest two on disk."""
    if vintage_id in ("latest", "previous"):
        ids = [m["vintage_id"] for m in available(settings)]
        need = 1 if vintage_id == "latest" else 2
        if len(ids) < need:
            raise ChokeholdError(f"no {vintage_id} vintage in {settings.vintages_dir} "
                                 f"({len(ids)} published); run `chokehold refresh`")
        vintage_id = ids[-need]
    folder = settings.vintages_dir / vintage_id
    if not (folder / MANIFEST).exists():
        raise UnknownValueError("vintage", vintage_id,
                                [m["vintage_id"] for m in available(settings)])
    return folder


def _attach_views(con: duckdb.DuckDBPyConnection, folder: Path, schema: str = "main") -> None:
    manifest = read_manifest(folder)
    if schema != "main":
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for name, info in manifest["tables"].items():
        path = str(folder / info["file"]).replace("'", "''")
        con.execute(f"CREATE OR REPLACE VIEW {schema}.{name} AS "
                    f"SELECT * FROM read_parquet('{path}')")


def open_vintage(vintage_id: str = "latest", settings: Settings | None = None
                 ) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection whose tables are views over a vintage's Parquet snapshot.

    The analysis tables have the warehouse's names and columns, so a report's queries run
    unchanged: ``con = open_vintage("20260301-1a2b3c4d"); read_query(con, "SELECT ...")``. The
    Parquet files are never written through it. ``vintage_id`` may be ``latest`` or ``previous``.
    """
    settings = settings or load_settings()
    folder = resolve(vintage_id, settings)
    con = _quiet(duckdb.connect(":memory:"))
    _attach_views(con, folder)
    return con


# ---------------------------------------------------------------------------------------------
# Diff


@dataclass
class VintageDiff:
    """What changed from one vintage to another."""

    from_id: str
    to_id: str
    tolerance: float
    tables: pl.DataFrame
    new_periods: pl.DataFrame
    revised: pl.DataFrame
    controls: pl.DataFrame
    stale_sources: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return (self.new_periods.is_empty() and self.revised.is_empty()
                and self.controls.is_empty()
                and not self.tables.filter((pl.col("added") > 0) | (pl.col("removed") > 0)
                                           | (pl.col("changed") > 0)).height)

    def to_dict(self, max_revised: int | None = None) -> dict[str, Any]:
        revised = self.revised if max_revised is None else self.revised.head(max_revised)
        return {
            "from": self.from_id, "to": self.to_id, "tolerance": self.tolerance,
            "stale_sources": self.stale_sources,
            "tables": self.tables.to_dicts(), "new_periods": self.new_periods.to_dicts(),
            "revised_count": self.revised.height, "revised": revised.to_dicts(),
            "controls": self.controls.to_dicts(),
        }

    def markdown(self, max_revised: int = 20) -> str:
        """The digest: stale sources, new periods, revisions beyond tolerance, control changes."""
        lines = [f"# Digest: vintage {self.to_id} (previous: {self.from_id})", ""]
        if self.stale_sources:
            lines += ["**Stale sources** (failed in this refresh; their data are from an earlier "
                      "run): " + ", ".join(self.stale_sources), ""]
        if self.empty:
            lines += ["No data changed.", ""]
        lines += _md_section("New periods", self.new_periods)
        lines += _md_section(
            f"Revised values (relative change above {self.tolerance:g}; "
            f"{self.revised.height} in all)", self.revised.head(max_revised))
        lines += _md_section("New or changed control measures", self.controls)
        lines += _md_section("Rows by table", self.tables.filter(
            (pl.col("added") > 0) | (pl.col("removed") > 0) | (pl.col("changed") > 0)))
        return "\n".join(lines)


def _md_section(title: str, frame: pl.DataFrame) -> list[str]:
    if frame.is_empty():
        return []
    head = "| " + " | ".join(frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = ["| " + " | ".join("" if v is None else str(v) for v in row) + " |"
            for row in frame.iter_rows()]
    return [f"## {title}", "", head, rule, *body, ""]


def diff_folders(old: Path, new: Path, tolerance: float) -> VintageDiff:
    """Compare two snapshot folders (see ``diff_vintages``)."""
    old_manifest, new_manifest = read_manifest(old), read_manifest(new)
    con = _quiet(duckdb.connect(":memory:"))
    _attach_views(con, old, "a")
    _attach_views(con, new, "b")
    common = [t for t in new_manifest["tables"] if t in old_manifest["tables"]
              and t in table_specs()]
    return VintageDiff(
        from_id=old_manifest["vintage_id"], to_id=new_manifest["vintage_id"],
        tolerance=tolerance,
        tables=_row_changes(con, common),
        new_periods=_new_periods(con, [t for t in common if t in PERIODS]),
        revised=_revised(con, [t for t in common if t not in CONTROL_TABLES], tolerance),
        controls=_control_changes(con) if all(t in common for t in CONTROL_TABLES)
        else pl.DataFrame(),
        stale_sources=list(new_manifest.get("stale_sources", [])),
    )


def diff_vintages(from_id: str, to_id: str = "latest", settings: Settings | None = None,
                  tolerance: float | None = None) -> VintageDiff:
    """New periods, values revised by more than ``tolerance`` (relative), and new, changed or
    removed control measures between vintage ``from_id`` and ``to_id``."""
    settings = settings or load_settings()
    return diff_folders(resolve(from_id, settings), resolve(to_id, settings),
                        settings.diff_tolerance if tolerance is None else tolerance)


def _keys(name: str) -> str:
    return ", ".join(f'"{k}"' for k in table_specs()[name].primary_key)


def _row_changes(con: duckdb.DuckDBPyConnection, tables: list[str]) -> pl.DataFrame:
    rows = []
    for name in tables:
        keys = _keys(name)
        added, removed = con.execute(
            f"SELECT (SELECT count(*) FROM (SELECT {keys} FROM b.{name} EXCEPT "
            f"SELECT {keys} FROM a.{name})), (SELECT count(*) FROM (SELECT {keys} FROM a.{name} "
            f"EXCEPT SELECT {keys} FROM b.{name}))").fetchall()[0]
        changed = con.execute(
            f"SELECT count(*) FROM (SELECT * FROM b.{name} EXCEPT SELECT * FROM a.{name})"
        ).fetchall()[0][0] - added
        rows.append({"table": name, "added": added, "removed": removed, "changed": changed})
    return pl.DataFrame(rows, schema={"table": pl.String, "added": pl.Int64,
                                      "removed": pl.Int64, "changed": pl.Int64})


def _new_periods(con: duckdb.DuckDBPyConnection, tables: list[str]) -> pl.DataFrame:
    parts = []
    for name in tables:
        period, series = PERIODS[name]
        cols = ", ".join(f'"{c}"' for c in (*series, period))
        match = " AND ".join(f'o."{c}" = n."{c}"' for c in (*series, period))
        label = " || '/' || ".join(f'CAST(n."{c}" AS VARCHAR)' for c in series)
        parts.append(
            f"SELECT '{name}' AS dataset, {label} AS series, min(n.\"{period}\")::VARCHAR AS first, "
            f"max(n.\"{period}\")::VARCHAR AS last, count(DISTINCT n.\"{period}\") AS periods, "
            f"count(*) AS rows FROM b.{name} n "
            f"ANTI JOIN (SELECT DISTINCT {cols} FROM a.{name}) o ON {match} GROUP BY ALL")
    if not parts:
        return pl.DataFrame()
    return con.sql(" UNION ALL ".join(parts) + " ORDER BY 1, 2").pl()


def _revised(con: duckdb.DuckDBPyConnection, tables: list[str], tolerance: float) -> pl.DataFrame:
    parts = []
    for name in tables:
        spec = table_specs()[name]
        join = " AND ".join(f'a."{k}" = b."{k}"' for k in spec.primary_key)
        key = "to_json(struct_pack({}))::VARCHAR".format(
            ", ".join(f'"{k}" := b."{k}"' for k in spec.primary_key))
        for col in spec.value_columns:
            if not spec.column(col).type.upper().startswith(NUMERIC_TYPES):
                continue
            old, new = f'a."{col}"::DOUBLE', f'b."{col}"::DOUBLE'
            parts.append(
                f"SELECT '{name}' AS dataset, {key} AS row_key, '{col}' AS column_name, "
                f"{old} AS old_value, {new} AS new_value, "
                f"CASE WHEN {old} <> 0 THEN ({new} - {old}) / abs({old}) END AS relative_change "
                f"FROM a.{name} a JOIN b.{name} b ON {join} "
                f"WHERE ({old} IS NULL) <> ({new} IS NULL) OR abs({new} - {old}) > "
                f"{float(tolerance)!r} * greatest(abs({old}), abs({new}))")
    schema = {"dataset": pl.String, "row_key": pl.String, "column_name": pl.String,
              "old_value": pl.Float64, "new_value": pl.Float64, "relative_change": pl.Float64}
    if not parts:
        return pl.DataFrame(schema=schema)
    frame = con.sql(" UNION ALL ".join(parts)).pl()
    return frame.sort(pl.col("relative_change").abs(), descending=True, nulls_last=False)


def _control_changes(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    changed = " UNION ".join(
        f"SELECT control_id FROM (SELECT * FROM b.{t} EXCEPT SELECT * FROM a.{t}) UNION "
        f"SELECT control_id FROM (SELECT * FROM a.{t} EXCEPT SELECT * FROM b.{t})"
        for t in CONTROL_TABLES)
    return con.sql(f"""
        SELECT c.control_id,
               CASE WHEN a.control_id IS NULL THEN 'new' WHEN b.control_id IS NULL THEN 'removed'
                    ELSE 'changed' END AS change,
               coalesce(b.title, a.title) AS title
        FROM ({changed}) c
        LEFT JOIN a.control_measures a USING (control_id)
        LEFT JOIN b.control_measures b USING (control_id)
        ORDER BY change, c.control_id""").pl()
