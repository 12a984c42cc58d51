"""``annotel squad SQUAD``: the squad page (HTML or Markdown): members ranked fairly, who
needs coaching, who is ready for advancement, gold warnings, trends.

``SQUAD`` is a squad of the loaded roster, or ``unassigned`` (everyone the
roster does not list). Reads like ``annotel report``.
"""

from __future__ import annotations

import argparse
from typing import Any

from annotel.coaching_args import add_options, building, file_part, options_of, write
from annotel.database import run_read, source_dsn, source_tls
from reports.coaching_model import build_squad
from reports.html_squad import render_squad_html
from reports.markdown_coaching import render_squad_markdown
from schemas.display import visible
from schemas.redact import redact


def cmd_squad(args: argparse.Namespace) -> int:
    dsn = source_dsn(args)
    options = options_of(args)

    def work(client: Any) -> int:
        page = building(
            dsn,
            lambda: build_squad(client, args.squad, options, end=args.end, source=redact(dsn)),
        )
        text = render_squad_markdown(page) if args.format == "md" else render_squad_html(page)
        ext = "md" if args.format == "md" else "html"
        out = args.out or f"squad-{file_part(args.squad)}.{ext}"
        write(text, out)
        if out != "-":
            ready = sum(1 for a in page.advancement if a.ready)
            print(
                visible(
                    f"wrote {out}: squad {args.squad}, {len(page.members)} members, "
                    f"{len(page.coaching)} need coaching, {ready} ready for advancement"
                )
            )
        return 0

    return run_read("squad", dsn, work, source_tls(args))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    squad = sub.add_parser(
        "squad",
        help="write a squad's page (HTML or Markdown): ranking, coaching, advancement",
        description="A squad of the roster (or 'unassigned'): members ranked by the lower bound "
        "of their audit pass rate, who needs coaching and why, who is ready for advancement, "
        "gold-accuracy warnings and the squad's trends.",
    )
    squad.add_argument("squad", metavar="SQUAD")
    add_options(squad, "squad-SQUAD.html / .md")
    squad.set_defaults(func=cmd_squad)
