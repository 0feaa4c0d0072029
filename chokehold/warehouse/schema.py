"""Table specifications as data (tables/*.yaml) and what is generated from them: DDL and checks."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

TABLES_PACKAGE = "chokehold.warehouse"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    nullable: bool = False
    unit: str | None = None
    checks: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    name: str
    description: str
    primary_key: tuple[str, ...]
    columns: tuple[Column, ...]
    key_index: bool = True
    """False for bulk tables: the key and the column checks are asserted by load_frame and the
    integrity checks instead of a DuckDB index and CHECK constraints, whose upkeep dominates
    loading tens of millions of rows."""
    view: bool = False
    """A view over storage tables (created by chokehold/warehouse/views.py): read it, load its
    storage tables."""
    lake: bool = False
    """Stored as Parquet partitions in the lake (chokehold/warehouse/lake.py), read through a
    view of the same name: loaded by its pipeline's lake writer, not load_frame."""
    part_of: str | None = None
    """For a storage table: the view it is part of (snapshots and digests use the view)."""
    partition_by: tuple[tuple[str, str], ...] = ()
    """For a lake table that load_frame loads (reported_flows): (hive key, SQL expression over
    the row) pairs naming each row's partition, e.g. ('year', 'year(period)')."""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def value_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.name not in self.primary_key]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def ddl(self, name: str | None = None) -> str:
        """CREATE TABLE IF NOT EXISTS with NOT NULL and, unless a bulk table, CHECK and PRIMARY
        KEY."""
        if self.view:
            raise ValueError(f"{self.name} is a view: its migration defines it")
        lines = [f'    "{c.name}" {c.type}'
                 f'{" NOT NULL" if c.name in self.primary_key or not c.nullable else ""}'
                 for c in self.columns]
        checks = ([f"    CHECK ({check})" for c in self.columns for check in c.checks]
                  if self.key_index else [])
        pk = [f"    PRIMARY KEY ({', '.join(self.primary_key)})"] if self.key_index else []
        body = ",\n".join(lines + checks + pk)
        return f"CREATE TABLE IF NOT EXISTS {name or self.name} (\n{body}\n)"


COLUMN_KEYS = frozenset({"type", "description", "nullable", "unit", "checks"})


def _parse(name: str, raw: dict) -> TableSpec:
    for col, col_spec in raw["columns"].items():
        unknown = set(col_spec) - COLUMN_KEYS
        if unknown:  # typically an unquoted description with a comma, split by YAML
            raise ValueError(f"table {name}, column {col}: unknown keys {sorted(unknown)} "
                             "(quote a description that contains a comma)")
    columns = tuple(
        Column(
            name=col,
            type=str(spec["type"]),
            description=str(spec["description"]),
            nullable=bool(spec.get("nullable", False)),
            unit=spec.get("unit"),
            checks=tuple(spec.get("checks", ())),
        )
        for col, spec in raw["columns"].items()
    )
    pk = tuple(raw["primary_key"])
    missing = set(pk) - {c.name for c in columns}
    if missing:
        raise ValueError(f"table {name}: primary key names unknown columns {sorted(missing)}")
    return TableSpec(name, " ".join(str(raw["description"]).split()), pk, columns,
                     key_index=bool(raw.get("key_index", True)), view=bool(raw.get("view", False)),
                     lake=raw.get("storage") == "lake", part_of=raw.get("part_of"),
                     partition_by=tuple((str(k), str(v)) for k, v in
                                        (raw.get("partition_by") or {}).items()))


_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML has it: the specs load ~10x faster (every command reads
them, ``chokehold status`` among the first)."""


@cache
def table_specs() -> dict[str, TableSpec]:
    """Every table spec, from every YAML file under chokehold/warehouse/tables/."""
    specs: dict[str, TableSpec] = {}
    folder = resources.files(TABLES_PACKAGE) / "tables"
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".yaml"):
            continue
        text = entry.read_text(encoding="utf-8")
        for name, raw in (yaml.load(text, Loader=_FAST_LOADER) or {}).items():  # noqa: S506
            if name in specs:
                raise ValueError(f"table {name} is specified twice ({entry.name})")
            specs[name] = _parse(name, raw)
    return specs


def spec(name: str) -> TableSpec:
    return table_specs()[name]


def stored_tables() -> list[TableSpec]:
    """The specs of real tables in the DuckDB file (not views, not lake tables), in spec order."""
    return [t for t in table_specs().values() if not t.view and not t.lake]


def merged_lake_tables() -> list[TableSpec]:
    """Lake tables that load_frame merges by key, partition by partition (``partition_by``)."""
    return [t for t in table_specs().values() if t.lake and t.partition_by]
