"""Applying the schema's migrations to a ClickHouse client, each once.

Why a module of its own: the DDL (``sinks.schema``) is data; this is the one
procedure that applies it, run by the worker at start and by ``annotel
migrate``, on a server, a cluster (``for_cluster``) or the embedded engine
alike. ``schema_migrations`` records what was applied, so a second run does
nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sinks.schema import MIGRATIONS, for_cluster

log = logging.getLogger(__name__)


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
