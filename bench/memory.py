"""Where the worker's memory goes: allocator figures at the RSS peak, and a census.

    python -m bench.memory [--events 1600000] [--annotators 10000] [--census-at N]

One bounded replay of the seeded stream (as ``python -m bench --scaling``
produces it) through the shipped worker, run under ``bench.memory_probe``,
which samples from inside the process: resident memory (anonymous and
file-backed), pymalloc's arenas, glibc's heap (and how much of it is in use)
and glibc's mappings. Printed: the sample with the highest RSS, the median of
the second half of the run, and, with ``--census-at``, what the partition
states and the alert stage held at that point (``sys.getsizeof`` over the
objects they reach). The census stops the event loop for a few seconds and
unfreezes the start-up objects: figures after it are not the shipped
worker's, so take the peak from a run without it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

import orjson

from bench.stack import (
    add_worker_env_option,
    apply_worker_env,
    broker,
    build_stream,
    create_topics,
    produce,
    run_measured,
    scratch,
    worker_env,
)
from schemas.loopback import free_port

FIELDS = (
    "anon",
    "file",
    "pymalloc_arenas",
    "glibc_heap",
    "glibc_heap_used",
    "glibc_mapped",
    "other_anon",
)


def probe(events: int, annotators: int, census_at: int, every: float) -> dict[str, Any]:
    stream = build_stream(events, annotators=annotators)
    with broker() as (bootstrap, broker_process), scratch("annotel-memory-") as tmp:
        create_topics(bootstrap)
        produce(bootstrap, stream.records)
        del stream
        out = tmp / "probe.jsonl"
        env = worker_env(
            bootstrap,
            tmp / "data",
            PROBE_OUT=str(out),
            PROBE_EVERY=str(every),
            PROBE_CENSUS_AT=str(census_at),
        )
        args = [sys.executable, "-m", "bench.memory_probe", "worker", "--until-drained"]
        observed = run_measured(
            [*args, "--web-port", str(free_port())],
            env,
            log_path=tmp / "worker.log",
            timeout=3600,
            broker_process=broker_process,
        )
        if observed.returncode != 0:
            raise RuntimeError(f"worker exited {observed.returncode}:\n{observed.log[-4000:]}")
        rows = [orjson.loads(line) for line in out.read_bytes().splitlines() if line.strip()]
    samples = [r for r in rows if r["kind"] == "sample"]
    if not samples:
        raise RuntimeError("the probe wrote no sample")
    peak = max(samples, key=lambda r: r["anon"] + r["file"])
    later = samples[len(samples) // 2 :]
    return {
        "events": events,
        "annotators": annotators,
        "wall_s": observed.wall_s,
        "peak_rss_mb": observed.peak_rss / 2**20,  # watched from outside, as the benchmark does
        "peak_rss_tree_mb": observed.peak_rss_tree / 2**20,  # with the chDB process
        "at_peak_sample": {name: peak[name] for name in (*FIELDS, "t")},
        "second_half_median": {name: statistics.median(r[name] for r in later) for name in FIELDS},
        "census": next((r for r in rows if r["kind"] == "census"), None),
        "samples": len(samples),
    }


def render(result: dict[str, Any]) -> str:
    peak, median = result["at_peak_sample"], result["second_half_median"]
    lines = [
        f"{result['events']:,} events x {result['annotators']:,} annotators: "
        f"wall {result['wall_s']:.1f} s, peak RSS {result['peak_rss_mb']:.0f} MB "
        f"(from outside; {result['samples']} samples inside), with the embedded chDB "
        f"process {result['peak_rss_tree_mb']:.0f} MB",
        f"  {'MiB':<22} {'at the peak sample':>20} {'2nd-half median':>16}",
    ]
    for name in FIELDS:
        lines.append(f"  {name:<22} {peak[name]:>20,.0f} {median[name]:>16,.0f}")
    lines.append(f"  (peak sample at {peak['t']:.1f} s after start)")
    census = result["census"]
    if census:
        lines.append(f"census after {census['messages']:,} messages (MiB):")
        for name, value in census.items():
            if name not in ("kind", "parts", "messages"):
                lines.append(f"  {name:<26} {value:>10}")
        for name, value in census["parts"].items():
            lines.append(f"  {name:<26} {value['mib']:>10} MiB in {value['objects']:,} objects")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory")
    parser.add_argument("--events", type=int, default=1_600_000)
    parser.add_argument("--annotators", type=int, default=10_000)
    parser.add_argument("--census-at", type=int, default=0, help="input messages (0: no census)")
    parser.add_argument("--every", type=float, default=0.5, help="seconds between samples")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--save", type=Path, default=None)
    add_worker_env_option(parser)
    args = parser.parse_args(argv)
    if args.events < 1000 or args.annotators < 1 or args.census_at < 0 or args.every <= 0:
        parser.error("--events >= 1000, --annotators >= 1, --census-at >= 0, --every > 0")
    apply_worker_env(parser, args.worker_env)
    result = probe(args.events, args.annotators, args.census_at, args.every)
    if args.save:
        args.save.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(result).decode() if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
