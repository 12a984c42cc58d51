"""``annotel ingest FILE``: publish a JSON-lines file (or stdin) through ``streams.ingest``.

Valid lines go to their topics, invalid ones to the dead-letter topic with
their reason; the counts are printed (``--json``: one object).
"""

from __future__ import annotations

import argparse
import json
import sys

from annotel import config
from annotel.progress import terminal_progress
from streams.ingest import ingest, read_lines
from streams.kafka_config import ensure_topics, producer


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = config.settings()
    ensure_topics(settings, [*settings.input_topics, settings.topic_dlq])
    kafka_producer = producer(settings)
    try:
        if args.file == "-":
            lines = read_lines(sys.stdin.buffer)
            result = ingest(settings, lines, producer=kafka_producer)
        else:
            try:
                handle = open(args.file, "rb")  # noqa: SIM115
            except OSError as exc:
                print(f"annotel ingest: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
                return 2
            with handle:
                result = ingest(
                    settings,
                    read_lines(handle),
                    producer=kafka_producer,
                    progress=terminal_progress(args.json),
                )
    finally:
        kafka_producer.close()
    if args.json:
        print(json.dumps(result.as_json(), ensure_ascii=False))
    else:
        print(
            f"published {result.published}, dead-lettered {result.dead_lettered}"
            + (f" ({dict(result.by_reason)})" if result.by_reason else "")
            + (f", {result.blank} blank line(s) skipped" if result.blank else "")
        )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ingest = sub.add_parser("ingest", help="publish a JSON-lines file of events")
    ingest.add_argument("file", help="path, or - for standard input")
    ingest.add_argument("--json", action="store_true", help="print the result as JSON")
    ingest.set_defaults(func=cmd_ingest)
