"""Audits: a verdict, a score and error categories drawn from the quality of the work.

A submission is audited minutes later (a spot check mostly, a full audit for
rework); fix and reject may send the work back (``REWORK``). With versions on,
every audit is a version of the audited work and some are re-audited later
(``simulator.revisions``). ``judge`` is shared with the re-audit, so both
verdicts follow one rule.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson

import simulator.versions as ver
from simulator.calibration import (
    APPROVE_SHORTFALL,
    LOG_AUDIT,
    LOG_SPEED_AUDIT,
    REWORK_DELAY,
    TRANSPORT,
    lognormal,
)
from simulator.counters import C_VERDICT_COUNTS
from simulator.lines import EventLines
from simulator.state import REWORK, VERSION, Task
from simulator.world import Queue


def judge(
    rnd: Callable[[], float], queue: Queue, quality: float, p_approve: float
) -> tuple[str, float, list[str]]:
    """An audit's verdict, score and error categories, from the work's quality."""
    categories: list[str] = []
    if rnd() < p_approve:
        verdict = "approve"
        score = 0.85 + 0.15 * rnd()
    else:
        verdict = "reject" if rnd() < 0.25 + 0.5 * (1 - quality) else "fix"
        score = 0.05 + 0.45 * rnd() if verdict == "reject" else 0.55 + 0.3 * rnd()
        errors = queue.errors
        # Weaker work draws from the whole list; good work mostly from the minor end.
        span = len(errors) if rnd() > quality else max(1, len(errors) // 2)
        categories.append(errors[int(rnd() * span)])
        if rnd() < 0.3:
            categories.append(errors[int(rnd() * len(errors))])
    return verdict, score, categories


class Audits(EventLines):
    """The audit of a submission, due when its heap entry (``AUDIT``) comes up."""

    def _audit(self, t: float, task: Task) -> None:
        """The audit of a submission: verdict, score and error categories follow quality."""
        rnd = self.rnd
        queue = task.queue
        project = queue.project
        quality = min(max(task.quality + (0.1 if task.attempt > 1 else 0.0), 0.0), 1.0)
        # Convex in the shortfall: solid work (quality ~0.75) passes ~96 %, a weak
        # annotator (quality ~0.3) ~68 %, so healthy vendors sit at ~0.92-0.97.
        p_approve = 1.0 - APPROVE_SHORTFALL * (1.0 - quality) ** 2
        drop = self.drop
        if (
            drop is not None
            and drop.project is project
            and task.vendor_id == drop.vendor_id
            and drop.start <= t < drop.end
        ):
            p_approve *= drop.params["approval_factor"]
            drop.affected += 1
        verdict, score, categories = judge(rnd, queue, quality, p_approve)
        event = self._head(
            "ta", t, queue, task.task_id, task.annotator_id, task.vendor_id, task.source
        )
        event["auditor_id"] = project.auditors[int(rnd() * len(project.auditors))]
        event["verdict"] = verdict
        score = round(score, 2)
        event["score"] = score
        if categories:
            event["error_categories"] = categories
        if task.attempt > 1:
            kind = "full"
        else:
            v = rnd()
            kind = "spot" if v < 0.9 else "speed" if v < 0.97 else "consensus"
        event["audit_kind"] = kind
        audit_time = lognormal(
            rnd, queue.log_handle + (LOG_SPEED_AUDIT if kind == "speed" else LOG_AUDIT), 0.5
        )
        event["audit_time_s"] = round(audit_time, 1)
        counts = C_VERDICT_COUNTS[verdict]
        line = orjson.dumps(event)
        version = not_before = None
        if self.ledger is not None:  # every audit is a version of the audited work
            key = (ver.instant_us(t, project.millis), 1, event["event_id"].encode())
            kind = ""
            if self.vrnd() < ver.P_REAUDIT:
                when = t + ver.delay(self._vlognormal, ver.REAUDIT_DELAY)
                if self.vrnd() < ver.P_OUT_OF_ORDER:
                    not_before, kind = when + TRANSPORT + 1.0 + 59.0 * self.vrnd(), "out_of_order"
                self._push(when, VERSION, ("re_audit", 1, event, queue, task))
            version = ((project.project_id, task.task_id, task.annotator_id), key, False, kind)
        self._emit(
            t,
            project,
            line,
            counts,
            task.source,
            task.vendor_id,
            self.score_micro,
            round(score * 1e6),
            version,
            not_before,
        )
        if (
            verdict != "approve"
            and task.attempt < 3
            and rnd() < (0.75 if verdict == "reject" else 0.45)
        ):
            self._push(t + lognormal(rnd, *REWORK_DELAY), REWORK, task)
