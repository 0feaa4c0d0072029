"""Reading a Quarto document: YAML front matter, code cells with ``#|`` options, markdown.

Only what the project's documents use is understood, the way Quarto reads it: ```` ```{python} ````
chunks, ``#| key: value`` option lines at the top of a chunk (YAML), ``tags: [parameters]`` on
the parameters cell, and inline expressions `` `{python} expr` `` in markdown.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from chokehold.errors import DataError

FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
CHUNK_OPEN = re.compile(r"^(?P<fence>`{3,})\{(?P<lang>[A-Za-z0-9_]+)[^}]*\}\s*$")
INLINE = re.compile(r"`\{python\}\s+([^`]+?)`")


@dataclass
class Cell:
    kind: Literal["markdown", "code"]
    source: str
    options: dict[str, Any] = field(default_factory=dict)
    line: int = 0

    @property
    def tags(self) -> list[str]:
        return list(self.options.get("tags") or [])


@dataclass
class QmdDocument:
    path: Path
    meta: dict[str, Any]
    cells: list[Cell]

    @property
    def name(self) -> str:
        return self.path.stem

    def parameters_cell(self) -> Cell | None:
        return next((c for c in self.cells if c.kind == "code" and "parameters" in c.tags), None)

    def defaults(self) -> dict[str, Any]:
        """The parameters cell's assignments, read as Python literals (without running it)."""
        cell = self.parameters_cell()
        return parameter_defaults(cell.source, self.path) if cell else {}

    def inline_expressions(self) -> list[str]:
        return [e for c in self.cells if c.kind == "markdown" for e in INLINE.findall(c.source)]


def _options(lines: list[str], path: Path, line: int) -> tuple[dict[str, Any], list[str]]:
    """Split a chunk's leading ``#|`` lines (YAML) from its code."""
    n = 0
    while n < len(lines) and lines[n].startswith("#|"):
        n += 1
    try:
        options = yaml.safe_load("\n".join(ln[2:].lstrip() if ln[2:3] == " " else ln[2:]
                                           for ln in lines[:n])) or {}
    except yaml.YAMLError as exc:
        raise DataError(f"cell options are not YAML: {exc}", source=path, row=line) from exc
    if not isinstance(options, dict):
        raise DataError("cell options must be `#| key: value` lines", source=path, row=line)
    return options, lines[n:]


def parse_qmd(path: Path) -> QmdDocument:
    """Front matter, then alternating markdown and code cells, in document order."""
    text = path.read_text(encoding="utf-8")
    match = FRONT_MATTER.match(text)
    meta = yaml.safe_load(match.group(1)) if match else {}
    body_start = match.end() if match else 0
    first_line = text[:body_start].count("\n") + 1
    lines = text[body_start:].splitlines()
    cells: list[Cell] = []
    markdown: list[str] = []
    n = 0
    while n < len(lines):
        opened = CHUNK_OPEN.match(lines[n])
        if not opened:
            markdown.append(lines[n])
            n += 1
            continue
        start, fence = n, opened.group("fence")
        n += 1
        body = []
        while n < len(lines) and lines[n].rstrip() != fence:
            body.append(lines[n])
            n += 1
        if n == len(lines):
            raise DataError(f"code chunk opened with {fence} is never closed", source=path,
                            row=first_line + start)
        n += 1
        if "".join(markdown).strip():
            cells.append(Cell("markdown", "\n".join(markdown).strip("\n") + "\n"))
        markdown = []
        options, code = _options(body, path, first_line + start)
        options.setdefault("language", opened.group("lang"))
        cells.append(Cell("code", "\n".join(code), options, line=first_line + start))
    if "".join(markdown).strip():
        cells.append(Cell("markdown", "\n".join(markdown).strip("\n") + "\n"))
    return QmdDocument(path, meta or {}, cells)


def parameter_defaults(source: str, path: Path) -> dict[str, Any]:
    """``name = literal`` assignments of the parameters cell; anything else is refused."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise DataError(f"parameters cell does not parse: {exc}", source=path) from exc
    defaults: dict[str, Any] = {}
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 \
            else node.target if isinstance(node, ast.AnnAssign) else None
        if not isinstance(target, ast.Name) or node.value is None:
            raise DataError("the parameters cell may only assign literals to names",
                            source=path, row=node.lineno)
        try:
            defaults[target.id] = ast.literal_eval(node.value)
        except ValueError as exc:
            raise DataError(f"parameter {target.id!r} is not a literal", source=path,
                            row=node.lineno) from exc
    return defaults
