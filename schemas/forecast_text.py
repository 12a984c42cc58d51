"""A delivery forecast in the words a program manager forwards.

"at 1,240 tasks/h the queue finishes Sat 12 Dec 14:00 UTC, 1d 6h after the
deadline (Fri 11 Dec 08:00 UTC); 12 more annotators at today's AHT would close
the gap". One function, used by the delivery alerts and the report, so both
say the same thing; values are spelt by ``schemas.units``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from schemas.units import count, duration, from_epoch_us, per_hour, utc


@dataclass(frozen=True, slots=True)
class QueueForecast:
    """What the text says: the queue's forecast as of ``now_us`` (a delivery_1m row)."""

    now_us: int
    open_tasks: int
    throughput_per_hour: float
    window_s: int
    eta_us: int | None
    due_us: int | None
    slack_h: float | None
    annotators_needed: float | None
    annotators_active: int
    annotators_gap: float | None


def day_time(micros: int) -> str:
    """``Sat 12 Dec 14:00 UTC``: the weekday a deadline is talked about by, and the date."""
    return f"{utc(from_epoch_us(micros)):%a %d %b %H:%M} UTC"


def forecast_text(f: QueueForecast) -> str:
    """The ETA against the deadline, then the staffing gap; "stalled" when nothing moves."""
    deadline = None if f.due_us is None else day_time(f.due_us)
    if f.open_tasks == 0:
        head = "the queue has no open tasks left"
    elif f.eta_us is None:
        head = (
            f"the queue is stalled: {count(f.open_tasks)} tasks open and none submitted "
            f"in the last {duration(f.window_s)}"
        )
        if deadline is not None:
            head += f"; the deadline is {deadline}"
    else:
        head = (
            f"at {per_hour(f.throughput_per_hour)} tasks/h the queue finishes {day_time(f.eta_us)}"
        )
        if f.slack_h is not None and deadline is not None:
            side = "after" if f.slack_h < 0 else "before"
            head += f", {duration(abs(f.slack_h) * 3600)} {side} the deadline ({deadline})"
    if f.due_us is not None and f.due_us <= f.now_us and f.open_tasks:
        return f"{head}; the deadline has passed with {count(f.open_tasks)} tasks open"
    if f.annotators_gap is None or f.annotators_needed is None:
        return head
    if f.annotators_gap > 0:
        more = math.ceil(f.annotators_gap)
        return f"{head}; {count(more)} more annotators at today's AHT would close the gap"
    return (
        f"{head}; the {count(f.annotators_active)} active annotators suffice at today's AHT "
        f"({count(math.ceil(f.annotators_needed))} needed)"
    )
