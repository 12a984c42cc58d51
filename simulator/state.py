"""The state of one ``events()`` call and its publish queue.

Every message waits in one heap keyed by its publish time (event time plus a
small transport delay, or minutes for the delayed ones), so lines come out in
publish order: mostly time order, with the disorder a real feed has. Entries
are valid lines (``LINE``, counted for the manifest as they are yielded) or
work still to do when their time comes: an audit, a rework, a later version,
a duplicate or a malformed message.

The behaviour of a run is layered on this state, one job per module:
``simulator.lines`` (the JSON of an event) < ``simulator.audits`` <
``simulator.revisions`` (later versions) < ``simulator.outcomes`` (task
outcomes) < ``simulator.run`` (the loop); ``simulator.manifest`` reads the
ground truth it counts.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import timedelta
from hashlib import sha256
from heapq import heappush
from typing import TYPE_CHECKING, Any

import simulator.versions as ver
from simulator.calibration import TRANSPORT, lognormal, rate_factor
from simulator.delivery import DeliveryBook
from simulator.incidents import Incident, schedule
from simulator.stamps import Stamps
from simulator.world import Annotator, Project, Queue, World

if TYPE_CHECKING:  # the type of the back-reference; generate.py builds the run
    from simulator.generate import Simulator

# heap entry kinds
LINE, DUP, BAD, AUDIT, REWORK, BAD_DUE, VERSION = range(7)
STATUS = 7  # a queue_status line (simulator.delivery)


class Task:
    """What an audit or a rework needs to know about a submission."""

    __slots__ = (
        "annotator",
        "annotator_id",
        "attempt",
        "created",
        "quality",
        "queue",
        "source",
        "submitted",
        "task_id",
        "vendor_id",
    )

    def __init__(
        self,
        queue: Queue,
        annotator: Annotator | None,
        annotator_id: str,
        vendor_id: str | None,
        source: str,
        quality: float,
        task_id: str,
        created: float,
        attempt: int,
        submitted: float,
    ) -> None:
        self.queue = queue
        self.annotator = annotator
        self.annotator_id = annotator_id
        self.vendor_id = vendor_id
        self.source = source
        self.quality = quality
        self.task_id = task_id
        self.created = created
        self.attempt = attempt
        self.submitted = submitted


class RunState:
    """The state of one ``events()`` call: random streams, the heap, the ground truth."""

    def __init__(
        self, sim: Simulator, n: int | None, end: float, span_s: float, duration: timedelta | None
    ) -> None:
        self.sim = sim
        self.world: World = sim.world
        self.n = n
        self.end = end
        self.span_s = span_s
        self.duration = duration
        self.rng = random.Random(f"annotel-events/{sim.seed}")
        self.rnd = self.rng.random
        self.token = sha256(f"{sim.seed}|{sim.start_ts!r}".encode()).hexdigest()[:6]
        scheduled = schedule(self.world, sim.seed, sim.start_ts, span_s)
        self.active: dict[str, Incident] = {name: scheduled[name] for name in sim.incidents}
        self.heap: list[tuple[float, int, int, Any]] = []
        self.seq = 0
        self.event_seq = 0
        self.task_seq = 0
        # Bound once: every line writes one or two timestamps.
        stamps = Stamps()
        self._fmt: Callable[[float, Project], str] = stamps.fmt
        self._fmt_minute: Callable[[float, Project], str] = stamps.fmt_minute
        self.static: dict[tuple[int, str, str], tuple[str, str, str]] = {}
        self.task_prefix = [f"{self.token}-q{q.index:02d}-" for q in self.world.queues]
        # Ground truth, counted as lines are yielded:
        # (project index, counter names, source, vendor) -> lines
        self.stats: dict[tuple[int, tuple[str, ...], str, str | None], int] = {}
        self.lines_out = 0
        self.duplicates = [0] * len(self.world.projects)
        self.malformed: list[dict[str, Any]] = []
        self.handle_micro = [0] * len(self.world.projects)
        self.score_micro = [0] * len(self.world.projects)
        self.delayed_within = 0
        self.late_beyond = 0
        self.max_occurred = -math.inf
        self.first_occurred = math.inf
        self.finished = False
        self.drop = self.active.get("vendor_quality_drop")
        self.stall = self.active.get("queue_stall")
        self.aht = self.active.get("aht_spike")
        self.burst = self.active.get("duplicates_and_late")
        # Versions: their own random stream; the ledger keeps the rule's ground truth.
        self.ledger = ver.Ledger(len(self.world.projects)) if sim.versions else None
        self.vrnd = random.Random(f"annotel-versions/{sim.seed}").random
        self.submission_seq = 0
        # Delivery: the plans and the queue snapshots (no random stream of its own).
        self.book = (
            DeliveryBook(
                self.world.queues, sim.start_ts, span_s, sim.tasks_per_second, rate_factor,
                self.token,
            )
            if sim.delivery
            else None
        )  # fmt: skip
        bad = self.active.get("malformed")
        if bad is not None:
            for when, kind in bad.plan:
                self._push(when, BAD_DUE, kind)

    def _push(self, key: float, kind: int, payload: Any) -> None:
        self.seq += 1
        heappush(self.heap, (key, self.seq, kind, payload))

    def _emit(
        self,
        t: float,
        project: Project,
        line: bytes,
        counts: tuple[str, ...],
        source: str,
        vendor_id: str | None,
        sums: list[int],
        micro: int,
        version: tuple[ver.Entity, ver.OrderKey, bool, str] | None = None,
        not_before: float | None = None,
    ) -> None:
        """Queue a valid event for publishing (maybe delayed by the burst incident).

        ``version``: (entity, order key, retracted, kind) of a version of a piece
        of work, for the ledger. ``not_before``: publish no earlier (a first
        version sent after a later one).
        """
        rnd = self.rnd
        publish = t + rnd() * TRANSPORT
        delayed = 0
        if not_before is not None and publish < not_before:
            publish, delayed = not_before, 1
        burst = self.burst
        if burst is not None and burst.project is project and burst.start <= t < burst.end:
            u = rnd()
            within = burst.params["delayed_within_share"]
            if u < within:
                publish += 20.0 + 80.0 * rnd()
                delayed = 1
            elif u < within + burst.params["delayed_beyond_share"]:
                publish += 240.0 + 240.0 * rnd()
                delayed = 2
            if delayed:
                burst.affected += 1
        self.seq += 1
        heappush(
            self.heap,
            (
                publish,
                self.seq,
                LINE,
                (line, (project.index, counts, source, vendor_id), t, sums, micro, delayed),
            ),
        )
        if version is not None and self.ledger is not None:
            self.ledger.register(self.seq, *version)

    def _vlognormal(self, mu: float, sigma: float) -> float:
        """A log-normal draw from the versions' own random stream."""
        return lognormal(self.vrnd, mu, sigma)
