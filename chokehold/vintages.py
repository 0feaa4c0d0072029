"""Published vintages: manifests of the analysis tables' files, and diffs.

Each refresh that changes data publishes ``<vintages_dir>/<id>/`` with ``manifest.json``
(sources, their input checksums, row counts and content hashes, code revision; the lake files
of each lake table and each small table's shared snapshot under ``<lake>/_snapshots``: nothing
unchanged is copied) and ``digest.md``/``digest.json`` (what changed since the previous
vintage). Older vintages whose manifests name Parquet files in their folder still open. The id
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

from chokehold._lazy import polars as pl
from chokehold.config import Settings, load_settings
from chokehold.errors import ChokeholdError, UnknownValueError
from chokehold.provenance import code_revision
from chokehold.warehouse import lake, views
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


LAKE_DATASETS = {"trade_flows": ("reported_flows", "baci_batches", "baci_flows")}
"""Datasets a vintage records as their storage tables (lake files are referenced, not copied)."""


def stored_tables_of(tables: Iterable[str]) -> list[str]:
    """The tables a vintage stores for these datasets (a view with lake parts as its parts)."""
    out: list[str] = []
    for name in tables:
        out += LAKE_DATASETS.get(name, (name,))
    return out


def lake_digest(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows and hash of a lake table from its partitions' digests (no row is read)."""
    parts = sorted((e["path"].rsplit("/", 1)[0], e["digest"], e["rows"], e.get("release"))
                   for e in entries)
    return {"rows": sum(e["rows"] for e in entries),
            "hash": hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16], "lake": True}


