"""A non-editable install works: the wheel of the project, installed into a fresh venv,
runs ``annotel demo`` and ``annotel rules check`` from another directory and finds
everything it reads at run time (the shipped rules, ``python -m annotel`` for the
worker, the engine process) in the installed packages.

The wheel is built from exactly what the Docker build context lets in
(``.dockerignore``'s allow-list), so this also holds the image's build. The
venv gets its third-party dependencies from this interpreter's site-packages
through a ``.pth`` line: a path line only adds that directory, it does not run
the ``.pth`` files inside it, so the checkout's editable finder stays inactive,
which the first check below proves.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_demo import assert_adds_up

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 400  # the smallest feed worth a demo: every table gets rows

PROBE = """
import json, sys
import alerts, annotel, reports, schemas, simulator, sinks, streams
from annotel.resources import shipped_rules
print(json.dumps({
    "files": [m.__file__ for m in (alerts, annotel, reports, schemas, simulator, sinks, streams)],
    "rules": str(shipped_rules()),
    "path": sys.path,
    "editable": [repr(f) for f in sys.meta_path if "editable" in repr(f).lower()]
    + [name for name in sys.modules if "editable" in name],
}))
"""


def build_context(into: Path) -> Path:
    """The files the Docker build context admits (``.dockerignore``: ``*`` then ``!path``)."""
    into.mkdir()
    admitted = [
        line[1:].strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.startswith("!")
    ]
    assert "pyproject.toml" in admitted and "annotel" in admitted
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in admitted:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=ignore)
        else:
            shutil.copy2(source, into / name)
    return into


def install(tmp: Path) -> Path:
    """Build the wheel, install it into a fresh venv; returns the venv."""
    context = build_context(tmp / "context")
    dist = tmp / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(context)],
        check=True,
        capture_output=True,
    )
    [wheel] = dist.glob("annotation_telemetry-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "third_party.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def run(
    venv: Path, argv: list[str], cwd: Path, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("ANNOTEL_")
    }
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_the_installed_wheel_runs_the_demo_from_another_directory(tmp_path: Path) -> None:
    venv = install(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    site = str(venv / "lib")

    # Everything of ours comes from the venv, nothing from the checkout.
    probe = run(venv, [str(venv / "bin" / "python"), "-c", PROBE], elsewhere)
    assert probe.returncode == 0, probe.stderr
    found: dict[str, Any] = json.loads(probe.stdout)
    assert all(path.startswith(site) for path in found["files"]), found["files"]
    assert found["editable"] == []
    assert str(ROOT) not in found["path"]
    rules = found["rules"]
    assert rules.startswith(site) and rules.endswith("alerts/examples/rules.yaml")

    check = run(
        venv, [str(venv / "bin" / "annotel"), "rules", "check", rules, "--no-env"], elsewhere
    )
    assert check.returncode == 0, check.stderr
    assert f"{rules}: valid: 9 rules" in check.stdout

    data_dir = tmp_path / "demo"
    demo = run(
        venv,
        [
            str(venv / "bin" / "annotel"),
            "demo",
            "--json",
            "--events",
            str(EVENTS),
            "--data-dir",
            str(data_dir),
        ],
        elsewhere,
    )
    assert demo.returncode == 0, demo.stderr[-4000:]
    summary: dict[str, Any] = json.loads(demo.stdout)
    assert_adds_up(summary)
    assert summary["events_in"] == EVENTS
    assert summary["rules"] == rules  # the shipped rules, found in the installed package
    assert summary["worker_restarts"] == 0
    assert summary["tables"]["task_events"] > 0 and summary["tables"]["audit_events"] > 0
    assert not (elsewhere / ".annotel").exists()  # --data-dir was honoured
