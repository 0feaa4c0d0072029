"""Charts and tables for the reports: one description, drawn for every output format.

A :class:`Chart` is drawn twice from the same data: an interactive plotly figure for HTML and
reveal.js, and a static matplotlib PNG for PDF and PPTX. Displayed in a Jupyter kernel it offers
both (``text/html`` and ``image/png``) and the renderer (ours or Quarto's) picks the one its
output format can show. Our renderer instead asks for :data:`CHART_MIME`, the chart's
description as JSON, and draws the PNG while converting (see ``convert``): in a batch that runs
beside the kernel executing the next document. A :class:`Table` offers great_tables HTML and a
pipe-table fallback. Every chart carries a title that states the finding, axis units and a
source line.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import textwrap
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import polars as pl

from chokehold.render import style
from chokehold.render.slides import slide_caption, slide_chunks

_plotly_js_sent = False
_targets: set[str] = {"text/html", "image/png"}
_plotly_marker = False


def reset_document() -> None:
    """A new document starts: plotly.js is sent again before its first chart."""
    global _plotly_js_sent
    _plotly_js_sent = False


def set_targets(targets: set[str] | None, plotly_marker: bool = False) -> None:
    """The MIME types the requested formats will use; charts skip drawing the others.

    Our renderer knows the formats before it executes a document; Quarto does not say, so
    by default both the plotly HTML and the PNG are drawn. With ``plotly_marker`` the library
    output (:func:`library_output`) carries :data:`PLOTLY_MARKER` instead of the 4.6 MB
    plotly.js, which our renderer
    puts in after pandoc (so the bundle never travels through the kernel or pandoc).
    """
    global _targets, _plotly_marker
    _targets = set(targets) if targets else {"text/html", "image/png"}
    _plotly_marker = plotly_marker


PLOTLY_MARKER = "<!-- chokehold: plotly.js -->"
CHART_MIME = "application/vnd.chokehold.chart+json"
"""A chart's description (:meth:`Chart.spec`), for a renderer that draws the static image."""
TITLE_WRAP = 85
"""Characters per line of a chart's title (a finding can take two lines)."""
SOURCE_WRAP = 160
"""Characters per line of a chart's source line (long ones wrap instead of running off)."""


@cache
def plotly_js() -> str:
    """plotly.js from the installed plotly package, inline (no CDN)."""
    return (files("plotly") / "package_data" / "plotly.min.js").read_text(encoding="utf-8")


@cache
def chart_fonts() -> str:
    """The folder of the fonts static charts use (matplotlib's DejaVu), for typst."""
    import matplotlib

    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf")


def plotly_script() -> str:
    return f'<script type="text/javascript">{plotly_js()}</script>'


def library_output() -> None:
    """Before the document's first chart: plotly.js (or our renderer's marker for it) as an
    output of its own, HTML only (static formats show nothing for it)."""
    global _plotly_js_sent
    if _plotly_js_sent:
        return
    from IPython.display import display

    _plotly_js_sent = True
    display({"text/html": PLOTLY_MARKER if _plotly_marker else plotly_script()}, raw=True)


def _jsonable(value: Any) -> Any:
    """A chart value as JSON: dates (and datetimes) tagged, so they come back as dates."""
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    return value


def _restored(value: Any) -> Any:
    if isinstance(value, dict):
        kind, text = next(iter(value.items()))
        return (datetime if kind == "datetime" else date).fromisoformat(text)
    return value


def _rgba(color: str, alpha: float) -> str:
    """A '#rrggbb' palette colour as plotly rgba text (a band's shade)."""
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


@dataclass(frozen=True)
class Series:
    name: str
    x: list
    y: list
    kind: Literal["line", "bar", "barh", "points", "band"] = "line"
    dashed: bool = False
    """Drawn dashed (the outer percentiles of a band)."""
    color: int | None = None
    """Palette index; by default each series takes the next colour."""
    low: list | None = None
    """A ``band``'s lower edge (``y`` is its upper edge): drawn as a shaded area between them."""


@dataclass(frozen=True)
class Marker:
    """A dated event drawn as a vertical line (a control announced, in force, suspended)."""

    x: date
    label: str


