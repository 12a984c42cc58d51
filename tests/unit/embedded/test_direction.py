"""The laptop stack stays behind the ClickHouse client factory and the command line.

Read from the sources (every import statement, also inside functions), so
that an import added anywhere, at any depth, is seen.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("schemas", "streams", "sinks", "embedded", "alerts", "simulator", "reports", "annotel")
# The command line may import everything; it moves from streams/ to annotel/.
COMMAND_LINE = {"streams.cli", "streams.demo"}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imported(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


MODULES = _modules()
IMPORTS = {name: {m for m in _imported(path) if m in MODULES} for name, path in MODULES.items()}


def _package(module: str) -> str:
    return module.split(".", 1)[0]


def test_embedded_imports_nothing_of_ours_but_schemas() -> None:
    outside = {
        (name, target)
        for name, targets in IMPORTS.items()
        if _package(name) == "embedded"
        for target in targets
        if _package(target) not in ("embedded", "schemas")
    }
    assert not outside


def test_only_the_client_factory_and_the_command_line_import_embedded() -> None:
    importers = {
        name
        for name, targets in IMPORTS.items()
        if _package(name) != "embedded" and any(_package(t) == "embedded" for t in targets)
    }
    allowed = {"sinks.client"} | COMMAND_LINE
    assert {n for n in importers if _package(n) != "annotel"} <= allowed
    assert "sinks.client" in importers


def test_no_cycle_among_the_clickhouse_and_embedded_modules() -> None:
    graph = {
        name: {t for t in targets if _package(t) in ("sinks", "embedded")}
        for name, targets in IMPORTS.items()
        if _package(name) in ("sinks", "embedded")
    }

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for step in graph.get(start, ()):
            if step == goal or (step not in seen and reaches(step, goal, seen | {step})):
                return True
        return False

    assert graph["embedded.chdb_process"], "the graph is read (a module with imports)"
    assert [name for name in graph if reaches(name, name, {name})] == []
