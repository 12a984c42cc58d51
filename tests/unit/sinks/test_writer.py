"""The writer inserts column batches or row lists, as the client takes them."""

from __future__ import annotations

from typing import Any

from sinks.batches import Columns
from sinks.writer import ClickHouseWriter


def test_the_writer_inserts_columns_or_rows_as_the_client_takes_them() -> None:
    class Context:
        def __init__(self) -> None:
            self.column_types = ["types"]

    class Columnar:
        def __init__(self) -> None:
            self.calls: list[tuple[Any, ...]] = []
            self.contexts = 0

        def create_insert_context(self, table: str, names: list[str]) -> Context:
            self.contexts += 1
            return Context()

        def insert(
            self,
            table: str,
            data: Any,
            column_names: Any = None,
            column_types: Any = None,
            column_oriented: bool = False,
        ) -> None:
            self.calls.append((table, [list(c) for c in data], column_types, column_oriented))

    class RowsOnly:
        def __init__(self) -> None:
            self.calls: list[tuple[Any, ...]] = []

        def insert(self, table: str, rows: Any, column_names: list[str]) -> None:
            self.calls.append((table, [list(r) for r in rows]))

    batch = Columns([[1, 2], ["a", "b"]], 2)
    columnar = Columnar()
    writer = ClickHouseWriter(lambda: columnar)
    writer.write({"metrics_1m": batch, "alerts": [[9]], "task_events": Columns([[], []], 0)})
    writer.write({"metrics_1m": batch})
    assert columnar.calls[0] == ("metrics_1m", [[1, 2], ["a", "b"]], ["types"], True)
    assert columnar.calls[1][0] == "alerts" and columnar.calls[1][3] is False
    assert len(columnar.calls) == 3 and columnar.contexts == 1, "types read once per table"
    assert writer.stats.rows == {"metrics_1m": 4, "alerts": 1}
    rows_only = RowsOnly()
    ClickHouseWriter(lambda: rows_only).write({"metrics_1m": batch})
    assert rows_only.calls == [("metrics_1m", [[1, "a"], [2, "b"]])]
