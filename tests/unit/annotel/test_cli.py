"""The parser: every subcommand registered by its own module, and a command run
imports only its own module (``annotel rules check`` in CI loads no Kafka client)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from annotel.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[3]


def subcommands(parser: argparse.ArgumentParser) -> list[str]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(action.choices)


def test_every_command_module_registers_its_subcommand() -> None:
    assert subcommands(build_parser()) == list(COMMANDS)
    for name in COMMANDS:
        assert subcommands(build_parser(name)) == [name]


def test_a_command_imports_only_its_own_module() -> None:
    rules = str(ROOT / "alerts" / "examples" / "rules.yaml")
    script = (
        "import json, sys\n"
        "from annotel.cli import main\n"
        f"code = main(['rules', 'check', {rules!r}, '--no-env'])\n"
        "print(json.dumps([code, sorted(sys.modules)]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    code, modules = json.loads(out.stdout.splitlines()[-1])
    assert code == 0
    assert "annotel.commands.rules" in modules
    loaded = {m for m in modules if m.startswith("annotel.commands.")}
    assert loaded == {"annotel.commands.rules"}
    assert not {"kafka", "clickhouse_connect", "faust"} & {m.split(".")[0] for m in modules}
