"""Later versions of a piece of work: edits, deletions, restores and re-audits.

Only with versions on (``simulator.versions``): a submission with a
``submission_id`` may be edited or deleted later (and restored after a
delete), an audit may be re-audited; a fifth of the edits and re-audits are
published before the version they supersede. They draw from the versions'
own random stream (``vrnd``), so a run without versions is byte for byte what
it was before versions existed.
"""

from __future__ import annotations

from typing import Any

import orjson

import simulator.versions as ver
from simulator.audits import Audits, judge
from simulator.calibration import APPROVE_SHORTFALL, TRANSPORT
from simulator.counters import C_RETRACTED, C_VERDICT_COUNTS
from simulator.state import VERSION, Task
from simulator.world import Queue


class Revisions(Audits):
    """Plans the follow-ups of a version and builds them when their time comes (``VERSION``)."""

    def _plan_follow_up(self, t: float) -> tuple[tuple[str, float] | None, float | None]:
        """Whether a submission with a submission_id is edited or deleted, and when.

        Returns the follow-up (kind, time) and, for an edit sent before its
        original, the time before which the original must not be published.
        """
        u = self.vrnd()
        if u < ver.P_EDIT:
            when = t + ver.delay(self._vlognormal, ver.EDIT_DELAY)
            if self.vrnd() < ver.P_OUT_OF_ORDER:
                return ("edits", when), when + TRANSPORT + 1.0 + 59.0 * self.vrnd()
            return ("edits", when), None
        if u < ver.P_EDIT + ver.P_DELETE:
            return ("deletions", t + ver.delay(self._vlognormal, ver.DELETE_DELAY)), None
        return None, None

    def _version(
        self, t: float, what: str, revision: int, first: dict[str, Any], queue: Queue, info: Any
    ) -> None:
        """A later version of ``first`` (a submission or an audit), due at ``t``.

        ``info``: the audited work (``Task``) for a re-audit; for a submission,
        its statistics key (counters, source, vendor).
        """
        if what == "re_audit":
            self._re_audit(t, first, queue, info)
            return
        vrnd = self.vrnd
        stall = self.stall
        if (
            what != "deletions"
            and stall is not None
            and stall.queue is not None
            and stall.queue.project is queue.project
            and stall.start <= t < stall.end
        ):
            # A stalled queue sends no submissions, so its project's edits and
            # restores (which may move work into it) wait for the end, like its rework.
            later = stall.end + 5.0 + 115.0 * vrnd()
            self._push(later, VERSION, (what, revision, first, queue, info))
            return
        project = queue.project
        event_id = f"{first['event_id']}-r{revision}"
        counts, source, vendor_id = info
        entity = (project.project_id, first["submission_id"])
        key = (ver.instant_us(t, project.millis), revision, event_id.encode())
        if what == "deletions":
            if vrnd() < ver.P_IDS_ONLY:  # what a platform's delete carries
                names = ("event_type", "schema_version", "project_id", "submission_id")
                event = {name: first[name] for name in names}
                source, vendor_id = "human", None  # what the line decodes to
            else:
                event = dict(first)
            event.update(event_id=event_id, occurred_at=self._fmt(t, project))
            event.update(revision=revision, retracted=True)
            line = orjson.dumps(event)
            self._emit(
                t, project, line, C_RETRACTED, source, vendor_id, self.handle_micro, 0,
                (entity, key, True, what),
            )  # fmt: skip
            if vrnd() < ver.P_RESTORE:
                when = t + ver.delay(self._vlognormal, ver.RESTORE_DELAY)
                self._push(when, VERSION, ("restores", revision + 1, first, queue, info))
            return
        # An edit, or the work coming back after a delete: the submission again, changed.
        event = dict(first)
        event.update(event_id=event_id, occurred_at=self._fmt(t, project), revision=revision)
        if vrnd() < ver.P_MOVE_QUEUE and len(project.queues) > 1:
            others = [q for q in project.queues if q is not queue]
            event["queue_id"] = others[int(vrnd() * len(others))].queue_id
        handle = min(first["handle_time_s"] * (1.0 + 0.6 * vrnd()), 86400.0)
        handle_s = round(handle, 2 if source == "machine" else 1)
        event["handle_time_s"] = handle_s
        self._emit(
            t, project, orjson.dumps(event), counts, source, vendor_id, self.handle_micro,
            round(handle_s * 1_000_000), (entity, key, False, what),
        )  # fmt: skip

    def _re_audit(self, t: float, first: dict[str, Any], queue: Queue, task: Task) -> None:
        """Another review of the same work: a senior reviewer judges its quality afresh."""
        vrnd = self.vrnd
        project = queue.project
        quality = min(max(task.quality + (0.1 if task.attempt > 1 else 0.0), 0.0), 1.0)
        p_approve = 1.0 - APPROVE_SHORTFALL * (1.0 - quality) ** 2
        verdict, score, categories = judge(vrnd, queue, quality, p_approve)
        event = dict(first)
        event.pop("error_categories", None)
        others = [a for a in project.auditors if a != first["auditor_id"]] or project.auditors
        event.update(
            event_id=f"{first['event_id']}-re",
            occurred_at=self._fmt(t, project),
            auditor_id=others[int(vrnd() * len(others))],
            verdict=verdict,
            score=round(score, 2),
        )
        if categories:
            event["error_categories"] = categories
        revision = 1
        if vrnd() < 0.5:  # the review updated in place (else a new review, revision absent)
            revision = event["revision"] = 2
        key = (ver.instant_us(t, project.millis), revision, event["event_id"].encode())
        entity = (project.project_id, task.task_id, task.annotator_id)
        self._emit(
            t, project, orjson.dumps(event), C_VERDICT_COUNTS[verdict], task.source,
            task.vendor_id, self.score_micro, round(event["score"] * 1e6),
            (entity, key, False, "re_audits"),
        )  # fmt: skip
