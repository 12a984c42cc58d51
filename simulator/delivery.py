"""The simulator's delivery plans and ``queue_status`` snapshots (``Simulator(delivery=True)``).

Each queue starts the run with a batch to deliver: ``target_total`` tasks, the
submissions the simulator expects on it over the first ``PLAN_SHARE`` of a
longer horizon (along the daily rhythm), due ``MARGIN_SHARE`` of the run's
span after that. Its open tasks are the target minus its first-attempt
submissions so far, and a ``queue_status`` goes out for every queue at every
minute boundary, published a second later, so a healthy queue finishes ahead
of its deadline and the queue of the ``queue_stall`` incident falls behind
while it is stalled. Plans and counts go into the manifest (``describe``).

Nothing here draws from the simulator's random streams: with delivery off the
lines are the same bytes as without this module, and with it on, over the same
simulated span (``duration``), the other lines are too, with the snapshots in
between. (A run of ``n`` lines spans less time with snapshots among them, so
its incidents are scheduled differently.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from simulator.incidents import iso
from simulator.world import Queue

PLAN_SHARE = 1.25  # the batch: expected submissions over this share of the span
MARGIN_SHARE = 0.5  # deadline: this share of the span after the batch's expected end
SUBMIT_SHARE = 0.9  # task outcomes that are submissions (skips, expiries aside)
PUBLISH_DELAY_S = 1.0


class DeliveryBook:
    """Open tasks per queue, their plans, and the snapshots that say so."""

    def __init__(
        self,
        queues: Sequence[Queue],
        start_ts: float,
        span_s: float,
        tasks_per_second: float,
        rate_factor: Callable[[float], float],
        token: str,
    ) -> None:
        self.queues = list(queues)
        self.token = token
        total_weight = sum(q.weight for q in queues)
        horizon = start_ts + PLAN_SHARE * span_s
        expected = 0.0
        t = start_ts
        while t < horizon:  # minute by minute along the daily rhythm
            expected += tasks_per_second * 60 * rate_factor(t) * min(1.0, (horizon - t) / 60)
            t += 60
        self.due_ts = round(horizon + MARGIN_SHARE * span_s)
        self.target = [
            max(1, round(expected * SUBMIT_SHARE * q.weight / total_weight)) for q in queues
        ]
        self.done = [0] * len(queues)
        self.snapshots = 0  # made
        self.snapshots_out = 0  # yielded (counted by the run)
        self.serial = 0

    def submitted(self, queue: Queue) -> None:
        """A first-attempt submission on ``queue``: one task less open."""
        self.done[queue.index] += 1

    def lines(self, ts: float) -> list[bytes]:
        """One ``queue_status`` per queue as of ``ts`` (a minute boundary)."""
        out = []
        for queue in self.queues:
            self.serial += 1
            event = {
                "event_type": "queue_status",
                "schema_version": 1,
                "event_id": f"{self.token}-qs-{self.serial:07d}",
                "occurred_at": iso(ts),
                "project_id": queue.project.project_id,
                "queue_id": queue.queue_id,
                "open_tasks": max(0, self.target[queue.index] - self.done[queue.index]),
                "target_total": self.target[queue.index],
                "due_at": iso(self.due_ts),
            }
            out.append(orjson.dumps(event))
        self.snapshots += len(out)
        return out

    def describe(self) -> dict[str, Any]:
        """The plans and where each queue stood at the end (the manifest's ``delivery``)."""
        return {
            "due_at": iso(self.due_ts),
            "snapshots": self.snapshots_out,
            "queues": [
                {
                    "project_id": q.project.project_id,
                    "queue_id": q.queue_id,
                    "target_total": self.target[q.index],
                    "submitted": self.done[q.index],
                    "open_tasks": max(0, self.target[q.index] - self.done[q.index]),
                }
                for q in self.queues
            ],
        }
