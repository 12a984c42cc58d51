"""``annotel``: the parser, built from one module per subcommand, and ``main``.

Each module under ``annotel.commands`` adds its subcommand with ``register``
and imports what it needs at its top. ``main`` imports only the module of the
subcommand asked for (all of them for ``annotel --help`` or an unknown
command): ``annotel rules check`` in CI does not pay for Kafka, ClickHouse and
the report renderers, about 0.3 s of imports (measured, 2-core machine).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import import_module

from streams.logs import setup_logging

# The order ``annotel --help`` lists them in.
COMMANDS = (
    "schemas",
    "broker",
    "ingest",
    "gateway",
    "connectors",
    "demo",
    "worker",
    "migrate",
    "simulate",
    "rules",
    "receivers",
    "silence",
    "report",
    "top",
    "alerts",
    "plans",
    "roster",
    "coach",
    "squad",
    "squad-digest",
)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand, or of ``only`` (the one being run)."""
    parser = argparse.ArgumentParser(
        prog="annotel",
        description="Stream processor for data-annotation telemetry. "
        "Configuration comes from ANNOTEL_* environment variables (see README).",
    )
    # A parser with one subcommand still shows every name in its usage line
    # (printed with an error such as an unknown option).
    every = None if only is None else "{" + ",".join(COMMANDS) + "}"
    sub = parser.add_subparsers(dest="command", required=True, metavar=every)
    for name in COMMANDS if only is None else (only,):
        import_module(f"annotel.commands.{name.replace('-', '_')}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(words[0] if words and words[0] in COMMANDS else None)
    args = parser.parse_args(words)
    setup_logging("WARNING" if getattr(args, "json", False) else "INFO")
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
