"""What real Quarto receives: each document executed as Quarto's Jupyter engine executes it.

Quarto is not installable here, so these tests look at the executed notebook itself (a fresh
kernel per document, parameters injected after the parameters cell, no chokehold renderer
set-up cell, so charts offer plotly HTML and a PNG as under Quarto) and at the project file,
the places where the defects seen under `quarto render` 1.10 had their causes.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient

from chokehold.config import load_settings
from chokehold.render.convert import FORMATS
from chokehold.render.engine import REPORTS_DIR
from chokehold.render.kernel import kernel_env, notebook_of
from chokehold.render.qmd import parse_qmd

DOCUMENTS = ["control-exposure", "price-gap", "briefing", "monthly-digest"]
PLOTLY_BANNER = re.compile(r"\* plotly\.js v\d+\.\d+\.\d+")
"""What Quarto's widget detection (src/core/jupyter/widgets.ts, isPlotlyLibrary) looks for."""
PROBE = '''
from IPython.display import display as __display
def __probe(source):
    value = eval(source, globals())
    markdown = getattr(value, "_repr_markdown_", None)
    return {"source": source, "type": type(value).__name__,
            "text": markdown() if callable(markdown) else str(value)}
__display({"application/json": {"inline": [__probe(s) for s in %r]}}, raw=True)
'''


def _as_quarto(name: str, settings) -> tuple[list[dict], list[dict]]:
    """Every output of the document's cells in order, and each inline expression's value
    (its type and text), from one execution in a fresh kernel."""
    doc = parse_qmd(REPORTS_DIR / f"{name}.qmd")
    nb, _ = notebook_of(doc, doc.defaults())
    nb.cells = [c for c in nb.cells if "chokehold-reset" not in c.metadata.get("tags", [])]
    nb.cells[-1] = nbformat.v4.new_code_cell(PROBE % (doc.inline_expressions(),))
    client = NotebookClient(nb, kernel_name="python3", timeout=300, startup_timeout=120)
    client.execute(env=kernel_env(settings), cwd=str(REPORTS_DIR))
    outputs = [o for cell in nb.cells[:-1] for o in cell.get("outputs", [])]
    inline = next(o["data"]["application/json"]["inline"] for o in nb.cells[-1].outputs
                  if o.get("output_type") == "display_data")
    return outputs, inline


@pytest.fixture(scope="module")
def executed(built_warehouse: Path) -> dict[str, tuple[list[dict], list[dict]]]:
    settings = load_settings(warehouse=built_warehouse)
    return {name: _as_quarto(name, settings) for name in DOCUMENTS}


def _text(output: dict, mime: str) -> str:
    value = output.get("data", {}).get(mime, "")
    return "".join(value) if isinstance(value, list) else value


@pytest.mark.slow  # executes every document in a kernel
def test_plotly_library_travels_alone_before_the_first_chart(executed) -> None:
    """Quarto hoists an output carrying plotly.js into the page head: a chart div in the same
    output would be pinned over the page (and every slide)."""
    for name, (outputs, _) in executed.items():
        html = [_text(o, "text/html") for o in outputs if _text(o, "text/html")]
        charts = [n for n, h in enumerate(html) if 'class="chokehold-chart"' in h]
        library = [n for n, h in enumerate(html) if PLOTLY_BANNER.search(h)]
        for n in library:
            assert 'class="chokehold-chart"' not in html[n] and "<table" not in html[n], name
        if charts:
            assert len(library) == 1 and library[0] < charts[0], name
            assert html[library[0]].lstrip().startswith('<script type="text/javascript">')


@pytest.mark.slow  # executes every document in a kernel
def test_inline_results_with_markup_are_markdown(executed) -> None:
    """Quarto escapes a str from an inline expression; only IPython Markdown is parsed."""
    markup = re.compile(r"\*\*|(?<![\w*])\*\w|`|\[[^\]]+\]\(")
    for name, (_, inline) in executed.items():
        for value in inline:
            if value["type"] == "str":
                assert not markup.search(value["text"]), (name, value)
    gap = next(v for v in executed["price-gap"][1] if "gap_message" in v["source"])
    assert gap["type"] == "Markdown" and "**USD " in gap["text"]


