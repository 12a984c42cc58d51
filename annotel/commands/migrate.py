"""``annotel migrate``: apply (or print) the ClickHouse schema, optionally add a BI reader.

The worker applies pending migrations at start too; this command exists for
deployments that run DDL as a separate, reviewed step (``--print``) and for
the compose ``init`` service.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from annotel import config
from schemas.redact import describe_error
from sinks.bi_user import read_only_user_sql
from sinks.client import connect
from sinks.migrate import migrate, migration_sql


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = config.settings()
    statements: list[str] = []
    if args.bi_user:
        password = os.environ.get(args.bi_password_env, "")
        if not password:
            print(
                f"annotel migrate: --bi-user needs the password in ${args.bi_password_env}",
                file=sys.stderr,
            )
            return 2
        try:
            statements = read_only_user_sql(args.bi_user, password, args.database)
        except ValueError as exc:
            print(f"annotel migrate: {exc}", file=sys.stderr)
            return 2
    if args.print:
        for version, name, sql in migration_sql(settings.clickhouse_cluster):
            print(f"-- migration {version}: {name}\n{sql.strip()};\n")
        for sql in statements:
            print(f"-- read-only BI user\n{sql.split(' IDENTIFIED ')[0]} IDENTIFIED ... ;\n")
        return 0
    dsn = settings.clickhouse_dsn()
    if statements and dsn.startswith("chdb://"):
        print(
            "annotel migrate: the embedded chDB has no users; --bi-user needs a ClickHouse "
            "server (ANNOTEL_CLICKHOUSE_URL)",
            file=sys.stderr,
        )
        return 2
    try:
        client: Any = connect(dsn, tls=settings.clickhouse_tls())
        applied = migrate(client, settings.clickhouse_cluster)
        for sql in statements:
            client.command(sql)
    except Exception as exc:
        # The DSN and the client's error may carry a password: both are redacted.
        print(
            f"annotel migrate: {settings.clickhouse_display()}: {describe_error(exc)}",
            file=sys.stderr,
        )
        return 1
    if applied:
        print(
            f"applied migrations {', '.join(map(str, applied))} on {settings.clickhouse_display()}"
        )
    else:
        print(f"schema up to date on {settings.clickhouse_display()}")
    if statements:
        print(f"read-only user {args.bi_user} ready")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("migrate", help="apply pending ClickHouse migrations (idempotent)")
    parser.add_argument("--print", action="store_true", help="show the SQL, run nothing")
    parser.add_argument("--bi-user", help="also create this read-only user (server only)")
    parser.add_argument(
        "--bi-password-env",
        default="ANNOTEL_BI_PASSWORD",
        help="environment variable holding the BI user's password",
    )
    parser.add_argument("--database", default="default", help="database the BI user may read")
    parser.set_defaults(func=cmd_migrate)
