"""Connecting to ClickHouse, applying migrations, and the batched idempotent writer.

The same code runs on embedded chDB (``chdb:///path``) and on a server
(``http(s)://user:password@host:port/db``): only clickhouse-connect is used.
Values always travel as data (column inserts, ``{name:Type}`` parameters),
never formatted into SQL.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sinks.batches import Columns, RejectedRow, row, row_count, split_by_month, take
from sinks.failures import rows_at_fault
from sinks.schema import MIGRATIONS, TABLE_COLUMNS, for_cluster
from sinks.server_url import TlsFiles, client_arguments, parse_server_url

log = logging.getLogger(__name__)


# How long an in-process open waits for the previous owner of an embedded
# directory: an engine process whose worker was just killed finishes its last
# request and closes the engine within about a second.
ENGINE_RELEASE_TIMEOUT_S = 15.0


class EngineDirectoryBusy(TimeoutError):
    """Another process holds the embedded ClickHouse directory."""


def _held(path: Path) -> bool:
    """Whether another open file holds the engine's lock on ``<path>/status`` (not waiting).

    The file is opened read-only (``flock`` needs no write access) and a
    directory the engine never opened has none: it is not held.
    """
    import fcntl

    try:
        fd = os.open(path / "status", os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def wait_for_engine_directory(path: Path, timeout: float) -> None:
    """Wait until no process holds the engine's lock on ``path``.

    ClickHouse takes an exclusive ``flock`` on ``<path>/status``. chDB cannot
    be initialised again in a process where opening failed once, so an open
    that would fail on the lock must not be tried: the caller waits for the
    holder (often an engine process finishing after its worker died) or gets
    an error that names the directory.
    """
    if not _held(path):
        return
    log.info(
        "embedded ClickHouse directory held by another process; waiting",
        extra={"directory": str(path), "timeout_s": timeout},
    )
    deadline = time.monotonic() + timeout
    while _held(path):
        if time.monotonic() > deadline:
            raise EngineDirectoryBusy(
                f"the embedded ClickHouse directory {path} is held by another process "
                f"(a running worker, `annotel demo`, or their engine process) after "
                f"{timeout:g} s; stop it, or run against a ClickHouse server "
                "(ANNOTEL_CLICKHOUSE_URL)"
            )
        time.sleep(0.1)


def connect(
    dsn: str,
    *,
    own_process: bool = False,
    open_timeout: float | None = None,
    read_only: bool = False,
    tls: TlsFiles | None = None,
) -> Any:
    """A clickhouse-connect client for a chdb:// or http(s):// DSN.

    A server DSN is parsed here (``sinks.server_url``), not by
    clickhouse-connect: ``https://`` is TLS with verification on any port,
    with the CA and client certificate of ``tls``.

    With ``own_process`` an embedded engine (chdb://) runs in a child process
    and the client returned speaks to it (``sinks.chdb_process``); a server
    DSN is unaffected. An embedded engine opened here waits up to
    ``open_timeout`` seconds (``ENGINE_RELEASE_TIMEOUT_S`` by default) for
    another process to let go of its directory. With ``read_only``, a
    directory held by a running worker's engine process is read through that
    process instead (``sinks.engine_reader``): queries only.
    """
    import clickhouse_connect

    if dsn.startswith("chdb://"):
        path = Path(dsn[len("chdb://") :])
        path.mkdir(parents=True, exist_ok=True)
        if own_process:
            from sinks.chdb_process import ChdbProcessClient

            return ChdbProcessClient(dsn)
        if read_only and _held(path):
            from sinks.engine_reader import EngineReader

            reader = EngineReader.attach(path)
            if reader is not None:
                log.info(
                    "reading through the running engine process", extra={"directory": str(path)}
                )
                return reader
        wait_for_engine_directory(
            path, ENGINE_RELEASE_TIMEOUT_S if open_timeout is None else open_timeout
        )
        return clickhouse_connect.get_client(dsn=dsn)
    return clickhouse_connect.get_client(**client_arguments(parse_server_url(dsn), tls))


def migration_sql(cluster: str | None = None) -> list[tuple[int, str, str]]:
    return [
        (m.version, m.name, for_cluster(statement, cluster))
        for m in MIGRATIONS
        for statement in m.statements
    ]


def migrate(client: Any, cluster: str | None = None) -> list[int]:
    """Apply pending migrations; returns the versions applied (empty when up to date)."""
    first = MIGRATIONS[0]
    for statement in first.statements:
        client.command(for_cluster(statement, cluster))
    applied = {row[0] for row in client.query("SELECT version FROM schema_migrations").result_rows}
    done = []
    for migration in MIGRATIONS:
        if migration.version in applied:
            continue
        for statement in migration.statements:
            client.command(for_cluster(statement, cluster))
        client.insert(
            "schema_migrations",
            [[migration.version, migration.name, datetime.now(UTC)]],
            column_names=["version", "name", "applied_at"],
        )
        done.append(migration.version)
        log.info(
            "migration applied", extra={"version": migration.version, "migration": migration.name}
        )
    return done


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


_USER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def read_only_user_sql(user: str, password: str, database: str = "default") -> list[str]:
    """DDL for a read-only BI user (server only; chDB has no access control).

    ClickHouse takes no query parameters in ``CREATE USER``, so nothing from
    the caller is spliced in raw: the name must be a plain identifier and the
    password travels only as its SHA-256 hex digest.
    """
    for label, value in (("user", user), ("database", database)):
        if not _USER_NAME.match(value):
            raise ValueError(f"{label} name {value!r} is not a plain identifier")
    if len(password) < 12:
        raise ValueError("the BI user's password must have at least 12 characters")
    digest = hashlib.sha256(password.encode()).hexdigest()
    return [
        f"CREATE USER IF NOT EXISTS {user} IDENTIFIED WITH sha256_hash BY '{digest}' "
        "SETTINGS readonly = 1",
        f"GRANT SELECT ON {database}.* TO {user}",
    ]
