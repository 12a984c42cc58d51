"""``annotel``: the parser, built from one module per subcommand, and ``main``.

Each module under ``annotel.commands`` adds its subcommand with ``register``;
the order below is the order ``annotel --help`` lists them in.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from annotel.commands import (
    alerts,
    broker,
    demo,
    ingest,
    migrate,
    report,
    rules,
    schemas,
    silence,
    simulate,
    top,
    worker,
)
from streams.logs import setup_logging

COMMANDS = (
    schemas,
    broker,
    ingest,
    demo,
    worker,
    migrate,
    simulate,
    rules,
    silence,
    report,
    top,
    alerts,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="annotel",
        description="Stream processor for data-annotation telemetry. "
        "Configuration comes from ANNOTEL_* environment variables (see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging("WARNING" if getattr(args, "json", False) else "INFO")
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
