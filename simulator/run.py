"""The loop of one ``events()`` call: next arrival, publish everything due before it, repeat.

Task outcomes arrive as a Poisson process whose rate follows the daily
rhythm (``calibration.rate_factor``); before each arrival, every heap entry
due by then is taken in publish order: a valid line is counted for the
manifest and yielded, other entries (an audit, a rework, a later version, a
duplicate, a malformed message) are built or published when their time
comes. The ground truth it counts is read by ``simulator.manifest``.
"""

from __future__ import annotations

import math
from bisect import bisect
from collections.abc import Iterator
from heapq import heappop
from itertools import accumulate
from typing import Any

from simulator.calibration import rate_factor
from simulator.delivery import PUBLISH_DELAY_S
from simulator.incidents import MALFORMED_KINDS, iso
from simulator.outcomes import Outcomes
from simulator.state import AUDIT, BAD, DUP, LINE, REWORK, STATUS, VERSION


class Run(Outcomes):
    """One ``events()`` call: the state, the behaviour layered on it, and the loop."""

    def _take(self, key: float, kind: int, payload: Any) -> bytes | None:
        """Handle a heap entry other than a valid line; return a line to publish, if any."""
        if kind == STATUS and self.book is not None:
            self.book.snapshots_out += 1
            return payload  # type: ignore[no-any-return]
        if kind == DUP:
            line, pidx = payload
            self.duplicates[pidx] += 1
            return line  # type: ignore[no-any-return]
        if kind == BAD:
            line, name, pidx = payload
            reason, description = MALFORMED_KINDS[name]
            self.malformed.append(
                {
                    "line": self.lines_out + 1,
                    "kind": name,
                    "reason": reason,
                    "description": description,
                    "project_id": self.world.projects[pidx].project_id,
                    "published_at": iso(key),
                }
            )
            return line  # type: ignore[no-any-return]
        if kind == AUDIT:
            self._audit(key, payload)
        elif kind == REWORK:
            self._rework(key, payload)
        elif kind == VERSION:
            self._version(key, *payload)
        else:
            self._malformed(key, payload)
        return None

    def lines(self) -> Iterator[bytes]:
        """The main loop: next arrival, publish everything due before it, repeat."""
        n = -1 if self.n is None else self.n
        if n == 0:
            self.finished = True
            return
        heap = self.heap
        take = self._take
        arrival = self._arrival
        rnd = self.rnd
        log = math.log
        queues = self.world.queues
        cum = list(accumulate(q.weight for q in queues))
        total = cum[-1]
        base = self.sim.tasks_per_second
        t = self.sim.start_ts
        end = self.end
        last = math.nextafter(end, -math.inf)  # publish what is due strictly before the end
        lateness = self.sim.allowed_lateness_s
        stats = self.stats
        burst = self.burst
        burst_project = -1 if burst is None or burst.project is None else burst.project.index
        ledger = self.ledger
        book = self.book
        boundary = (t // 60 + 1) * 60  # the next minute boundary a snapshot describes
        count = 0
        newest = -math.inf
        minute = -1
        rate = base
        final = False
        while not final:
            m = int(t // 60)
            if m != minute:
                minute = m
                rate = base * rate_factor(t)
                if ledger is not None and m % 60 == 0:
                    ledger.forget(t)
            t -= log(1.0 - rnd()) / rate  # exponential gap (random.expovariate, inlined)
            if t >= end:
                t, final = last, True
            if book is not None:  # snapshots of every minute boundary before this arrival
                while boundary <= t:
                    for status in book.lines(boundary):
                        self._push(boundary + PUBLISH_DELAY_S, STATUS, status)
                    boundary += 60
            while heap and heap[0][0] <= t:
                key, _seq, kind, payload = heappop(heap)
                if kind == LINE:
                    # A valid event: count it for the manifest (inlined: the hot path).
                    line, stat, occurred, sums, micro, delayed = payload
                    stats[stat] = stats.get(stat, 0) + 1
                    sums[stat[0]] += micro
                    if ledger is not None:
                        ledger.published(_seq, stat, micro, sums, key)
                    if newest - occurred > lateness:
                        self.late_beyond += 1
                    elif delayed:
                        self.delayed_within += 1
                    if occurred > newest:
                        if newest == -math.inf:
                            self.first_occurred = occurred
                        newest = self.max_occurred = occurred
                    elif occurred < self.first_occurred:
                        self.first_occurred = occurred
                    if (
                        stat[0] == burst_project
                        and not delayed
                        and burst is not None
                        and burst.start <= occurred < burst.end
                        and rnd() < burst.params["duplicate_share"]
                    ):
                        self._push(key + 0.5 + 29.5 * rnd(), DUP, (line, stat[0]))
                        burst.affected += 1
                else:
                    line = take(key, kind, payload)
                    if line is None:
                        continue
                count += 1
                self.lines_out = count
                yield line
                if count == n:
                    self.finished = True
                    return
            if not final:
                arrival(t, queues[bisect(cum, rnd() * total)])
        self.finished = True
