"""Render documents: check parameters, execute once, convert to every format, publish atomically.

Two engines: ``builtin`` (a Jupyter kernel, pandoc and typst from this virtualenv; one kernel
and one warehouse connection for a whole batch) and ``quarto`` (the Quarto CLI, where it is
installed, run once per format as Quarto does). Each render works in its own folder, and a
document's outputs appear under their final names only once every format has been written,
by an atomic rename; a failure leaves nothing under those names.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self

import yaml

from chokehold.config import PROJECT_ROOT, Settings, settings_env
from chokehold.errors import ChokeholdError, UnknownValueError
from chokehold.render import data
from chokehold.render.convert import FORMATS, Format, convert, format_named
from chokehold.render.kernel import Executed, Kernel
from chokehold.render.params import check, coerce
from chokehold.render.qmd import QmdDocument, parse_qmd

REPORTS_DIR = PROJECT_ROOT / "reports"
Engine = Literal["auto", "builtin", "quarto"]


@dataclass
class Job:
    """One document with one parameter set, to some formats."""

    report: str
    params: dict[str, Any] = field(default_factory=dict)
    formats: list[str] | None = None
    name: str | None = None


@dataclass
class Prepared:
    doc: QmdDocument
    params: dict[str, Any]
    formats: list[Format]
    name: str


@dataclass
class Result:
    name: str
    outputs: list[Path]
    seconds: float
    error: str | None = None


def project_config(reports_dir: Path) -> dict:
    path = reports_dir / "_quarto.yml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}


def document_path(report: str, reports_dir: Path = REPORTS_DIR) -> Path:
    """A report by name ('control-exposure') or path; unknown names list the valid ones."""
    candidate = Path(report)
    if candidate.suffix == ".qmd" and candidate.exists():
        return candidate.resolve()
    path = reports_dir / f"{candidate.stem}.qmd"
    if not path.exists():
        raise UnknownValueError("report", report,
                                sorted(p.stem for p in reports_dir.glob("[!_]*.qmd")))
    return path


def declared_formats(doc: QmdDocument) -> list[Format]:
    formats = doc.meta.get("format") or {}
    names = list(formats) if isinstance(formats, dict) else [formats]
    return [format_named(n) for n in names] or [FORMATS["html"]]


def _slug(value: Any) -> str:
    text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def output_name(doc: QmdDocument, params: dict[str, Any]) -> str:
    """The document's name, plus the values of parameters that differ from the defaults."""
    defaults = doc.defaults()
    changed = [_slug(v) for k, v in params.items() if defaults.get(k) != v]
    return "_".join([doc.name, *changed])


def prepare(job: Job, reports_dir: Path = REPORTS_DIR) -> Prepared:
    """Parse the document and check its parameters (no kernel is involved)."""
    doc = parse_qmd(document_path(job.report, reports_dir))
    params = check(coerce(doc, job.params), doc.defaults())
    formats = [format_named(f) for f in job.formats] if job.formats else declared_formats(doc)
    return Prepared(doc, params, formats, job.name or output_name(doc, params))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(files: dict[Path, Path]) -> list[Path]:
    """Move finished files to their final names: staged beside the target, then renamed."""
    staged = []
    try:
        for source, target in files.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial",
                                            dir=target.parent)
            os.close(handle)
            staged.append((Path(temp), target))  # before the copy, which a full disk can stop
            shutil.copyfile(source, temp)
            os.chmod(temp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are ordinary files
        for temp, target in staged:
            os.replace(temp, target)
    finally:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)
    return [target for _, target in staged]


