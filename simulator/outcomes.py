"""Task outcomes: who works a task, how long it takes, and what comes of it.

Arrivals pick an annotator of the queue's workforce (faster people get more
tasks) or a model; each outcome is submitted, skipped or expired, maybe a
gold task, maybe with a ``submission_id`` (versions on). A task_completed
line, the most frequent, is filled into a text template
(``EventLines._static``). A submission may be audited later (``AUDIT``); a
fix or reject brings the same person back for a repeat attempt (``REWORK``).
"""

from __future__ import annotations

from bisect import bisect
from math import exp

import orjson

import simulator.versions as ver
from simulator.calibration import (
    AUDIT_DELAY,
    MACHINE_HANDLE,
    MACHINE_TURNAROUND,
    P_EXPIRE,
    P_SKIP_HUMAN,
    P_SKIP_HYBRID,
    REWORK_AUDIT_RATE,
    TURNAROUND,
    Z,
    lognormal,
)
from simulator.counters import (
    C_EXPIRED,
    C_GOLD_OK,
    C_GOLD_WRONG,
    C_REWORK,
    C_SKIPPED,
    C_SUBMITTED,
)
from simulator.revisions import Revisions
from simulator.state import AUDIT, REWORK, VERSION, Task
from simulator.world import Annotator, Queue


