"""The event generator: a seeded discrete-event simulation of annotation telemetry.

Task outcomes arrive as a Poisson process whose rate follows the daily rhythm
(Beijing hours); each picks a queue by volume, a source (human, hybrid,
machine) by the task type's mix and an annotator of the queue's workforce
(faster people get more tasks). Submissions may be gold tasks, and some are
audited a few minutes later; audits of fix/reject lead to rework. Every
message waits in one heap keyed by its publish time (event time plus a small
transport delay, or minutes for the delayed ones), so lines come out in
publish order: mostly time order, with the disorder a real feed has.

This module is the public face: the options, their checks, the sizing, and
one ``Run`` per ``events()`` call. The run is layered one job per module:
``simulator.state`` (random streams, the heap, the ground truth) <
``simulator.lines`` (the JSON of an event) < ``simulator.audits`` <
``simulator.revisions`` (later versions) < ``simulator.outcomes`` (task
outcomes) < ``simulator.run`` (the loop); ``simulator.manifest`` reads what
it counted; ``simulator.calibration`` holds the distributions,
``simulator.stamps`` writes the timestamps, ``simulator.counters`` names
what a line counts for.

Determinism: one ``random.Random`` per concern seeded from strings, lists in
fixed order, no clock; same arguments give the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import simulator.versions as ver
from simulator.calibration import P_EXPIRE, WARM_UP_MINUTES, rate_factor
from simulator.incidents import INCIDENTS
from simulator.manifest import build
from simulator.run import Run
from simulator.world import MAX_PROJECTS, MAX_VENDORS, MIN_VENDORS, build_world


class Simulator:
    """A seeded generator of annotation telemetry (see the module docstring).

    ``incidents``: names from ``simulator.INCIDENTS``; ``None`` means all of them.
    ``tasks_per_second``: mean rate of task outcomes over a day (the daily rhythm
    varies it between about 0.25x and 1.9x); audits, rework, duplicates and
    malformed messages come on top, about 1.2 lines per task outcome in all.
    ``versions``: pieces of work also come in several versions (edits, deletes,
    re-audits: ``simulator.versions``) and the manifest's aggregates follow the
    contract's version rule; off, every line is what it was before versions
    existed, byte for byte, and so is the manifest.
    ``delivery``: every queue also reports a ``queue_status`` each minute against a
    delivery plan (``simulator.delivery``); off, nothing changes, byte for byte.
    """

    def __init__(
        self,
        seed: int,
        start: datetime,
        incidents: Iterable[str] | None = None,
        *,
        projects: int = MAX_PROJECTS,
        vendors: int = 3,
        annotators: int = 300,
        tasks_per_second: float = 4.0,
        allowed_lateness_s: float = 120.0,
        versions: bool = False,
        delivery: bool = False,
    ) -> None:
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("start must carry a UTC offset")
        if not 1 <= projects <= MAX_PROJECTS:
            raise ValueError(f"projects must be 1-{MAX_PROJECTS}, got {projects}")
        if not MIN_VENDORS <= vendors <= MAX_VENDORS:
            raise ValueError(f"vendors must be {MIN_VENDORS}-{MAX_VENDORS}, got {vendors}")
        if not 1 <= annotators <= 100_000:
            raise ValueError(f"annotators must be 1-100000, got {annotators}")
        if not (0 < tasks_per_second <= 1e6 and math.isfinite(tasks_per_second)):
            raise ValueError(f"tasks_per_second must be positive, got {tasks_per_second}")
        chosen = set(INCIDENTS if incidents is None else incidents)
        unknown = sorted(chosen - set(INCIDENTS))
        if unknown:
            raise ValueError(
                f"unknown incident(s) {', '.join(unknown)}: use {', '.join(INCIDENTS)}"
            )
        self.seed = seed
        self.start = start
        self.start_ts = start.timestamp()
        self.incidents = tuple(name for name in INCIDENTS if name in chosen)
        self.tasks_per_second = tasks_per_second
        self.allowed_lateness_s = allowed_lateness_s
        self.versions = versions
        self.knobs: dict[str, Any] = {
            "projects": projects,
            "vendors": vendors,
            "annotators": annotators,
            "tasks_per_second": tasks_per_second,
        }
        if versions:  # only when on: the manifest of a run without is unchanged
            self.knobs["versions"] = True
        self.delivery = delivery
        if delivery:
            self.knobs["delivery"] = True
        self.world = build_world(seed, projects, vendors, annotators)
        self._run: Run | None = None

    # -- sizing -----------------------------------------------------------------------

    def lines_per_task(self) -> float:
        """Expected lines per task outcome: the outcome, its audits, rework and their audits."""
        total = sum(q.weight for q in self.world.queues)
        expected = 0.0
        for q in self.world.queues:
            submitted = 1 - P_EXPIRE - 0.06 * (1 - q.p_machine)
            audits = submitted * q.project.audit_rate
            # ~22 % of audits are fix/reject, ~60 % of those reworked, half of those audited
            lines = 1 + audits * 1.2
            if self.versions:
                follow_ups = ver.P_EDIT + ver.P_DELETE * (1 + ver.P_RESTORE)
                lines += submitted * ver.P_SUBMISSION_ID * follow_ups + audits * 1.2 * ver.P_REAUDIT
            expected += q.weight / total * lines
        return expected

    def estimate_span(self, n: int) -> timedelta:
        """Simulated time that ``n`` lines take from ``start`` (an estimate, within ~5 %).

        Minute by minute along the daily rhythm; audits and rework lag their task
        by minutes, so the first minutes of a run carry task outcomes only.
        """
        tasks_per_s = self.tasks_per_second
        extra = self.lines_per_task() - 1
        t = self.start_ts
        remaining = float(n)
        per_day = tasks_per_s * (1 + extra) * 86400
        if remaining > 2 * per_day:
            days = math.floor(remaining / per_day) - 1
            t += days * 86400
            remaining -= days * per_day
        recent: list[float] = []  # tasks per minute, for the lagging audits
        while remaining > 0:
            tasks = tasks_per_s * 60 * rate_factor(t)
            recent.append(tasks)
            lagged = recent[-WARM_UP_MINUTES - 1] if len(recent) > WARM_UP_MINUTES else 0.0
            minute = tasks + extra * lagged
            if self.delivery:  # a queue_status per queue and minute
                minute += len(self.world.queues)
            if minute >= remaining:
                t += 60 * remaining / minute
                break
            remaining -= minute
            t += 60
        return timedelta(seconds=round(t - self.start_ts, 3))

    # -- generation ---------------------------------------------------------------------

    def events(self, n: int | None = None, duration: timedelta | None = None) -> Iterator[bytes]:
        """JSON lines (without newline) in publish order: ``n`` lines, or ``duration``
        of simulated time, whichever ends first (at least one is required).

        Every call starts over; ``manifest`` describes the lines yielded by the
        latest call so far (complete once the iterator is exhausted).
        """
        if n is None and duration is None:
            raise ValueError("give n (lines) or duration (simulated time)")
        if n is not None and n < 0:
            raise ValueError(f"n must not be negative, got {n}")
        if duration is not None and duration.total_seconds() <= 0:
            raise ValueError("duration must be positive")
        span = self.estimate_span(n).total_seconds() if n is not None else math.inf
        if duration is not None:
            span = min(span, duration.total_seconds())
        end = self.start_ts + duration.total_seconds() if duration is not None else math.inf
        run = Run(self, n, end, max(span, 1.0), duration)
        self._run = run
        return run.lines()

    @property
    def manifest(self) -> dict[str, Any]:
        """Ground truth of the latest ``events()`` call (see ``simulator.manifest``)."""
        if self._run is None:
            raise RuntimeError("call events() first")
        return build(self._run)
