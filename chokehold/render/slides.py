"""What fits on a PPTX slide, and the reference document that sets the slides' type sizes.

pandoc's pptx writer (Quarto's too) neither shrinks nor splits: a table goes on one slide
whatever its length, and text takes the reference document's sizes. So the reports' reference
document (``reports/_brand/reference.pptx``, built by :func:`build_reference` from pandoc's own)
sets smaller sizes, and a table too tall for a slide is cut into slides of its own
(:meth:`chokehold.render.charts.Table.markdown`) by the estimate here: greedy word wrap at an
average glyph width of half the font size and
PowerPoint's default cell margins. ``tests/test_render_slides.py`` measures the rendered files
with the same estimate.
"""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from pathlib import Path

EMU_PER_PT = 12_700
GLYPH_EM = 0.5
"""Average glyph width as a share of the font size. Carlito (LibreOffice's stand-in for the
theme font Calibri) averages about 0.45 on running text, but at 0.45 table rows of long words
in narrow columns came out taller in LibreOffice than estimated; 0.5 held."""
LINE_EM = 1.2
"""Line height as a share of the font size (single spacing)."""
CELL_MARGIN_X_PT = 7.2 * 2
CELL_MARGIN_Y_PT = 3.6 * 2
"""PowerPoint's default table-cell insets (0.1 in left and right, 0.05 in top and bottom)."""
TITLE_PT = 22
BODY_PT = 14
TABLE_PT = 11
"""The reference document's sizes: titles, body text (at most), tables."""
TABLE_BOX_PT = (8_229_600 / EMU_PER_PT, 2_882_900 / EMU_PER_PT)
"""Width and height of the box pandoc gives a table on a 16:9 "Title and Content" slide (its
caption goes below, in the slide's last 0.55 in)."""
SIDE_TABLE_BOX_PT = (5_105_400 / EMU_PER_PT, 3_873_500 / EMU_PER_PT)
"""The same on a "Content with Caption" slide, where text comes before the table on its slide:
the text on the left, the table (and its caption, below it) on the right."""