@dataclass
class Chart:
    title: str
    y_label: str
    source: str
    series: list[Series]
    x_label: str = ""
    markers: list[Marker] = field(default_factory=list)
    percent: bool = False
    decimals: int = 0
    """Decimals of the value axis' tick labels (a ratio of 2.6x needs one)."""
    x_step: float | None = None
    """Even spacing of the label axis' ticks (e.g. every 3 months); None: the library's."""

    def plotly(self) -> Any:
        """The interactive figure, built in one go: plotly validates (and copies the
        template) once, not once per add_vline/update_layout."""
        import plotly.graph_objects as go

        traces = []
        for n, s in enumerate(self.series):
            color = style.PALETTE[(n if s.color is None else s.color) % len(style.PALETTE)]
            if s.kind == "band":
                traces.append(go.Scatter(x=s.x, y=s.low, mode="lines", line={"width": 0},
                                         showlegend=False, hoverinfo="skip", name=s.name))
                traces.append(go.Scatter(x=s.x, y=s.y, name=s.name, mode="lines",
                                         line={"width": 0}, fill="tonexty",
                                         fillcolor=_rgba(color, 0.25)))
            elif s.kind == "line":
                traces.append(go.Scatter(x=s.x, y=s.y, name=s.name, mode="lines+markers",
                                         line={"color": color,
                                               "dash": "dash" if s.dashed else "solid"}))
            elif s.kind == "points":
                traces.append(go.Scatter(x=s.x, y=s.y, name=s.name, mode="markers",
                                         marker={"color": color, "size": 9}))
            else:
                flip = s.kind == "barh"
                traces.append(go.Bar(x=s.y if flip else s.x, y=s.x if flip else s.y,
                                     name=s.name, orientation="h" if flip else "v",
                                     marker={"color": color}))
        source = textwrap.wrap(self.source, SOURCE_WRAP)
        value_axis = {"title": self.y_label, "tickformat": ".0%" if self.percent else
                      f",.{self.decimals}f" if self.decimals else ",~r"}
        horizontal = bool(self.series) and self.series[0].kind == "barh"
        label_axis = {"title": self.x_label, **({"autorange": "reversed"} if horizontal else {}),
                      **({"dtick": self.x_step, "tick0": self.x_step} if self.x_step else {})}
        layout = {
            "shapes": [{"type": "line", "x0": m.x.isoformat(), "x1": m.x.isoformat(), "xref": "x",
                        "y0": 0, "y1": 1, "yref": "y domain",
                        "line": {"dash": "dot", "color": style.MARKER, "width": 1}}
                       for m in self.markers],
            "annotations": [
                *({"x": m.x.isoformat(), "y": 1, "yref": "paper", "text": m.label,
                   "showarrow": False, "textangle": -90, "xanchor": "right", "yanchor": "top",
                   "font": {"size": 10, "color": style.MARKER}} for m in self.markers),
                {"text": "<br>".join(source), "xref": "paper", "yref": "paper", "x": 0, "y": -0.28,
                 "yanchor": "top", "align": "left", "showarrow": False, "xanchor": "left",
                 "font": {"size": 10, "color": style.MUTED}}],
            "title": {"text": f"<b>{'<br>'.join(textwrap.wrap(self.title, TITLE_WRAP))}</b>",
                      "font": {"size": 15}},
            "template": "simple_white", "height": 440 + 14 * len(source),
            "margin": {"t": 70, "b": 90 + 14 * len(source), "l": 70, "r": 20},
            "font": {"family": style.FONT_STACK, "color": style.INK},
            "legend": {"orientation": "h", "y": -0.18},
            "xaxis": value_axis if horizontal else label_axis,
            "yaxis": label_axis if horizontal else value_axis,
        }
        return go.Figure(data=traces, layout=layout)

    def spec(self) -> dict:
        """Everything the chart is drawn from, as JSON (:data:`CHART_MIME`)."""
        spec = asdict(self)
        for s in spec["series"]:
            s["x"] = [_jsonable(v) for v in s["x"]]
        for m in spec["markers"]:
            m["x"] = _jsonable(m["x"])
        return spec

    @classmethod
    def from_spec(cls, spec: dict) -> Chart:
        return cls(**{**spec,
                      "series": [Series(**{**s, "x": [_restored(v) for v in s["x"]]})
                                 for s in spec["series"]],
                      "markers": [Marker(_restored(m["x"]), m["label"])
                                  for m in spec["markers"]]})

    def png(self, width_in: float = 9.0, height_in: float = 4.6, dpi: int = 150) -> bytes:
        """The static chart as a PNG (PPTX, and Quarto's PDF). Light compression: at the
        default level encoding took a quarter of the drawing time, for a file a tenth smaller."""
        buffer = io.BytesIO()
        self._figure(width_in, height_in, dpi).savefig(buffer, format="png",
                                                       pil_kwargs={"compress_level": 1})
        return buffer.getvalue()

    def svg(self, width_in: float = 9.0, height_in: float = 4.6) -> str:
        """The static chart as SVG (our PDF: typst draws it as vectors, its text searchable).
        Text stays text in DejaVu Sans (:func:`chart_fonts` gives typst the font); ids are
        salted so the same chart gives the same file."""
        import matplotlib

        buffer = io.StringIO()
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "chokehold"}):
            self._figure(width_in, height_in, 72).savefig(buffer, format="svg",
                                                          metadata={"Date": None})
        return buffer.getvalue()

    def _figure(self, width_in: float, height_in: float, dpi: int) -> Any:
        """The matplotlib figure, laid out. A bare Figure (no pyplot): safe in a thread."""
        from matplotlib.figure import Figure
        from matplotlib.layout_engine import TightLayoutEngine
        from matplotlib.ticker import FuncFormatter, MultipleLocator

        fig = Figure(figsize=(width_in, height_in), dpi=dpi)
        ax = fig.subplots()
        horizontal = bool(self.series) and self.series[0].kind == "barh"
        bar_series = [s for s in self.series if s.kind in ("bar", "barh")]
        for n, s in enumerate(self.series):
            color = style.PALETTE[(n if s.color is None else s.color) % len(style.PALETTE)]
            if s.kind == "band":
                ax.fill_between(s.x, s.low, s.y, color=color, alpha=0.25, linewidth=0,
                                label=s.name)
            elif s.kind == "line":
                ax.plot(s.x, [float("nan") if v is None else v for v in s.y], marker="o",
                        markersize=3, label=s.name, color=color,
                        linestyle="--" if s.dashed else "-")
            elif s.kind == "points":
                ax.scatter(s.x, s.y, label=s.name, color=color, s=30, zorder=3)
            elif horizontal:
                ax.barh([str(v) for v in s.x], s.y, label=s.name, color=color)
            else:
                ax.bar([str(v) for v in s.x] if len(bar_series) else s.x, s.y,
                       label=s.name, color=color)
        if horizontal:
            ax.invert_yaxis()
        for m in self.markers:
            ax.axvline(m.x, linestyle=":", color=style.MARKER, linewidth=1)
            ax.annotate(m.label, xy=(m.x, 1), xycoords=("data", "axes fraction"),
                        rotation=90, va="top", ha="right", fontsize=7, color=style.MARKER)
        if self.x_step:
            (ax.yaxis if horizontal else ax.xaxis).set_major_locator(
                MultipleLocator(self.x_step))
        value_axis = ax.xaxis if horizontal else ax.yaxis
        value_axis.set_major_formatter(FuncFormatter(
            (lambda v, _: f"{v:.0%}") if self.percent else
            (lambda v, _: f"{v:,.{self.decimals}f}")))
        (ax.set_xlabel if horizontal else ax.set_ylabel)(self.y_label)
        (ax.set_ylabel if horizontal else ax.set_xlabel)(self.x_label)
        ax.set_title("\n".join(textwrap.wrap(self.title, TITLE_WRAP)), loc="left",
                     fontsize=11, fontweight="bold", color=style.INK)
        ax.spines[["top", "right"]].set_visible(False)
        if len(self.series) > 1:
            ax.legend(frameon=False, fontsize=8)
        source = textwrap.wrap(self.source, SOURCE_WRAP) or [""]
        fig.text(0.01, 0.01, "\n".join(source), fontsize=7, color=style.MUTED, ha="left",
                 va="bottom")
        # fig.tight_layout() would leave a placeholder engine that makes savefig lay the
        # figure out (draw it) once more; running the engine alone adjusts it once
        TightLayoutEngine(rect=(0, 0.01 + 0.03 * len(source), 1, 1)).execute(fig)
        return fig

    def html(self) -> str:
        """The plotly div alone. plotly.js travels in an output of its own
        (:func:`library_output`): Quarto hoists any output carrying the library into the
        page head, so a chart div beside it would land there too (on top of every slide)."""
        div = self.plotly().to_html(full_html=False, include_plotlyjs=False,
                                    config={"displaylogo": False, "responsive": True})
        return f'<div class="chokehold-chart">{div}</div>'

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        bundle = {"text/plain": f"<Chart: {self.title}>"}
        if "text/html" in _targets:
            library_output()
            bundle["text/html"] = self.html()
        if "image/png" in _targets:
            bundle["image/png"] = base64.b64encode(self.png()).decode("ascii")
        if CHART_MIME in _targets:
            bundle[CHART_MIME] = self.spec()
        return bundle


