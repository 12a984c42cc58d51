"""``annotel squad-digest``: the weekly message per squad to its contributor manager.

Who newly needs coaching, who no longer does, who became ready for
advancement and who no longer is: each squad's page at the end of the period
against its page a week earlier (``reports.coaching_model.build_squad_changes``),
sent as one note (``alerts.note``) through the receiver of the rules file that
``--receiver SQUAD=NAME`` names. Meant to run once a week from cron or a
systemd timer; a command and not a period of the worker's digests because it
reads two squad pages from ClickHouse (seconds of queries), which has no place
on the stream path, and because the roster and its squads live in ClickHouse,
not in the alert stage.

Without ``--send`` it prints the messages. The note id is derived from the
squad and the period's end, so running the same week again sends the same
message with the same id (a webhook receiver drops the repeat by it). Exit 0
when every message was delivered, 1 when one was not, 2 when a squad has no
receiver, a receiver is unknown, or its kind does not take notes.

Its own name (not ``annotel squad digest``) because ``annotel squad SQUAD``
takes any squad name, ``digest`` included.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp

from alerts.http_transport import HttpTransport
from alerts.note import NOTE_KINDS, Note
from alerts.receiver_config import ReceiverConfigError, build
from alerts.receivers.base import Outcome, Request, Verdict
from alerts.rules import RulesError, load_rules
from alerts.transport import TransportError
from annotel import config
from annotel.coaching_args import add_options, building, options_of
from annotel.database import ReadFailure, run_read, source_dsn, source_tls
from annotel.resources import shipped_rules
from reports import coaching_queries as cq
from reports.coaching_model import build_squad_changes
from reports.coaching_types import CoachingOptions
from reports.sections.squad_changes import SquadChanges, digest_text
from schemas.display import visible
from schemas.units import rfc3339

NOTE_KIND = "squad_digest"


def routes(pairs: list[str]) -> dict[str, str]:
    """``SQUAD=RECEIVER`` pairs as a mapping; raises ``ValueError`` on a malformed pair."""
    out: dict[str, str] = {}
    for pair in pairs:
        squad, sep, receiver = pair.partition("=")
        if not sep or not squad or not receiver:
            raise ValueError(f"--receiver {pair!r}: expected SQUAD=RECEIVER")
        out[squad] = receiver
    return out


def squad_note(changes: SquadChanges, week_end: str) -> Note:
    """The message of one squad and week; its id depends on both and nothing else."""
    return Note(
        kind=NOTE_KIND,
        key=f"{changes.squad}|{week_end}",
        title=f"Squad {changes.squad}: coaching and advancement, week to {week_end}",
        text=digest_text(changes),
        fields={
            "squad": changes.squad,
            "managers": changes.managers,
            "week_end": week_end,
            "newly_coaching": changes.newly_coaching,
            "no_longer_coaching": changes.no_longer_coaching,
            "newly_ready": changes.newly_ready,
            "no_longer_ready": changes.no_longer_ready,
        },
    )


def _receivers(args: argparse.Namespace, squads: list[str]) -> dict[str, Any]:
    """squad -> built receiver; every problem (no receiver, unknown, wrong kind) at once."""
    try:
        wanted = routes(args.receiver)
    except ValueError as exc:
        raise ReadFailure(str(exc), 2) from None
    path = Path(args.rules) if args.rules else config.settings().rules_file or shipped_rules()
    try:
        ruleset = load_rules(path)
    except RulesError as exc:
        raise ReadFailure(f"{path}: " + "; ".join(exc.problems), 2) from None
    problems: list[str] = []
    out: dict[str, Any] = {}
    known = ", ".join(sorted(ruleset.receivers)) or "none"
    for squad in squads:
        name = wanted.get(squad)
        receiver = ruleset.receivers.get(name) if name else None
        if name is None:
            problems.append(f"squad {squad!r} has no receiver (--receiver {squad}=NAME)")
        elif receiver is None:
            problems.append(f"squad {squad!r}: {path} has no receiver {name!r} ({known})")
        elif receiver.type not in NOTE_KINDS:
            problems.append(
                f"squad {squad!r}: receiver {name!r} is of type {receiver.type}, which does "
                f"not take squad digests ({', '.join(NOTE_KINDS)} do)"
            )
        else:
            try:
                out[squad] = build(name, receiver, os.environ)
            except ReceiverConfigError as exc:
                problems.append(f"squad {squad!r}: {exc}")
    if problems:
        raise ReadFailure("\n  ".join(["cannot send:", *problems]), 2)
    return out


async def _send(receiver: Any, requests: list[Request]) -> str:
    """One attempt per request: ``delivered`` or why not (no retries; the next run of the
    same week sends the same message again)."""
    async with aiohttp.ClientSession() as session:
        transport = HttpTransport(session)
        for request in requests:
            if request.destination is None:
                sys.stdout.write(request.body.decode())
                continue
            try:
                reply = await transport.send(request.destination, request.body, receiver.timeout_s)
            except TransportError as exc:
                return str(exc)
            verdict = receiver.classify(reply.status, reply.body)
            outcome = verdict.outcome if isinstance(verdict, Verdict) else verdict
            if outcome is not Outcome.DELIVERED:
                return f"{reply.label}: {outcome.value}"
    return "delivered"


def cmd_squad_digest(args: argparse.Namespace) -> int:
    dsn = source_dsn(args)
    options: CoachingOptions = options_of(args)

    def work(client: Any) -> int:
        squads = args.squad or sorted({str(r["squad"]) for r in cq.roster_rows(client)})
        if not squads:
            raise ReadFailure("the roster is empty (load one with `annotel roster load`)", 2)
        receivers = _receivers(args, squads) if args.send else {}
        failed = 0
        for squad in squads:
            changes: SquadChanges = building(
                dsn, partial(build_squad_changes, client, squad, options, end=args.end)
            )
            week_end = rfc3339(changes.period_end)
            note = squad_note(changes, week_end)
            if not args.send:
                print(visible(f"{note.title}\n{note.text}", keep="\n") + "\n")
                continue
            receiver = receivers[squad]
            result = asyncio.run(_send(receiver, receiver.note_requests(note)))
            failed += result != "delivered"
            print(visible(f"squad {squad} -> {receiver.name}: {result} (note {note.note_id})"))
        return 1 if failed else 0

    return run_read("squad-digest", dsn, work, source_tls(args))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    digest = sub.add_parser(
        "squad-digest",
        help="the weekly message per squad to its contributor manager: coaching and "
        "advancement changes since the week before",
        description="For each squad of the roster (or those named with --squad): who newly "
        "needs coaching, who no longer does, who became ready for advancement and who no "
        "longer is, against a week earlier. Prints the messages; with --send, sends each "
        "through the receiver --receiver names. Run it weekly (cron, systemd timer).",
    )
    digest.add_argument("--squad", action="append", default=[], help="only this squad (repeatable)")
    digest.add_argument(
        "--receiver",
        action="append",
        default=[],
        metavar="SQUAD=NAME",
        help="the receiver of the rules file that gets the squad's message (repeatable; "
        "types: " + ", ".join(NOTE_KINDS) + ")",
    )
    digest.add_argument(
        "--rules",
        help="alert rules file with the receivers (default: ANNOTEL_RULES_FILE, else the "
        "shipped example rules)",
    )
    digest.add_argument("--send", action="store_true", help="send (default: print only)")
    add_options(digest, None)
    digest.set_defaults(func=cmd_squad_digest)
