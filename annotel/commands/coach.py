"""``annotel coach ANNOTATOR``: the 1:1 packet of one annotator (HTML or Markdown).

``--squad SQUAD`` writes one packet per member of the squad active in the
period into a directory instead, so a contributor manager prepares the week's
1:1s with one command. Reads like ``annotel report``: ``--data-dir``, or the
configured ClickHouse, read-only, also beside a running worker.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from annotel.coaching_args import add_options, building, file_part, options_of, write
from annotel.database import run_read, source_dsn, source_tls
from reports.coaching_model import build_packet, build_squad
from reports.coaching_types import CoachingOptions, Packet
from reports.html_packet import render_packet_html
from reports.markdown_coaching import render_packet_markdown
from schemas.display import visible
from schemas.redact import redact


def _render(packet: Packet, fmt_: str) -> str:
    return render_packet_markdown(packet) if fmt_ == "md" else render_packet_html(packet)


def _packet(
    client: Any, annotator: str, options: CoachingOptions, end: datetime | None, source: str
) -> Callable[[], Packet]:
    return lambda: build_packet(client, annotator, options, end=end, source=source)


def cmd_coach(args: argparse.Namespace) -> int:
    if (args.annotator is None) == (args.squad is None):
        print("annotel coach: give ANNOTATOR or --squad SQUAD (one of them)", file=sys.stderr)
        return 2
    dsn = source_dsn(args)
    options = options_of(args)
    ext = "md" if args.format == "md" else "html"

    def one(client: Any) -> int:
        packet: Packet = building(
            dsn,
            lambda: build_packet(client, args.annotator, options, end=args.end, source=redact(dsn)),
        )
        out = args.out or f"coach-{file_part(args.annotator)}.{ext}"
        write(_render(packet, args.format), out)
        if out != "-":
            p = packet.person
            print(
                visible(
                    f"wrote {out}: {p.name} ({p.annotator_id}), squad {p.squad}, "
                    f"{packet.header.period.start:%Y-%m-%d %H:%M} – "
                    f"{packet.header.period.end:%Y-%m-%d %H:%M} UTC"
                )
            )
        return 0

    def squad(client: Any) -> int:
        page = building(
            dsn, lambda: build_squad(client, args.squad, options, end=args.end, source="")
        )
        folder = Path(args.out or f"packets-{file_part(args.squad)}")
        folder.mkdir(parents=True, exist_ok=True)
        written = 0
        for row in page.members:
            if not row.person.active:
                continue
            annotator = row.person.annotator_id
            packet = building(dsn, _packet(client, annotator, options, args.end, redact(dsn)))
            write(_render(packet, args.format), str(folder / f"{file_part(annotator)}.{ext}"))
            written += 1
        print(
            visible(
                f"wrote {written} packets of squad {args.squad} into {folder} "
                f"({len(page.members) - written} members without activity in the period)"
            )
        )
        return 0

    return run_read("coach", dsn, one if args.annotator else squad, source_tls(args))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    coach = sub.add_parser(
        "coach",
        help="write the 1:1 packet of an annotator (HTML or Markdown)",
        description="The 1:1 packet: volume, AHT, pass rate, gold accuracy, rework and skip "
        "rates against the squad and vendor medians and the previous period; daily trends; "
        "error categories; the audited tasks fixed or rejected; strengths; one suggested focus; "
        "needs coaching and ready for advancement, judged fairly (Wilson bounds).",
    )
    coach.add_argument("annotator", nargs="?", metavar="ANNOTATOR", help="the annotator id")
    coach.add_argument(
        "--squad",
        help="instead of ANNOTATOR: one packet per member active in the period, written into "
        "--out DIR (default packets-SQUAD/)",
    )
    add_options(coach, "coach-ANNOTATOR.html / .md")
    coach.set_defaults(func=cmd_coach)
