"""The refresh plan: which sources a refresh runs, each with its validated options.

``data/refresh.yaml`` (setting ``refresh_plan``) names the sources of the scheduled refresh and
their options; ``chokehold refresh`` with no arguments runs it, and cron, systemd and the
workflow call exactly that. Each source module declares its options as a pydantic model
(``Options``); the plan, ``--source X`` and ``--set X.option=value`` are validated against it
before anything runs, so a bad option is a usage error (exit 2) naming the file or the flag.

Plan conveniences, resolved here before validation: ``hs: commodities`` (every HS line of
data/commodities.yaml in the newest HS revision, or ``hs: [rare_earths, ...]`` for some
groups), ``years: last N`` (the N calendar years before this one) and relative ``path``
entries (under ``raw_dir``; globs allowed). A source's dependencies (``DEPENDS_ON``: the
country reference for Comtrade) are run first when the warehouse does not hold them yet.

``code_fingerprint`` checksums the code a source runs: its module, every ``chokehold`` module
it imports (transitively) and the table specs, so editing ``chokehold/registry.py`` re-runs
the controls source and editing the BACI connector re-runs BACI only.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
from pydantic import BaseModel, Field, ValidationError

from chokehold.commodities import HS_REVISIONS, load_commodities
from chokehold.config import PROJECT_ROOT, Settings
from chokehold.errors import ChokeholdError, DataError
from chokehold.pipelines import OFFLINE_SOURCES, SOURCES, source_module
from chokehold.yamlfiles import Strict, read_yaml, validate

BASE_SOURCE = "reference"
TABLE_SPECS = PROJECT_ROOT / "chokehold" / "warehouse" / "tables"


class Plan(Strict):
    """data/refresh.yaml: the sources of the scheduled refresh, in order, with their options."""

    sources: dict[str, dict[str, Any]] = Field(
        description="Source id -> options (validated by the source module's Options model).")


@dataclass(frozen=True)
class PlannedSource:
    """One source of a run and the options it is given (validated where it declares them)."""

    name: str
    options: dict[str, Any]
    declared: bool

    def describe(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.options.items() if v is not None)
        return f"{self.name}" + (f" ({shown})" if shown else "")


def depends_on(name: str, module: ModuleType | None = None) -> tuple[str, ...]:
    """The sources ``name`` needs loaded first (every source but reference needs reference)."""
    module = module or source_module(name)
    return tuple(getattr(module, "DEPENDS_ON", () if name == BASE_SOURCE else (BASE_SOURCE,)))


def options_model(name: str) -> type[BaseModel] | None:
    """The source's declared Options model (None: it takes no declared options)."""
    return getattr(source_module(name), "Options", None)


def load_plan(path: Path) -> Plan:
    if not path.exists():
        raise DataError("no refresh plan here (setting refresh_plan)", source=path)
    plan = validate(Plan, read_yaml(path), path)
    for name in plan.sources:
        if name not in SOURCES:
            raise DataError(f"unknown source {name!r}; valid: {', '.join(SOURCES)}",
                            source=path, field=f"sources.{name}")
    return plan


def last_years(spec: str, today: date) -> str:
    """'last 3' -> the three calendar years before ``today``'s, as 'YYYY-YYYY'."""
    count = spec.split()[1]
    if not count.isdigit() or int(count) < 1:
        raise ValueError(spec)
    return f"{today.year - int(count)}-{today.year - 1}"


def commodity_lines(settings: Settings, wanted: list[str] | None) -> str:
    """Every HS line of the named commodity groups (all of them for None), newest revision."""
    commodities = load_commodities(settings.commodities_file)
    unknown = [w for w in wanted or [] if w not in commodities]
    if unknown:
        raise ValueError(f"unknown commodity {unknown[0]!r}; valid: {', '.join(commodities)}")
    newest = HS_REVISIONS[-1]
    return ",".join(sorted({code for cid, c in commodities.items()
                            if wanted is None or cid in wanted for code in c.lines(newest)}))