@dataclass
class Table:
    """A table: great_tables HTML for the web, a pipe table for PDF and PPTX (for PPTX in
    runs of rows when it is too tall for one slide, see ``chokehold.render.slides``)."""

    frame: pl.DataFrame
    title: str
    source: str
    labels: dict[str, str] = field(default_factory=dict)
    percent: list[str] = field(default_factory=list)
    decimals: dict[str, int] = field(default_factory=dict)

    def _cell(self, column: str, value: Any) -> str:
        if value is None:
            return ""
        if column in self.percent:
            return f"{value:.1%}"
        if isinstance(value, float):
            return f"{value:,.{self.decimals.get(column, 0)}f}"
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value) if column == "year" else f"{value:,}"
        if isinstance(value, list):
            return ", ".join(map(str, value))
        return str(value)

    def _width(self, column: str) -> int:
        """Dashes under a column: pandoc sizes wrapped columns by them, so a column gets room
        in proportion to its longest cell (up to 20 characters: long text wraps), and at least
        its label's longest word; numbers and dates, which do not wrap, their whole width (they
        overprinted the next column in typst otherwise)."""
        cells = [len(self._cell(column, v)) for v in self.frame[column]]
        label = max((len(w) for w in self.labels.get(column, column).split()), default=0)
        dtype = self.frame.schema[column]
        numeric = dtype.is_numeric()
        if numeric or dtype.is_temporal():  # never wrap: the whole cell, and a little air
            return max(4, label + 2 * numeric, max(cells, default=0) + 2)
        return max(4, label, min(20, max(cells, default=0)))

    def markdown(self) -> str:
        columns = self.frame.columns
        def esc(text: str) -> str:
            return text.replace("|", "\\|").replace("\n", " ")
        head = "| " + " | ".join(esc(self.labels.get(c, c)) for c in columns) + " |"
        rows = ["| " + " | ".join(esc(self._cell(c, row[c])) for c in columns) + " |"
                for row in self.frame.iter_rows(named=True)]
        rule = "|" + "|".join(
            f"{'' if self.frame.schema[c].is_numeric() else ':'}{'-' * self._width(c)}"
            f"{':' if self.frame.schema[c].is_numeric() else ''}" for c in columns) + "|"
        if not rows:
            return f"*{self.title}: no rows.*\n"
        # a cross-referenceable table div, its caption the last paragraph: Quarto's typst
        # writer drops a `Table:` caption (quarto-cli#11733), a div's caption it keeps
        caption = f"{esc(self.title)}. {esc(self.source)}"
        whole = "\n".join([f"::: {{#{self.anchor()}}}", head, rule, *rows, "", caption, ":::"])
        cells = [[self._cell(c, row[c]) for c in columns]
                 for row in self.frame.iter_rows(named=True)]
        chunks = slide_chunks([self.labels.get(c, c) for c in columns], cells)
        if len(chunks) == 1 and slide_caption(esc(self.title), esc(self.source))[1] is None:
            return whole + "\n"
        # too tall for one slide, or a caption too long for its box: PPTX gets the rows in
        # runs, one slide each (pandoc neither shrinks nor splits a table), each captioned to
        # fit with the whole caption in its speaker notes; every other format the whole
        # table (each run its own id: no id appears twice)
        parts, start = [], 0
        for n, chunk in enumerate(chunks, 1):
            part = rows[start:start + len(chunk)]
            start += len(chunk)
            title = esc(self.title) + ("" if len(chunks) == 1 else
                                       f" (cont., {n}/{len(chunks)})" if n > 1 else
                                       f" ({n}/{len(chunks)})")
            caption, notes = slide_caption(title, esc(self.source))
            parts += [f"::: {{#{self.anchor()}-{n}}}", head, rule, *part, "", caption, ":::", ""]
            if notes is not None:
                parts += ["::: notes", notes, ":::", ""]
        return "\n".join(['::: {.content-hidden when-format="pptx"}', whole, ":::", "",
                          '::: {.content-visible when-format="pptx"}', *parts, ":::", ""])

    def anchor(self) -> str:
        """The table's cross-reference id, ``tbl-`` and its title's words (stable)."""
        words = re.findall(r"[a-z0-9]+", self.title.lower())
        digest = hashlib.sha1(f"{self.title}|{self.source}".encode()).hexdigest()[:6]
        return "tbl-" + "-".join([*words[:6], digest])

    def html(self) -> str:
        from great_tables import GT

        frame = self.frame.with_columns(
            pl.col(c).list.join(", ") for c, t in self.frame.schema.items()
            if isinstance(t, pl.List))
        gt = (GT(frame).tab_header(title=self.title).tab_source_note(self.source)
              .cols_label(**{c: self.labels[c] for c in frame.columns if c in self.labels}))
        if self.percent:
            gt = gt.fmt_percent(columns=self.percent, decimals=1)
        numeric = [c for c in frame.columns if frame.schema[c].is_float()
                   and c not in self.percent]
        for column in numeric:
            gt = gt.fmt_number(columns=column, decimals=self.decimals.get(column, 0))
        gt = gt.sub_missing(missing_text="").opt_table_font(stack="system-ui").tab_options(
            heading_background_color=style.ACCENT_LIGHT, table_font_color=style.INK)
        return gt.as_raw_html(inline_css=False)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        return {"text/html": self.html(), "text/markdown": self.markdown(),
                "text/plain": self.frame.__repr__()}
