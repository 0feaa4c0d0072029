"""Rendering the four report documents in every format on the bundled data.

Each document is executed once (one shared kernel) and converted to html, revealjs, pptx and
pdf; the expected numbers are queried from the warehouse here, independently of the report
code.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pypdf import PdfReader

from chokehold.analysis import read
from chokehold.analysis.events import event_dates, event_study
from chokehold.analysis.price_gap import price_gap
from chokehold.analysis.scenarios import store
from chokehold.analysis.scenarios.exposure import run_one
from chokehold.analysis.scenarios.spec import load_scenario
from chokehold.commodities import load_commodities
from chokehold.registry import load_registry, select_measures
from chokehold.render.engine import Job, Renderer
from chokehold.warehouse import open_warehouse

pytestmark = pytest.mark.slow  # end-to-end: `make test-fast` leaves it out

DOCUMENTS = ["control-exposure", "price-gap", "briefing", "monthly-digest"]
FORMATS = ["html", "revealjs", "pptx", "pdf"]
SUFFIX = {"html": ".html", "revealjs": ".slides.html", "pptx": ".pptx", "pdf": ".pdf"}
REMOTE = re.compile(r"""(?:\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//)|"""
                    r"""(?:url\(\s*["']?\s*(?:https?:)?//)|(?:@import\s+["']?(?:url\()?\s*["']?https?:)""",
                    re.IGNORECASE)


@pytest.fixture(scope="session")
def rendered(renderer: Renderer) -> dict[str, dict[str, Path]]:
    """Every document's defaults, executed once each, written in all four formats."""
    outputs = {}
    for name in DOCUMENTS:
        result = renderer.render(renderer.prepare(Job(name, formats=FORMATS)))
        outputs[name] = {fmt: path for fmt, path in zip(FORMATS, result.outputs)}
    return outputs


CONTROL = "cn-2025-18-medium-heavy-rare-earths"


def _registry():
    return load_registry(Path("data/controls").resolve(),
                         load_commodities(Path("data/commodities.yaml").resolve()))


@pytest.fixture(scope="session")
def scenario_jpn(built_warehouse: Path) -> dict:
    """The base scenario for the default control x Japan x rare earths, run here through the
    analysis API with the reports' draws and seed (20,000, seed 1)."""
    registry = _registry()
    goods = load_commodities(Path("data/commodities.yaml").resolve())
    spec = load_scenario(Path("data/scenarios").resolve(), "base", [])
    with open_warehouse(built_warehouse, read_only=True) as con:
        revision = read.trade_revision(con)
        flows = store.load_flows(con, goods["rare_earths"].lines(revision), ["JPN"], revision)
        production = store.load_production(con, goods)
        published = store.load_published_consumption(con)
    result = run_one(spec, registry[CONTROL], goods["rare_earths"], "JPN", flows, production,
                     revision, draws=20_000, seed=1, published=published)
    return result.summary


@pytest.fixture(scope="session")
def antimony_gap(built_warehouse: Path) -> dict:
    """The antimony gap on 2025-05-07 and on the latest date both sides are quoted."""
    with open_warehouse(built_warehouse, read_only=True) as con:
        gap = price_gap(con, "antimony").filter(pl.col("gap_usd_t").is_not_null())
    return {"may7": gap.filter(pl.col("date") == date(2025, 5, 7)).row(0, named=True),
            "latest": gap.sort("date").row(-1, named=True)}


@pytest.fixture(scope="session")
def jpn_rare_earths(built_warehouse: Path) -> dict:
    """China's share of Japan's rare-earth imports in 2024, the total and the HHI, by SQL."""
    with open_warehouse(built_warehouse, read_only=True) as con:
        rows = con.execute("""
            WITH p AS (
              SELECT f.partner_iso3, sum(f.value_usd) AS v FROM trade_flows f
              JOIN commodity_hs h ON h.hs_code = f.hs_code AND h.hs_revision = f.hs_revision
              WHERE h.commodity_id = 'rare_earths' AND f.reporter_iso3 = 'JPN'
                AND f.flow = 'import' AND year(f.period) = 2024 GROUP BY 1)
            SELECT sum(v) FILTER (WHERE partner_iso3 = 'CHN') / sum(v), sum(v),
                   sum(v) FILTER (WHERE partner_iso3 = 'CHN'),
                   (SELECT sum((v / t.total) ^ 2) FROM p, (SELECT sum(v) AS total FROM p) t)
            FROM p""").fetchall()
    share, total, china, hhi = rows[0]
    return {"share": share, "total": total, "china": china, "hhi": hhi}


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>.*?</script>", re.DOTALL | re.IGNORECASE)