def _expand(settings: Settings, raw: dict[str, Any], today: date) -> dict[str, Any]:
    """The plan's conveniences (hs: commodities, years: last N, relative paths) resolved."""
    out = dict(raw)
    hs = out.get("hs")
    try:
        if hs == "commodities":
            out["hs"] = commodity_lines(settings, None)
        elif isinstance(hs, list) and hs and all(isinstance(h, str) and not h.isdigit()
                                                 for h in hs):
            out["hs"] = commodity_lines(settings, hs)
    except ValueError as exc:
        raise ValueError(f"hs: {exc}") from None
    years = out.get("years")
    if isinstance(years, str) and years.strip().lower().startswith("last"):
        try:
            out["years"] = last_years(years.strip().lower(), today)
        except (ValueError, IndexError):
            raise ValueError(f"years: {years!r}: use 'last N' with N >= 1") from None
    if isinstance(out.get("path"), (str, list)):
        entries = out["path"] if isinstance(out["path"], list) else [out["path"]]
        files: list[Path] = []
        for entry in map(Path, entries):
            full = entry if entry.is_absolute() else settings.raw_dir / entry
            matched = sorted(full.parent.glob(full.name)) if any(c in full.name for c in "*?[") \
                else [full]
            files += matched or [full]  # nothing matched: the source says which file is missing
        out["path"] = files
    return out


def _coerce(text: str) -> Any:
    """A --set value: 'a,b' stays text (lists are comma-separated), true/false are booleans."""
    return {"true": True, "false": False}.get(text.lower(), text)


def parse_sets(sets: list[str], names: list[str]) -> dict[str, dict[str, Any]]:
    """``--set X.option=value`` flags -> {source: {option: value}}; X must be a chosen source."""
    out: dict[str, dict[str, Any]] = {}
    for item in sets:
        target, eq, value = item.partition("=")
        source, dot, option = target.partition(".")
        if not eq or not dot or not option:
            raise ChokeholdError(f"--set {item!r}: use --set SOURCE.OPTION=VALUE, "
                                 "e.g. --set comtrade.reporters=JPN,USA")
        if source not in names:
            raise ChokeholdError(f"--set {item!r}: source {source!r} is not in this run "
                                 f"({', '.join(names)})")
        out.setdefault(source, {})[option] = _coerce(value)
    return out


def _validated(settings: Settings, name: str, raw: dict[str, Any], where: str, today: date
               ) -> PlannedSource:
    model = options_model(name)
    if model is None:
        return PlannedSource(name, raw, declared=False)
    try:
        expanded = _expand(settings, raw, today)
        parsed = model(**expanded)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        valid = ", ".join(model.model_fields)
        message = err["msg"].removeprefix("Value error, ")
        raise ChokeholdError(f"{where}: {name}.{field}: {message} (options of {name}: "
                             f"{valid})") from None
    except ValueError as exc:
        raise ChokeholdError(f"{where}: {name}.{exc}") from None
    return PlannedSource(name, parsed.model_dump(exclude_none=True), declared=True)


def held_sources(warehouse: Path) -> set[str]:
    """Sources whose data the warehouse already holds (a successful refresh or a load)."""
    if not warehouse.exists():
        return set()
    held: set[str] = set()
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            held |= {r[0] for r in con.execute("SELECT source_id FROM source_state").fetchall()}
            loaded = {r[0] for r in con.execute("SELECT DISTINCT source_id FROM load_runs "
                                                "WHERE status = 'ok'").fetchall()}
    except duckdb.Error:
        return held
    for name in SOURCES:
        if getattr(source_module(name), "SOURCE_ID", name) in loaded:
            held.add(name)
    return held


def with_dependencies(names: list[str], held: set[str]) -> list[str]:
    """``names`` preceded by the dependencies they need that are neither held nor named."""
    ordered: list[str] = []

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in ordered:
            return
        for dep in depends_on(name):
            if dep in chain:
                raise ChokeholdError(f"sources depend on each other: {' -> '.join(chain)}")
            if dep not in held or dep in names:
                visit(dep, (*chain, dep))
        ordered.append(name)

    for name in names:
        visit(name, (name,))
    return ordered


