"""``annotel rules check`` and ``annotel silence add|list``.

Registered by ``streams.cli`` like the other command modules. Both work on
files only (no broker, no ClickHouse), so they run anywhere the rules live,
e.g. in CI before a rules change is merged.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from alerts.receiver_config import env_variables, receiver_problems
from alerts.receivers.registry import ReceiverConfig
from alerts.rules import RulesError, check_file, load_rules
from alerts.silences import Silence, SilencesError, add_silence, load_silences
from schemas.display import visible
from schemas.durations import parse_duration

DEFAULT_SILENCES = "silences.yaml"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def cmd_rules_check(args: argparse.Namespace) -> int:
    """Print every problem (exit 1) or a one-line summary (exit 0), then the variables needed.

    The receiver checks are the worker's own (``receiver_problems``), run
    against this process's environment: run the check where the worker runs
    and a file that passes is one the worker starts on. ``--no-env`` skips
    only the checks of environment values (CI, where the secrets are absent).
    """
    problems = check_file(args.file)
    ruleset = None
    if not problems:
        try:
            ruleset = load_rules(args.file)
        except RulesError as exc:
            problems = exc.problems
    if ruleset is not None and ruleset.silences_file is not None:
        try:
            load_silences(ruleset.silences_file)
        except SilencesError as exc:
            problems = [f"silences_file {ruleset.silences_file}: {p}" for p in exc.problems]
    env = None if args.no_env else os.environ
    if ruleset is not None:
        problems = [*problems, *receiver_problems(ruleset.receivers, env)]
    for problem in problems:
        print(visible(f"{args.file}: {problem}"))
    if ruleset is not None:
        _print_env(ruleset.receivers, env)
    if problems or ruleset is None:
        print(f"{args.file}: invalid ({_plural(len(problems), 'problem')})", file=sys.stderr)
        return 1
    kinds = Counter(rule.type for rule in ruleset.rules)
    detail = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
    print(
        f"{args.file}: valid: {_plural(len(ruleset.rules), 'rule')} ({detail}), "
        f"{_plural(len(ruleset.receivers), 'receiver')}, "
        f"{_plural(len(ruleset.inhibit), 'inhibit rule')}"
    )
    return 0


def _print_env(receivers: Mapping[str, ReceiverConfig], env: Mapping[str, str] | None) -> None:
    """The ``*_env`` variables the worker will read, and whether each is set (never its value)."""
    needed = env_variables(receivers)
    if not needed:
        return
    print("environment variables the receivers read at start:")
    width = max(len(variable) for variable, _, _ in needed)
    for variable, receiver, setting in needed:
        if env is None:
            state = "not checked"
        else:
            state = "set" if env.get(variable, "").strip() else "NOT SET"
        print(f"  {variable:<{width}}  {state:<11}  {receiver}.{setting}")


def _matchers(pairs: list[str]) -> dict[str, str] | str:
    """``label=value`` pairs, or the error message for the first malformed one."""
    matchers: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            return f"--match {pair!r}: expected LABEL=VALUE"
        matchers[name.strip()] = value
    return matchers


def cmd_silence_add(args: argparse.Namespace) -> int:
    matchers = _matchers(args.match)
    if isinstance(matchers, str):
        print(f"annotel silence add: {matchers}", file=sys.stderr)
        return 2
    try:
        duration = parse_duration(args.duration)
        silence = add_silence(
            Path(args.file),
            matchers,
            duration=duration,
            comment=args.comment,
            created_by=args.created_by or _user(),
        )
    except (ValueError, OSError) as exc:
        print(f"annotel silence add: {exc}", file=sys.stderr)
        return 2
    print(f"added silence {silence.id} until {_iso(silence.ends_at)} to {args.file}")
    return 0


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status(silence: Silence, now: datetime) -> str:
    if silence.active(now):
        return "active"
    return "expired" if now >= silence.ends_at else "pending"


def cmd_silence_list(args: argparse.Namespace) -> int:
    try:
        silences = load_silences(args.file)
    except SilencesError as exc:
        print(f"annotel silence list: {exc}", file=sys.stderr)
        return 1
    now = datetime.now(UTC)
    shown = [s for s in silences.items if args.all or _status(s, now) != "expired"]
    if not shown:
        print(f"no silences in {args.file}")
        return 0
    for silence in shown:
        matchers = " ".join(f"{k}={v}" for k, v in silence.matchers.items())
        who = f" by {silence.created_by}" if silence.created_by else ""
        note = f" ({silence.comment})" if silence.comment else ""
        print(
            visible(
                f"{silence.id}  {_status(silence, now):7}  until {_iso(silence.ends_at)}  "
                f"{matchers}{who}{note}"
            )
        )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rules = sub.add_parser("rules", help="alert rules tools")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    check = rules_sub.add_parser("check", help="validate a rules file, listing every problem")
    check.add_argument("file")
    check.add_argument(
        "--no-env",
        action="store_true",
        help="do not check the receivers' environment variables (list them only): for CI, "
        "where the secrets are not set",
    )
    check.set_defaults(func=cmd_rules_check)

    silence = sub.add_parser("silence", help="mute alert notifications matching labels")
    silence_sub = silence.add_subparsers(dest="silence_command", required=True)
    add = silence_sub.add_parser("add", help="add a silence that expires")
    add.add_argument(
        "--match", action="append", required=True, metavar="LABEL=VALUE", help="repeatable"
    )
    add.add_argument("--for", dest="duration", required=True, help="how long, e.g. 2h")
    add.add_argument("--comment")
    add.add_argument("--created-by", help="default: the current user")
    add.add_argument("--file", default=DEFAULT_SILENCES)
    add.set_defaults(func=cmd_silence_add)
    listing = silence_sub.add_parser("list", help="show active and pending silences")
    listing.add_argument("--file", default=DEFAULT_SILENCES)
    listing.add_argument("--all", action="store_true", help="include expired silences")
    listing.set_defaults(func=cmd_silence_list)