class Renderer:
    """Renders prepared documents; holds one kernel across documents (builtin engine)."""

    def __init__(self, settings: Settings, out_dir: Path, engine: Engine = "auto",
                 reports_dir: Path | None = None) -> None:
        if engine == "auto":
            engine = "quarto" if shutil.which("quarto") else "builtin"
        if engine == "quarto" and not shutil.which("quarto"):
            raise ChokeholdError("--engine quarto: the Quarto CLI is not on PATH; install "
                                 "Quarto 1.7+ or use --engine builtin")
        self.settings, self.out_dir, self.engine = settings, out_dir, engine
        self.reports_dir = reports_dir = reports_dir or settings.reports_dir
        self.project = project_config(reports_dir)
        self.kernel = Kernel(settings, cwd=reports_dir)
        data.configure(settings)

    def prepare(self, job: Job) -> Prepared:
        """Check the job's parameters against this renderer's warehouse (its settings, even if
        the process's report-data settings were changed since)."""
        data.configure(self.settings)
        return prepare(job, self.reports_dir)

    def render(self, job: Prepared) -> Result:
        """Execute once, write every format in a private folder, then publish them together."""
        return self._finish(job, *self._execute(job))

    def _execute(self, job: Prepared) -> tuple[Executed | None, Path, float]:
        """Run the document in the kernel (builtin engine); Quarto runs it in ``_finish``."""
        started = time.perf_counter()
        workdir = Path(tempfile.mkdtemp(prefix=f"chokehold-{job.name}-"))
        try:
            executed = self.kernel.execute(job.doc, job.params,
                                           {fmt.chart_mime for fmt in job.formats}) \
                if self.engine == "builtin" else None
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        return executed, workdir, started

    def _finish(self, job: Prepared, executed: Executed | None, workdir: Path,
                started: float) -> Result:
        """Write every format into the work folder, publish them together, clean up."""
        try:
            if executed is not None:
                made = {convert(executed, fmt, self.project, self.reports_dir, workdir):
                        self.out_dir / f"{job.name}{fmt.suffix}" for fmt in job.formats}
            else:
                made = {self._quarto(job, fmt, workdir): self.out_dir / f"{job.name}{fmt.suffix}"
                        for fmt in job.formats}
            outputs = publish(made)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return Result(job.name, outputs, time.perf_counter() - started)

    def _quarto(self, job: Prepared, fmt: Format, workdir: Path) -> Path:
        """`quarto render` for one format (Quarto executes the document again per format)."""
        target = f"{job.name}{'.pdf' if fmt.name == 'pdf' else fmt.suffix}"
        params = [a for k, v in job.params.items()
                  for a in ("-P", f"{k}:{','.join(map(str, v)) if isinstance(v, list) else v}")]
        env = {**settings_env(self.settings), "QUARTO_PYTHON": sys.executable}
        done = subprocess.run(
            ["quarto", "render", str(job.doc.path), "--to", fmt.quarto, *params,
             "--output", target, "--output-dir", str(workdir)],
            cwd=self.reports_dir, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ChokeholdError(f"quarto render {job.doc.path.name} --to {fmt.quarto} failed: "
                                 f"{done.stderr.strip()[-2000:]}")
        return workdir / target

    def render_many(self, jobs: Iterable[Prepared],
                    progress: Callable[[Result], None] | None = None) -> list[Result]:
        """Render each document in turn; a failure is recorded and the batch goes on.

        While the kernel executes a document, a worker thread converts and publishes the
        previous one (draws its static charts, runs pandoc and typst), so the two overlap.
        """
        def failed(job: Prepared, started: float, exc: Exception) -> Result:
            return Result(job.name, [], time.perf_counter() - started, str(exc))

        def finish(job: Prepared, executed: Executed | None, workdir: Path,
                   started: float) -> Result:
            try:
                result = self._finish(job, executed, workdir, started)
            except (ChokeholdError, OSError) as exc:
                result = failed(job, started, exc)
            if progress:
                progress(result)
            return result

        slots: list[Future[Result] | Result] = []
        with ThreadPoolExecutor(max_workers=1) as pool:
            for job in jobs:
                started = time.perf_counter()
                try:
                    slots.append(pool.submit(finish, job, *self._execute(job)))
                except ChokeholdError as exc:
                    slots.append(failed(job, started, exc))
                    if progress:
                        progress(slots[-1])
        return [s.result() if isinstance(s, Future) else s for s in slots]

    def close(self) -> None:
        self.kernel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
