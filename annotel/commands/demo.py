"""``annotel demo``: the whole product on the embedded stack, in one command.

It starts the embedded broker, feeds it (the seeded simulator by default, or
``--input FILE.jsonl``) through ``streams.ingest.ingest`` exactly as
``annotel simulate`` / ``annotel ingest`` do, runs ``annotel worker`` with the
shipped alert rules, shows a live view on a terminal, then prints a summary
read back from ClickHouse and stops everything it started.

Bounded by default (the worker runs ``--until-drained``); ``--follow`` keeps
the feed and the worker running until Ctrl-C. The run itself is
``annotel.demo``; this module is its arguments and exit statuses.
"""

from __future__ import annotations

import argparse
import sys

from annotel.args import positive_int, rate
from annotel.demo.plan import (
    DEFAULT_ANNOTATORS,
    DEFAULT_EVENTS,
    DEFAULT_PROJECTS,
    DEFAULT_SEED,
    DEFAULT_TASKS_PER_SECOND,
    FOLLOW_RATE,
    DemoError,
    make_plan,
)
from annotel.demo.run import DemoRun
from annotel.demo.supervisor import Interrupted, interrupts_raise
from annotel.resources import shipped_rules


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        plan = make_plan(args)
    except DemoError as exc:
        print(f"annotel demo: {exc}", file=sys.stderr)
        return 2
    run = DemoRun(plan)
    with interrupts_raise():
        try:
            return run.run()
        except Interrupted:
            run.shutdown()
            print(
                f"annotel demo: interrupted; stopped the feed, the worker and the broker "
                f"(partial data in {plan.data_dir})",
                file=sys.stderr,
            )
            return 130
        except DemoError as exc:
            run.shutdown()
            print(f"annotel demo: {exc}", file=sys.stderr)
            return 1
        except BaseException:
            run.shutdown()
            raise


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser(
        "demo",
        help="run the product on the embedded stack (simulated feed, worker, alerts, summary)",
        description="Starts the embedded broker and ClickHouse, a seeded simulated feed with "
        "injected incidents (or --input FILE), the worker with the shipped alert rules, a live "
        "view on a terminal; prints a summary and stops everything it started.",
    )
    demo.add_argument("--input", help="replay this JSON-lines file instead of the simulator")
    demo.add_argument(
        "--events",
        type=positive_int,
        help=f"simulated lines (default {DEFAULT_EVENTS:,}; per run with --follow)",
    )
    demo.add_argument("--seed", type=int, help=f"simulator seed (default {DEFAULT_SEED})")
    demo.add_argument(
        "--follow",
        action="store_true",
        help="keep running live until Ctrl-C: four hours of history played fast, then "
        "events as the wall clock reaches them (worker without --until-drained)",
    )
    demo.add_argument(
        "--rate",
        type=rate,
        help=f"pace the feed in lines/s (default: as fast as possible; {FOLLOW_RATE:.0f} "
        "with --follow)",
    )
    demo.add_argument(
        "--data-dir", default=".annotel", help="where chDB keeps the data (default ./.annotel)"
    )
    demo.add_argument(
        "--rules",
        default=str(shipped_rules()),
        help="alert rules file (default: the shipped examples)",
    )
    demo.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    demo.add_argument(
        "--broker",
        choices=("tansu", "apache"),
        default="tansu",
        help="tansu: the embedded broker (default); apache: Apache Kafka, single node, "
        "from the jars `make kafka-broker` installs (needs Java 17)",
    )
    demo.add_argument(
        "--via-gateway",
        action="store_true",
        help="feed through annotel gateway over HTTP (one project as Label Studio webhooks, "
        "the rest as NDJSON to /v1/events; docs/gateway.md)",
    )
    knobs = demo.add_argument_group("simulator knobs (tuned defaults; see annotel/demo/plan.py)")
    knobs.add_argument(
        "--tasks-per-second",
        type=rate,
        help=f"mean task outcomes per simulated second (default {DEFAULT_TASKS_PER_SECOND})",
    )
    knobs.add_argument(
        "--projects", type=positive_int, help=f"projects, 1-5 (default {DEFAULT_PROJECTS})"
    )
    knobs.add_argument(
        "--annotators", type=positive_int, help=f"annotators (default {DEFAULT_ANNOTATORS})"
    )
    demo.set_defaults(func=cmd_demo)
