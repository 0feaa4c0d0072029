"""Every command the README shows runs as written, offline, on a fresh warehouse.

Commands are read from the README's ```bash blocks (continuation lines joined). ``make`` targets
(they are what this suite and CI run) and ``source .venv/bin/activate`` are not run here; a
command whose comment says ``exits N`` must exit N; every other must exit 0; none may print a
traceback.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from chokehold.config import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
NOT_RUN = ("make", "source")


def readme_commands(text: str) -> list[tuple[str, list[str], int]]:
    """(line as written, argv, expected exit code) for each command of the bash blocks."""
    commands = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            argv = shlex.split(line, comments=True)
            if not argv or argv[0] in NOT_RUN:
                continue
            expected = re.search(r"#.*\bexits (\d+)", line)
            commands.append((line.strip(), argv, int(expected.group(1)) if expected else 0))
    return commands


def test_the_readme_lists_the_tour() -> None:
    commands = readme_commands(README.read_text(encoding="utf-8"))
    programs = {argv[0] for _, argv, _ in commands}
    assert programs == {"chokehold"}, programs
    assert len(commands) >= 20
    assert commands[0][1] == ["chokehold", "refresh", "--offline"]


@pytest.mark.slow
def test_every_readme_command_runs_on_a_fresh_warehouse(tmp_path: Path) -> None:
    chokehold = str(Path(sys.executable).with_name("chokehold"))
    env = {**os.environ, "CHOKEHOLD_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
           "CHOKEHOLD_RAW_DIR": str(tmp_path / "raw"), "COLUMNS": "100"}
    failures = []
    for line, argv, expected in readme_commands(README.read_text(encoding="utf-8")):
        done = subprocess.run([chokehold, *argv[1:]], cwd=PROJECT_ROOT, env=env,
                              capture_output=True, text=True, timeout=600)
        output = done.stdout + done.stderr
        if done.returncode != expected or "Traceback" in output:
            failures.append(f"{line}\n  exit {done.returncode} (expected {expected})\n  "
                            + "\n  ".join(output.strip().splitlines()[-8:]))
    assert not failures, "\n".join(failures)
