"""The laptop stack stays behind the ClickHouse client factory and the command line.

The package-level rules (``embedded`` imports only ``schemas``; only
``sinks.client`` and ``annotel`` import it; no cycle) are held with the rest of
the house in tests/unit/test_architecture.py. Here: the engine process itself
never reaches back into the client factory, which once made a cycle.
"""

from __future__ import annotations

from tests.imports import OURS, closure


def test_the_engine_process_does_not_reach_the_client_factory() -> None:
    assert "sinks.client" not in closure("embedded.chdb_process")
    assert "sinks.client" not in closure("embedded.engine_reader")
    assert OURS["embedded.chdb_process"], "the graph is read (a module with imports)"
