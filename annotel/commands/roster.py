"""``annotel roster check [FILE]`` and ``annotel roster load [FILE]``: the squads, from a file.

``check`` reads the file only (no ClickHouse), so it runs in CI beside the
roster's repository; it reports every problem with its location.
``load`` checks the file the same way, applies pending migrations and makes
the ``roster`` table hold exactly this roster (``sinks.roster``); nothing is
written when the file has a problem. FILE defaults to ``ANNOTEL_ROSTER_FILE``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from annotel import config
from reports.roster import Roster, RosterError, load_roster
from schemas.display import visible
from schemas.redact import describe_error, redact
from sinks.server_url import TlsFiles


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _file(args: argparse.Namespace, command: str) -> Path | None:
    if args.file:
        return Path(args.file)
    configured = config.settings().roster_file
    if configured is None:
        print(f"annotel roster {command}: give FILE or set ANNOTEL_ROSTER_FILE", file=sys.stderr)
    return configured


def _read(path: Path, command: str) -> Roster | None:
    try:
        return load_roster(path)
    except RosterError as exc:
        for problem in exc.problems:
            print(visible(f"{path}: {problem}"))
        print(
            f"{path}: invalid ({_plural(len(exc.problems), 'problem')})"
            + ("; nothing loaded" if command == "load" else ""),
            file=sys.stderr,
        )
        return None


def describe(roster: Roster) -> str:
    members = roster.members
    managers = {m.manager for m in members if m.manager}
    undated = sum(1 for m in members if m.start_date is None)
    text = (
        f"{_plural(len(members), 'annotator')} in {_plural(len(roster.squads), 'squad')}, "
        f"{_plural(len(managers), 'manager')}"
    )
    if undated:
        text += f"; {undated:,} without a start date (never listed as ready for advancement)"
    return text


def cmd_check(args: argparse.Namespace) -> int:
    path = _file(args, "check")
    if path is None:
        return 2
    roster = _read(path, "check")
    if roster is None:
        return 1
    print(visible(f"{path}: valid: {describe(roster)}"))
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    # Here, not at the top: `annotel roster check` runs in CI and would pay ~0.7 s for
    # the ClickHouse client and the embedded engine it never opens.
    from annotel.database import data_dir_dsn
    from sinks.client import EngineDirectoryBusy, connect
    from sinks.migrate import migrate
    from sinks.roster import replace_roster

    path = _file(args, "load")
    if path is None:
        return 2
    roster = _read(path, "load")
    if roster is None:
        return 1
    tls: TlsFiles | None = None
    cluster: str | None = None
    if args.data_dir:
        dsn = data_dir_dsn(args.data_dir)
    else:
        settings = config.settings()
        dsn, tls, cluster = (
            settings.clickhouse_dsn(),
            settings.clickhouse_tls(),
            settings.clickhouse_cluster,
        )
    try:
        client: Any = connect(dsn, tls=tls)
    except EngineDirectoryBusy as exc:
        print(
            f"annotel roster load: cannot open: {exc} (a running worker holds the embedded "
            "database: load the roster before it starts or after it stops)",
            file=sys.stderr,
        )
        return 1
    except Exception as exc:
        print(f"annotel roster load: {redact(dsn)}: {describe_error(exc)}", file=sys.stderr)
        return 1
    try:
        migrate(client, cluster)
        result = replace_roster(client, [m.row() for m in roster.members])
    except Exception as exc:
        # Never the raw DSN or the raw error text: either may carry a password.
        print(f"annotel roster load: {redact(dsn)}: {describe_error(exc)}", file=sys.stderr)
        return 1
    finally:
        client.close()
    if result.version is None:
        change = "unchanged"
    else:
        change = (
            f"{result.added:,} added, {result.changed:,} changed, {result.removed:,} removed, "
            f"{result.unchanged:,} unchanged"
        )
    print(visible(f"loaded {path} into {redact(dsn)}: {describe(roster)} ({change})"))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    roster = sub.add_parser(
        "roster",
        help="the roster of squads: check a file, load it into ClickHouse",
        description="The roster (CSV or YAML) says who is in which squad, under which contributor "
        "manager; annotel coach, annotel squad and the BI views join it at query time.",
    )
    roster_sub = roster.add_subparsers(dest="roster_command", required=True)
    check = roster_sub.add_parser("check", help="validate a roster file, listing every problem")
    check.add_argument("file", nargs="?", help="default: ANNOTEL_ROSTER_FILE")
    check.set_defaults(func=cmd_check)
    load = roster_sub.add_parser(
        "load",
        help="make the roster table hold this roster (idempotent; nothing written on a problem)",
    )
    load.add_argument("file", nargs="?", help="default: ANNOTEL_ROSTER_FILE")
    load.add_argument(
        "--data-dir",
        metavar="DIR",
        help="the embedded ClickHouse under DIR (default: ANNOTEL_CLICKHOUSE_URL, else "
        "ANNOTEL_DATA_DIR)",
    )
    load.set_defaults(func=cmd_load)