def _text(path: Path) -> str:
    """The file's text, pandoc's non-breaking spaces ("No.\xa061") as plain ones."""
    return path.read_text(encoding="utf-8").replace("\xa0", " ")


def _markup(path: Path) -> str:
    """The HTML without the bodies of inline scripts.

    plotly.js and reveal.js carry URL strings (the plotly logo link, map tile servers for map
    charts, which these reports do not draw); they are code, not references the page loads.
    Script and link elements with a src or href are kept and checked.
    """
    return INLINE_SCRIPT.sub("<script></script>", _text(path))


def test_every_document_renders_in_every_format(rendered) -> None:
    for name in DOCUMENTS:
        for fmt in FORMATS:
            path = rendered[name][fmt]
            assert path.name == f"{name}{SUFFIX[fmt]}" and path.stat().st_size > 10_000, path
            assert path.stat().st_mode & 0o044 == 0o044, "outputs are readable like any file"
    assert not list(next(iter(rendered.values()))["html"].parent.glob("*.partial"))


def test_html_has_the_headline_numbers(rendered, jpn_rare_earths) -> None:
    html = _text(rendered["control-exposure"]["html"])
    assert f"{jpn_rare_earths['share']:.1%}" in html            # 37.8%
    assert f"USD {jpn_rare_earths['total'] / 1e6:,.1f} million" in html
    assert f"USD {jpn_rare_earths['china'] / 1e6:,.1f} million" in html
    assert f"{jpn_rare_earths['hhi']:.3f}" in html
    assert "Export control on seven medium and heavy rare-earth items" in html
    assert "Plotly.newPlot" in html and "gt_table" in html     # interactive chart, great_tables


def test_html_has_the_new_sections(rendered, scenario_jpn, built_warehouse) -> None:
    html = _text(rendered["control-exposure"]["html"])
    s = scenario_jpn
    assert s["applies"] is True
    assert (f"peaks at <strong>{s['peak_shortfall_share_p50']:.1%}</strong> of monthly "
            f"consumption (P50; P10-P90 {s['peak_shortfall_share_p10']:.1%}-"
            f"{s['peak_shortfall_share_p90']:.1%})") in html
    assert f"{s['cumulative_shortfall_t_p50']:,.0f} t (P50" in html
    assert "20,000 draws, seed 1" in html and "swing (t)" in html      # the tornado table
    # Japan records no rare-earth production: reliance = net imports / net imports, by SQL
    with open_warehouse(built_warehouse, read_only=True) as con:
        made = con.execute("SELECT count(*) FROM production WHERE commodity = 'rare_earths' "
                           "AND country_iso3 = 'JPN'").fetchall()[0][0]
        net = con.execute("""
            SELECT sum(qty) FILTER (WHERE reporter_iso3 = 'JPN')
                   - sum(qty) FILTER (WHERE partner_iso3 = 'JPN') FROM trade_flows f
            JOIN commodity_hs h ON h.hs_code = f.hs_code AND h.hs_revision = f.hs_revision
            WHERE h.commodity_id = 'rare_earths' AND year(f.period) = 2024
              AND f.flow = 'import' AND f.qty_unit = 't'""").fetchall()[0][0]
    assert made == 0 and net > 0
    assert "Net import reliance of Japan on rare earths in 2024: <strong>100%</strong>" in html
    # rare earths have no price series: the document says so from the data
    assert "The warehouse holds no rare earths price series" in html
    # the related extraterritorial rule, with its status on as_of from the registry
    rule = _registry()["cn-2025-61-extraterritorial-rare-earths"]
    assert rule.status_on(date(2025, 12, 1)) == "suspended"
    assert ("De-minimis rule: MOFCOM Announcement 2025 No. 61" in html
            and "<strong>suspended</strong> (from 2025-11-10 to 2026-11-10" in html)
    assert "not available in this build" not in html


