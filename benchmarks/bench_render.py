"""Render timing: one cold render per format, and a batch of 10 documents on one kernel.

Baseline: a cold single render (fresh kernel: start, imports, warehouse open, execute,
convert), as one `chokehold render REPORT --to html,pdf` pays it; the faster of two runs, so
a noisy machine does not flatter the batch. The batch renders 10 control-exposure documents
(different importers) to html and pdf on one kernel, its first document paying the cold start;
its per-document cost should be under a third of the cold single render.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from chokehold.config import load_settings
from chokehold.render import data
from chokehold.render.engine import Job, Renderer

IMPORTERS = ["JPN", "USA", "KOR", "DEU", "FRA", "GBR", "NLD", "VNM", "MYS", "IND"]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cold(report: str, formats: list[str], out: Path) -> float:
    started = time.perf_counter()
    with Renderer(load_settings(), out, engine="builtin") as renderer:
        renderer.render(renderer.prepare(Job(report, formats=formats)))
    return time.perf_counter() - started


def main() -> None:
    settings = load_settings()
    if not settings.warehouse.exists():
        sys.exit(f"no warehouse at {settings.warehouse}: run `chokehold refresh --offline` first")
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        single = {}
        for report, fmt in [("control-exposure", "html"), ("control-exposure", "pdf"),
                            ("briefing", "revealjs"), ("briefing", "pptx")]:
            single[fmt] = cold(report, [fmt], out)
            print(f"BENCH render_cold_{fmt} chokehold_s={single[fmt]:.2f} "
                  f"baseline_s={single[fmt]:.2f} ratio=1.00 peak_mb={peak_mb():.0f}")
        baseline = min(cold("control-exposure", ["html", "pdf"], out) for _ in range(2))
        started = time.perf_counter()
        with Renderer(settings, out, engine="builtin") as renderer:
            jobs = [renderer.prepare(Job("control-exposure", {"importer": i},
                                         formats=["html", "pdf"])) for i in IMPORTERS]
            results = renderer.render_many(jobs)
        batch = time.perf_counter() - started
        failed = [r.name for r in results if r.error]
        per_doc = batch / len(jobs)
        print(f"BENCH render_batch10_per_document chokehold_s={per_doc:.2f} "
              f"baseline_s={baseline:.2f} ratio={baseline / per_doc:.2f} peak_mb={peak_mb():.0f}"
              + (f" failed={','.join(failed)}" if failed else ""))
        print(f"BENCH render_batch10_total chokehold_s={batch:.2f} "
              f"baseline_s={baseline * len(jobs):.2f} ratio={baseline * len(jobs) / batch:.2f} "
              f"peak_mb={peak_mb():.0f}")
        data.configure(settings)
        verdict = "met" if per_doc < baseline / 3 else "MISSED"
        print(f"TARGET per-document batch cost under a third of a cold render: {verdict} "
              f"({per_doc:.2f} s vs {baseline / 3:.2f} s)")


if __name__ == "__main__":
    main()
