"""Decode rate: Kafka bytes -> validated event (or dead letter), events/s.

    python -m bench.decode_rate [--events 50000] [--repeat 5]

Baselines in the same run, interleaved so that a busy machine slows all alike:
orjson.loads alone (the floor of any JSON path) and ``ContractDecoder.decode_reference``
(the pure-pydantic path the fast path must equal; what ``decode`` was before
the shadow validators). Best of ``--repeat`` rounds.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime

import orjson

from schemas import ContractDecoder
from tests.oracle import generate


def sample(count: int) -> list[bytes]:
    stream = generate(seed=3, count=count)
    return [orjson.dumps(event) for event in stream.valid]


def measure(lines: list[bytes], repeat: int = 5) -> dict[str, float]:
    decoder = ContractDecoder()
    now = datetime.now(UTC)

    def json_only() -> None:
        for line in lines:
            orjson.loads(line)

    def run(decode: Callable[[bytes, datetime], object]) -> Callable[[], None]:
        def all_lines() -> None:
            for line in lines:
                decode(line, now)

        return all_lines

    stages = {
        "json": json_only,
        "decode": run(decoder.decode),
        "reference": run(decoder.decode_reference),
    }
    best = dict.fromkeys(stages, float("inf"))
    for _ in range(repeat):
        for name, stage in stages.items():
            started = time.perf_counter()
            stage()
            best[name] = min(best[name], time.perf_counter() - started)
    return {
        "events": len(lines),
        "decode_eps": len(lines) / best["decode"],
        "reference_eps": len(lines) / best["reference"],
        "json_only_eps": len(lines) / best["json"],
        "decode_us": best["decode"] / len(lines) * 1e6,
        "reference_us": best["reference"] / len(lines) * 1e6,
        "json_only_us": best["json"] / len(lines) * 1e6,
        "ratio_json_only": best["json"] / best["decode"],
        "speedup": best["reference"] / best["decode"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.decode_rate")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    result = measure(sample(args.events), args.repeat)
    print(f"python {platform.python_version()} on {platform.machine()}")
    print(f"events                       {result['events']:>12,}")
    print(
        f"decode + validate            {result['decode_eps']:>12,.0f} events/s"
        f"  {result['decode_us']:6.2f} us/event"
    )
    print(
        f"decode_reference (pydantic)  {result['reference_eps']:>12,.0f} events/s"
        f"  {result['reference_us']:6.2f} us/event"
    )
    print(
        f"orjson.loads only            {result['json_only_eps']:>12,.0f} events/s"
        f"  {result['json_only_us']:6.2f} us/event"
    )
    print(f"decode / json-only           {result['ratio_json_only']:>12.2f}")
    print(f"speed-up over reference      {result['speedup']:>12.2f}x")


if __name__ == "__main__":
    main()
