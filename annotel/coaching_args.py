"""The options ``annotel coach`` and ``annotel squad`` share: the data, the period, the output
and what people are judged by (``reports.coaching_types.CoachingOptions``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from annotel.args import positive_int
from annotel.commands.report import parse_time
from annotel.database import ReadFailure, add_source
from reports.coaching_model import NotFound
from reports.coaching_types import CoachingOptions
from reports.period import NoData
from schemas import units
from schemas.redact import redact

DEFAULTS = CoachingOptions()


def _help_percent(value: float) -> str:
    """A share as in every output, with its sign doubled: argparse expands % in help text."""
    return units.percent(value).replace("%", "%%")


def share(text: str) -> float:
    """A share written as 0.85 or 85 %."""
    raw = text.strip().removesuffix("%").strip()
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a share such as 0.85 or 85%, got {text!r}"
        ) from None
    if text.strip().endswith("%") or value > 1:
        value /= 100
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be above 0 and at most 100 %, got {text!r}")
    return value


def confidence(text: str) -> float:
    value = share(text)
    if value >= 1:
        raise argparse.ArgumentTypeError("a confidence is below 100 %")
    return value


def count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def add_options(parser: argparse.ArgumentParser, default_out: str | None) -> None:
    """The data, period and judgement options; ``--out`` and ``--format`` unless
    ``default_out`` is None (a command that writes no page)."""
    add_source(parser)
    parser.add_argument(
        "--days",
        type=positive_int,
        default=DEFAULTS.days,
        help=f"the period: this many days up to --to (default {DEFAULTS.days}; it starts no "
        "earlier than the data)",
    )
    parser.add_argument(
        "--to",
        dest="end",
        type=parse_time,
        metavar="TIME",
        help="end of the period, exclusive (default: the end of the newest minute with data)",
    )
    if default_out is not None:
        parser.add_argument("--out", help=f"output file, - for stdout (default: {default_out})")
        parser.add_argument("--format", choices=("html", "md"), default="html")
    judge = parser.add_argument_group(
        "how people are judged (see docs/report.md#how-people-are-judged)"
    )
    judge.add_argument(
        "--confidence",
        type=confidence,
        default=DEFAULTS.confidence,
        help="of the Wilson bounds (default 95%%)",
    )
    judge.add_argument(
        "--target-pass-rate",
        type=share,
        default=DEFAULTS.target_pass_rate,
        help=f"audit pass rate target (default {_help_percent(DEFAULTS.target_pass_rate)})",
    )
    judge.add_argument(
        "--target-gold",
        type=share,
        default=DEFAULTS.target_gold,
        help=f"gold accuracy target (default {_help_percent(DEFAULTS.target_gold)})",
    )
    judge.add_argument(
        "--min-tasks",
        type=count,
        default=DEFAULTS.min_tasks,
        help=f"submitted tasks before a person is ranked (default {DEFAULTS.min_tasks})",
    )
    judge.add_argument(
        "--min-audits",
        type=count,
        default=DEFAULTS.min_audits,
        help=f"audits before the pass rate is judged (default {DEFAULTS.min_audits})",
    )
    judge.add_argument(
        "--min-gold",
        type=count,
        default=DEFAULTS.min_gold,
        help=f"gold tasks before gold accuracy is judged (default {DEFAULTS.min_gold})",
    )
    judge.add_argument(
        "--advance-weeks",
        type=positive_int,
        default=DEFAULTS.advance_weeks,
        metavar="N",
        help=f"weeks quality must hold for advancement (default {DEFAULTS.advance_weeks})",
    )
    judge.add_argument(
        "--tenure-weeks",
        type=count,
        default=DEFAULTS.tenure_weeks,
        metavar="M",
        help=f"weeks since joining before advancement (default {DEFAULTS.tenure_weeks})",
    )
    judge.add_argument(
        "--gold-warn-below",
        type=share,
        default=DEFAULTS.gold_warn_below,
        help="gold warning below this accuracy "
        f"(default {_help_percent(DEFAULTS.gold_warn_below)}) ...",
    )
    judge.add_argument(
        "--gold-warn-after",
        type=count,
        default=DEFAULTS.gold_warn_after,
        help=f"... after more than this many gold tasks (default {DEFAULTS.gold_warn_after})",
    )


def options_of(args: argparse.Namespace) -> CoachingOptions:
    return CoachingOptions(
        days=args.days,
        confidence=args.confidence,
        min_tasks=args.min_tasks,
        min_audits=args.min_audits,
        min_gold=args.min_gold,
        target_pass_rate=args.target_pass_rate,
        target_gold=args.target_gold,
        advance_weeks=args.advance_weeks,
        tenure_weeks=args.tenure_weeks,
        gold_warn_below=args.gold_warn_below,
        gold_warn_after=args.gold_warn_after,
    )


def file_part(text: str) -> str:
    """An id as part of a file name: letters (any script), digits, ``-``, ``_`` and ``.``
    kept; anything else (``/``, spaces, controls) as ``%XXXX``, so two ids never collide."""
    out = []
    for ch in text:
        out.append(ch if ch.isalnum() or ch in "-_." else f"%{ord(ch):04X}")
    name = "".join(out)
    return name if name.strip(".") else name.replace(".", "%002E")


def write(text: str, out: str) -> None:
    if out == "-":
        sys.stdout.write(text)
    else:
        Path(out).write_text(text, encoding="utf-8")


def building(dsn: str, build: Callable[[], Any]) -> Any:
    """``build()``, its expected failures turned into one-line ``ReadFailure``s."""
    try:
        return build()
    except NoData:
        raise ReadFailure(
            f"{redact(dsn)} has no metrics yet (run `annotel demo`, or the worker, first)"
        ) from None
    except NotFound as exc:
        raise ReadFailure(str(exc)) from None