@pytest.mark.slow  # executes every document in a kernel
def test_every_table_is_a_captioned_cross_reference_div(executed) -> None:
    """Quarto's typst writer drops `Table:` captions (quarto-cli#11733); a `::: {#tbl-...}`
    div whose last paragraph is the caption keeps title and source in every format."""
    seen = 0
    for name, (outputs, _) in executed.items():
        ids = []
        for output in outputs:
            markdown = _text(output, "text/markdown")
            if "|---" not in markdown and "|:-" not in markdown:
                continue
            seen += 1
            assert "Table:" not in markdown, name
            # a table too tall for a slide also comes in runs for pptx (test_render_slides)
            divs = re.findall(r"^::: \{#(tbl-[a-z0-9-]+)\}\n(.*?)\n:::$", markdown, re.S | re.M)
            assert divs and markdown.count("|\n\n") == len(divs), name
            for anchor, body in divs:
                lines = body.splitlines()
                caption = lines[-1]
                assert caption and not caption.startswith("|") and lines[-2] == "", (name, caption)
                assert lines[-3].startswith("|"), name
                ids.append(anchor)
        assert len(ids) == len(set(ids)), (name, ids)
    assert seen >= 15


@pytest.mark.slow  # executes every document in a kernel
def test_parameter_table_shows_readable_names(executed) -> None:
    outputs, _ = executed["control-exposure"]
    table = next(_text(o, "text/markdown") for o in outputs
                 if "Parameters of the run" in _text(o, "text/markdown"))
    assert "| parameter |" in table and "| licensing delay months |" in table
    assert "licensing_delay_months" not in table and "baseline_consumption_t" not in table


@pytest.mark.slow  # executes every document in a kernel
def test_digest_shows_no_machine_path(executed, built_warehouse: Path) -> None:
    outputs, inline = executed["monthly-digest"]
    texts = [_text(o, m) for o in outputs for m in ("text/markdown", "text/html", "text/plain")]
    texts += [v["text"] for v in inline]
    shown = "\n".join(texts)
    assert "No comparison between refreshes yet" in shown
    for machine in (str(built_warehouse.parent), str(REPORTS_DIR.parent), "/tmp/"):
        assert machine not in shown


@pytest.mark.slow  # executes every document in a kernel
def test_both_bases_in_the_headline(executed) -> None:
    """By value China supplied 37.8% of Japan's 2024 rare-earth imports, by tonnage 66.1%."""
    _, inline = executed["control-exposure"]
    texts = [v["text"] for v in inline]
    assert "37.8%" in texts and "66.1%" in texts
    outputs, _ = executed["control-exposure"]
    chart = next(_text(o, "text/html") for o in outputs
                 if "share by tonnage" in _text(o, "text/html"))
    assert "by value in 2024, 66% by tonnage" in chart


def _project() -> dict:
    return yaml.safe_load((REPORTS_DIR / "_quarto.yml").read_text(encoding="utf-8"))


def test_html_and_revealjs_write_different_files_named_alike_by_both_engines() -> None:
    formats = _project()["format"]
    ext = formats["revealjs"]["output-ext"]
    assert f".{ext}" == FORMATS["revealjs"].suffix == ".slides.html"
    assert "output-ext" not in formats["html"] and FORMATS["html"].suffix == ".html"


def test_typst_ragged_right_lands_after_quartos_template() -> None:
    typst = _project()["format"]["typst"]
    body = (REPORTS_DIR / typst["include-before-body"]).read_text(encoding="utf-8")
    assert "#set par(justify: false)" in body


QUARTO_HEAD = (
    '<head>\n<script src="https://cdn.jsdelivr.net/npm/requirejs@2.3.6/require.min.js" '
    'integrity="sha384-x" crossorigin="anonymous"></script>\n'
    '<script src="https://cdn.jsdelivr.net/npm/jquery@3.5.1/dist/jquery.min.js" '
    'integrity="sha384-y" crossorigin="anonymous" data-relocate-top="true"></script>\n'
    "<script type=\"application/javascript\">define('jquery', [],function() "
    "{return window.jQuery;})</script>\n"
    '<script type="text/javascript">/**\n* plotly.js v3.1.0\n*/ window.x = 1;</script>\n'
    '</head><body><div class="chokehold-chart"></div></body>\n')
"""The head Quarto 1.10 writes for a notebook with HTML outputs (widgets.ts), abridged."""


def test_post_render_takes_out_quartos_cdn_scripts(tmp_path: Path) -> None:
    script = REPORTS_DIR / _project()["project"]["post-render"]
    page = tmp_path / "control-exposure.html"
    page.write_text(QUARTO_HEAD, encoding="utf-8")
    other = tmp_path / "control-exposure.pdf"
    other.write_bytes(b"%PDF-1.7 https://cdn.jsdelivr.net/npm/requirejs")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=dict(os.environ, QUARTO_PROJECT_OUTPUT_FILES=f"{page}\n{other}"),
                          check=False)
    assert done.returncode == 0, done.stderr
    html = page.read_text(encoding="utf-8")
    assert "cdn.jsdelivr" not in html and "define('jquery'" not in html
    assert "plotly.js v3.1.0" in html and 'class="chokehold-chart"' in html
    assert other.read_bytes().endswith(b"requirejs")
    spec = importlib.util.spec_from_file_location("offline", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.strip_widget_scripts(html) == html
