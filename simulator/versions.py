"""Pieces of work in several versions: what a platform sends on edits, deletes, re-reviews.

With ``Simulator(versions=True)`` about 30 % of task outcomes carry a
``submission_id`` (a Label Studio annotation id, say). About 3 % of
submissions are edited later (a new event: new event_id, same
submission_id, revision + 1, a later occurred_at, maybe another handle time
or queue), about 0.5 % are deleted (a retraction, ids only or the whole
version; a fifth of them come back with a later version), and about 5 % of
audits are followed by a re-audit minutes to hours later. A fifth of the
edited or re-audited pieces of work publish their first version after the
later one (a lower revision after a higher one). During a ``queue_stall``
incident the edits and restores of the stalled queue's project wait for its
end, as its rework does: a stalled queue sends no submissions.

``Ledger`` keeps the ground truth by the version rule of the contract, as
lines are published: of the versions of one piece of work (a submission by
``(project_id, submission_id)``, an audit by ``(project_id, task_id,
annotator_id)``, every audit) the greatest by (occurred_at, revision,
event_id bytes) counts, nothing when it is a retraction. Written here again
rather than imported: the simulator depends on nothing else of the project,
and its ground truth is an independent check of the worker.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

# Shares (of task_completed events, of submissions with a submission_id, of audits).
P_SUBMISSION_ID = 0.30
P_EDIT = 0.10  # x 0.30 = 3 % of submissions
P_DELETE = 1 / 60  # x 0.30 = 0.5 % of submissions
P_RESTORE = 0.2  # of deletions: a later version brings the work back
P_REAUDIT = 0.05
P_OUT_OF_ORDER = 0.2  # of edits and re-audits: the earlier version is published after
P_IDS_ONLY = 0.7  # of deletions: the retraction carries only what identifies the work
P_MOVE_QUEUE = 0.25  # of edits: the work moves to another queue of its project

# Delays, log-normal (median seconds, sigma), clamped: every version of a piece of
# work comes within a day of the previous one, well inside the worker's retention
# horizon (48 h by default) and the ledger's memory (FORGET_AFTER_S).
EDIT_DELAY = (math.log(1200.0), 1.0, 5.0, 6 * 3600.0)
DELETE_DELAY = (math.log(3600.0), 1.0, 60.0, 12 * 3600.0)
RESTORE_DELAY = (math.log(1800.0), 1.0, 60.0, 6 * 3600.0)
REAUDIT_DELAY = (math.log(1800.0), 1.2, 120.0, 8 * 3600.0)
FORGET_AFTER_S = 48 * 3600.0

KINDS = ("submission_ids", "edits", "deletions", "restores", "re_audits", "out_of_order")

Entity = tuple[str, ...]
OrderKey = tuple[int, int, bytes]
Stat = tuple[int, tuple[str, ...], str, str | None]


def delay(draw: Callable[[float, float], float], spec: tuple[float, float, float, float]) -> float:
    """A clamped log-normal delay; ``draw(mu, sigma)`` is the caller's log-normal."""
    mu, sigma, low, high = spec
    return min(max(draw(mu, sigma), low), high)


def instant_us(ts: float, millis: bool) -> int:
    """The event time a line carries, in µs: what the simulator's formatter writes.

    Timestamps are written truncated to milliseconds (or to seconds), so two
    versions may share an instant; the comparison must use what was written.
    """
    return int(ts * 1000) * 1000 if millis else int(ts) * 1_000_000


class Ledger:
    """The version rule's ground truth over the lines published so far.

    Each versioned line is registered when it is queued (``register``, by
    its heap sequence number) and applied when it is published (``published``).
    What no longer counts is kept apart (``uncounted`` lines per statistics
    key, and the micro-unit sums taken back), so the manifest can subtract it
    from the counts of every line.
    """

    def __init__(self, projects: int) -> None:
        self.pending: dict[int, tuple[Entity, OrderKey, bool, str]] = {}
        # entity -> (key, stat, micro, sums, published at)
        self.latest: dict[Entity, tuple[OrderKey, Stat, int, list[int], float]] = {}
        self.uncounted: dict[Stat, int] = {}
        self.superseded = [0] * projects
        self.retractions = [0] * projects
        self.kinds = dict.fromkeys(KINDS, 0)
        self.forgotten_before = -math.inf

    def register(self, seq: int, entity: Entity, key: OrderKey, retracted: bool, kind: str) -> None:
        self.pending[seq] = (entity, key, retracted, kind)

    def published(self, seq: int, stat: Stat, micro: int, sums: list[int], at: float) -> None:
        """Apply the rule to a line as it is published (no-op for a line of its own)."""
        entry = self.pending.pop(seq, None)
        if entry is None:
            return
        entity, key, retracted, kind = entry
        if kind:
            for name in kind.split("+"):
                self.kinds[name] += 1
        project = stat[0]
        if retracted:
            self.retractions[project] += 1
        best = self.latest.get(entity)
        if best is None:
            self.latest[entity] = (key, stat, micro, sums, at)
            return
        self.superseded[project] += 1
        if key > best[0]:
            self._uncount(best[1], best[2], best[3])
            self.latest[entity] = (key, stat, micro, sums, at)
        else:
            self._uncount(stat, micro, sums)
            self.latest[entity] = (*best[:4], at)

    def _uncount(self, stat: Stat, micro: int, sums: list[int]) -> None:
        self.uncounted[stat] = self.uncounted.get(stat, 0) + 1
        sums[stat[0]] -= micro

    def forget(self, now: float) -> None:
        """Drop pieces of work untouched for FORGET_AFTER_S: none of them gets another version."""
        cutoff = now - FORGET_AFTER_S
        if cutoff <= self.forgotten_before:
            return
        self.latest = {e: v for e, v in self.latest.items() if v[4] >= cutoff}
        self.forgotten_before = cutoff

    def describe(self) -> dict[str, Any]:
        return dict(self.kinds)
