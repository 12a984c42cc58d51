"""Decode rate: Kafka bytes -> validated event (or dead letter), events/s.

Baseline in the same run: orjson.loads alone (the floor of any JSON path).
"""

from __future__ import annotations

import platform
import time
from datetime import UTC, datetime

import orjson

from schemas import Decoder


def sample(count: int) -> list[bytes]:
    from tests.oracle import generate

    stream = generate(seed=3, count=count)
    return [orjson.dumps(event) for event in stream.valid]


def measure(lines: list[bytes], repeat: int = 3) -> dict[str, float]:
    decoder = Decoder()
    now = datetime.now(UTC)
    best_decode = best_json = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for line in lines:
            orjson.loads(line)
        best_json = min(best_json, time.perf_counter() - started)
        started = time.perf_counter()
        for line in lines:
            decoder.decode(line, now)
        best_decode = min(best_decode, time.perf_counter() - started)
    return {
        "events": len(lines),
        "decode_eps": len(lines) / best_decode,
        "json_only_eps": len(lines) / best_json,
        "ratio_json_only": best_json / best_decode,
    }


def main() -> None:
    result = measure(sample(50_000))
    print(f"python {platform.python_version()} on {platform.machine()}")
    print(f"events                 {result['events']:>12,}")
    print(f"decode + validate      {result['decode_eps']:>12,.0f} events/s")
    print(f"orjson.loads only      {result['json_only_eps']:>12,.0f} events/s")
    print(f"decode / json-only     {result['ratio_json_only']:>12.2f}")


if __name__ == "__main__":
    main()
