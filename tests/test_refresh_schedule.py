"""The shipped schedules are valid: the GitHub workflow against SchemaStore's workflow schema
(vendored in tests/schemas), the systemd units with systemd-analyze, and all three (cron,
systemd timer, workflow) run at the same time of the month."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from chokehold.config import PROJECT_ROOT

WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "monthly-refresh.yml"
SCHEMA = Path(__file__).parent / "schemas" / "github-workflows.json"
SYSTEMD = PROJECT_ROOT / "deploy" / "systemd"
CRON = PROJECT_ROOT / "deploy" / "cron" / "chokehold-refresh.cron"


def load_workflow(text: str | None = None) -> dict:
    data = yaml.safe_load(text if text is not None else WORKFLOW.read_text())
    if True in data:  # YAML 1.1 reads the key `on` as a boolean
        data["on"] = data.pop(True)
    return data


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))


def test_workflow_matches_the_schemastore_schema(validator) -> None:
    errors = [e.message for e in validator.iter_errors(load_workflow())]
    assert errors == []


@pytest.mark.parametrize("breakage", ["no runs-on", "bad trigger", "step without run or uses"])
def test_schema_check_catches_broken_workflows(validator, breakage: str) -> None:
    broken = copy.deepcopy(load_workflow())
    job = broken["jobs"]["refresh"]
    if breakage == "no runs-on":
        del job["runs-on"]
    elif breakage == "bad trigger":
        broken["on"]["schedule"] = [{"crontab": "0 6 3 * *"}]
    else:
        job["steps"].append({"name": "nothing to do"})
    assert list(validator.iter_errors(broken)), breakage


def test_workflow_refreshes_caches_renders_and_uploads() -> None:
    workflow = load_workflow()
    steps = workflow["jobs"]["refresh"]["steps"]
    by_name = {s.get("name", s.get("uses")): s for s in steps}
    assert "chokehold refresh --allow-partial" in by_name["Refresh"]["run"]
    assert "secrets.COMTRADE_API_KEY" in by_name["Refresh"]["env"]["COMTRADE_API_KEY"]
    restore, save = by_name["Restore the warehouse"], by_name["Save the warehouse"]
    assert restore["uses"].startswith("actions/cache/restore@")
    assert save["uses"].startswith("actions/cache/save@")
    assert restore["with"]["path"] == save["with"]["path"]
    assert "data/warehouse.duckdb" in save["with"]["path"]
    assert "chokehold render --all" in by_name["Render the pack"]["run"]
    upload = by_name["Upload outputs"]
    assert upload["uses"].startswith("actions/upload-artifact@") and upload["if"] == "always()"
    assert "reports/_output/" in upload["with"]["path"]
    assert by_name["Fail on a partial refresh"]["if"] == "steps.refresh.outputs.exit_code == '3'"
    assert workflow["concurrency"]["cancel-in-progress"] is False


def schedules() -> dict[str, tuple[str, str, str]]:
    """(minute, hour, day of month) of each of the three schedules."""
    cron_line = next(line for line in CRON.read_text().splitlines()
                     if line and not line.startswith("#") and "=" not in line.split()[0])
    minute, hour, day, month, weekday = cron_line.split()[:5]
    assert (month, weekday) == ("*", "*")
    workflow_cron = load_workflow()["on"]["schedule"][0]["cron"].split()
    timer = re.search(r"^OnCalendar=\*-\*-(\d+) (\d+):(\d+):00$",
                      (SYSTEMD / "chokehold-refresh.timer").read_text(), re.M)
    assert timer, "OnCalendar is not of the form *-*-DD HH:MM:00"
    return {"cron": (minute, hour, day), "workflow": tuple(workflow_cron[:3]),
            "systemd": (str(int(timer[3])), str(int(timer[2])), str(int(timer[1])))}


def test_three_schedules_agree_on_the_third_at_six() -> None:
    assert set(schedules().values()) == {("0", "6", "3")}
    assert "refresh --allow-partial" in CRON.read_text()


SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd = pytest.mark.skipif(SYSTEMD_ANALYZE is None,
                                   reason="systemd-analyze is not installed on this machine")


def installed_units(tmp_path: Path, service_text: str | None = None) -> list[Path]:
    """The units as an admin would install them here: /opt/chokehold -> this checkout."""
    units = []
    for unit in ("chokehold-refresh.service", "chokehold-refresh.timer"):
        text = (SYSTEMD / unit).read_text() if service_text is None or unit.endswith(".timer") \
            else service_text
        text = text.replace("/opt/chokehold", str(PROJECT_ROOT))
        text = re.sub(r"^User=.*$", "User=root", text, flags=re.M)
        (tmp_path / unit).write_text(text)
        units.append(tmp_path / unit)
    return units


def verify(units: list[Path]) -> subprocess.CompletedProcess:
    return subprocess.run([SYSTEMD_ANALYZE, "verify", *map(str, units)], capture_output=True,
                          text=True, timeout=60, check=False)


@needs_systemd
def test_systemd_units_verify(tmp_path: Path) -> None:
    if not (PROJECT_ROOT / ".venv" / "bin" / "chokehold").exists():
        pytest.skip("no .venv/bin/chokehold to stand in for the installed command (make setup)")
    done = verify(installed_units(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "chokehold-refresh" not in done.stderr, done.stderr  # no warning about our units


@needs_systemd
def test_systemd_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    broken = (SYSTEMD / "chokehold-refresh.service").read_text().replace(
        "Type=oneshot", "Type=oneshoot")
    done = verify(installed_units(tmp_path, broken))
    assert "Failed to parse service type" in done.stderr


@needs_systemd
def test_timer_fires_on_the_third_of_the_month() -> None:
    calendar = re.search(r"^OnCalendar=(.+)$", (SYSTEMD / "chokehold-refresh.timer").read_text(),
                         re.M)[1]
    done = subprocess.run([SYSTEMD_ANALYZE, "calendar", "--iterations=3", calendar],
                          capture_output=True, text=True, timeout=60, check=True)
    elapses = re.findall(r"(\d{4}-\d{2}-(\d{2}) 06:00:00)", done.stdout)
    assert len(elapses) == 3 and {day for _, day in elapses} == {"03"}, done.stdout
