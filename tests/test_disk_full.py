"""A full disk (CI once ran out of space mid-refresh and printed DuckDB's traceback): one line,
exit 4, nothing half-written, nothing published lost, and the space a failed run took given back.

The disk is real: a small tmpfs, mounted for the test (mounting needs root, as CI and these
machines run; elsewhere those tests skip, saying so), or /dev/full, the device that is always full.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest
from fakesources import data_state
from helpers import run_cli

CHOKEHOLD = Path(sys.executable).with_name("chokehold")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """``small_disk(megabytes)``: the mount point of a fresh tmpfs of that size."""
    mounted: list[Path] = []

    def mount(megabytes: int) -> Path:
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        if shutil.which("mount") is None:
            pytest.skip("no mount command: a small disk to fill needs one")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs",
                               str(point)], capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"cannot mount a {megabytes} MB tmpfs here (needs root): "
                        f"{done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def fill(disk: Path, leave_kb: int) -> Path:
    """Take all but ``leave_kb`` of the disk's free space with one file; returns it."""
    stats = os.statvfs(disk)
    free = stats.f_bavail * stats.f_frsize
    filler = disk / "filler"
    with filler.open("wb") as fh:
        os.posix_fallocate(fh.fileno(), 0, max(free - leave_kb * 1024, 1))
    return filler


def chokehold(warehouse: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CHOKEHOLD), "--warehouse", str(warehouse), *args],
                          capture_output=True, text=True, timeout=300)


def assert_one_line_disk_full(err: str) -> None:
    assert "Traceback" not in err, err
    assert err.strip().count("\n") == 0, err
    assert err.startswith("error: ") and "no space left on device" in err.lower(), err
    assert "free space on that disk and run again" in err, err


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


@pytest.mark.slow  # two refreshes
def test_a_first_refresh_on_a_full_disk_leaves_only_its_record(small_disk) -> None:
    disk = small_disk(20)  # a full build needs about 32 MB
    warehouse = disk / "w.duckdb"
    result = chokehold(warehouse, "refresh", "--offline")
    assert result.returncode == 4, result.stderr
    assert_one_line_disk_full(result.stderr)
    assert "nothing published" in result.stderr
    # no staging copy, lake partition or unfinished vintage is left to hold the space
    assert files_under(disk) == {"w.duckdb", "w.duckdb.refresh.lock", "logs/refresh.log"}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        runs = con.execute("SELECT status, message FROM refresh_runs").fetchall()
    assert len(runs) == 1 and runs[0][0] == "failed"
    assert "no space left on device" in runs[0][1].lower()


@pytest.mark.slow  # three refreshes
def test_a_full_disk_loses_nothing_published(small_disk) -> None:
    disk = small_disk(100)
    warehouse = disk / "w.duckdb"
    assert chokehold(warehouse, "refresh", "--offline").returncode == 0
    before, files_before = data_state(warehouse), files_under(disk)
    filler = fill(disk, leave_kb=3_000)  # less than a staging copy of the warehouse

    result = chokehold(warehouse, "refresh", "--offline", "--force")
    assert result.returncode == 4, result.stderr
    assert_one_line_disk_full(result.stderr)
    assert "(the run is recorded in its log only)" in result.stderr
    run_id = result.stderr.split()[2]
    assert f"run {run_id} (failed) is recorded in this log only" in (
        disk / "logs" / "refresh.log").read_text()
    assert data_state(warehouse) == before
    assert files_under(disk) == files_before | {"filler"}
    assert chokehold(warehouse, "status").returncode == 0

    filler.unlink()
    again = chokehold(warehouse, "refresh", "--offline", "--force")
    assert again.returncode == 0, again.stderr
    after = data_state(warehouse)  # (the lake catalog's rows carry the run that wrote them)
    assert {k: v for k, v in after.items() if k != "lake_files"} == \
        {k: v for k, v in before.items() if k != "lake_files"}


def test_an_output_file_on_a_full_disk_is_left_whole(capsys, small_disk,
                                                     warehouse_copy: Path) -> None:
    disk = small_disk(2)
    target = disk / "screen.csv"
    target.write_text("the previous export\n")
    fill(disk, leave_kb=0)
    result = run_cli(capsys, "-w", str(warehouse_copy), "trade", "screen", "--year", "2022",
                     "--format", "csv", "--output", str(target))
    assert result.exit_code == 4, result.stderr
    assert_one_line_disk_full(result.stderr)
    assert target.read_text() == "the previous export\n"
    assert files_under(disk) == {"screen.csv", "filler"}


def test_output_to_a_device_or_a_pipe_is_written_not_replaced(capsys, built_warehouse: Path,
                                                              tmp_path: Path) -> None:
    """/dev/full (a disk that is always full) and a named pipe: written in place, never
    swapped for a regular file (as root, a rename over /dev/full replaced the device)."""
    import stat
    import threading

    w = ["-w", str(built_warehouse)]
    full = Path("/dev/full")
    if not full.exists():
        pytest.skip("no /dev/full on this system")
    result = run_cli(capsys, *w, "status", "--format", "csv", "--output", str(full))
    assert result.exit_code == 4, result.stderr
    assert_one_line_disk_full(result.stderr)
    assert stat.S_ISCHR(full.stat().st_mode)

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text()))
    reader.start()
    done = run_cli(capsys, *w, "status", "--format", "csv", "--output", str(pipe))
    reader.join(timeout=30)
    assert done.exit_code == 0, done.stderr
    assert received and received[0].startswith("section,table,rows\n")
    assert stat.S_ISFIFO(pipe.stat().st_mode) and [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_output_that_cannot_be_written_is_one_line(capsys, built_warehouse: Path) -> None:
    result = run_cli(capsys, "-w", str(built_warehouse), "status", "--format", "json",
                     "--output", "/proc/chokehold-status.json")
    assert result.exit_code == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert "--output /proc/chokehold-status.json: cannot write it" in result.stderr
