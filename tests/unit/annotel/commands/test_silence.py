"""``annotel silence add|list``: a silence written, listed, and bad input refused with exit 2."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from alerts.silences import load_silences
from annotel.cli import build_parser


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


def test_silence_add_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "silences.yaml"
    argv = ["silence", "add", "--match", "vendor_id=供应商甲", "--match", "project_id=p1"]
    code = run(
        [*argv, "--for", "2h", "--comment", "维护", "--created-by", "lin", "--file", str(path)]
    )
    assert code == 0
    [silence] = load_silences(path).items
    assert silence.matchers == {"vendor_id": "供应商甲", "project_id": "p1"}
    assert silence.starts_at is not None
    assert silence.ends_at - silence.starts_at == timedelta(hours=2)
    assert capsys.readouterr().out.startswith(f"added silence {silence.id} until ")
    assert run(["silence", "list", "--file", str(path)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{silence.id}  active ")
    assert line.endswith("vendor_id=供应商甲 project_id=p1 by lin (维护)")


def test_silence_add_rejects_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / "s.yaml")
    assert run(["silence", "add", "--match", "novalue", "--for", "2h", "--file", path]) == 2
    assert "expected LABEL=VALUE" in capsys.readouterr().err
    assert run(["silence", "add", "--match", "a=b", "--for", "forever", "--file", path]) == 2
    assert "invalid duration 'forever'" in capsys.readouterr().err
    assert run(["silence", "list", "--file", path]) == 0
    assert capsys.readouterr().out == f"no silences in {path}\n"
