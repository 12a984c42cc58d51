"""The batched idempotent writer: a checkpoint's rows into ClickHouse, retried until stored.

Why a module of its own: the writer is what the worker's checkpoint waits on,
and its rules (retry what the world causes, never what the rows cause, split
what one insert may not hold) are the exactness argument's storage half. It
takes a function that makes a client (``sinks.client.connect``, or a test's
double) and knows nothing of where the client's engine runs. Values always
travel as data (column inserts), never formatted into SQL.
"""

from __future__ import annotations

import inspect
import logging
import random
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sinks.batches import Columns, RejectedRow, row, row_count, split_by_month, take
from sinks.failures import rows_at_fault
from sinks.schema import TABLE_COLUMNS

log = logging.getLogger(__name__)


@dataclass
class WriterStats:
    rows: dict[str, int] = field(default_factory=dict)
    inserts: int = 0
    retries: int = 0
    failures: int = 0
    rejected: int = 0  # rows refused for their own values (see RejectedRow)
    last_insert_s: float = 0.0
    failing_since: float | None = None


class UnstorableRows(RuntimeError):
    """Rows of a table whose caller takes no rejections were refused for their values."""


class _RowsRefused(Exception):
    """An insert failed because of its rows (``sinks.failures``): not retried."""


class ClickHouseWriter:
    """Writes a checkpoint's rows, table by table, retrying until they are stored.

    ``write`` returns only when every row is durable; while ClickHouse is
    unavailable it retries with exponential backoff and jitter and the caller
    (the stream) stays blocked, which stops consumption: backpressure, not
    loss. Rows are idempotent (ReplacingMergeTree keys and versions), so a
    retry after an ambiguous failure is safe.

    A failure the rows themselves cause (``sinks.failures.rows_at_fault``: a
    value the encoder or the server refuses) is never retried: it would fail
    forever and stop the stream. For the tables the caller names
    ``rejectable``, the batch is halved until the refused rows are alone;
    the rest is written and those rows are returned (``RejectedRow``) for the
    caller to dead-letter; for any other table a refused row raises
    ``UnstorableRows`` (nothing it could be turned into; the rows of those
    tables are ours, built within their columns, so this means a bug).
    A batch spanning more months than one insert may hold is written in
    parts (``sinks.batches.split_by_month``).
    """

    def __init__(
        self,
        connect_fn: Callable[[], Any],
        *,
        base_delay: float = 0.1,
        max_delay: float = 5.0,
        should_stop: Callable[[], bool] = lambda: False,
    ):
        self._connect = connect_fn
        self._client: Any = None
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.should_stop = should_stop
        self.stats = WriterStats()
        self._lock = threading.Lock()
        # Per client: whether its insert takes columns, and each table's column types
        # (read once instead of before every insert).
        self._columnar: bool | None = None
        self._types: dict[str, Any] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._connect()
            self._columnar = None
            self._types = {}
        return self._client

    @property
    def engine_pid(self) -> int | None:
        """The embedded engine's process (``ANNOTEL_CHDB_PROCESS``), once connected; else None.

        Read by /metrics, so that the memory of the laptop stack's ClickHouse is
        visible where the worker's own is; a server client has no such process.
        """
        pid = getattr(self._client, "pid", None)
        return pid if isinstance(pid, int) else None

    def write(
        self,
        batches: Mapping[str, Sequence[Sequence[Any]]],
        *,
        rejectable: Collection[str] = (),
    ) -> list[RejectedRow]:
        """Store every row; returns the rows of ``rejectable`` tables refused for their values."""
        rejected: list[RejectedRow] = []
        with self._lock:
            for table, rows in batches.items():
                if row_count(rows):
                    for part in split_by_month(table, rows):
                        rejected.extend(self._store(table, part, table in rejectable))
        return rejected

    def _store(
        self, table: str, rows: Sequence[Sequence[Any]], rejectable: bool
    ) -> list[RejectedRow]:
        """Insert; on a row fault, halve until the refused rows are alone.

        Halving also cures what the whole batch causes (more partitions than
        one insert may hold): then nothing is refused.
        """
        try:
            self._insert_with_retry(table, rows)
            return []
        except _RowsRefused as refused:
            error = refused.__cause__ or refused
            n = row_count(rows)
            if n > 1:
                half = n // 2
                return self._store(table, take(rows, range(half)), rejectable) + self._store(
                    table, take(rows, range(half, n)), rejectable
                )
            text = f"{type(error).__name__}: {error}"
            if not rejectable:
                raise UnstorableRows(f"{table}: a row refused for its values: {text}") from error
            self.stats.rejected += 1
            log.error(
                "clickhouse refused a row for its values; it becomes a dead letter",
                extra={"table": table, "error": text[:500]},
            )
            return [RejectedRow(table, row(rows, 0), text)]

    def _insert(self, table: str, batch: Sequence[Sequence[Any]]) -> None:
        client = self.client
        names = list(TABLE_COLUMNS[table])
        if self._columnar is None:
            try:
                parameters = inspect.signature(client.insert).parameters
            except (TypeError, ValueError):
                parameters = {}  # type: ignore[assignment]
            self._columnar = "column_oriented" in parameters and "column_types" in parameters
        if not isinstance(batch, Columns):
            client.insert(table, batch, column_names=names)
        elif not self._columnar:
            # A client that only takes rows (a wrapper, a test double): pivot back.
            client.insert(table, batch.as_rows(), column_names=names)
        else:
            types = self._types.get(table)
            if types is None:
                types = self._types[table] = client.create_insert_context(table, names).column_types
            client.insert(
                table, batch, column_names=names, column_types=types, column_oriented=True
            )

    def _insert_with_retry(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        """Insert, retrying what a retry can cure; raises _RowsRefused for what it cannot."""
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                self._insert(table, rows)
            except Exception as exc:
                if rows_at_fault(exc):
                    raise _RowsRefused from exc
                attempt += 1
                self.stats.retries += 1
                if self.stats.failing_since is None:
                    self.stats.failing_since = time.monotonic()
                if self.should_stop():
                    self.stats.failures += 1
                    raise
                delay = min(self.max_delay, self.base_delay * 2 ** min(attempt, 10))
                delay *= 0.5 + random.random()
                log.warning(
                    "clickhouse insert failed; retrying",
                    extra={
                        "table": table,
                        "rows": row_count(rows),
                        "attempt": attempt,
                        "retry_in_s": round(delay, 2),
                        "error": type(exc).__name__,
                    },
                )
                if attempt % 5 == 0:
                    self._drop_client()  # reconnect after repeated failures
                time.sleep(delay)
                continue
            self.stats.inserts += 1
            self.stats.rows[table] = self.stats.rows.get(table, 0) + row_count(rows)
            self.stats.last_insert_s = time.monotonic() - started
            self.stats.failing_since = None
            return

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None

    def _drop_client(self) -> None:
        # Closed, not just forgotten: an embedded engine's process must let go
        # of its data directory before the next one can open it.
        try:
            self.close()
        except Exception as exc:
            log.warning("closing the clickhouse client failed", extra={"error": type(exc).__name__})