def test_every_output_names_vintage_parameters_and_revision(rendered, built_warehouse) -> None:
    with open_warehouse(built_warehouse, read_only=True) as con:
        baci = con.execute("SELECT vintage FROM vintages WHERE source_id = 'baci'").fetchall()[0][0]
    for name in DOCUMENTS:
        html = _text(rendered[name]["html"])
        assert baci in html and "Git revision" in html and "Parameters" in html, name
        pdf = " ".join(p.extract_text() for p in PdfReader(rendered[name]["pdf"]).pages)
        assert "Git revision" in pdf and "V202401b" in pdf, name


def test_pdf_has_the_control_title_and_figures(rendered, jpn_rare_earths,
                                               scenario_jpn) -> None:
    title = _registry()[CONTROL].title
    text = " ".join(p.extract_text() for p in PdfReader(rendered["control-exposure"]["pdf"]).pages)
    flat = re.sub(r"\s+", " ", text)
    assert title in flat
    assert f"{jpn_rare_earths['share']:.1%}" in flat
    assert f"{jpn_rare_earths['hhi']:.3f}" in flat
    assert f"peaks at {scenario_jpn['peak_shortfall_share_p50']:.1%} of monthly" in flat
    assert "Sensitivity: P50 cumulative shortfall" in flat
    # a chart, drawn by typst from SVG: vectors, its finding title searchable text
    pages = [re.sub(r"\s+", " ", p.extract_text())
             for p in PdfReader(rendered["control-exposure"]["pdf"]).pages]
    assert any(f"{jpn_rare_earths['share']:.0%} of Japan's rare earths imports by value in 2024, "
               "66% by tonnage (value peak" in p for p in pages[1:])


def test_pptx_briefing_has_message_titles_and_charts(rendered, jpn_rare_earths, scenario_jpn,
                                                    antimony_gap) -> None:
    deck = Presentation(str(rendered["briefing"]["pptx"]))
    titles = [s.shapes.title.text.replace("\u2019", "'").replace("\xa0", " ") for s in deck.slides
              if s.shapes.title is not None]
    share = (f"China supplied {jpn_rare_earths['share']:.0%} of Japan's rare earths imports by "
             "value in 2024")
    assert any(t.startswith(share) for t in titles), titles
    assert any(t.startswith("MOFCOM/GAC Announcement 2025 No. 18 was in force on 2025-12-01")
               for t in titles), titles
    assert "Sources" in titles
    pictures = {s.shapes.title.text.replace("\u2019", "'").replace("\xa0", " "):
                sum(sh.shape_type == MSO_SHAPE_TYPE.PICTURE for sh in s.shapes)
                for s in deck.slides if s.shapes.title is not None}
    assert pictures[next(t for t in titles if t.startswith(share))] == 1
    band = (f"Japan's unmet rare earths demand peaks at "
            f"{scenario_jpn['peak_shortfall_share_p50']:.1%} of consumption (P50; P10-P90 "
            f"{scenario_jpn['peak_shortfall_share_p10']:.1%}-"
            f"{scenario_jpn['peak_shortfall_share_p90']:.1%})")
    last = antimony_gap["latest"]
    gap = (f"Antimony, Rotterdam: USD {last['overseas_usd_t']:,.0f}/t vs USD "
           f"{last['domestic_usd_t_ex_vat']:,.0f}/t in China ex-VAT on {last['date']} "
           f"(gap USD {last['gap_usd_t']:,.0f}/t)")
    assert band in titles and gap in titles, titles
    assert pictures[band] == 1 and pictures[gap] == 1


def test_revealjs_slides_are_offline(rendered) -> None:
    slides = _text(rendered["briefing"]["revealjs"])
    assert "Reveal.initialize" in slides and "<section" in slides
    assert "Plotly.newPlot" in slides


