"""``annotel report``: the leadership report (HTML or Markdown) for a period.

``reports`` builds and lays out the report from ClickHouse; this module picks
the rules that define the SLAs (``--rules``, else ``ANNOTEL_RULES_FILE``, else
the shipped example rules), the period and the output file.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from alerts.rules import RulesError, load_rules
from annotel import config
from annotel.database import ReadFailure, add_source, run_read, source_dsn, source_tls
from annotel.resources import shipped_rules
from reports.html import render_html
from reports.markdown import render_markdown
from reports.model import build_report
from reports.period import NoData
from reports.types import Options
from schemas.display import visible
from schemas.redact import redact
from schemas.units import interval, parse_utc
from sinks.server_url import TlsFiles


def parse_time(text: str) -> datetime:
    """``2026-11-23``, ``2026-11-23T08:00``, ``2026-11-23 08:00:00+08:00``, ``...Z``;
    without an offset, UTC."""
    try:
        return parse_utc(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date or time (use e.g. 2026-11-23 or 2026-11-23T08:00Z)"
        ) from None


def _positive(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def cmd_report(
    args: argparse.Namespace, dsn: str, default_rules: Path | None, tls: TlsFiles | None = None
) -> int:
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
            raise ReadFailure(
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
                f"wrote {out}: {interval(report.period.start, report.period.end)}, "
                f"{len(report.projects)} projects, "
                f"{len(report.incidents)} alert episodes"
            )
        return 0

    return run_read("report", dsn, work, tls)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = sub.add_parser(
        "report",
        help="write the leadership report (HTML or Markdown) for a period",
        description="A self-contained report for a period: SLA attainment against the alert "
        "rules, trends, incidents, vendors, annotators, error categories and what changed.",
    )
    add_source(report)
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
            args, source_dsn(args), config.settings().rules_file, source_tls(args)
        )
    )
