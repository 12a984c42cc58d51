"""The windows topic's records: how closed minutes travel from the worker to the alert stage.

Input partitions close their minutes independently (each has its own
watermark) and may live on different workers, while a rule's scope may span
partitions (a vendor works on several projects). So each partition's
checkpoint publishes what it closed to the single-partition windows topic:

- ``piece`` records carry aggregates of closed minutes (split to stay small),
  the delivery forecasts made as of their ends and their error-category counts;
- one ``mark`` record per checkpoint attempt says "partition p has closed
  everything before T" and how many pieces belong to that attempt.

The worker writes them (``encode_reports``), the alert stage reads them
(``decode``); both sides live here so the format has one owner. What the
stage does with them (an attempt counts only when its mark arrives) is in
``alerts.stage``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from alerts.evaluator import WindowKey

PIECE_KEYS = 2000  # aggregate rows per piece record: well under the broker's message limit


@dataclass
class ClosedWindow:
    """A minute whose aggregates are final for alerting (the watermark passed its end)."""

    partition: int
    window_start: int
    aggregates: dict[WindowKey, list[int]]
    # The delivery forecasts made as of this minute's end (``streams.delivery``), one
    # list per queue (``alerts.forecast_record``); they travel as a third element of
    # the minute's entry.
    forecasts: list[list[Any]] = field(default_factory=list)
    # The minute's error-category counts per window key (the partition's ``errors``),
    # so alerts on audits can say which categories their rejects fell into; they
    # travel as a fourth element of the minute's entry, a row being the key without
    # its minute, the category and the count. Records written before carry none.
    errors: dict[tuple[WindowKey, str], int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Piece:
    """Rows of closed minutes of one attempt: ``[window_start, rows]`` entries, a row being
    a window key without its minute followed by the aggregate."""

    attempt: str
    minutes: list[Any]


@dataclass(frozen=True, slots=True)
class Mark:
    """Attempt ``attempt`` of ``partition`` is complete: everything before ``closed_before``
    is closed; ``idle``: the partition has no open window left."""

    partition: int
    attempt: str
    closed_before: int
    idle: bool


def encode_reports(
    partition: int, closed_before: int, idle: bool, closed: Sequence[ClosedWindow]
) -> list[bytes]:
    """The records one checkpoint of one partition publishes: pieces, then the mark.

    A piece holds at most ``PIECE_KEYS`` rows: ``[window_start, rows]`` entries,
    a row being the key without its minute followed by the aggregate. A window
    that ends exactly at a piece boundary leaves an empty entry at the head of
    the next piece (harmless; kept so the records stay as they always were).
    """
    attempt = uuid.uuid4().hex
    pieces: list[bytes] = []
    entries: list[list[Any]] = []
    count = 0  # rows in ``entries``

    for window in closed:
        start = window.window_start
        rows = [[*key[1:], *aggregate] for key, aggregate in window.aggregates.items()]
        taken = 0
        while True:
            part = rows[taken : taken + PIECE_KEYS - count]
            entries.append([start, part])
            taken += len(part)
            count += len(part)
            if count < PIECE_KEYS:
                break
            pieces.append(orjson.dumps({"k": "piece", "p": partition, "a": attempt, "m": entries}))
            entries, count = [], 0
            if taken == len(rows):
                entries.append([start, []])
                break
    for window in closed:  # forecasts count toward a piece's rows like aggregates
        forecasts, taken = window.forecasts, 0
        while taken < len(forecasts):
            part = forecasts[taken : taken + PIECE_KEYS - count]
            entries.append([window.window_start, [], part])
            taken += len(part)
            count += len(part)
            if count >= PIECE_KEYS:
                pieces.append(
                    orjson.dumps({"k": "piece", "p": partition, "a": attempt, "m": entries})
                )
                entries, count = [], 0
    for window in closed:  # and so do error-category counts
        errors = [[*key[1:], category, n] for (key, category), n in window.errors.items()]
        taken = 0
        while taken < len(errors):
            part = errors[taken : taken + PIECE_KEYS - count]
            entries.append([window.window_start, [], [], part])
            taken += len(part)
            count += len(part)
            if count >= PIECE_KEYS:
                pieces.append(
                    orjson.dumps({"k": "piece", "p": partition, "a": attempt, "m": entries})
                )
                entries, count = [], 0
    if entries:
        pieces.append(orjson.dumps({"k": "piece", "p": partition, "a": attempt, "m": entries}))
    mark = {
        "k": "mark",
        "p": partition,
        "a": attempt,
        "n": len(pieces),
        "closed_before": closed_before,
        "idle": idle,
    }
    return [*pieces, orjson.dumps(mark)]


def decode(value: bytes) -> Piece | Mark | None:
    """One windows-topic record; None when it is not JSON or names no kind.

    A record of a known shape with a missing field raises (``KeyError``,
    ``ValueError``): only this module writes the topic, so that is a bug, not
    input to skip.
    """
    try:
        record = orjson.loads(value)
        kind = record["k"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    if kind == "piece":
        return Piece(record["a"], record["m"])
    return Mark(int(record["p"]), record["a"], int(record["closed_before"]), bool(record["idle"]))
