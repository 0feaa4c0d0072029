"""One execution, every format: executed cells -> pandoc markdown -> html, revealjs, pptx, pdf.

Each format picks, per output, the richest MIME type it can show (as Quarto does): HTML and
reveal.js take ``text/html`` (plotly, great_tables), PDF and PPTX take ``text/markdown``, a
chart's description (``CHART_MIME``, drawn here: SVG for PDF, PNG for PPTX) or ``image/png``.
PDF goes pandoc -> typst -> PDF with the typst compiler from PyPI. reveal.js is the copy
vendored under ``chokehold/render/vendor/reveal.js`` and every HTML output embeds its
resources, so nothing is fetched from the network when a report is opened.
"""

from __future__ import annotations

import base64
import re
import subprocess
from dataclasses import dataclass
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import Any

import pypandoc
import typst
import yaml

from chokehold.errors import ChokeholdError
from chokehold.render.charts import CHART_MIME, PLOTLY_MARKER, Chart, chart_fonts, plotly_script
from chokehold.render.kernel import Executed, is_hidden
from chokehold.render.qmd import INLINE

HTML_MIME = ("text/html", "image/svg+xml", "image/png", "image/jpeg", "text/markdown",
             "text/plain")
STATIC_MIME = ("text/markdown", CHART_MIME, "image/png", "image/jpeg", "text/plain")
REVEAL_JS = Path(str(files("chokehold.render") / "vendor" / "reveal.js"))
RESOURCE = re.compile(r"""\b(?:src|srcset|href|poster|data)\s*=|url\s*\(|@import""",
                      re.IGNORECASE)
"""What pandoc's --embed-resources acts on in raw HTML (a file or URL to inline)."""
HELD = re.compile(r"<!-- chokehold: output (\S+) -->")
TABLE_DIVS = """-- A `::: {#tbl-...}` div holding a table and then one paragraph is a captioned table,
-- as Quarto reads it (the paragraph is the caption). A `.content-visible` or
-- `.content-hidden` div with `when-format`/`unless-format` is Quarto's conditional content:
-- its blocks, or nothing (formats by pandoc's names: pptx, typst, html5, revealjs).
local function matches(names)
  for name in names:gmatch("[^,%s]+") do
    if name == FORMAT or (name == "html" and FORMAT:match("^html")) then return true end
  end
  return false
end

function Div(div)
  local when, unless = div.attributes["when-format"], div.attributes["unless-format"]
  if div.classes:includes("content-visible") or div.classes:includes("content-hidden") then
    local shown = (when == nil or matches(when)) and (unless == nil or not matches(unless))
    if div.classes:includes("content-hidden") then shown = not shown end
    return shown and div.content or {}
  end
  local blocks = div.content
  if div.identifier:match("^tbl%-") and #blocks == 2 and blocks[1].t == "Table"
      and blocks[2].t == "Para" then
    local tbl = blocks[1]
    tbl.caption = pandoc.Caption(pandoc.Blocks({pandoc.Plain(blocks[2].content)}))
    tbl.identifier = div.identifier
    return tbl
  end
end
"""
"""pandoc's reading of the table divs :class:`~chokehold.render.charts.Table` writes."""


class ConversionError(ChokeholdError):
    """pandoc or typst could not write a format."""


@dataclass(frozen=True)
class Format:
    name: str
    quarto: str
    suffix: str
    html: bool

    @property
    def chart_mime(self) -> str:
        """What charts offer this format: plotly HTML, or a description drawn here."""
        return "text/html" if self.html else CHART_MIME


FORMATS = {
    "html": Format("html", "html", ".html", True),
    "revealjs": Format("revealjs", "revealjs", ".slides.html", True),
    "pptx": Format("pptx", "pptx", ".pptx", False),
    "pdf": Format("pdf", "typst", ".pdf", False),
}
QUARTO_NAMES = {f.quarto: f.name for f in FORMATS.values()}


def format_named(name: str) -> Format:
    key = QUARTO_NAMES.get(name, name)
    if key not in FORMATS:
        from chokehold.errors import UnknownValueError
        raise UnknownValueError("format", name, FORMATS)
    return FORMATS[key]