def resolve(settings: Settings, *, sources: list[str] | None = None, offline: bool = False,
            flags: dict[str, Any] | None = None, sets: list[str] | None = None,
            today: date | None = None) -> list[PlannedSource]:
    """The sources a refresh runs, in order, with their validated options.

    No ``sources`` and not ``offline``: the plan. ``sources``: those, each with its plan entry's
    options where the plan has one. ``flags`` (the CLI's --path, --reporters, ...) go to every
    chosen source that declares the option (and to sources that declare none, as given);
    ``sets`` override one source's option. Missing dependencies are added first.
    """
    today = today or date.today()
    plan_file = settings.refresh_plan
    entries: dict[str, dict[str, Any]] = {}
    if sources:
        names = list(dict.fromkeys(sources))
        for name in names:
            source_module(name)  # unknown names fail here
        if plan_file.exists():
            entries = {n: o for n, o in load_plan(plan_file).sources.items() if n in names}
    elif offline:
        names = list(OFFLINE_SOURCES)
    else:
        entries = load_plan(plan_file).sources
        names = list(entries)
    overrides = parse_sets(sets or [], names)
    planned = []
    for name in names:
        model = options_model(name)
        raw = dict(entries.get(name) or {})
        for key, value in (flags or {}).items():
            if model is None or key in model.model_fields:
                raw[key] = value
        if overrides.get(name) and model is None:
            raise ChokeholdError(f"--set {name}.*: source {name} declares no options")
        raw.update(overrides.get(name, {}))
        where = (f"--source {name}" if sources or offline else f"{plan_file}")
        planned.append(_validated(settings, name, raw, where, today))
    given = {p.name: p for p in planned}
    # What the warehouse holds matters only for a dependency not in the run (held_sources
    # imports every source module to learn its SOURCE_ID).
    outside = {dep for name in names for dep in depends_on(name)} - set(names)
    order = with_dependencies(names, held_sources(settings.warehouse) if outside else set())
    return [given.get(n) or _validated(settings, n, dict(entries.get(n) or {}),
                                       f"dependency {n}", today) for n in order]


# ---------------------------------------------------------------------------------------------
# Code fingerprints


def _module_file(name: str) -> Path | None:
    try:
        found = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return Path(found.origin) if found and found.origin and found.origin.endswith(".py") else None


IMPORT_STATEMENT = re.compile(
    r"^[ \t]*(?:from[ \t]+(?P<base>\.*[\w.]*)[ \t]+import[ \t]+(?P<names>\([^)]*\)|[^\n;]*)"
    r"|import[ \t]+(?P<modules>[^\n;]*))", re.MULTILINE)
"""An import statement at the start of a line (nested ones included), its names in
parentheses across lines or on the line. A match inside a string only adds files to a
fingerprint, never removes one; ``tests/test_refresh_plan.py`` checks it against ``ast``."""


def _names(text: str) -> list[str]:
    """The imported names of ``a, b as c`` or ``(a,  # note\n b)``."""
    text = re.sub(r"#[^\n]*", "", text).strip("() \t\n\\")
    return [part.split()[0] for part in text.split(",") if part.strip()]


@cache
def _imports(path: Path, package: str) -> frozenset[str]:
    """The chokehold modules ``path`` imports (absolute and relative imports): a scan of its
    text, ten times cheaper than ``ast.parse`` (which made a third of a refresh that finds
    nothing new)."""
    found: set[str] = set()
    for match in IMPORT_STATEMENT.finditer(path.read_text(encoding="utf-8")):
        if match["modules"] is not None:
            found |= set(_names(match["modules"]))
            continue
        base = match["base"].lstrip(".")
        level = len(match["base"]) - len(base)
        if level:
            parts = package.split(".")
            base = ".".join(parts[:len(parts) - level + 1] + ([base] if base else []))
        found.add(base)
        found |= {f"{base}.{name}" for name in _names(match["names"])}
    return frozenset(m for m in found if m == "chokehold" or m.startswith("chokehold."))


@cache
def code_files(module_name: str) -> tuple[Path, ...]:
    """The source files of ``module_name`` and every chokehold module it imports."""
    seen: dict[str, Path] = {}
    pending = [module_name]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            continue
        seen[name] = path
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        pending += sorted(_imports(path, package) - set(seen))
    return tuple(sorted(set(seen.values())))


def code_fingerprint(name: str) -> str:
    """Checksum of the code source ``name`` runs: its module, the chokehold modules it imports
    and the warehouse's table specs."""
    digest = hashlib.sha256()
    for path in [*code_files(source_module(name).__name__), *_table_spec_files()]:
        digest.update(str(path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT)
                          else path.name).encode() + b"\0" + _file_digest(path))
    return digest.hexdigest()


@cache
def _table_spec_files() -> tuple[Path, ...]:
    return tuple(sorted(TABLE_SPECS.glob("*.yaml")))


@cache
def _file_digest(path: Path) -> bytes:
    """One file's sha256, read once per process (the sources share most of their code)."""
    return hashlib.sha256(path.read_bytes()).digest()