def wrapped_lines(text: str, width_pt: float, size_pt: float) -> int:
    """Lines ``text`` takes in a box ``width_pt`` wide at ``size_pt``, wrapped at spaces
    (each paragraph at least one line; a word longer than the line breaks where it must)."""
    per_line = max(1, int(width_pt // (size_pt * GLYPH_EM)))
    lines = 0
    for paragraph in text.split("\n"):
        used = 0
        count = 1
        for word in paragraph.split():
            length = len(word)
            if used and used + 1 + length > per_line:
                count += 1
                used = 0
            if length > per_line:  # a long identifier breaks inside the word
                count += (used + length - 1) // per_line
                used = (used + length) % per_line or per_line
            else:
                used += length + (1 if used else 0)
        lines += count
    return lines


def row_height_pt(cells: list[str], widths_pt: list[float], size_pt: float) -> float:
    """Height of a table row: its tallest cell's lines plus the cell margins."""
    lines = max((wrapped_lines(text, max(1.0, width - CELL_MARGIN_X_PT), size_pt)
                 for text, width in zip(cells, widths_pt)), default=1)
    return lines * size_pt * LINE_EM + CELL_MARGIN_Y_PT


def slide_chunks(header: list[str], rows: list[list[str]],
                 box_pt: tuple[float, float] = TABLE_BOX_PT,
                 size_pt: float = TABLE_PT) -> list[list[list[str]]]:
    """``rows`` cut into runs that fit the table box with the header repeated on each (pandoc
    gives pptx columns equal widths); one run when they all fit. A row taller than the box
    alone still gets a slide of its own."""
    width, height = box_pt
    widths = [width / max(1, len(header))] * len(header)
    room = height - row_height_pt(header, widths, size_pt)
    chunks: list[list[list[str]]] = [[]]
    used = 0.0
    for row in rows:
        tall = row_height_pt(row, widths, size_pt)
        if chunks[-1] and used + tall > room:
            chunks.append([])
            used = 0.0
        chunks[-1].append(row)
        used += tall
    return chunks


TEXT_INSET_X_PT = 7.2
"""A text box's default left and right inset (0.1 in)."""
CAPTION_WIDTH_PT = SIDE_TABLE_BOX_PT[0] - 2 * TEXT_INSET_X_PT
"""Room for a caption's text under a table beside text, the narrower of pandoc's two table
boxes: a caption is written before pandoc picks the slide's layout, so it must fit both."""
CAPTION_LINES = 2
"""Lines a table caption may take: pandoc gives it a 0.55 in box under the table, at body size."""
NOTES_POINTER = " … (full source in the speaker notes)"


def slide_caption(title: str, source: str, width_pt: float = CAPTION_WIDTH_PT,
                  size_pt: float = BODY_PT) -> tuple[str, str | None]:
    """A table's caption on a slide, and the speaker notes that carry what it leaves out.

    The whole ``title. source`` when it fits :data:`CAPTION_LINES` lines; else the title and
    the source without its parenthesised details (vintages, HS ranges), cut at a word to fit,
    pointing to the notes, which hold the whole caption (source lines name every input and
    vintage: up to 600 characters, which no caption box holds)."""
    whole = f"{title}. {source}"
    if wrapped_lines(whole, width_pt, size_pt) <= CAPTION_LINES:
        return whole, None
    brief = source
    while (shorter := re.sub(r"\s*\([^()]*\)", "", brief)) != brief:
        brief = shorter
    words = brief.split()
    while words and wrapped_lines(f"{title}. {' '.join(words)}{NOTES_POINTER}", width_pt,
                                  size_pt) > CAPTION_LINES:
        words.pop()
    lead = " ".join(words).rstrip(" ,;:")
    return f"{title}. {lead}{NOTES_POINTER}" if lead else f"{title}.{NOTES_POINTER}", whole


def build_reference(target: Path, pandoc: str | None = None) -> Path:
    """Write the reports' PPTX reference document: pandoc's default with titles at
    :data:`TITLE_PT`, no body text above :data:`BODY_PT` and table (default) text at
    :data:`TABLE_PT`. Everything else (layouts, placeholders, theme) is pandoc's."""
    import pypandoc

    default = subprocess.run([pandoc or pypandoc.get_pandoc_path(),
                              "--print-default-data-file", "reference.pptx"],
                             capture_output=True, check=True).stdout

    def sizes(xml: str, rule) -> str:
        return re.sub(r'(<a:defRPr[^>]*?\bsz=")(\d+)"',
                      lambda m: f'{m.group(1)}{rule(int(m.group(2)))}"', xml)

    def body(sz: int) -> int:
        return min(sz, BODY_PT * 100)

    with zipfile.ZipFile(io.BytesIO(default)) as src, zipfile.ZipFile(
            target, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            data = src.read(item.filename)
            name = item.filename
            if name == "ppt/presentation.xml":
                data = sizes(data.decode(), lambda _sz: TABLE_PT * 100).encode()
            elif name.startswith("ppt/slideMasters/slideMaster") and name.endswith(".xml"):
                xml = data.decode()
                head, _, rest = xml.partition("<p:titleStyle>")
                title, _, tail = rest.partition("</p:titleStyle>")
                data = (sizes(head, body) + "<p:titleStyle>" +
                        sizes(title, lambda _sz: TITLE_PT * 100) + "</p:titleStyle>" +
                        sizes(tail, body)).encode()
            elif name.startswith("ppt/slideLayouts/slideLayout") and name.endswith(".xml"):
                data = sizes(data.decode(), body).encode()
            out.writestr(item, data)
    return target


if __name__ == "__main__":  # rebuild: python -m chokehold.render.slides reports/_brand/reference.pptx
    import sys

    print(build_reference(Path(sys.argv[1])))