def _fence(text: str, info: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}\n"


def _output_markdown(output: dict, fmt: Format, workdir: Path, stem: str,
                     options: dict, held: dict[str, str]) -> str:
    """One output in markdown; HTML that refers to no resource goes into ``held`` instead,
    a marker in its place, as pandoc would copy it unchanged."""
    kind = output.get("output_type")
    if kind == "stream":
        if output.get("name") == "stderr" and options.get("warning") is not True:
            return ""
        text = output.get("text", "")
        return text if options.get("output") == "asis" else _fence(text, "")
    if kind not in ("display_data", "execute_result"):
        return ""
    bundle: dict[str, Any] = output.get("data", {})
    mime = next((m for m in (HTML_MIME if fmt.html else STATIC_MIME) if m in bundle), None)
    if mime is None:
        return ""
    value = bundle[mime]
    value = "".join(value) if isinstance(value, list) else value
    if mime == "text/html":
        # pandoc need not parse the 4.6 MB plotly.js: a marker stands in until pandoc is done;
        # nor (embedding resources) plotly's data and great_tables' markup, when they refer
        # to no file or URL: another marker, for the whole output
        html = value.replace(plotly_script(), PLOTLY_MARKER)
        if not RESOURCE.search(html):
            held[stem] = html
            html = f"<!-- chokehold: output {stem} -->"
        return _fence(html, "{=html}")
    if mime == "text/markdown":
        return value.rstrip() + "\n"
    if mime == "text/plain":
        return value if options.get("output") == "asis" else _fence(value, "")
    if mime == CHART_MIME:  # drawn here: vectors for typst, a picture for PPTX
        chart = Chart.from_spec(value)
        path = workdir / f"{stem}{'.svg' if fmt.name == 'pdf' else '.png'}"
        try:
            path.write_bytes(chart.svg().encode() if fmt.name == "pdf" else chart.png())
        except Exception as exc:  # matplotlib's own errors: this document fails, not a batch
            raise ConversionError(f"could not draw the chart {chart.title!r} for "
                                  f"{fmt.name}: {exc}") from exc
    else:
        suffix = {"image/png": ".png", "image/jpeg": ".jpg", "image/svg+xml": ".svg"}[mime]
        path = workdir / f"{stem}{suffix}"
        path.write_bytes(value.encode() if suffix == ".svg" else base64.b64decode(value))
    caption = options.get("fig-cap", "")
    return f"![{caption}]({path.name})\n"


def to_markdown(executed: Executed, fmt: Format, workdir: Path, held: dict[str, str]) -> str:
    """The document body for one format: markdown with inline values, outputs in place (raw
    HTML outputs pandoc need not read go into ``held``, see :func:`_output_markdown`)."""
    values = iter(executed.inline)
    parts = []
    for n, cell in enumerate(executed.doc.cells):
        if cell.kind == "markdown":
            parts.append(INLINE.sub(lambda _m: next(values), cell.source))
            continue
        echo = cell.options.get("echo", executed.doc.meta.get("execute", {}).get("echo", False))
        if is_hidden(cell):
            continue
        if echo:
            parts.append(_fence(cell.source, "python"))
        if cell.options.get("output") is False:
            continue
        for k, output in enumerate(executed.outputs.get(n, [])):
            parts.append(_output_markdown(output, fmt, workdir, f"cell{n}-{k}", cell.options,
                                          held))
    return "\n".join(p for p in parts if p)


def _options(project: dict, meta: dict, fmt: Format) -> dict:
    """Format options: _quarto.yml's, overridden by the document's front matter."""
    merged = dict((project.get("format") or {}).get(fmt.quarto) or {})
    own = (meta.get("format") or {}) if isinstance(meta.get("format"), dict) else {}
    if isinstance(own.get(fmt.quarto), dict):
        merged.update(own[fmt.quarto])
    return merged


