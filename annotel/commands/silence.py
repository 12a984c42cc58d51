"""``annotel silence add|list``: mute alert notifications matching labels, until a time.

It works on the silences file only (no broker, no ClickHouse); the worker
reads the file the rules name (``silences_file``).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path

from alerts.silences import Silence, SilencesError, add_silence, load_silences
from schemas.display import visible
from schemas.durations import parse_duration
from schemas.units import rfc3339

DEFAULT_SILENCES = "silences.yaml"


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
    print(f"added silence {silence.id} until {rfc3339(silence.ends_at, 'seconds')} to {args.file}")
    return 0


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


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
                f"{silence.id}  {_status(silence, now):7}  "
                f"until {rfc3339(silence.ends_at, 'seconds')}  {matchers}{who}{note}"
            )
        )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
