"""``annotel alerts list``: the latest transition of every alert series recorded in ClickHouse."""

from __future__ import annotations

import argparse
import json
from typing import Any

from annotel.database import add_source, run_read, source_dsn, source_tls
from reports.live import alert_json, current_alerts, render_alerts
from schemas.display import visible
from sinks.server_url import TlsFiles


def cmd_alerts_list(args: argparse.Namespace, dsn: str, tls: TlsFiles | None = None) -> int:
    def work(client: Any) -> int:
        alerts = current_alerts(client, args.status)
        if args.json:
            print(visible(json.dumps([alert_json(a) for a in alerts], ensure_ascii=False)))
        else:
            print(visible(render_alerts(alerts, args.status), keep="\n"))
        return 0

    return run_read("alerts list", dsn, work, tls)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    alerts = sub.add_parser("alerts", help="alerts recorded in ClickHouse")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True)
    listing = alerts_sub.add_parser(
        "list", help="the current state of every alert series (its latest transition)"
    )
    add_source(listing)
    listing.add_argument("--status", choices=("firing", "resolved"))
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(
        func=lambda args: cmd_alerts_list(args, source_dsn(args), source_tls(args))
    )
