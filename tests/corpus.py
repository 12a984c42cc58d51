"""The hostile-input corpus (tests/data/hostile-events.jsonl): the cases issue 19 found.

Each case is one message (``event``: a JSON object, ``raw``: the exact text,
``raw_b64``: bytes that are not UTF-8) or several (``events``), and what each
must end as: ``stored`` or the reason of its dead letter (with the field it
names). Used as regression inputs by the fuzz test and the end-to-end poison
test.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import orjson

CORPUS = Path(__file__).parent / "data" / "hostile-events.jsonl"


@dataclass(frozen=True)
class Case:
    name: str
    finding: int
    expect: str  # "stored" or a dead-letter reason
    field: str | None
    lines: tuple[bytes, ...]
    # Stored only on a fresh partition (too_late once it has a watermark).
    fresh_only: bool = False
    # A value below the state's micro-units (1e-6): stored exactly in the event
    # table, summed as 0 in the aggregates, where an exact oracle differs.
    micro_units: bool = False

    @property
    def poison(self) -> bool:
        return self.expect != "stored"


def load() -> list[Case]:
    cases = []
    for text in CORPUS.read_text(encoding="utf-8").splitlines():
        entry = json.loads(text)
        if "events" in entry:
            lines = tuple(orjson.dumps(event) for event in entry["events"])
        elif "event" in entry:
            lines = (orjson.dumps(entry["event"]),)
        elif "raw_b64" in entry:
            lines = (base64.b64decode(entry["raw_b64"]),)
        else:
            lines = (entry["raw"].encode("utf-8", "surrogatepass"),)
        cases.append(
            Case(
                entry["case"],
                entry["finding"],
                entry["expect"],
                entry.get("field"),
                lines,
                entry.get("fresh_only", False),
                entry.get("micro_units", False),
            )
        )
    return cases
