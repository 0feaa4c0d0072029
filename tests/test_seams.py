"""The small seams have one implementation each: the file-and-row error, the strict model
base, the YAML model loaders, the code revision and the redaction marker."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from chokehold import commodities, registry, vintages
from chokehold.errors import DataError, fail_where
from chokehold.pipelines import _runlog, comtrade, price_mapping
from chokehold.provenance import REDACTED, code_revision
from chokehold.render import data
from chokehold.render.matrix import load_matrix
from chokehold.yamlfiles import Strict, load_yaml_mapping


def test_fail_where_names_the_first_bad_row() -> None:
    frame = pl.DataFrame({"qty": [1.0, -2.0, -3.0], "_source_row": [7, 9, 3]})
    with pytest.raises(DataError) as err:
        fail_where(frame, pl.col("qty") < 0, source="f.csv", field="qty",
                   message=lambda v: f"value {v!r} is negative")
    assert str(err.value) == "file f.csv, row 3, field qty: value -3.0 is negative"
    fail_where(frame, pl.col("qty") > 5, source="f.csv", field="qty", message="never")


def test_one_strict_base_for_project_models() -> None:
    for model in (commodities.Commodity, commodities.ProductionSource, registry.Citation,
                  registry.StatusPeriod, price_mapping.SourceSpec, comtrade.Options):
        assert issubclass(model, Strict), model
        assert model.model_config["extra"] == "forbid" and model.model_config["frozen"]


def test_yaml_loaders_name_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "commodities.yaml"
    bad.write_text("antimony: {name: Sb, hs: {HS92: {'261710': ore}}, concordance: x, "
                   "production: {source: usgs, unit: t}}\n")
    with pytest.raises(DataError, match=r"commodities.yaml, field antimony.production.basis"):
        load_yaml_mapping(bad, commodities.Commodity)
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text("as_of: 2025-01-01\ndocuments: []\n")
    with pytest.raises(DataError, match=r"matrix.yaml, field documents"):
        load_matrix(matrix)


def test_one_code_revision_everywhere() -> None:
    revision = code_revision()
    if revision is None:
        pytest.skip("not a git checkout: there is no revision to compare")
    assert re.fullmatch(r"[0-9a-f]{12}(-dirty)?", revision)
    assert vintages.code_revision() == revision == data.git_revision()


def test_one_redaction_marker(monkeypatch) -> None:
    assert _runlog.REDACTED == REDACTED
    from chokehold.config import load_settings

    monkeypatch.setenv("COMTRADE_API_KEY", "SENTINEL-7781")
    redact = _runlog.Redactor(load_settings())
    assert redact("GET https://x/?subscription-key=SENTINEL-7781") == \
        f"GET https://x/?subscription-key={REDACTED}"


# ---- who may query the warehouse --------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
QUERY_CALLS = {"execute", "executemany", "sql", "query", "read_query", "first_row", "table",
               "read_parquet"}
"""Calls that run SQL on a DuckDB connection (or read Parquet beside it)."""
SQL_TEXT = re.compile(r"\b(SELECT\b[\s\S]*\bFROM|INSERT\s+INTO|CREATE\s+(OR\s+REPLACE\s+)?"
                      r"(TABLE|VIEW)|read_parquet\s*\()")
ALLOWED = {
    "analysis/read.py": "the read layer: every query of analysis, the CLI and the reports",
    "chokehold/warehouse/": "loading, migrations, views, the lake and integrity checks",
    "chokehold/vintages.py": "warehouse admin: snapshots, digests, diff of published vintages",
    "chokehold/cli/warehouse.py": "warehouse admin: `status`, `sql`, `schema`, `summary`",
    "chokehold/cli/runs.py": "warehouse admin: the run log (`runs`, `refresh`)",
    "chokehold/api.py:sql": "the Python API's raw-SQL door (`ck.Warehouse.sql`), like `chokehold sql`",
}
CONNECTIONS = {"con", "connection", "cursor", "duckdb", "db"}
"""What a connection is called here (a name, an attribute, or the call that opens one)."""


def _on_connection(func: object) -> bool:
    import ast

    if not isinstance(func, ast.Attribute):
        return False
    owner = func.value
    if isinstance(owner, ast.Call):
        owner = owner.func
    return (isinstance(owner, ast.Name) and owner.id in CONNECTIONS | {"open_warehouse"}) or (
        isinstance(owner, ast.Attribute) and owner.attr in CONNECTIONS | {"connect"})


def _querying_places(path: Path) -> set[str]:
    """The functions of a file ('' for module level) that run SQL on a connection: a query
    call on something named like a connection or with text as its first argument (not a
    kernel's or a layout engine's ``execute``), or a string constant holding SQL."""
    import ast

    tree = ast.parse(path.read_text(), filename=str(path))
    places: set[str] = set()

    def visit(node: ast.AST, where: str | None) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            where = node.name
        if isinstance(node, ast.Call):
            name = (node.func.attr if isinstance(node.func, ast.Attribute) else
                    node.func.id if isinstance(node.func, ast.Name) else None)
            first = node.args[0] if node.args else None
            texty = isinstance(first, ast.JoinedStr | ast.BinOp) or (
                isinstance(first, ast.Constant) and isinstance(first.value, str))
            if name in {"read_query", "first_row"} or (
                    name in QUERY_CALLS and (texty or _on_connection(node.func))):
                places.add(where or "")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and SQL_TEXT.search(node.value):
            places.add(where or "")
        for child in ast.iter_child_nodes(node):
            visit(child, where)

    visit(tree, None)
    return places


def _offenders() -> dict[str, set[str]]:
    found = {}
    for folder in ("chokehold", "analysis", "reports"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if any(rel.startswith(a) for a in ALLOWED if ":" not in a) or "/vendor/" in rel:
                continue
            places = {p for p in _querying_places(path) if f"{rel}:{p}" not in ALLOWED}
            if places:
                found[rel] = places
    return found


def test_only_the_read_layer_queries_the_warehouse() -> None:
    offenders = _offenders()
    assert not offenders, ("query the warehouse through chokehold.analysis.read (or add an "
                           f"admin module to ALLOWED with its reason): {offenders}")


def test_the_seam_check_sees_a_query(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("def load(con):\n    return con.execute('SELECT 1 FROM production')\n\n"
                     "def run(kernel, job):\n    return kernel.execute(job)\n\n"
                     "def screen(con, q):\n    return con.sql(q)\n\n"
                     "QUERY = '''SELECT qty\n  FROM production'''\n")
    assert _querying_places(probe) == {"load", "screen", ""}


def test_qmd_documents_only_call_the_report_data_layer() -> None:
    for qmd in sorted((ROOT / "reports").glob("*.qmd")):
        text = qmd.read_text()
        assert not SQL_TEXT.search(text) and "execute(" not in text, qmd.name
