"""The worker's dependencies point one way: a pure core, Faust in two modules, no cycle.

Read from the sources (every import statement, also inside functions), so
that an import added anywhere, at any depth, is seen. A reference under
``if TYPE_CHECKING:`` is a type, not an import at run time: it may point back.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("schemas", "streams", "sinks", "embedded", "alerts", "simulator", "reports", "annotel")
# The per-event path, the state it changes and the rows it becomes: no I/O, no framework.
PURE = {
    "streams.dedup",
    "streams.pending",
    "streams.partition",
    "streams.records",
    "streams.rows",
    "streams.statelog",
    "streams.views",
    "streams.watermark",
    "streams.window_store",
    "streams.windows",
}
FORBIDDEN = {"asyncio", "aiokafka", "faust", "mode", "clickhouse_connect"}
FRAMEWORK = {"faust", "mode"}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imported(tree: ast.AST) -> Iterator[str]:
    for node in ast.iter_child_nodes(tree):
        if _type_checking(node):
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        yield from _imported(node)


MODULES = _modules()
EVERY = {name: set(_imported(ast.parse(path.read_text("utf-8")))) for name, path in MODULES.items()}
OURS = {name: {m for m in imported if m in MODULES} for name, imported in EVERY.items()}


def _closure(start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for step in OURS[todo.pop()] - seen:
            seen.add(step)
            todo.append(step)
    return seen


def test_the_pure_core_imports_no_io_and_no_framework_at_any_depth() -> None:
    reached = {module: _closure(module) for module in PURE}
    found = {
        (module, inner, external)
        for module, closure in reached.items()
        for inner in closure
        for external in EVERY[inner]
        if external.split(".")[0] in FORBIDDEN
    }
    assert not found
    assert "streams.dedup" in reached["streams.partition"], "the graph is read"


def test_only_the_faust_app_and_the_composition_root_import_faust_or_mode() -> None:
    importers = {
        name
        for name, imported in EVERY.items()
        if any(m.split(".")[0] in FRAMEWORK for m in imported)
    }
    assert importers == {"streams.faust_app", "streams.worker"}


def test_streams_imports_neither_reports_nor_the_command_line() -> None:
    wrong = {
        (name, target)
        for name, targets in OURS.items()
        if name.startswith("streams.")
        for target in targets
        if target.split(".")[0] in ("reports", "annotel")
    }
    assert not wrong


def test_no_cycle_among_the_worker_modules() -> None:
    graph = {
        name: {t for t in targets if t.startswith("streams.")}
        for name, targets in OURS.items()
        if name.startswith("streams.")
    }

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for step in graph.get(start, ()):
            if step == goal or (step not in seen and reaches(step, goal, seen | {step})):
                return True
        return False

    assert graph["streams.faust_app"], "the graph is read (a module with imports)"
    assert [name for name in graph if reaches(name, name, {name})] == []