class Outcomes(Revisions):
    """Task outcomes on arrival, and the repeat attempts after an audit (``REWORK``)."""

    def _arrival(self, t: float, queue: Queue) -> None:
        """A task outcome on ``queue`` at ``t``: submitted, skipped or expired."""
        rnd = self.rnd
        stall = self.stall
        forced = None
        if stall is not None and stall.queue is queue and stall.start <= t < stall.end:
            stall.affected += 1
            if rnd() >= stall.params["expiry_share"]:
                return  # nobody works the queue, nothing is labelled
            forced = "expired"
        task_type = queue.task_type
        self.task_seq += 1
        task_id = f"{self.task_prefix[queue.index]}{self.task_seq:07d}"
        u = rnd()
        if u < queue.p_machine and forced is None:
            self._completed(
                t, queue, None, task_type.machine_model, None, "machine",
                task_type.machine_quality, task_id,
                t - lognormal(rnd, *MACHINE_TURNAROUND),
                1, "submitted", lognormal(rnd, *MACHINE_HANDLE), False, None,
            )  # fmt: skip
            return
        hybrid = u < queue.p_machine + queue.p_hybrid
        cum = queue.cum_weights
        person = queue.annotators[bisect(cum, rnd() * cum[-1])]
        # Two log-normal draws, inlined (see calibration.lognormal): handle time and turnaround.
        handle = exp(
            queue.log_handle + person.log_speed + task_type.handle_sigma * Z[int(rnd() * 4096)]
        )
        created = t - exp(TURNAROUND[0] + TURNAROUND[1] * Z[int(rnd() * 4096)])
        if forced is not None:
            status = forced
        else:
            v = rnd()
            p_skip = (P_SKIP_HYBRID if hybrid else P_SKIP_HUMAN) + 0.05 * (1 - person.skill)
            status = (
                "skipped" if v < p_skip else "expired" if v < p_skip + P_EXPIRE else "submitted"
            )
        self._completed(
            t, queue, person, person.annotator_id, person.vendor_id,
            "hybrid" if hybrid else "human",
            person.skill - task_type.difficulty + (0.05 if hybrid else 0.0), task_id, created,
            1, status, handle * 0.6 if hybrid else handle, rnd() < queue.gold_p, person.tags,
        )  # fmt: skip

    def _completed(
        self,
        t: float,
        queue: Queue,
        person: Annotator | None,
        annotator_id: str,
        vendor_id: str | None,
        source: str,
        quality: float,
        task_id: str,
        created: float,
        attempt: int,
        status: str,
        handle: float,
        gold: bool,
        tags: list[str] | None,
    ) -> None:
        """Build and queue one task_completed event; maybe schedule its audit."""
        rnd = self.rnd
        project = queue.project
        submitted = status == "submitted"
        if submitted and attempt == 1 and self.book is not None:
            self.book.submitted(queue)
        aht = self.aht
        if submitted and aht is not None and aht.queue is queue and aht.start <= t < aht.end:
            handle *= aht.params["handle_time_factor"]
            aht.affected += 1
        # A template instead of a dict and orjson: the line is built ~2x faster, and
        # its static parts (JSON-escaped once by orjson) are the same bytes.
        parts = self.static.get((queue.index, annotator_id, source))
        if parts is None:
            parts = self._static(queue, annotator_id, vendor_id, source, tags)
        middle, tail, tags_text = parts
        if submitted:
            handle_s = round(min(handle, 86400.0), 2 if source == "machine" else 1)
            micro = round(handle_s * 1_000_000)
            ht = f',"handle_time_s":{handle_s!r}'
            counts = C_REWORK if attempt > 1 else C_SUBMITTED
        elif status == "skipped":
            micro = 0
            ht = f',"handle_time_s":{round(handle * 0.3, 1)!r}'  # time spent before skipping
            counts = C_SKIPPED
        else:
            micro = 0
            ht = ""
            counts = C_EXPIRED
        gold_text = ""
        if gold:
            gold_text = ',"is_gold":true'
            if submitted:
                p_correct = 0.55 + 0.45 * max(quality, 0.0)
                drop = self.drop
                if (
                    drop is not None
                    and drop.project is project
                    and vendor_id == drop.vendor_id
                    and drop.start <= t < drop.end
                ):
                    p_correct *= drop.params["gold_factor"]
                    drop.affected += 1
                if rnd() < p_correct:
                    gold_text = ',"is_gold":true,"gold_correct":true'
                    counts = C_GOLD_OK
                else:
                    gold_text = ',"is_gold":true,"gold_correct":false'
                    counts = C_GOLD_WRONG
        self.event_seq += 1
        event_id = f"tc-{self.token}-{self.event_seq:07d}"
        submission = ""
        version = follow_up = None
        not_before = None
        if self.ledger is not None and self.vrnd() < ver.P_SUBMISSION_ID:
            self.submission_seq += 1
            sid = f"ann-{self.token}-{self.submission_seq:07d}"
            submission = f',"submission_id":"{sid}"'
            kind = "submission_ids"
            if submitted:
                follow_up, not_before = self._plan_follow_up(t)
                if not_before is not None:
                    kind += "+out_of_order"
            key = (ver.instant_us(t, project.millis), 1, event_id.encode())
            version = ((project.project_id, sid), key, False, kind)
        line = (
            f'{{"event_type":"task_completed","schema_version":1,'
            f'"event_id":"{event_id}",'
            f'"occurred_at":"{self._fmt(t, project)}",{middle}"task_id":"{task_id}",{tail},'
            f'"status":"{status}"{ht},'
            f'"task_created_at":"{self._fmt_minute(created, project)}",'
            f'"attempt":{attempt}{gold_text}{tags_text}{submission}}}'
        )
        self._emit(
            t, project, line.encode(), counts, source, vendor_id, self.handle_micro, micro,
            version, not_before,
        )  # fmt: skip
        if follow_up is not None:
            what, when = follow_up
            stat = (counts, source, vendor_id)
            self._push(when, VERSION, (what, 2, orjson.loads(line), queue, stat))
        if submitted and rnd() < (project.audit_rate if attempt == 1 else REWORK_AUDIT_RATE):
            task = Task(
                queue, person, annotator_id, vendor_id, source, quality, task_id, created,
                attempt, t,
            )  # fmt: skip
            self._push(t + max(lognormal(rnd, *AUDIT_DELAY), 30.0), AUDIT, task)

    def _rework(self, t: float, task: Task) -> None:
        """A repeat attempt after fix/reject, by the same annotator (or model)."""
        stall = self.stall
        if stall is not None and stall.queue is task.queue and stall.start <= t < stall.end:
            self._push(stall.end + 5.0 + 115.0 * self.rnd(), REWORK, task)
            return
        rnd = self.rnd
        queue = task.queue
        person = task.annotator
        if person is None:
            handle = lognormal(rnd, *MACHINE_HANDLE)
        else:
            handle = 0.5 * lognormal(
                rnd, queue.log_handle + person.log_speed, queue.task_type.handle_sigma
            )
        self._completed(
            t, queue, person, task.annotator_id, task.vendor_id, task.source, task.quality,
            task.task_id, task.created, task.attempt + 1, "submitted", handle, False,
            None if person is None else person.tags,
        )  # fmt: skip
