"""``annotel worker``: run the stream processor (live, or bounded with ``--until-drained``).

The worker itself (its composition root) is ``streams.worker.run_worker``;
this module only reads the settings and the two flags.
"""

from __future__ import annotations

import argparse

from annotel import config
from streams.logs import setup_logging
from streams.worker import run_worker


def cmd_worker(args: argparse.Namespace) -> int:
    settings = config.settings()
    setup_logging(settings.log_level)
    return run_worker(settings, until_drained=args.until_drained, web_port=args.web_port)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = sub.add_parser("worker", help="run the stream processor")
    worker.add_argument(
        "--until-drained",
        action="store_true",
        help="bounded replay: process what is on the topics, close all windows, exit 0",
    )
    worker.add_argument("--web-port", type=int, default=None, help="override ANNOTEL_WEB_PORT")
    worker.set_defaults(func=cmd_worker)