def test_no_output_references_a_remote_url(rendered) -> None:
    for name, outputs in rendered.items():
        for fmt in ("html", "revealjs"):
            match = REMOTE.search(_markup(outputs[fmt]))
            assert match is None, f"{name} {fmt}: {match.group(0) if match else ''}"
        deck = Presentation(str(outputs["pptx"]))
        external = [r for s in deck.slides for r in s.part.rels.values() if r.is_external]
        assert external == [], name
        pdf = PdfReader(outputs["pdf"])
        links = [a.get_object().get("/A", {}).get("/URI") for p in pdf.pages
                 for a in p.get("/Annots", []) or []]
        assert not [u for u in links if u], name


def test_remote_url_check_catches_a_cdn_link() -> None:
    assert REMOTE.search('<script src="https://cdn.jsdelivr.net/npm/reveal.js"></script>')
    assert REMOTE.search("@import url(https://fonts.googleapis.com/css)")
    assert REMOTE.search("<link href='//cdn.example.org/x.css'>")
    assert not REMOTE.search("<p>https://www.cepii.fr</p>")


def test_price_gap_has_the_gap_and_event_table(rendered, antimony_gap, built_warehouse) -> None:
    html = _text(rendered["price-gap"]["html"])
    assert "MOFCOM/GAC Announcement 2024 No. 33" in html        # antimony control date marked
    may7 = antimony_gap["may7"]
    assert may7["alignment"] == "same day"
    for column in ("overseas_usd_t", "domestic_usd_t_ex_vat", "gap_usd_t"):
        assert f"{may7[column]:,.0f}" in html, column
    assert f"{may7['ratio']:.2f}" in html
    last = antimony_gap["latest"]
    assert (f"a gap of <strong>USD {last['gap_usd_t']:,.0f}/t</strong>, the overseas price "
            f"<strong>{last['ratio']:.2f}x</strong>") in html
    # the event study, run here: the one control date with a gap on both sides
    with open_warehouse(built_warehouse, read_only=True) as con:
        gap = price_gap(con, "antimony")
    events = event_study(gap, event_dates(select_measures(_registry(), commodity="antimony")),
                         window=3, unit="months")
    both = events.filter((pl.col("n_before") > 0) & (pl.col("n_after") > 0))
    assert both.height >= 1
    for row in both.iter_rows(named=True):
        assert f"{row['gap_change']:,.0f}" in html and row["note"] in html
    assert "not available in this build" not in html
    pdf = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in
                                       PdfReader(rendered["price-gap"]["pdf"]).pages))
    assert f"{may7['gap_usd_t']:,.0f}" in pdf and "Around each control date" in pdf


def test_digest_lists_measures_in_force(rendered, built_warehouse) -> None:
    with open_warehouse(built_warehouse, read_only=True) as con:
        titles = [r[0] for r in con.execute(
            "SELECT m.title FROM control_measures m JOIN control_status s USING (control_id) "
            "WHERE s.status = 'in_force' AND s.start_date <= DATE '2025-12-01' "
            "AND (s.end_date IS NULL OR s.end_date >= DATE '2025-12-01')").fetchall()]
    html = _text(rendered["monthly-digest"]["html"])
    assert titles and all(t in html for t in titles)
    assert f"{len(titles)} measures in force on 2025-12-01" in html


def test_cli_and_rendered_report_print_the_same_figures(rendered, built_warehouse,
                                                        capsys) -> None:
    """`chokehold trade shares` and the control-exposure report read the same layer: China's
    2024 share of Japan's rare-earth imports and the HHI, as the CLI prints them, are in the
    rendered HTML."""
    import json

    from tests.helpers import run_cli

    result = run_cli(capsys, "--warehouse", str(built_warehouse), "trade", "shares", "-i",
                     "JPN", "-c", "rare_earths", "--format", "json")
    rows = [r for r in json.loads(result.stdout) if r["period"] == "2024-01-01"]
    china = next(r for r in rows if r["partner_iso3"] == "CHN")
    html = _text(rendered["control-exposure"]["html"])
    assert f"{china['share']:.1%}" in html and f"{china['hhi']:.3f}" in html
    production = run_cli(capsys, "--warehouse", str(built_warehouse), "trade", "production",
                         "-c", "rare_earths", "--country", "JPN", "--format", "json")
    assert production.exit_code == 0, production.stderr
