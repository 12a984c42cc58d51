"""``annotel rules check``: a valid file in one line, every problem of an invalid one."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotel.cli import build_parser
from tests.rule_files import EXAMPLE, SPEC_EXAMPLE


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


def test_rules_check_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["rules", "check", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert out == (
        f"{EXAMPLE}: valid: 9 rules (1 anomaly, 1 delivery, 7 threshold), 2 receivers, "
        "1 inhibit rule\n"
    )


def test_rules_check_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(SPEC_EXAMPLE.replace("window: 15m", "window: 90s").replace("z: 3", "z: 0"))
    assert run(["rules", "check", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"{path}: line 6: rules[0] (vendor_quality_low).window: window '90s' must be a "
        "positive multiple of 1m",
        f"{path}: line 33: rules[2] (aht_anomaly).z: Input should be greater than 0",
    ]
    assert captured.err == f"{path}: invalid (2 problems)\n"


def test_rules_check_reports_a_broken_silences_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rules.yaml").write_text(SPEC_EXAMPLE)
    (tmp_path / "silences.yaml").write_text("- {id: a}\n")
    assert run(["rules", "check", str(tmp_path / "rules.yaml")]) == 1
    assert "silences_file" in capsys.readouterr().out
