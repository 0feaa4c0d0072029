"""The render engine: document parsing, parameter checks, atomic outputs, batches, Quarto."""

from __future__ import annotations

import os
import stat
import sys
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from chokehold.config import load_settings
from chokehold.errors import ChokeholdError, UnknownValueError
from chokehold.render import convert as convert_module
from chokehold.render import data
from chokehold.render.engine import Job, Renderer, prepare
from chokehold.render.kernel import notebook_of
from chokehold.render.matrix import expand, load_matrix
from chokehold.render.params import ParameterError, split_assignments
from chokehold.render.qmd import parse_qmd
from chokehold.warehouse import read_query

REPORTS = Path(__file__).resolve().parent.parent / "reports"
FAILING = """---
title: Fails
format:
  html: default
  typst: default
---

```{python}
#| tags: [parameters]
n = 1
```

Before the failure: `{python} n`.

```{python}
raise ValueError("boom in cell two")
```
"""
GOOD = FAILING.replace('raise ValueError("boom in cell two")', 'print("fine")')


@pytest.fixture
def configured(built_warehouse: Path):
    data.configure(load_settings(warehouse=built_warehouse))
    yield
    data.configure(load_settings())


def test_parse_qmd_reads_cells_options_and_defaults() -> None:
    doc = parse_qmd(REPORTS / "control-exposure.qmd")
    assert doc.meta["format"] == {"html": "default", "typst": "default"}
    assert doc.defaults() == {"control": "cn-2025-18-medium-heavy-rare-earths",
                              "importer": "JPN", "commodity": "rare_earths",
                              "scenario": "base", "as_of": "2025-12-01",
                              "data_mode": "latest"}
    hidden = [c for c in doc.cells if c.kind == "code" and c.options.get("include") is False]
    assert len(hidden) == 1
    assert "m.title" in doc.inline_expressions()


def test_parameters_are_injected_after_the_parameters_cell() -> None:
    doc = parse_qmd(REPORTS / "briefing.qmd")
    nb, _where = notebook_of(doc, {**doc.defaults(), "importer": "KOR"})
    tags = [c.metadata["tags"] for c in nb.cells]
    first = tags.index(["parameters"])
    assert tags[first + 1] == ["injected-parameters"]
    assert "importer = 'KOR'" in nb.cells[first + 1].source
    assert tags[0] == ["chokehold-reset"] and tags[-1] == ["chokehold-inline"]


def test_split_assignments_takes_cli_and_quarto_forms() -> None:
    assert split_assignments(["importer=KOR", "as_of:2024-06-30"]) == {
        "importer": "KOR", "as_of": "2024-06-30"}
    with pytest.raises(ParameterError, match="not key=value"):
        split_assignments(["importer"])


@pytest.mark.parametrize(("report", "params", "message"), [
    ("control-exposure", {"control": "cn-1999-nothing"},
     "unknown control 'cn-1999-nothing'; valid: cn-2023-23-gallium-germanium"),
    ("control-exposure", {"importer": "Atlantis"}, "unknown importer 'Atlantis'; valid: ABW"),
    ("control-exposure", {"commodity": "unobtainium"},
     "unknown commodity 'unobtainium'; valid: antimony"),
    ("control-exposure", {"scenario": "doom"}, "unknown scenario 'doom'; valid: base, tight"),
    ("control-exposure", {"as_of": "1990-01-01"},
     "as_of 1990-01-01 is before the data: trade_flows starts 1995-01-01"),
    ("control-exposure", {"as_of": "yesterday"}, "'as_of' must be a date"),
    ("monthly-digest", {"window_days": "ninety"}, "'window_days' must be int, got 'ninety'"),
    ("price-gap", {"markets": "lme"}, "unknown market for antimony 'lme'; valid: china_domestic"),
    ("price-gap", {"end": "2000-01-01"}, "end 2000-01-01 is before start 2017-01-01"),
    ("price-gap", {"colour": "red"}, "unknown parameter of price-gap 'colour'"),
    ("no-such-report", {}, "unknown report 'no-such-report'; valid: briefing"),
])
def test_bad_parameters_fail_before_any_kernel(configured, report, params, message) -> None:
    with pytest.raises(ChokeholdError) as caught:
        prepare(Job(report, params))
    assert message in str(caught.value)


def test_names_resolve_to_iso3(configured) -> None:
    job = prepare(Job("control-exposure", {"importer": "Korea"}))
    assert job.params["importer"] == "KOR"
    assert job.name == "control-exposure_KOR"


