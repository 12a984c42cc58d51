"""``annotel plans check [FILE]``: every problem of a delivery plans file, with its line.

Files only (no broker, no ClickHouse), like ``annotel rules check``: run it in
CI before a plan change is merged; the worker refuses a file with problems.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from annotel import config
from schemas.display import visible
from schemas.units import rfc3339
from streams.plans_file import PlansError, load_plans


def cmd_plans_check(args: argparse.Namespace) -> int:
    path = Path(args.file) if args.file else config.settings().plans_file
    if path is None:
        print("annotel plans check: give FILE or set ANNOTEL_PLANS_FILE", file=sys.stderr)
        return 2
    try:
        plans = load_plans(path)
    except PlansError as exc:
        for problem in exc.problems:
            print(visible(f"{path}: {problem}"))
        count = len(exc.problems)
        print(f"{path}: invalid ({count} problem{'' if count == 1 else 's'})", file=sys.stderr)
        return 1
    dated = [plan for plan in plans.plans if plan.due_at is not None]
    text = f"{path}: valid: {len(plans.plans)} plan{'' if len(plans.plans) == 1 else 's'}"
    if dated:
        last = max(dated, key=lambda plan: plan.due_at or 0)  # type: ignore[arg-type, return-value]
        text += f", {len(dated)} with a deadline (the last {rfc3339(last.due_at)})"
    print(visible(text))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    plans = sub.add_parser(
        "plans",
        help="delivery plans: check a file",
        description="Delivery plans (YAML) give each queue its deadline, target and staffing "
        "assumptions for the delivery forecast; a plan's values take precedence over a "
        "queue_status snapshot's.",
    )
    plans_sub = plans.add_subparsers(dest="plans_command", required=True)
    check = plans_sub.add_parser("check", help="validate a plans file, listing every problem")
    check.add_argument("file", nargs="?", help="default: ANNOTEL_PLANS_FILE")
    check.set_defaults(func=cmd_plans_check)
