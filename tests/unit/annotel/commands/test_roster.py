"""``annotel roster check``: a valid file in one line, every problem of an invalid one.

``annotel roster load`` writes to ClickHouse: tests/integration/test_coaching.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from annotel.cli import build_parser
from tests.unit.reports.test_roster import CSV, YAML


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


def test_check_a_valid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "roster.yaml"
    path.write_text(YAML, encoding="utf-8")
    assert run(["roster", "check", str(path)]) == 0
    assert capsys.readouterr().out == (
        f"{path}: valid: 3 annotators in 3 squads, 2 managers; 1 without a start date "
        "(never listed as ready for advancement)\n"
    )


def test_check_lists_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(CSV + "华数-0001,,华数-二组,,,,,\n,,x,,,,,\n", encoding="utf-8")
    assert run(["roster", "check", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"{path}: line 5: annotator_id 华数-0001 is listed twice (first at line 2)",
        f"{path}: line 6: annotator_id is required",
    ]
    assert captured.err == f"{path}: invalid (2 problems)\n"


def test_the_file_defaults_to_the_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of a developer's checkout
    assert run(["roster", "check"]) == 2
    assert "give FILE or set ANNOTEL_ROSTER_FILE" in capsys.readouterr().err
    path = tmp_path / "squads.csv"
    path.write_text(CSV, encoding="utf-8")
    monkeypatch.setenv("ANNOTEL_ROSTER_FILE", str(path))
    assert run(["roster", "check"]) == 0
    assert capsys.readouterr().out.startswith(f"{path}: valid: 3 annotators")


def test_an_invalid_file_loads_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The file is checked before any database is opened (none exists here)."""
    path = tmp_path / "roster.csv"
    path.write_text("annotator_id\napx-0001\n", encoding="utf-8")
    data = tmp_path / "data"
    assert run(["roster", "load", str(path), "--data-dir", str(data)]) == 1
    captured = capsys.readouterr()
    assert captured.out == f"{path}: line 1: no squad column\n"
    assert captured.err == f"{path}: invalid (1 problem); nothing loaded\n"
    assert not data.exists()