def test_cli_bad_input_exits_non_zero_without_a_kernel(built_warehouse, monkeypatch,
                                                       capsys) -> None:
    from chokehold import cli
    from chokehold.render.kernel import Kernel

    monkeypatch.setattr(Kernel, "execute", lambda *a, **k: pytest.fail("kernel started"))
    monkeypatch.setattr(sys, "argv", ["chokehold", "--warehouse", str(built_warehouse), "render",
                                      "control-exposure", "-P", "control=cn-1999-nothing"])
    with pytest.raises(SystemExit) as caught:
        cli.main()
    assert caught.value.code == 2
    assert "unknown control 'cn-1999-nothing'" in capsys.readouterr().err


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "fails.qmd").write_text(FAILING, encoding="utf-8")
    (tmp_path / "reports" / "good.qmd").write_text(GOOD, encoding="utf-8")
    return tmp_path


def test_failed_document_leaves_no_output(renderer, scratch) -> None:
    job = renderer.prepare(Job(str(scratch / "reports" / "fails.qmd")))
    with pytest.raises(ChokeholdError, match="boom in cell two") as caught:
        renderer.render(job)
    assert "fails.qmd (code cell at line 15) failed: ValueError" in str(caught.value)
    assert not list(renderer.out_dir.glob("fails*")) and not list(renderer.out_dir.glob(".*"))


@pytest.mark.slow  # renders documents end to end
def test_formats_are_published_together_or_not_at_all(renderer, scratch, monkeypatch) -> None:
    real = convert_module.convert
    previous = renderer.out_dir / "good.html"
    previous.parent.mkdir(parents=True, exist_ok=True)
    previous.write_text("the previous render", encoding="utf-8")

    def pdf_fails(executed, fmt, *args):
        if fmt.name == "pdf":
            raise convert_module.ConversionError("typst broke")
        return real(executed, fmt, *args)

    monkeypatch.setattr("chokehold.render.engine.convert", pdf_fails)
    job = renderer.prepare(Job(str(scratch / "reports" / "good.qmd"), formats=["html", "pdf"]))
    with pytest.raises(ChokeholdError, match="typst broke"):
        renderer.render(job)
    assert previous.read_text(encoding="utf-8") == "the previous render"
    assert not (renderer.out_dir / "good.pdf").exists()
    assert not list(renderer.out_dir.glob(".*partial"))
    monkeypatch.setattr("chokehold.render.engine.convert", real)
    result = renderer.render(job)
    assert "Before the failure: 1" in previous.read_text(encoding="utf-8")
    assert [p.name for p in result.outputs] == ["good.html", "good.pdf"]


@pytest.mark.slow  # renders documents end to end
def test_batch_continues_past_a_failed_document(renderer, scratch) -> None:
    jobs = [renderer.prepare(Job(str(scratch / "reports" / name), formats=["html"]))
            for name in ("fails.qmd", "good.qmd")]
    results = renderer.render_many(jobs)
    assert [r.error is None for r in results] == [False, True]
    assert "boom in cell two" in results[0].error
    assert results[1].outputs[0].exists()


def test_matrix_expands_to_in_force_controls_times_importers(configured) -> None:
    """Each export control in force on as_of (with trade data) x its two main importers."""
    from datetime import date
    matrix = load_matrix(REPORTS / "matrix.yaml")
    jobs = expand(matrix)
    exposure = [j for j in jobs if j.report == "control-exposure"]
    in_force = [m for m in data.registry().values()
                if m.kind == "export_control" and m.status_on(matrix.as_of) == "in_force"]
    traded = set(read_query(data.connection(),
        "SELECT DISTINCT h.commodity_id FROM trade_flows f JOIN commodity_hs h "
        "ON h.hs_code = f.hs_code AND h.hs_revision = f.hs_revision "
        "WHERE f.partner_iso3 = 'CHN' AND year(f.period) = 2024")["commodity_id"])
    # materiality (reports/matrix.yaml min_import_usd): only importers with USD 10 million or
    # more of imports from the issuer in the latest year
    material = read_query(data.connection(),
        "SELECT DISTINCT h.commodity_id FROM trade_flows f JOIN commodity_hs h "
        "ON h.hs_code = f.hs_code AND h.hs_revision = f.hs_revision "
        "WHERE f.partner_iso3 = 'CHN' AND year(f.period) = 2024 "
        "GROUP BY h.commodity_id, f.reporter_iso3 HAVING sum(f.value_usd) >= 1e7"
    )["commodity_id"]
    expected = {m.id for m in in_force if set(m.commodities) & traded & set(material)}
    assert expected and {j.params["control"] for j in exposure} == expected
    assert all(n <= 2 for n in Counter(j.params["control"] for j in exposure).values())
    for job in exposure:
        value = data.imports_from(job.params["commodity"], 2024).filter(
            pl.col("reporter_iso3") == job.params["importer"])["value_usd"][0]
        assert value >= 1e7, job.params
    assert all(j.params["as_of"] == "2025-12-01" for j in jobs if "as_of" in j.params)
    assert matrix.as_of == date(2025, 12, 1)
    assert [j.report for j in jobs[len(exposure):]] == ["price-gap", "briefing", "monthly-digest"]


