"""``annotel top``: the current per-project status (last hour's throughput, quality, alerts).

The status is computed by ``reports.live``; this module prints it, with ids
shown as escapes and never obeyed by the terminal (``schemas.display``).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from annotel.database import add_source, run_read, source_dsn, source_tls
from annotel.delivery_view import delivery_lines, read_delivery
from reports.live import render_status, status
from schemas.display import visible
from schemas.redact import redact
from sinks.server_url import TlsFiles


def cmd_top(args: argparse.Namespace, dsn: str, tls: TlsFiles | None = None) -> int:
    def work(client: Any) -> int:
        state = status(client)
        delivery = read_delivery(client)
        # Ids are shown, never obeyed: see schemas.display (JSON keeps its exact values).
        if args.json:
            data = {**state.to_json(), "delivery": delivery}
            print(visible(json.dumps(data, ensure_ascii=False)))
        else:
            text = render_status(state, redact(dsn))
            lines = delivery_lines(delivery, "delivery: open tasks, ETA and slack per queue (UTC)")
            if lines:
                text += "\n\n" + "\n".join(lines)
            print(visible(text, keep="\n"))
        return 0

    return run_read("top", dsn, work, tls)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    top = sub.add_parser(
        "top", help="current per-project status: last hour's throughput, quality, alerts"
    )
    add_source(top)
    top.add_argument("--json", action="store_true", help="print one JSON object")
    top.set_defaults(func=lambda args: cmd_top(args, source_dsn(args), source_tls(args)))
