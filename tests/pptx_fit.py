"""How much of each PPTX slide's content fits, measured from the file (python-pptx).

Font sizes are resolved as PowerPoint does: a run's own size, else its placeholder's on the
layout, else the master's title or body style; table text falls back to the presentation's
default text style. Lines are estimated with :func:`chokehold.render.slides.wrapped_lines`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pptx import Presentation
from pptx.enum.shapes import PP_PLACEHOLDER

from chokehold.render.slides import (
    EMU_PER_PT,
    LINE_EM,
    TEXT_INSET_X_PT,
    row_height_pt,
    wrapped_lines,
)

NS = {"a": "http://schemas.openxmlformats.org/drawingml/2006/main",
      "p": "http://schemas.openxmlformats.org/presentationml/2006/main"}
INSET_X_PT, INSET_Y_PT = TEXT_INSET_X_PT, 3.6
"""A text box's default insets (0.1 in left and right, 0.05 in top and bottom)."""
TITLES = {PP_PLACEHOLDER.TITLE, PP_PLACEHOLDER.CENTER_TITLE}


@dataclass
class Fit:
    deck: str
    slide: int
    kind: str  # title, table, text
    text: str
    need_pt: float  # estimated height (title: lines)
    room_pt: float  # available height (title: 2 lines)

    @property
    def ratio(self) -> float:
        return self.need_pt / self.room_pt


def _size(element, path: str) -> float | None:
    found = element.xpath(path) if element is not None else []
    return int(found[0]) / 100 if found else None


def _run_size(frame) -> float | None:
    sizes = [int(s) for s in frame._element.xpath(".//a:rPr/@sz")]
    return max(sizes) / 100 if sizes else None


def _placeholder_size(shape) -> float:
    """The size a placeholder's text takes when its runs set none."""
    own = _run_size(shape.text_frame)
    if own:
        return own
    try:
        layout = shape._base_placeholder
    except (AttributeError, KeyError):
        layout = None
    if layout is not None:
        size = _size(layout._element, ".//a:lstStyle/a:lvl1pPr/a:defRPr/@sz")
        if size:
            return size
    master = shape.part.slide_layout.slide_master._element
    style = "titleStyle" if shape.placeholder_format.type in TITLES else "bodyStyle"
    return _size(master, f".//p:txStyles/p:{style}/a:lvl1pPr/a:defRPr/@sz") or 18.0


def _table_size(presentation, cell) -> float:
    own = _run_size(cell.text_frame)
    if own:
        return own
    default = presentation.part._element.xpath(
        "./p:defaultTextStyle/a:lvl1pPr/a:defRPr/@sz")
    return int(default[0]) / 100 if default else 18.0


def measure(path: Path) -> list[Fit]:
    """Every title, table and text frame of the deck with its estimated and available height."""
    deck = Presentation(str(path))
    slide_height = deck.slide_height / EMU_PER_PT
    fits = []
    for number, slide in enumerate(deck.slides, 1):
        for shape in slide.shapes:
            if shape.has_table:
                table = shape.table
                widths = [c.width / EMU_PER_PT for c in table.columns]
                size = max(_table_size(deck, c) for r in table.rows for c in r.cells)
                height = sum(row_height_pt([c.text_frame.text for c in r.cells], widths, size)
                             for r in table.rows)
                top = shape.top / EMU_PER_PT
                fits.append(Fit(path.name, number, "table", table.cell(0, 0).text,
                                top + height, slide_height))
            elif shape.has_text_frame and shape.text_frame.text.strip():
                if not shape.is_placeholder:
                    continue
                size = _placeholder_size(shape)
                width = shape.width / EMU_PER_PT - 2 * INSET_X_PT
                text = shape.text_frame.text
                lines = wrapped_lines(text, width, size)
                if shape.placeholder_format.type in TITLES:
                    fits.append(Fit(path.name, number, "title", text, lines, 2))
                else:
                    fits.append(Fit(path.name, number, "text", text,
                                    lines * size * LINE_EM,
                                    shape.height / EMU_PER_PT - 2 * INSET_Y_PT))
    return fits