def _front_matter(meta: dict, options: dict, fmt: Format) -> str:
    keep = {k: meta[k] for k in ("title", "subtitle", "author", "lang") if k in meta}
    keep["date"] = meta.get("date", date.today().isoformat())
    if fmt.name == "pdf":
        keep.update({k: options[k] for k in ("mainfont", "fontsize", "papersize", "margin")
                     if k in options})
    return "---\n" + yaml.safe_dump(keep, allow_unicode=True, sort_keys=False) + "---\n\n"


def _pandoc_args(fmt: Format, options: dict, project_dir: Path, workdir: Path) -> list[str]:
    def path_of(value: str) -> str:
        return str((project_dir / value).resolve())

    args = ["--standalone", "--wrap=none", f"--resource-path={workdir}:{project_dir}"]
    if fmt.name == "html":
        args += ["--to=html5", "--embed-resources"]
        if options.get("toc"):
            args += ["--toc", f"--toc-depth={options.get('toc-depth', 3)}"]
        if options.get("include-before-body"):
            args += [f"--include-before-body={path_of(options['include-before-body'])}"]
    elif fmt.name == "revealjs":
        args += ["--to=revealjs", "--embed-resources", f"--variable=revealjs-url={REVEAL_JS}",
                 f"--variable=theme={options.get('theme', 'white')}",
                 f"--slide-level={options.get('slide-level', 2)}"]
        if options.get("slide-number"):
            args += ["--variable=slideNumber=true"]
        if options.get("logo"):
            logo = workdir / "logo.html"
            logo.write_text(f'<img class="slide-logo" src="{path_of(options["logo"])}" '
                            'alt="logo" style="position:fixed;bottom:12px;left:12px;'
                            'height:28px;z-index:30">\n', encoding="utf-8")
            args += [f"--include-after-body={logo}"]
    elif fmt.name == "pptx":
        args += ["--to=pptx", f"--slide-level={options.get('slide-level', 2)}"]
        if options.get("reference-doc"):
            args += [f"--reference-doc={path_of(options['reference-doc'])}"]
    else:
        args += ["--to=typst"]
        if options.get("include-in-header"):
            args += [f"--include-in-header={path_of(options['include-in-header'])}"]
        if options.get("include-before-body"):
            args += [f"--include-before-body={path_of(options['include-before-body'])}"]
    tables = workdir / "table-divs.lua"
    tables.write_text(TABLE_DIVS, encoding="utf-8")
    args += [f"--lua-filter={tables}"]
    if fmt.html and options.get("css"):
        args += [f"--css={path_of(options['css'])}"]
    return args


def convert(executed: Executed, fmt: Format, project: dict, project_dir: Path,
            workdir: Path) -> Path:
    """Write one format of an executed document into ``workdir``; returns the file."""
    options = _options(project, executed.doc.meta, fmt)
    source = workdir / f"{executed.doc.name}.{fmt.name}.md"
    held: dict[str, str] = {}
    source.write_text(_front_matter(executed.doc.meta, options, fmt) +
                      to_markdown(executed, fmt, workdir, held), encoding="utf-8")
    target = workdir / f"{executed.doc.name}{'.typ' if fmt.name == 'pdf' else fmt.suffix}"
    command = [pypandoc.get_pandoc_path(), str(source), "--from=markdown-implicit_figures",
               f"--output={target}", *_pandoc_args(fmt, options, project_dir, workdir)]
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ConversionError(f"pandoc could not write {fmt.name} for {executed.doc.name}: "
                              f"{done.stderr.strip()}")
    if fmt.html:
        html = HELD.sub(lambda m: held.get(m.group(1), m.group(0)),
                        target.read_text(encoding="utf-8"))
        target.write_text(html.replace(PLOTLY_MARKER, plotly_script(), 1), encoding="utf-8")
    if fmt.name != "pdf":
        return target
    pdf = workdir / f"{executed.doc.name}.pdf"
    try:
        typst.compile(str(target), output=str(pdf), root=str(workdir),
                      font_paths=[chart_fonts()])
    except typst.TypstError as exc:
        raise ConversionError(f"typst could not write the PDF of {executed.doc.name}: "
                              f"{exc}") from exc
    return pdf
