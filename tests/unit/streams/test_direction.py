"""The worker's dependencies point one way: a pure core, Faust in two modules.

Read from the sources (every import statement, also inside functions), so
that an import added anywhere, at any depth, is seen. A reference under
``if TYPE_CHECKING:`` is a type, not an import at run time: it may point back.
"""

from __future__ import annotations

from tests.imports import EVERY, closure

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


def test_the_pure_core_imports_no_io_and_no_framework_at_any_depth() -> None:
    reached = {module: closure(module) for module in PURE}
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
