"""The ClickHouse client factory: one ``connect`` for a server and for the embedded engine.

Why a module of its own: every command and the worker get their client here,
and only here is it decided where the engine runs. A server DSN
(``http(s)://user:password@host:port/db``) is read by ``sinks.server_url``
(the scheme decides TLS) and served by clickhouse-connect. A ``chdb://path``
DSN is the laptop stack: this is the one place outside the command line that
imports ``embedded``, so that nothing else in ``sinks`` (nor the worker)
comes to depend on it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import clickhouse_connect

from embedded.chdb_process import ChdbProcessClient
from embedded.engine_lock import EngineDirectoryBusy, held, open_when_free
from embedded.engine_reader import EngineReader
from sinks.server_url import TlsFiles, client_arguments, parse_server_url

# EngineDirectoryBusy is what ``connect`` raises when an embedded directory stays
# held: callers catch it from here, not from the laptop stack's package.
__all__ = ["ENGINE_RELEASE_TIMEOUT_S", "EngineDirectoryBusy", "connect"]

log = logging.getLogger(__name__)


# How long an in-process open waits for the previous owner of an embedded
# directory: an engine process whose worker was just killed finishes its last
# request and closes the engine within about a second.
ENGINE_RELEASE_TIMEOUT_S = 15.0


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
    and the client returned speaks to it (``embedded.chdb_process``); a server
    DSN is unaffected. An embedded engine opened here waits up to
    ``open_timeout`` seconds (``ENGINE_RELEASE_TIMEOUT_S`` by default) for
    another process to let go of its directory. With ``read_only``, a
    directory held by a running worker's engine process is read through that
    process instead (``embedded.engine_reader``): queries only.
    """
    if dsn.startswith("chdb://"):
        path = Path(dsn[len("chdb://") :])
        path.mkdir(parents=True, exist_ok=True)
        if own_process:
            return ChdbProcessClient(dsn)
        if read_only and held(path):
            reader = EngineReader.attach(path)
            if reader is not None:
                log.info(
                    "reading through the running engine process", extra={"directory": str(path)}
                )
                return reader
        return open_when_free(
            dsn, ENGINE_RELEASE_TIMEOUT_S if open_timeout is None else open_timeout
        )
    return clickhouse_connect.get_client(**client_arguments(parse_server_url(dsn), tls))
