"""``annotel connectors check FILE``: every problem of a connectors file, before a gateway starts.

Like ``annotel rules check``: files only (no broker), each problem with its
line and path, then the environment variables the file names and whether
each is set here (never its value); ``--no-env`` skips the environment
(CI, where the secrets are absent).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter

from gateway.sources import ConnectorsError, env_problems, load_connectors
from schemas.display import visible


def cmd_connectors_check(args: argparse.Namespace) -> int:
    try:
        connectors = load_connectors(args.file)
    except ConnectorsError as exc:
        for problem in exc.problems:
            print(visible(f"{args.file}: {problem}"))
        count = len(exc.problems)
        print(f"{args.file}: invalid ({count} problem{'' if count == 1 else 's'})", file=sys.stderr)
        return 1
    problems = [] if args.no_env else env_problems(connectors, os.environ)
    for problem in problems:
        print(visible(f"{args.file}: {problem}"))
    needed = connectors.env_variables()
    if needed:
        print("environment variables the gateway reads at start:")
        width = max(len(variable) for variable, _ in needed)
        for variable, where in needed:
            state = (
                "not checked"
                if args.no_env
                else ("set" if os.environ.get(variable, "").strip() else "NOT SET")
            )
            print(f"  {variable:<{width}}  {state:<11}  {where}")
    if problems:
        print(f"{args.file}: invalid ({len(problems)} problem(s))", file=sys.stderr)
        return 1
    kinds = Counter(source.type for source in connectors.sources.values())
    detail = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items())) or "none"
    print(
        f"{args.file}: valid: {len(connectors.sources)} source(s) ({detail}), "
        f"{len(connectors.clients)} client(s)"
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    connectors = sub.add_parser("connectors", help="gateway connectors file tools")
    connectors_sub = connectors.add_subparsers(dest="connectors_command", required=True)
    check = connectors_sub.add_parser(
        "check", help="validate a connectors file, listing every problem"
    )
    check.add_argument("file")
    check.add_argument(
        "--no-env",
        action="store_true",
        help="do not check the secrets' environment variables (list them only)",
    )
    check.set_defaults(func=cmd_connectors_check)
