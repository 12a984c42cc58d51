"""``python -m bench``: throughput, latency and memory against two baselines, in one run.

    python -m bench                       # N = 200 000, baseline on 20 000
    python -m bench --events 50000 --json
    python -m bench --broker apache       # the same on Apache Kafka (make kafka-broker)
    python -m bench --repeat 3            # best of 3 rounds for the throughput ratios
    python -m bench --scaling             # pipeline at 100 k, 400 k, 1.6 M (+ 10 k annotators)
    python -m bench --scaling 100000,400000
    python -m bench --scaling 50000,200000 --retention 2h   # state bounded by the horizon
    python -m bench --scaling 1600000 --worker-env ANNOTEL_CHDB_PROCESS=false   # A/B a setting
    python -m bench --gateway             # events/s and request latency through annotel gateway
    python -m bench --gateway --events 50000 --clients 8

See bench/runner.py for what is measured and docs/performance.md for results.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path

import orjson

from bench import gateway, stack
from bench.runner import machine, main_run, render, scaling_run
from embedded.apache_kafka import unavailable_reason

DEFAULT_SCALING = "100000,400000,1600000"


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N[,N...], got {text!r}") from None
    if not sizes or min(sizes) < 1000:
        raise argparse.ArgumentTypeError("every N must be at least 1000")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="N lines (default 200000)")
    parser.add_argument(
        "--baseline-events",
        type=int,
        default=20_000,
        help="lines for the Faust baseline, the first M of the same stream (default 20000)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="K",
        help="measure ceiling, baseline and pipeline K times and keep the best of each "
        "(default 1; each extra round adds about a minute at N = 200 000)",
    )
    parser.add_argument(
        "--scaling",
        nargs="?",
        const=DEFAULT_SCALING,
        type=_sizes,
        default=None,
        metavar="N,N,...",
        help=f"scaling run only (default sizes {DEFAULT_SCALING}); the last size is "
        "repeated with 10 000 annotators",
    )
    parser.add_argument(
        "--gateway",
        action="store_true",
        help="gateway run only: --events lines through annotel gateway as NDJSON batches of "
        "500 (bench/gateway.py)",
    )
    parser.add_argument(
        "--clients", type=int, default=4, help="gateway only: concurrent posters (default 4)"
    )
    parser.add_argument(
        "--retention",
        default=None,
        help="scaling only: ANNOTEL_RETENTION for the workers (default: the shipped 48h)",
    )
    parser.add_argument(
        "--broker",
        choices=stack.BROKER_KINDS,
        default="tansu",
        help="tansu: the embedded broker (default); apache: Apache Kafka from "
        "`make kafka-broker` (needs Java 17)",
    )
    stack.add_worker_env_option(parser)
    parser.add_argument("--latency-rate", type=float, default=500.0, help="live events/s")
    parser.add_argument("--latency-seconds", type=float, default=30.0, help="live run length")
    parser.add_argument("--alert-trials", type=int, default=30)
    parser.add_argument("--keep-logs", type=Path, default=None, help="write process logs here")
    parser.add_argument(
        "--save",
        type=Path,
        default=Path(".annotel/bench/last-run.json"),
        help="where the full JSON result is also written (default .annotel/bench/last-run.json)",
    )
    args = parser.parse_args(argv)
    if args.events < 1000:
        parser.error("--events must be at least 1000")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.repeat > 1 and args.scaling:
        parser.error("--repeat applies to the main run, not to --scaling")
    if args.gateway and (args.scaling or args.repeat > 1):
        parser.error("--gateway is a run of its own: no --scaling, no --repeat")
    if args.clients < 1:
        parser.error("--clients must be at least 1")
    stack.apply_worker_env(parser, args.worker_env)
    if args.broker == "apache":
        reason = unavailable_reason()
        if reason is not None:
            parser.error(f"--broker apache: {reason}")
    stack.use_broker(args.broker)

    host = machine()
    with tempfile.TemporaryDirectory(prefix="annotel-bench-logs-") as scratch:
        tmp = args.keep_logs or Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        result: dict[str, object]
        if args.gateway:
            result = {"gateway": gateway.gateway_run(args.events, args.clients, tmp)}
        elif args.scaling:
            result = {"scaling": scaling_run(args.scaling, tmp, retention=args.retention)}
        else:
            result = main_run(
                args.events,
                args.baseline_events,
                tmp,
                latency_rate=args.latency_rate,
                latency_seconds=args.latency_seconds,
                alert_trials=args.alert_trials,
                repeat=args.repeat,
            )
    host["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["machine"] = host
    result["worker_env"] = dict(stack.WORKER_OVERRIDES)
    text = orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n"
    saved = args.save
    with contextlib.suppress(OSError):
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(text)
    if args.json:
        sys.stdout.write(text)
    elif args.gateway:
        print(gateway.render(result["gateway"]))  # type: ignore[arg-type]
        print(f"full result (JSON): {saved}")
    else:
        print(render(result, host))
        print(f"full result (JSON): {saved}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
