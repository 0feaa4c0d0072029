"""Executing a parsed document in a Jupyter kernel, once per parameter set.

The parameters are injected as Quarto and papermill do: a cell tagged ``injected-parameters``
right after the cell tagged ``parameters``. One :class:`Kernel` (a real ipykernel from this
virtualenv, driven by nbclient) serves a whole batch: before each document its namespace is
reset, while imported modules and the warehouse connection they hold stay warm. What survives
the reset is then frozen out of the garbage collector (``gc.freeze``), so a warm document's
collections scan only its own objects, not every module's.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from chokehold.config import Settings, settings_env
from chokehold.errors import ChokeholdError
from chokehold.render.qmd import Cell, QmdDocument

RESET = """get_ipython().run_line_magic('reset', '-f')
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot
matplotlib.pyplot.close('all')
import chokehold.render.charts
chokehold.render.charts.set_targets(%r, plotly_marker=True)
chokehold.render.charts.reset_document()
import gc
gc.freeze()
"""
INLINE = '''
from IPython.display import display as __display
from chokehold.render.report import inline_text as __inline_text
def __inline(source):
    try:
        return __inline_text(eval(source, globals()))
    except Exception as exc:
        raise RuntimeError(f"inline expression `{source}` failed: {exc!r}") from exc
__display({"application/json": {"inline": [__inline(s) for s in %r]}}, raw=True)
'''


class ExecutionError(ChokeholdError):
    """A document's code failed; names the document and the cell's line."""


@dataclass
class Executed:
    """A document's cells with the outputs of its one execution, and its inline values."""

    doc: QmdDocument
    params: dict[str, Any]
    outputs: dict[int, list[dict]]
    inline: list[str]


def injected_source(params: dict[str, Any]) -> str:
    return "# Injected parameters\n" + "".join(f"{k} = {v!r}\n" for k, v in params.items())


def notebook_of(doc: QmdDocument, params: dict[str, Any],
                targets: set[str] | None = None) -> tuple[Any, dict[int, int]]:
    """The notebook to execute, and which notebook cell holds each document code cell.

    ``targets`` (MIME types the requested formats use) lets charts skip unneeded drawings.
    """
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells.append(nbformat.v4.new_code_cell(RESET % (sorted(targets) if targets else None,),
                                              metadata={"tags": ["chokehold-reset"]}))
    where: dict[int, int] = {}
    for n, cell in enumerate(doc.cells):
        if cell.kind != "code":
            continue
        where[n] = len(nb.cells)
        nb.cells.append(nbformat.v4.new_code_cell(cell.source, metadata={"tags": cell.tags}))
        if "parameters" in cell.tags:
            nb.cells.append(nbformat.v4.new_code_cell(
                injected_source(params), metadata={"tags": ["injected-parameters"]}))
    nb.cells.append(nbformat.v4.new_code_cell(INLINE % (doc.inline_expressions(),),
                                              metadata={"tags": ["chokehold-inline"]}))
    return nb, where


def kernel_env(settings: Settings) -> dict[str, str]:
    """The kernel's environment: the whole resolved settings (secrets left out)."""
    return {**settings_env(settings), "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}


class Kernel:
    """One ipykernel, started on first use and reused for every document until closed."""

    def __init__(self, settings: Settings, cwd: Path, timeout_s: int = 300) -> None:
        self.settings, self.cwd, self.timeout_s = settings, cwd, timeout_s
        self.km: Any = None
        self.kc: Any = None

    @property
    def started(self) -> bool:
        return self.km is not None

    def execute(self, doc: QmdDocument, params: dict[str, Any],
                targets: set[str] | None = None) -> Executed:
        nb, where = notebook_of(doc, params, targets)
        client = NotebookClient(nb, km=self.km, kernel_name="python3", timeout=self.timeout_s,
                                startup_timeout=120, allow_errors=False, record_timing=False)
        client.kc = self.kc
        try:
            if self.km is None:
                self._sockets = tempfile.TemporaryDirectory(prefix="chokehold-kernel-")
                client.km = AsyncKernelManager(kernel_name="python3", transport="ipc",
                                               ip=str(Path(self._sockets.name) / "kernel"))
                client.execute(cleanup_kc=False, env=kernel_env(self.settings),
                               cwd=str(self.cwd))
                self.km, self.kc = client.km, client.kc
            else:
                client.execute(cleanup_kc=False)
        except CellExecutionError as exc:
            index = next((n for n, c in enumerate(nb.cells)
                          if any(o.get("output_type") == "error" for o in c.get("outputs", []))),
                         None)
            line = next((doc.cells[d].line for d, i in where.items() if i == index), None)
            at = f" (code cell at line {line})" if line else ""
            raise ExecutionError(f"{doc.path.name}{at} failed: {exc.ename}: {exc.evalue}") \
                from exc
        except (CellTimeoutError, DeadKernelError) as exc:
            self.close()
            raise ExecutionError(f"{doc.path.name}: kernel stopped: {exc}") from exc
        inline = next(o["data"]["application/json"]["inline"] for o in nb.cells[-1].outputs
                      if o.get("output_type") == "display_data")
        return Executed(doc, params, {d: nb.cells[i].outputs for d, i in where.items()}, inline)

    def close(self) -> None:
        if self.km is None:
            return
        from jupyter_core.utils import run_sync
        try:
            self.kc.stop_channels()
            run_sync(self.km.shutdown_kernel)(now=True)
        finally:
            self.km = self.kc = None
            self._sockets.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def is_hidden(cell: Cell) -> bool:
    return cell.options.get("include") is False
