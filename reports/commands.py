"""``annotel report``, ``annotel top`` and ``annotel alerts list``.

Wiring (the composition root, ``streams.cli``, owns settings; this package
never reads them)::

    functools.partial(
        reports.commands.register,
        dsn_from_settings=lambda: _settings().clickhouse_dsn(),
        rules_from_settings=lambda: _settings().rules_file,  # optional
        tls_from_settings=lambda: _settings().clickhouse_tls(),  # optional
    )

``dsn_from_settings`` is called only when a command runs without
``--data-dir`` (so ``ANNOTEL_CLICKHOUSE_URL`` or ``ANNOTEL_DATA_DIR`` apply),
and ``tls_from_settings`` (optional) with it: the CA and client certificate
files for an ``https://`` server;
``rules_from_settings`` (optional) gives the deployed rules file
(``ANNOTEL_RULES_FILE``), used by ``annotel report`` when ``--rules`` is not
given, before falling back to the shipped example rules.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alerts.rules import RulesError, load_rules
from reports.period import NoData, PeriodError
from reports.queries import NotAnnotelDatabase
from schemas.display import visible
from schemas.redact import describe_error, redact
from sinks.server_url import TlsFiles


def shipped_rules() -> Path:
    import alerts

    return Path(alerts.__file__).resolve().parent / "examples" / "rules.yaml"


def data_dir_dsn(data_dir: str) -> str:
    """The embedded database of a data directory, as the worker and the demo lay it out."""
    return "chdb://" + str((Path(data_dir) / "clickhouse").resolve())


def parse_time(text: str) -> datetime:
    """``2026-11-23``, ``2026-11-23T08:00``, ``2026-11-23 08:00:00+08:00``, ``...Z``;
    without an offset, UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date or time (use e.g. 2026-11-23 or 2026-11-23T08:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _positive(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


class _Failure(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _connect(dsn: str, tls: TlsFiles | None) -> Any:
    """A client, or a failure that names the target by its redacted form only."""
    from sinks.client import EngineDirectoryBusy, connect

    if dsn.startswith("chdb://"):
        path = Path(dsn[len("chdb://") :])
        if not path.is_dir():
            raise _Failure(
                f"no database at {path}: nothing has been written there yet "
                "(run `annotel demo` or the worker, or pass --data-dir)"
            )
    try:
        return connect(dsn, read_only=True, tls=tls)
    except EngineDirectoryBusy as exc:
        raise _Failure(f"cannot open: {exc}") from None
    except Exception as exc:
        # The lock can also be taken between the wait and chDB's own open.
        if dsn.startswith("chdb://") and "EmbeddedServer" in str(exc):
            raise _Failure(
                f"cannot open {dsn[len('chdb://') :]}: the embedded ClickHouse opens a data "
                "directory in one process at a time, and another one (a running worker or "
                "`annotel demo`) may hold it. Stop it, or run against a ClickHouse server "
                "(ANNOTEL_CLICKHOUSE_URL)."
            ) from None
        raise _Failure(f"{redact(dsn)}: {describe_error(exc)}") from None


def _run(name: str, dsn: str, work: Callable[[Any], int], tls: TlsFiles | None = None) -> int:
    try:
        client = _connect(dsn, tls)
        try:
            return work(client)
        finally:
            client.close()
    except _Failure as exc:
        print(f"annotel {name}: {exc}", file=sys.stderr)
        return exc.code
    except BrokenPipeError:
        # The reader went away (``annotel alerts list | head``): not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except PeriodError as exc:
        print(f"annotel {name}: {exc}", file=sys.stderr)
        return 2
    except NotAnnotelDatabase as exc:
        print(f"annotel {name}: {redact(dsn)}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        # Never the raw DSN or the raw error text: either may carry a password.
        print(f"annotel {name}: {redact(dsn)}: {describe_error(exc)}", file=sys.stderr)
        return 1


def cmd_report(
    args: argparse.Namespace, dsn: str, default_rules: Path | None, tls: TlsFiles | None = None
) -> int:
    from reports.html import render_html
    from reports.markdown import render_markdown
    from reports.model import build_report
    from reports.types import Options

    rules_path = Path(args.rules) if args.rules else default_rules or shipped_rules()
    rules_label = str(rules_path)
    if not args.rules and not default_rules:
        rules_label = "the shipped example rules (alerts/examples/rules.yaml)"
    try:
        ruleset = load_rules(rules_path)
    except RulesError as exc:
        print(f"annotel report: {exc}", file=sys.stderr)
        return 2
    if args.start and args.end and args.end <= args.start:
        print("annotel report: --to must be after --from", file=sys.stderr)
        return 2
    options = Options(
        min_tasks=args.min_tasks, min_audits=args.min_audits, min_gold=args.min_gold, top_n=args.top
    )

    def work(client: Any) -> int:
        try:
            report = build_report(
                client,
                ruleset,
                start=args.start,
                end=args.end,
                options=options,
                source=redact(dsn),
                rules_file=rules_label,
            )
        except NoData:
            raise _Failure(
                f"{redact(dsn)} has no metrics yet: nothing to report "
                "(run `annotel demo`, or the worker on real traffic, first)"
            ) from None
        text = render_markdown(report) if args.format == "md" else render_html(report)
        out = args.out or ("report.md" if args.format == "md" else "report.html")
        if out == "-":
            sys.stdout.write(text)
        else:
            Path(out).write_text(text, encoding="utf-8")
        if report.notice is not None:
            print(visible(f"annotel report: {report.notice}"), file=sys.stderr)
        if out != "-":
            print(
                f"wrote {out}: {report.period.start:%Y-%m-%d %H:%M} – "
                f"{report.period.end:%Y-%m-%d %H:%M} UTC, {len(report.projects)} projects, "
                f"{len(report.incidents)} alert episodes"
            )
        return 0

    return _run("report", dsn, work, tls)


def cmd_top(args: argparse.Namespace, dsn: str, tls: TlsFiles | None = None) -> int:
    from reports.live import render_status, status

    def work(client: Any) -> int:
        state = status(client)
        # Ids are shown, never obeyed: see schemas.display (JSON keeps its exact values).
        if args.json:
            print(visible(json.dumps(state.to_json(), ensure_ascii=False)))
        else:
            print(visible(render_status(state, redact(dsn)), keep="\n"))
        return 0

    return _run("top", dsn, work, tls)


def cmd_alerts_list(args: argparse.Namespace, dsn: str, tls: TlsFiles | None = None) -> int:
    from reports.live import alert_json, current_alerts, render_alerts

    def work(client: Any) -> int:
        alerts = current_alerts(client, args.status)
        if args.json:
            print(visible(json.dumps([alert_json(a) for a in alerts], ensure_ascii=False)))
        else:
            print(visible(render_alerts(alerts, args.status), keep="\n"))
        return 0

    return _run("alerts list", dsn, work, tls)


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    dsn_from_settings: Callable[[], str],
    rules_from_settings: Callable[[], Path | None] | None = None,
    tls_from_settings: Callable[[], TlsFiles] | None = None,
) -> None:
    """Add ``report``, ``top`` and ``alerts list`` to the ``annotel`` parser (see the module
    docstring for the callables)."""

    def dsn(args: argparse.Namespace) -> str:
        return data_dir_dsn(args.data_dir) if args.data_dir else dsn_from_settings()

    def tls(args: argparse.Namespace) -> TlsFiles | None:
        return None if args.data_dir or tls_from_settings is None else tls_from_settings()

    def source(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--data-dir",
            metavar="DIR",
            help="read the embedded ClickHouse under DIR (default: ANNOTEL_CLICKHOUSE_URL, "
            "else ANNOTEL_DATA_DIR)",
        )

    report = sub.add_parser(
        "report",
        help="write the leadership report (HTML or Markdown) for a period",
        description="A self-contained report for a period: SLA attainment against the alert "
        "rules, trends, incidents, vendors, annotators, error categories and what changed.",
    )
    source(report)
    report.add_argument(
        "--from",
        dest="start",
        type=parse_time,
        metavar="TIME",
        help="start, inclusive (date or ISO time; UTC unless an offset is given; "
        "default: the first data)",
    )
    report.add_argument(
        "--to",
        dest="end",
        type=parse_time,
        metavar="TIME",
        help="end, exclusive (default: the end of the newest minute with data)",
    )
    report.add_argument(
        "--out", help="output file, - for stdout (default: report.html / report.md)"
    )
    report.add_argument("--format", choices=("html", "md"), default="html")
    report.add_argument(
        "--rules",
        metavar="FILE",
        help="alert rules that define the SLAs (default: ANNOTEL_RULES_FILE, else the shipped "
        "example rules)",
    )
    report.add_argument(
        "--min-tasks",
        type=_positive,
        default=20,
        help="submitted tasks a contributor needs to be ranked (default 20)",
    )
    report.add_argument(
        "--min-audits",
        type=_positive,
        default=5,
        help="audits a contributor needs to be ranked (default 5)",
    )
    report.add_argument(
        "--min-gold",
        type=_positive,
        default=5,
        help="gold tasks before gold accuracy counts toward coaching (default 5)",
    )
    report.add_argument("--top", type=_positive, default=10, help="leaderboard length")
    report.set_defaults(
        func=lambda args: cmd_report(
            args, dsn(args), rules_from_settings() if rules_from_settings else None, tls(args)
        )
    )

    top = sub.add_parser(
        "top", help="current per-project status: last hour's throughput, quality, alerts"
    )
    source(top)
    top.add_argument("--json", action="store_true", help="print one JSON object")
    top.set_defaults(func=lambda args: cmd_top(args, dsn(args), tls(args)))

    alerts = sub.add_parser("alerts", help="alerts recorded in ClickHouse")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True)
    listing = alerts_sub.add_parser(
        "list", help="the current state of every alert series (its latest transition)"
    )
    source(listing)
    listing.add_argument("--status", choices=("firing", "resolved"))
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(func=lambda args: cmd_alerts_list(args, dsn(args), tls(args)))


def main(argv: list[str] | None = None, dsn_from_settings: Callable[[], str] | None = None) -> int:
    """Run these commands on their own (tests, or before ``streams.cli`` wires them)."""
    parser = argparse.ArgumentParser(prog="annotel")
    sub = parser.add_subparsers(dest="command", required=True)

    def no_settings() -> str:
        raise SystemExit("annotel: pass --data-dir (no settings outside the annotel CLI)")

    register(sub, dsn_from_settings or no_settings)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