def test_bad_matrix_names_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "matrix.yaml"
    bad.write_text("as_of: 2025-12-01\ndocuments:\n  - report: briefing\n    colour: red\n")
    with pytest.raises(ChokeholdError, match=r"matrix.yaml, field documents.0.colour"):
        load_matrix(bad)


def test_quarto_engine_runs_quarto_once_per_format(built_warehouse, tmp_path, monkeypatch) -> None:
    """A stand-in `quarto` on PATH records its arguments and writes the requested file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "quarto.log"
    fake = bin_dir / "quarto"
    fake.write_text(f"""#!{sys.executable}
import sys, os
from pathlib import Path
args = sys.argv[1:]
with open({str(log)!r}, "a") as f:
    f.write(" ".join(args) + " QUARTO_PYTHON=" + os.environ["QUARTO_PYTHON"] + "\\n")
out = Path(args[args.index("--output-dir") + 1]) / args[args.index("--output") + 1]
out.write_text("rendered by quarto")
""")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with Renderer(load_settings(warehouse=built_warehouse), tmp_path / "out") as renderer:
        assert renderer.engine == "quarto"
        job = renderer.prepare(Job("control-exposure", {"importer": "KOR"},
                                   formats=["html", "pdf"]))
        result = renderer.render(job)
    calls = log.read_text().splitlines()
    assert len(calls) == 2
    assert calls[0].startswith("render ") and "control-exposure.qmd --to html" in calls[0]
    assert "--to typst" in calls[1] and "-P importer:KOR" in calls[1]
    assert f"QUARTO_PYTHON={sys.executable}" in calls[0]
    assert [p.name for p in result.outputs] == ["control-exposure_KOR.html",
                                                "control-exposure_KOR.pdf"]


def test_quarto_engine_refused_when_quarto_is_missing(built_warehouse, tmp_path,
                                                      monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ChokeholdError, match="Quarto CLI is not on PATH"):
        Renderer(load_settings(warehouse=built_warehouse), tmp_path, engine="quarto")


def test_unknown_format_is_refused(configured) -> None:
    with pytest.raises(UnknownValueError, match="unknown format 'docx'"):
        prepare(Job("briefing", formats=["docx"]))


@pytest.mark.slow  # two batches through the CLI, a kernel each
def test_render_exit_codes_partial_failed_and_a_file_for_out(capsys, built_warehouse: Path,
                                                             scratch: Path) -> None:
    """A batch with some documents failed exits 3 (the rest rendered), with none rendered 4;
    an --out that is a file is refused before any kernel starts (2)."""
    from tests.helpers import run_cli

    reports = scratch / "reports"
    out = scratch / "out"
    w = ["-w", str(built_warehouse)]
    for names, code in ((("fails.qmd", "good.qmd"), 3), (("fails.qmd",), 4)):
        matrix = scratch / f"matrix-{code}.yaml"
        matrix.write_text("as_of: '2025-12-01'\ndocuments:\n" + "".join(
            f"  - report: {reports / name}\n    formats: [html]\n" for name in names))
        done = run_cli(capsys, *w, "render", "--all", "--matrix", str(matrix), "--out", str(out))
        assert done.exit_code == code, done.stderr
        assert f"{len(names) - (code == 3)} of {len(names)} documents failed" in done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["good.html"]
    refused = run_cli(capsys, *w, "render", "briefing", "--out", str(out / "good.html"))
    assert refused.exit_code == 2 and "is a file: give a folder" in refused.stderr
