"""Running SQL on a chDB connection handle, inside the engine process.

Why a module of its own: the engine process answers its worker
(``embedded.chdb_process``) and read-only commands (``embedded.engine_reader``)
on handles of the same engine, each run the same way: a query's result goes
back as ClickHouse's Native bytes, the engine's own error text goes back as
the error. Only the engine process opens a handle; the chDB library is loaded
there and nowhere else.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from embedded.wire import engine_error_text


class DatabaseError(RuntimeError):
    """An error of the engine, with ClickHouse's text (named as clickhouse-connect names it)."""


def run_native(handle: Any, sql: str, params: Mapping[str, str]) -> bytes:
    """Run a query on a chDB connection handle; its result in ClickHouse's Native format.

    The parameters are already bound as text by the client (``embedded.wire``).
    """
    try:
        result = handle.query(f"{sql}\n FORMAT Native", "Native", params=dict(params))
    except Exception as exc:
        raise DatabaseError(engine_error_text(exc)) from None
    data: bytes = result.bytes()
    return data


def query_rows(handle: Any, sql: str, params: Mapping[str, str]) -> list[list[Any]]:
    """The rows of a small query of the engine process's own, as JSON values."""
    try:
        result = handle.query(sql, "JSONCompact", params=dict(params))
    except Exception as exc:
        raise DatabaseError(engine_error_text(exc)) from None
    rows: list[list[Any]] = orjson.loads(result.bytes())["data"]
    return rows


def engine_timezone(handle: Any) -> str:
    """The engine's time zone, sent to each client so that it decodes as for a server."""
    return str(query_rows(handle, "SELECT timezone()", {})[0][0])


def open_handle(dsn: str) -> Any:
    """A chDB connection handle of its own on the engine this process holds (chDB allows
    many handles on one directory; each has its own settings)."""
    # Here, not at the top: the engine library (some 230 MB mapped) loads in the engine
    # process only, never in the worker or in a reader's process, which import this
    # module with their clients' modules.
    import chdb

    connect: Callable[[str], Any] = chdb.connect  # untyped in chdb
    return connect(engine_path(dsn))


def engine_path(dsn: str) -> str:
    """The directory as chDB's connection string names it (clickhouse-connect resolves it the
    same way: chDB compares the strings, and one process may open one directory)."""
    return os.path.realpath(dsn[len("chdb://") :])
