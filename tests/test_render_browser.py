"""The rendered pack in a real browser: Debian's Chromium, headless, driven by playwright.

Each html and revealjs output is opened from its file with the network cut off. A page fails
on any console error or uncaught exception, on any request that leaves the file (http, https,
ws), when a chart is not laid out inside its own section, or when a slide does not show its
own heading on top (a chart pinned over the deck would cover it). Skips, saying so, where
Chromium or playwright is absent (`make test-browser` installs Chromium with apt).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from chokehold.render.engine import Job, Renderer

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOCAL = ("file:", "data:", "blob:", "about:")
PAGES = [("control-exposure", "html"), ("price-gap", "html"), ("monthly-digest", "html"),
         ("briefing", "revealjs"), ("control-exposure", "revealjs")]


pytestmark = pytest.mark.slow  # headless Chromium over the rendered pack: `make test` only


def _chromium() -> str:
    found = os.environ.get("CHOKEHOLD_CHROMIUM") or shutil.which("chromium") \
        or shutil.which("chromium-browser")
    if not found:
        pytest.skip("no Chromium on PATH (apt-get install chromium, or `make test-browser`)")
    return found


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    """One headless Chromium with a fresh profile, every non-file request aborted and kept."""
    executable = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (pip install '.[dev]')")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=executable,
            headless=True, args=FLAGS, viewport={"width": 1280, "height": 800})
        left: list[str] = []

        def refuse(route) -> None:
            left.append(route.request.url)
            route.abort()

        context.route(lambda url: not url.startswith(LOCAL), refuse)
        yield context, left
        context.close()


@pytest.fixture(scope="module")
def pack(renderer: Renderer) -> dict[tuple[str, str], Path]:
    """The documents rendered by the builtin engine, html and revealjs."""
    made = {}
    for name in dict.fromkeys(n for n, _ in PAGES):
        formats = [f for n, f in PAGES if n == name]
        result = renderer.render(renderer.prepare(Job(name, formats=formats,
                                                      name=f"browser-{name}")))
        made.update({(name, f): path for f, path in zip(formats, result.outputs)})
    return made


def _open(browser, path: Path) -> tuple[object, list[str]]:
    context, left = browser
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on("requestfailed", lambda r: errors.append(f"failed load: {r.url}")
            if r.url.startswith(LOCAL) else None)
    left.clear()
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_timeout(300)
    return page, errors


CHART_PLACES = """() => {
  const heads = [...document.querySelectorAll('h2')];
  return [...document.querySelectorAll('.chokehold-chart')].map(chart => {
    const before = heads.filter(h => h.compareDocumentPosition(chart) & Node.DOCUMENT_POSITION_FOLLOWING);
    const own = before[before.length - 1];
    const next = heads[heads.indexOf(own) + 1];
    const box = chart.getBoundingClientRect(), plot = chart.querySelector('.plotly-graph-div');
    return {section: own ? own.textContent.trim() : null,
            top: box.top + scrollY, height: box.height,
            ownTop: own ? own.getBoundingClientRect().top + scrollY : null,
            nextTop: next ? next.getBoundingClientRect().top + scrollY : null,
            inHead: !!chart.closest('head'), fixed: getComputedStyle(chart).position,
            drawn: !!(plot && plot.querySelector('.main-svg'))};
  });
}"""


@pytest.mark.parametrize("name", [n for n, f in PAGES if f == "html"])
def test_html_report_opens_offline_with_charts_in_their_sections(browser, pack, name) -> None:
    page, errors = _open(browser, pack[(name, "html")])
    assert errors == [] and browser[1] == [], (errors, browser[1])
    for chart in page.evaluate(CHART_PLACES):
        assert chart["section"] and not chart["inHead"] and chart["fixed"] != "fixed", chart
        assert chart["drawn"] and chart["height"] > 200, chart
        assert chart["ownTop"] < chart["top"], chart
        assert chart["nextTop"] is None or chart["top"] + chart["height"] <= chart["nextTop"], chart
    page.close()


SLIDE = """() => {
  const slide = Reveal.getCurrentSlide();
  const heading = slide.querySelector('h1, h2');
  const box = heading.getBoundingClientRect();
  const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  const seen = c => {  // laid out, visible and not fully transparent, up the whole chain
    const r = c.getBoundingClientRect();
    if (!(r.width > 0 && r.height > 0) || getComputedStyle(c).visibility === 'hidden') return false;
    for (let e = c; e; e = e.parentElement) if (getComputedStyle(e).opacity === '0') return false;
    return true;
  };
  const charts = [...document.querySelectorAll('.chokehold-chart')]
    .filter(c => seen(c) && !slide.contains(c));
  return {heading: heading.textContent.trim(), onTop: heading.contains(hit),
          index: Reveal.getIndices().h, strayCharts: charts.length};
}"""


@pytest.mark.parametrize("name", [n for n, f in PAGES if f == "revealjs"])
def test_each_slide_shows_its_own_heading(browser, pack, name) -> None:
    page, errors = _open(browser, pack[(name, "revealjs")])
    assert errors == [] and browser[1] == [], (errors, browser[1])
    headings = page.evaluate("""() => [...document.querySelectorAll('.slides > section')]
        .map(s => (s.querySelector('h1, h2') || {textContent: ''}).textContent.trim())""")
    assert len(headings) >= 4 and all(headings), headings
    # no transition: a slide fading out on a busy machine is not a chart pinned over the deck
    page.evaluate("Reveal.configure({transition: 'none', backgroundTransition: 'none'})")
    for n, expected in enumerate(headings):
        page.evaluate(f"Reveal.slide({n})")
        page.wait_for_timeout(400)
        shown = page.evaluate(SLIDE)
        assert shown["index"] == n and shown["heading"] == expected, shown
        assert shown["onTop"] and shown["strayCharts"] == 0, (n, shown)
    assert errors == [], errors
    page.close()