def write_snapshot(con: duckdb.DuckDBPyConnection, settings: Settings, *, run_id: str,
                   published_at: datetime, extra: dict[str, Any]) -> Snapshot:
    """Write manifest.json of a vintage into a temporary folder: the lake files of the lake
    tables as the catalog lists them, and each small table as a shared Parquet snapshot
    (``<lake>/_snapshots``, written only when no earlier vintage has the same rows)."""
    _quiet(con)
    lake_dir = lake.root(con)
    files = {name: [e.entry() for e in lake.catalog(con, name)] for name in lake.TABLES}
    small = [t for t in stored_tables_of(snapshot_tables()) if t not in files]
    digests = table_digests(con, small)
    digests.update({name: lake_digest(entries) for name, entries in files.items()})
    chash = content_hash(digests)
    vintage_id = f"{published_at:%Y%m%d}-{chash[:8]}"
    folder = settings.vintages_dir / f"{TMP_PREFIX}{vintage_id}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name in small:
        digests[name].update(lake.snapshot_table(con, lake_dir, name, digests[name]["rows"],
                                                 digests[name]["hash"]))
    manifest = {
        "vintage_id": vintage_id, "run_id": run_id,
        "published_at": published_at.isoformat(timespec="microseconds") + "Z",
        "content_hash": chash, "code_revision": code_revision(), **extra,
        "lake_dir": str(lake_dir), "tables": digests, "lake": files,
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
    # Microseconds: two refreshes within one second must not be ordered by their hash.
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


def _text(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _attach_views(con: duckdb.DuckDBPyConnection, folder: Path, schema: str = "main",
                  only_parts: set[str] | None = None) -> None:
    """Views of a vintage's tables in ``schema``: small tables over their Parquet snapshot,
    lake tables over the files the manifest lists (``only_parts``: just those partitions),
    then the code's views (trade_flows, prices_usd, ...) over them."""
    manifest = read_manifest(folder)
    lake_dir = Path(manifest.get("lake_dir", folder))
    if schema != "main":
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    con.execute(f"SET schema = '{schema}'")
    try:
        for name, info in manifest["tables"].items():
            if info.get("lake"):
                continue
            path = folder / info["file"] if "file" in info else lake_dir / info["path"]
            con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet({_text(path)})")
        if "lake" not in manifest:
            return
        entries = {name: [e for e in found if only_parts is None
                          or e["path"].rsplit("/", 1)[0] in only_parts]
                   for name, found in manifest["lake"].items()}
        batches = {(r, y): b for b, r, y in con.execute(
            "SELECT batch, hs_revision, year FROM baci_batches").fetchall()}
        con.execute(views.baci_flows_view(sorted(
            (batches[(e["hs_revision"], e["year"])], lake_dir / e["path"])
            for e in entries.get("baci_flows", []) if (e["hs_revision"], e["year"]) in batches)))
        con.execute(views.lake_table_view(table_specs()["reported_flows"], [
            lake_dir / e["path"] for e in entries.get("reported_flows", [])]))
        for sql in views.code_views():
            con.execute(sql)
    finally:
        con.execute("SET schema = 'main'")


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
    revised_total: int | None = None
    """How many values were revised, when ``revised`` holds only the largest (a stored diff)."""

    @property
    def revised_count(self) -> int:
        return self.revised.height if self.revised_total is None else self.revised_total

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
            "revised_count": self.revised_count, "revised": revised.to_dicts(),
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
            f"{self.revised_count} in all)", self.revised.head(max_revised))
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


def _parts(manifest: dict[str, Any]) -> dict[str, tuple] | None:
    """Each lake partition of a manifest with what identifies its rows (None: no lake)."""
    if "lake" not in manifest:
        return None
    return {e["path"].rsplit("/", 1)[0]: (e["digest"], e["rows"], e.get("release"))
            for entries in manifest["lake"].values() for e in entries}


def _changed_parts(old: dict[str, Any], new: dict[str, Any]) -> set[str] | None:
    """Partitions whose rows differ between two vintages; None: compare them all (a side
    without lake partitions)."""
    a, b = _parts(old), _parts(new)
    if a is None or b is None:
        return None
    return {part for part in a.keys() | b.keys() if a.get(part) != b.get(part)}


def _fingerprint(manifest: dict[str, Any], dataset: str) -> tuple | None:
    """What identifies a dataset's rows in a manifest (None: unknown, compare rows)."""
    tables = manifest["tables"]
    parts = (*LAKE_DATASETS.get(dataset, (dataset,)),
             *(("country_codes",) if dataset in LAKE_DATASETS else ()))
    if not all(t in tables for t in parts):
        return None
    return tuple((t, tables[t]["rows"], tables[t]["hash"]) for t in parts)


def _baci_parts(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["path"].rsplit("/", 1)[0]: e for e in manifest.get("lake", {}).get("baci_flows", [])}


def _same_codes(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether both vintages name BACI's country codes alike (code -> ISO3)."""
    return not con.execute(
        "SELECT count(*) FROM ((SELECT code, iso3 FROM a.baci_countries EXCEPT "
        "SELECT code, iso3 FROM b.baci_countries) UNION ALL (SELECT code, iso3 FROM "
        "b.baci_countries EXCEPT SELECT code, iso3 FROM a.baci_countries))").fetchall()[0][0]


def _baci_shortcut(old: dict[str, Any], new: dict[str, Any], parts: set[str]
                   ) -> tuple[set[str], dict[str, int], list[dict[str, Any]]]:
    """BACI partitions only one vintage has need no row compare: their rows are all added (or
    all removed), and a year no partition of the old vintage had is a new period. Returns the
    partitions left to compare, the added/removed counts, and the new-period rows."""
    a, b = _baci_parts(old), _baci_parts(new)
    added = [b[p] for p in parts if p in b and p not in a]
    removed = [a[p] for p in parts if p in a and p not in b]
    old_years = {e["year"] for e in a.values()}
    periods = [{"dataset": "trade_flows", "series": "baci/A", "first": f"{e['year']}-01-01",
                "last": f"{e['year']}-01-01", "periods": 1, "rows": e["rows"]}
               for e in added if e["year"] not in old_years]
    counts = {"added": sum(e["rows"] for e in added), "removed": sum(e["rows"] for e in removed)}
    skipped = {e["path"].rsplit("/", 1)[0] for e in added + removed}
    return parts - skipped, counts, periods


def _merge_periods(found: pl.DataFrame, extra: list[dict[str, Any]]) -> pl.DataFrame:
    if not extra:
        return found
    more = pl.DataFrame(extra, schema={"dataset": pl.String, "series": pl.String,
                                       "first": pl.String, "last": pl.String,
                                       "periods": pl.Int64, "rows": pl.Int64})
    both = more if found.is_empty() else pl.concat([found.cast(more.schema), more])
    return both.group_by("dataset", "series").agg(
        pl.col("first").min(), pl.col("last").max(), pl.col("periods").sum(),
        pl.col("rows").sum()).sort("dataset", "series")


def _halve(limit: str) -> str:
    """Half a DuckDB memory limit as DuckDB prints it ('1.8 GiB' -> '0.9GiB')."""
    amount, unit = limit.split()
    return f"{float(amount) / 2:g}{unit}"


def diff_folders(old: Path, new: Path, tolerance: float, *,
                 memory_limit: str | None = None) -> VintageDiff:
    """Compare two vintages (see ``diff_vintages``), partitions first: a dataset whose digests
    match is skipped; of a lake table only changed partitions are read (a BACI year only one
    vintage has is counted from the manifests), row by row in DuckDB under ``memory_limit``
    (spilling to disk beyond it)."""
    old_manifest, new_manifest = read_manifest(old), read_manifest(new)
    con = _quiet(duckdb.connect(":memory:"))
    if memory_limit:
        # Half the cap: a refresh diffs beside its own warehouse connection (same cap), and
        # both must fit under it together (a first BACI year's full compare peaked at 2.1 GB).
        con.execute(f"SET memory_limit = '{memory_limit}'")
        half = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        con.execute(f"SET memory_limit = '{_halve(half)}'")
    parts = _changed_parts(old_manifest, new_manifest)
    counts, periods = {"added": 0, "removed": 0}, []
    if parts is not None:
        _attach_views(con, old, "a", set())
        _attach_views(con, new, "b", set())
        if not _same_codes(con):  # countries named anew (a release's own codes): the rows
            #                        of every BACI partition both vintages have may read
            #                        differently, so those are compared too
            parts |= _baci_parts(old_manifest).keys() & _baci_parts(new_manifest).keys()
        parts, counts, periods = _baci_shortcut(old_manifest, new_manifest, parts)
    _attach_views(con, old, "a", parts)
    _attach_views(con, new, "b", parts)
    present = {(r[0], r[1]) for r in con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables").fetchall()}
    datasets = [t for t in snapshot_tables() if ("a", t) in present and ("b", t) in present]
    compare = [t for t in datasets if _fingerprint(old_manifest, t) is None
               or _fingerprint(old_manifest, t) != _fingerprint(new_manifest, t)]
    rows = _row_changes(con, compare).with_columns(
        pl.when(pl.col("table") == "trade_flows").then(pl.col("added") + counts["added"])
        .otherwise(pl.col("added")).alias("added"),
        pl.when(pl.col("table") == "trade_flows").then(pl.col("removed") + counts["removed"])
        .otherwise(pl.col("removed")).alias("removed"))
    tables = pl.concat([rows, pl.DataFrame(
        [{"table": t, "added": 0, "removed": 0, "changed": 0} for t in datasets
         if t not in compare], schema=rows.schema)]).sort(
        pl.col("table").replace_strict(datasets, list(range(len(datasets)))))
    return VintageDiff(
        from_id=old_manifest["vintage_id"], to_id=new_manifest["vintage_id"],
        tolerance=tolerance,
        tables=tables,
        new_periods=_merge_periods(_new_periods(con, [t for t in compare if t in PERIODS]),
                                   periods),
        revised=_revised(con, [t for t in compare if t not in CONTROL_TABLES], tolerance),
        controls=_control_changes(con) if all(t in datasets for t in CONTROL_TABLES)
        and any(t in compare for t in CONTROL_TABLES) else pl.DataFrame(),
        stale_sources=list(new_manifest.get("stale_sources", [])),
    )


def _stored_diff(old: Path, new: Path, tolerance: float) -> VintageDiff | None:
    """The diff the refresh stored in the newer vintage's digest.json, when it compared
    exactly these two vintages with this tolerance."""
    new_manifest = read_manifest(new)
    stored = new / "digest.json"
    if new_manifest.get("previous") != read_manifest(old)["vintage_id"] or not stored.exists():
        return None
    try:
        data = json.loads(stored.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("tolerance") != tolerance or data.get("from") != old.name:
        return None
    revised_schema = {"dataset": pl.String, "row_key": pl.String, "column_name": pl.String,
                      "old_value": pl.Float64, "new_value": pl.Float64,
                      "relative_change": pl.Float64}
    return VintageDiff(
        from_id=data["from"], to_id=data["to"], tolerance=tolerance,
        tables=pl.DataFrame(data["tables"], schema={"table": pl.String, "added": pl.Int64,
                                                    "removed": pl.Int64, "changed": pl.Int64}),
        new_periods=pl.DataFrame(data["new_periods"]),
        revised=pl.DataFrame(data["revised"], schema=revised_schema),
        controls=pl.DataFrame(data["controls"]),
        stale_sources=list(data.get("stale_sources", [])),
        revised_total=int(data["revised_count"]))


def diff_vintages(from_id: str, to_id: str = "latest", settings: Settings | None = None,
                  tolerance: float | None = None) -> VintageDiff:
    """New periods, values revised by more than ``tolerance`` (relative), and new, changed or
    removed control measures between vintage ``from_id`` and ``to_id``.

    Two consecutive vintages (``--from previous --to latest``) read the comparison the
    refresh stored in ``digest.json`` instead of redoing it."""
    settings = settings or load_settings()
    tolerance = settings.diff_tolerance if tolerance is None else tolerance
    old, new = resolve(from_id, settings), resolve(to_id, settings)
    return _stored_diff(old, new, tolerance) or diff_folders(
        old, new, tolerance, memory_limit=settings.duckdb_memory_limit)


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
