"""The process figures on /metrics, against psutil's reading of the same processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil

from streams.metrics import process_figures


def test_own_figures_agree_with_psutil() -> None:
    figures = process_figures()
    assert figures is not None
    resident, cpu = figures
    me = psutil.Process()
    assert abs(resident - me.memory_info().rss) < 8 * 2**20
    times = me.cpu_times()
    assert abs(cpu - (times.user + times.system)) < 0.5


def test_a_command_name_with_a_parenthesis_and_spaces(tmp_path: Path) -> None:
    # /proc/<pid>/stat puts the command name in parentheses; it may hold ") " itself.
    strange = tmp_path / "x) 1 2 3"
    strange.symlink_to(sys.executable)
    busy_then_idle = (
        "for _ in range(3_000_000): pass\nprint('idle', flush=True)\nimport time\ntime.sleep(30)"
    )
    child = subprocess.Popen([str(strange), "-c", busy_then_idle], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"idle\n"  # its CPU time no longer grows
        figures = process_figures(child.pid)
        assert figures is not None
        resident, cpu = figures
        reading = psutil.Process(child.pid)
        assert psutil.Process(child.pid).name().startswith("x) 1")
        assert abs(resident - reading.memory_info().rss) < 4 * 2**20
        times = reading.cpu_times()
        assert cpu > 0.01
        assert abs(cpu - (times.user + times.system)) < 0.05
    finally:
        child.kill()
        child.wait()


def test_a_process_that_is_gone_has_no_figures() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert process_figures(child.pid) is None
