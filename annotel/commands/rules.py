"""``annotel rules check FILE``: every problem of a rules file, before a worker refuses it.

It works on files only (no broker, no ClickHouse), so it runs anywhere the
rules live, e.g. in CI before a rules change is merged.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Mapping

from alerts.receiver_config import env_variables, receiver_problems
from alerts.receivers.registry import ReceiverConfig
from alerts.rules import RulesError, check_file, load_rules
from alerts.silences import SilencesError, load_silences
from schemas.display import visible


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
