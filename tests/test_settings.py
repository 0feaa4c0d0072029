"""One Settings everywhere: a report kernel (and Quarto) resolves exactly the CLI's settings,
secrets left out; paths of scenarios, reports and the matrix are settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chokehold.config import PROJECT_ROOT, load_settings, settings_env
from chokehold.render.kernel import kernel_env

SECRET = "SENTINEL-KEY-9f3e"
RESOLVE = "from chokehold.config import load_settings; print(load_settings().model_dump_json())"


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    toml = tmp_path / "chokehold.toml"
    toml.write_text(f'diff_tolerance = 0.5\nwarehouse = "{tmp_path / "w.duckdb"}"\n'
                    f'http_max_retries = 2\ncomtrade_base_url = "http://127.0.0.1:9"\n')
    monkeypatch.setenv("CHOKEHOLD_CONFIG", str(toml))
    monkeypatch.setenv("COMTRADE_API_KEY", SECRET)
    return load_settings(vintage_keep_last=3)


def test_the_kernel_resolves_the_cli_settings(configured) -> None:
    env = kernel_env(configured)
    assert SECRET not in json.dumps(env) and "COMTRADE_API_KEY" not in env
    done = subprocess.run([sys.executable, "-c", RESOLVE], env=env, capture_output=True,
                          text=True, check=True, cwd=PROJECT_ROOT / "reports", timeout=120)
    seen = json.loads(done.stdout)
    expected = json.loads(configured.model_dump_json())
    assert expected["comtrade_api_key"] is not None and seen["comtrade_api_key"] is None
    assert {k: v for k, v in seen.items() if k != "comtrade_api_key"} == \
        {k: v for k, v in expected.items() if k != "comtrade_api_key"}
    assert seen["diff_tolerance"] == 0.5 and seen["vintage_keep_last"] == 3
    assert seen["comtrade_base_url"] == "http://127.0.0.1:9"


def test_paths_are_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = load_settings(data_dir=tmp_path)
    assert default.scenarios_dir == tmp_path / "scenarios"
    assert default.refresh_plan == tmp_path / "refresh.yaml"
    assert default.matrix_file == PROJECT_ROOT / "reports" / "matrix.yaml"
    monkeypatch.setenv("CHOKEHOLD_REPORTS_DIR", str(tmp_path / "r"))
    assert load_settings().matrix_file == tmp_path / "r" / "matrix.yaml"
    assert "CHOKEHOLD_SCENARIOS_DIR" in settings_env(default, {})
