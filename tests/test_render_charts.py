"""Converting outside the kernel: chart descriptions round-trip and are drawn (SVG keeps its
text); raw HTML outputs pandoc need not read skip it."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from chokehold.render.charts import CHART_MIME, Chart, Marker, Series
from chokehold.render.convert import FORMATS, ConversionError, convert
from chokehold.render.kernel import Executed
from chokehold.render.qmd import parse_qmd


def _chart() -> Chart:
    """Every kind of x value a chart holds: dates, datetimes, labels, month numbers."""
    return Chart(
        title="China supplied 38% of Japan's rare earths imports in 2024", y_label="share (%)",
        source="Source: CEPII, BACI (vintage V202401b)", x_label="year", percent=True,
        series=[Series("China", [date(2023, 7, 1), date(2024, 7, 1)], [0.5, None]),
                Series("at", [datetime(2024, 1, 2, 3, 4)], [1.0], kind="points", color=2),
                Series("share", ["JPN", "USA"], [0.25, 0.75], kind="barh"),
                Series("P50", [1, 2], [0.1, 0.2], dashed=True)],
        markers=[Marker(date(2024, 1, 1), "in force")])


def test_a_chart_description_comes_back_as_the_same_chart() -> None:
    chart = _chart()
    spec = json.loads(json.dumps(chart.spec()))  # as it travels in a notebook output
    back = Chart.from_spec(spec)
    assert back == chart
    assert type(back.series[0].x[0]) is date and type(back.series[1].x[0]) is datetime
    assert back.markers[0].x == date(2024, 1, 1)


@pytest.mark.slow
def test_svg_keeps_the_title_as_text_and_png_is_a_png() -> None:
    chart = Chart(title="China supplied 38% of Japan's rare earths imports in 2024",
                  y_label="share (%)", source="Source: CEPII, BACI", percent=True,
                  series=[Series("China", [date(2023, 7, 1), date(2024, 7, 1)], [0.5, 0.38])],
                  markers=[Marker(date(2024, 1, 1), "in force")])
    svg = chart.svg()
    assert svg.lstrip().startswith("<?xml") and "China supplied 38% of Japan" in svg
    assert ">in force<" in svg and "DejaVu Sans" in svg
    assert svg == chart.svg()  # the same chart, the same file
    assert chart.png().startswith(b"\x89PNG\r\n\x1a\n")


def test_html_outputs_pass_pandoc_unread_unless_they_refer_to_a_file(tmp_path) -> None:
    """Resource-free HTML outputs skip pandoc (markers, put back after) and come out
    verbatim; one with an image still has pandoc embed it (the page stays offline)."""
    (tmp_path / "dot.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" '
                                      'height="4"><circle r="2" cx="2" cy="2"/></svg>')
    (tmp_path / "doc.qmd").write_text("---\ntitle: T\n---\n\nText.\n\n```{python}\n1\n```\n")
    doc = parse_qmd(tmp_path / "doc.qmd")
    plain = "<div class=\"x\">\n  <b>kept   as is</b>&#39;\n</div>"
    image = f'<p><img src="{tmp_path / "dot.svg"}" alt="dot"></p>'
    code = next(n for n, cell in enumerate(doc.cells) if cell.kind == "code")
    outputs = {code: [{"output_type": "display_data", "data": {"text/html": html}}
                      for html in (plain, image)]}
    work = tmp_path / "work"
    work.mkdir()
    out = convert(Executed(doc, {}, outputs, []), FORMATS["html"], {}, tmp_path, work)
    html = out.read_text(encoding="utf-8")
    assert plain in html and "chokehold: output" not in html
    assert 'src="data:image/svg+xml' in html and str(tmp_path / "dot.svg") not in html


def test_a_chart_that_cannot_be_drawn_fails_its_document_clearly(tmp_path) -> None:
    (tmp_path / "doc.qmd").write_text("---\ntitle: T\n---\n\n```{python}\n1\n```\n")
    doc = parse_qmd(tmp_path / "doc.qmd")
    code = next(n for n, cell in enumerate(doc.cells) if cell.kind == "code")
    bad = Chart(title="Mixed axes", y_label="y", source="s",
                series=[Series("when", [date(2024, 1, 1)], [1.0]),
                        Series("who", ["JPN"], [2.0], kind="bar")])
    outputs = {code: [{"output_type": "display_data", "data": {CHART_MIME: bad.spec()}}]}
    with pytest.raises(ConversionError, match="could not draw the chart 'Mixed axes' for pdf"):
        convert(Executed(doc, {}, outputs, []), FORMATS["pdf"], {}, tmp_path, tmp_path)
