"""The import graph of our packages, read from the sources.

Every import statement counts, also inside functions, so that an import added
anywhere, at any depth, is seen. A reference under ``if TYPE_CHECKING:`` is a
type, not an import at run time: it may point back, and it is left out.
Shared by the tests that hold the house's direction (tests/unit/test_architecture.py,
tests/unit/streams/test_direction.py, tests/unit/embedded/test_direction.py).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "schemas",
    "sinks",
    "embedded",
    "alerts",
    "simulator",
    "reports",
    "streams",
    "gateway",
    "annotel",
)


@dataclass(frozen=True)
class LocalImport:
    """An import inside a function (or any block below the module's top level)."""

    module: str
    line: int
    names: tuple[str, ...]
    commented: bool  # a comment on its line, or on the line above, says why


def package_of(module: str) -> str:
    return module.split(".", 1)[0]


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _names(node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif node.module and node.level == 0:
        yield node.module
        yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _imported(tree: ast.AST) -> Iterator[str]:
    for node in ast.iter_child_nodes(tree):
        if _type_checking(node):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield from _names(node)
        yield from _imported(node)


def _local_imports(module: str, path: Path) -> Iterator[LocalImport]:
    text = path.read_text("utf-8")
    lines = text.splitlines()
    tree = ast.parse(text)
    top = {id(node) for node in tree.body}
    top |= {id(inner) for node in tree.body if _type_checking(node) for inner in ast.walk(node)}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom) or id(node) in top:
            continue
        line = node.lineno
        # A run of local imports under one comment: the comment may sit on the
        # first of them, or on the line above it.
        first = line
        while first >= 2 and lines[first - 2].strip().startswith(("import ", "from ")):
            first -= 1
        commented = any("#" in lines[n - 1] for n in range(first, line + 1)) or (
            first >= 2 and lines[first - 2].strip().startswith("#")
        )
        yield LocalImport(module, line, tuple(_names(node)), commented)


MODULES = _modules()
EVERY = {name: set(_imported(ast.parse(path.read_text("utf-8")))) for name, path in MODULES.items()}
OURS = {name: {m for m in imported if m in MODULES} for name, imported in EVERY.items()}
LOCAL = [found for name, path in MODULES.items() for found in _local_imports(name, path)]


def local_imports(folder: str) -> list[LocalImport]:
    """The imports inside functions of the modules under ``folder`` (outside our packages)."""
    return [
        found
        for path in sorted((ROOT / folder).rglob("*.py"))
        for found in _local_imports(".".join(path.relative_to(ROOT).with_suffix("").parts), path)
    ]


def closure(start: str) -> set[str]:
    """Every module of ours that ``start`` imports, at any depth (itself included)."""
    seen, todo = {start}, [start]
    while todo:
        for step in OURS[todo.pop()] - seen:
            seen.add(step)
            todo.append(step)
    return seen


def cycles(modules: set[str]) -> list[str]:
    """Modules of ``modules`` that reach themselves through imports among ``modules``."""
    graph = {name: OURS[name] & modules for name in modules}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for step in graph.get(start, ()):
            if step == goal or (step not in seen and reaches(step, goal, seen | {step})):
                return True
        return False

    return sorted(name for name in graph if reaches(name, name, {name}))


def line_count(module: str) -> int:
    return len(MODULES[module].read_text("utf-8").splitlines())
