"""``annotel receivers test NAME``: a sample alert and its resolve through one receiver.

The first thing to run after pasting a webhook URL: the receiver is built by
the worker's own code from the rules file and the environment, and the two
notifications go through the worker's own delivery (signing, splitting,
limits per destination, retries, ``Retry-After``); only ``group_wait`` is
skipped; a digest receiver gets one sample digest listing both. Every
attempt is printed with what the platform answered, its body redacted of
every secret the receiver read (webhook URLs, signing secrets, passwords)
and of anything shaped like a credential. Exit 0 when both were delivered,
1 when one was not, 2 when the receiver cannot be built.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerts.digest import Digest
from alerts.dispatch import Attempt, Dispatcher
from alerts.model import SEVERITIES, AlertEvent, Severity, Status, fingerprint
from alerts.receiver_config import receiver_problems
from alerts.receivers.chat import WORDS, Language
from alerts.receivers.registry import ReceiverConfig
from alerts.rules import RulesError, load_rules
from annotel import config
from annotel.resources import shipped_rules
from schemas.display import visible
from schemas.redact import redact

TEST_RULE = "annotel_receiver_test"
REPLY_SHOWN_MAX = 2000  # characters of a reply body printed per attempt
POLL_S = 0.05


def sample(status: Status, severity: Severity, language: Language, receiver: str) -> AlertEvent:
    """A plainly labelled test alert: its rule name and summary say it is a test."""
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(minutes=5)
    scope = {"project_id": "receiver-test"}
    return AlertEvent(
        fingerprint=fingerprint(TEST_RULE, scope),
        rule=TEST_RULE,
        status=status,
        severity=severity,
        scope=scope,
        labels={"alertname": TEST_RULE, "severity": severity, **scope},
        annotations={"summary": WORDS[language]["test_summary"]},
        metric="audit_pass_rate",
        value=0.5 if status == "firing" else 0.95,
        threshold=0.85,
        window_start=start,
        window_end=end,
        starts_at=start,
        ends_at=end if status == "resolved" else None,
        receivers=(receiver,),
    )


def _reply_text(body: bytes) -> str:
    text = redact(visible(body.decode("utf-8", errors="replace"), keep="\n"))
    text = " ".join(text.split())
    return text if len(text) <= REPLY_SHOWN_MAX else text[:REPLY_SHOWN_MAX] + "…"


class _Printer:
    """Prints each attempt as it happens; remembers whether any message was not delivered."""

    def __init__(self) -> None:
        self.stage = ""
        self.failed = False

    def __call__(self, attempt: Attempt) -> None:
        carried = f"{len(attempt.events)} alert(s)" if attempt.events else "mention message"
        print(
            f"  {self.stage}, {carried}, attempt {attempt.number}: {attempt.reason} -> "
            f"{attempt.outcome}"
        )
        if attempt.reply is not None and attempt.reply.body:
            print(f"    answer: {_reply_text(attempt.reply.body)}")
        if attempt.outcome in ("rejected", "failed"):
            self.failed = True


async def _settle(dispatcher: Dispatcher, name: str) -> None:
    while True:
        stats = dispatcher.stats()[name]
        if stats.queue_depth == 0 and stats.in_flight == 0:
            return
        await asyncio.sleep(POLL_S)


async def _run(name: str, receiver: ReceiverConfig, severity: Severity) -> int:
    printer = _Printer()
    dispatcher = Dispatcher({name: receiver}, os.environ, observer=printer)
    lane_stats = dispatcher.stats()[name]
    print(f"receiver {name} ({lane_stats.type} -> {lane_stats.target})")
    language: Language = getattr(receiver, "language", "en")
    await dispatcher.start()
    try:
        statuses: tuple[Status, ...] = ("firing", "resolved")
        if receiver.digest is not None:
            printer.stage = "digest"
            firing, resolved = (sample(s, severity, language, name) for s in statuses)
            end = firing.window_end
            digest = Digest(name, end - timedelta(days=1), end, (firing,), (), (resolved,))
            dispatcher.submit_digest(digest)
            await _settle(dispatcher, name)
        for status in statuses if receiver.digest is None else ():
            printer.stage = status
            dispatcher.submit(sample(status, severity, language, name))
            await _settle(dispatcher, name)
    finally:
        await dispatcher.close(timeout_s=1.0)
    stats = dispatcher.stats()[name]
    verdict = "not delivered" if printer.failed or stats.failed else "delivered"
    print(f"{name}: {stats.sent} of 2 alert(s) sent in {stats.messages} message(s), {verdict}")
    return 1 if printer.failed or stats.failed else 0


def cmd_receivers_test(args: argparse.Namespace) -> int:
    path = Path(args.rules) if args.rules else config.settings().rules_file or shipped_rules()
    try:
        ruleset = load_rules(path)
    except RulesError as exc:
        for problem in exc.problems:
            print(visible(f"{path}: {problem}"), file=sys.stderr)
        return 2
    receiver = ruleset.receivers.get(args.name)
    if receiver is None:
        known = ", ".join(sorted(ruleset.receivers)) or "none"
        print(
            visible(
                f"annotel receivers test: {path} has no receiver {args.name!r} (receivers: {known})"
            ),
            file=sys.stderr,
        )
        return 2
    problems = receiver_problems({args.name: receiver}, os.environ)
    if problems:
        for problem in problems:
            print(visible(f"annotel receivers test: {problem}"), file=sys.stderr)
        return 2
    # Everything as the worker sends it, except the wait for more alerts of the group.
    immediate = receiver.model_copy(update={"group_wait": "0s"})
    severity = next(s for s in SEVERITIES if s == args.severity)
    return asyncio.run(_run(args.name, immediate, severity))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    receivers = sub.add_parser("receivers", help="alert receiver tools")
    receivers_sub = receivers.add_subparsers(dest="receivers_command", required=True)
    test = receivers_sub.add_parser(
        "test",
        help="send a sample firing alert and its resolve through a receiver of the rules file "
        "and print what the platform answered",
    )
    test.add_argument("name", help="the receiver's name in the rules file")
    test.add_argument(
        "--rules",
        help="alert rules file (default: ANNOTEL_RULES_FILE, else the shipped example rules)",
    )
    test.add_argument(
        "--severity",
        choices=SEVERITIES,
        default="warning",
        help="severity of the sample alert (mentions by severity follow it; default: warning)",
    )
    test.set_defaults(func=cmd_receivers_test)
