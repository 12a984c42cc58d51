"""Profile the pipeline: one bounded replay of the seeded stream under py-spy.

    pip install py-spy
    python -m bench.profile --events 100000 --out /tmp/annotel-profile
    python -m bench.profile --events 100000 --svg      # profile.svg, a flame graph

writes ``profile.txt`` (collapsed stacks, one line per stack) and
``summary.txt``, and prints where the worker's samples go: the top frames by own time, and the
pipeline stages by inclusive time (a sample counts for the first stage found
on its stack, innermost first).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from bench.stack import (
    broker,
    build_stream,
    create_topics,
    drained_totals,
    produce,
    scratch,
    worker_args,
    worker_env,
)
from schemas.loopback import free_port

# Innermost match wins: (stage, substrings of a frame "function (file:line)").
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("ClickHouse insert (chDB, clickhouse-connect)", ("clickhouse_connect", "chdb")),
    ("rows for ClickHouse (streams/rows.py)", ("rows_for_checkpoint",)),
    ("checkpoint encode (statelog, records, orjson)", ("encode_checkpoint", "streams/records.py")),
    ("closed windows to alerting (encode_reports)", ("encode_reports",)),
    ("alert evaluation (alerts/)", ("alerts/evaluator", "alerts/stage", "alerts/handoff")),
    ("dead letters", ("to_dead_letter", "deadletter.py")),
    ("decode: pydantic validation", ("model_validate", "pydantic")),
    ("decode: orjson + checks (schemas/decode.py)", ("schemas/decode.py",)),
    (
        "state update (streams/partition.py, dedup, window store)",
        (
            "streams/partition.py",
            "streams/dedup.py",
            "streams/window_store.py",
            "streams/windows.py",
            "streams/watermark.py",
        ),
    ),
    (
        "processor loop (streams/processor.py, checkpoint.py)",
        ("streams/processor.py", "streams/checkpoint.py"),
    ),
    ("agent glue (streams/faust_app.py)", ("streams/faust_app.py",)),
    ("Kafka client (aiokafka, kafka-python)", ("aiokafka", "kafka/")),
    ("Faust / mode (streams, consumer, timers)", ("faust/", "mode/")),
    ("asyncio event loop", ("asyncio/",)),
    ("imports and start-up", ("<module>", "importlib")),
]


IDLE_LEAVES = (
    "select (selectors.py",
    "_worker (concurrent/futures/thread.py:81)",  # an executor thread waiting for work
    "wait (threading.py",
    "sleep",
    "poll (",
)


OUTER_FRAMES = (
    "<frozen runpy>",
    "annotel/cli.py",
    "annotel/commands/worker.py",
    "streams/worker.py",
    "mode/worker.py",
    "asyncio/base_events.py",
    "asyncio/events.py",
    "Agent._execute_actor",
    "Service._execute_task",
)


def classify(stack: list[str]) -> str:
    """The innermost stage on the stack; asyncio internals belong to their caller."""
    found_asyncio = False
    for frame in reversed(stack):
        for stage, needles in STAGES:
            if any(needle in frame for needle in needles):
                if stage == "asyncio event loop":
                    found_asyncio = True
                    break
                return stage
    return "asyncio event loop" if found_asyncio else "other"


def _thread_name(frame: str) -> str:
    # "thread (1234): MainThread" -> "MainThread"
    return frame.split("): ", 1)[1].strip() if "): " in frame else frame


def summarize(collapsed: Path, top: int = 25) -> str:
    """Where the busy samples go; samples whose innermost frame waits are idle."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    busy: Counter[str] = Counter()
    idle: Counter[str] = Counter()
    for line in collapsed.read_text(errors="replace").splitlines():
        body, _, count_text = line.rpartition(" ")
        if not body or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f.strip() for f in body.split(";")]
        thread = _thread_name(frames[0]) if frames[0].startswith("thread") else "?"
        stack = [f for f in frames if not f.startswith(("thread", "process"))]
        if not stack:
            idle[thread] += count  # no Python frame: native code or the GIL wait
            continue
        if any(leaf in stack[-1] for leaf in IDLE_LEAVES):
            idle[thread] += count
            continue
        busy[thread] += count
        if thread == "MainThread":
            own[stack[-1]] += count
            stages[classify(stack)] += count
            for frame in set(stack):
                inclusive[frame] += count
    main = busy["MainThread"] or 1
    lines = ["threads (busy / idle samples):"]
    for thread, count in busy.most_common():
        lines.append(f"  {thread:<40} {count:>7} / {idle[thread]:>7}")
    lines += ["", "main thread (the event loop), busy samples by stage (innermost stage wins):"]
    for stage, count in stages.most_common():
        lines.append(f"  {100 * count / main:5.1f}%  {stage}")
    lines += ["", f"main thread, top {top} frames by own time:"]
    for frame, count in own.most_common(top):
        lines.append(f"  {100 * count / main:5.1f}%  {frame[:150]}")
    lines += ["", f"main thread, top {top} frames by inclusive time (outer frames left out):"]
    shown = 0
    for frame, count in inclusive.most_common():
        if count > 0.9 * main or any(outer in frame for outer in OUTER_FRAMES):
            continue
        lines.append(f"  {100 * count / main:5.1f}%  {frame[:150]}")
        shown += 1
        if shown >= top:
            break
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/annotel-profile"))
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--svg", action="store_true", help="a flame graph instead of the summary")
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("py-spy is not installed: pip install py-spy", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    stream = build_stream(args.events)
    with broker() as (bootstrap, _), scratch("annotel-profile-") as data:
        create_topics(bootstrap)
        produce(bootstrap, stream.records)
        command = [
            spy,
            "record",
            "--rate",
            str(args.rate),
            "--format",
            "svg" if args.svg else "raw",
            "--threads",
            "-o",
            str(args.out / ("profile.svg" if args.svg else "profile.txt")),
            "--",
            *worker_args(until_drained=True, web_port=free_port()),
        ]
        started = time.perf_counter()
        with open(args.out / "worker.log", "wb") as log:
            code = subprocess.run(
                command, env=worker_env(bootstrap, data), stdout=log, stderr=subprocess.STDOUT
            ).returncode
        wall = time.perf_counter() - started
    if code != 0:
        print((args.out / "worker.log").read_text()[-3000:], file=sys.stderr)
        return code
    totals = drained_totals((args.out / "worker.log").read_text(errors="replace"))
    if args.svg:
        print(f"wrote {args.out / 'profile.svg'}; wall under py-spy {wall:.1f}s, totals {totals}")
        return 0
    report = (
        f"events {args.events}, wall under py-spy {wall:.1f}s, totals {totals}\n\n"
        + summarize(args.out / "profile.txt")
    )
    (args.out / "summary.txt").write_text(report + "\n")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
