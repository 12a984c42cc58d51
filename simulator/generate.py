"""The event generator: a seeded discrete-event simulation of annotation telemetry.

Task outcomes arrive as a Poisson process whose rate follows the daily rhythm
(Beijing hours); each picks a queue by volume, a source (human, hybrid,
machine) by the task type's mix and an annotator of the queue's workforce
(faster people get more tasks). Submissions may be gold tasks, and some are
audited a few minutes later; audits of fix/reject lead to rework. Every
message waits in one heap keyed by its publish time (event time plus a small
transport delay, or minutes for the delayed ones), so lines come out in
publish order: mostly time order, with the disorder a real feed has.

Determinism: one ``random.Random`` per concern seeded from strings, lists in
fixed order, no clock; same arguments give the same bytes.
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from hashlib import sha256
from heapq import heappop, heappush
from itertools import accumulate
from math import exp
from statistics import NormalDist
from typing import Any

import orjson

import simulator.versions as ver
from schemas.units import EPOCH
from simulator.delivery import PUBLISH_DELAY_S, DeliveryBook
from simulator.incidents import INCIDENTS, MALFORMED_KINDS, Incident, break_event, iso, schedule
from simulator.world import (
    MAX_PROJECTS,
    MAX_VENDORS,
    MIN_VENDORS,
    Annotator,
    Project,
    Queue,
    World,
    build_world,
    rhythm,
)

MANIFEST_VERSION = 1
PROJECT_FIELDS = (
    "events",
    "duplicates",
    "task_completed",
    "task_audited",
    "tasks_submitted",
    "tasks_skipped",
    "tasks_expired",
    "rework_submitted",
    "gold_submitted",
    "gold_correct",
    "audits",
    "audits_approved",
    "audits_fixed",
    "audits_rejected",
)
SOURCES = ("human", "hybrid", "machine")

# heap entry kinds
_LINE, _DUP, _BAD, _AUDIT, _REWORK, _BAD_DUE, _VERSION = range(7)
_STATUS = 7  # a queue_status line (simulator.delivery)

_P_SKIP_HUMAN, _P_SKIP_HYBRID = 0.05, 0.03  # plus 0.05 x (1 - skill)
_P_EXPIRE = 0.025
_AUDIT_DELAY = (math.log(240.0), 0.7)  # log-normal, seconds after the submission
_REWORK_DELAY = (math.log(600.0), 0.6)  # seconds after the audit
_TURNAROUND = (math.log(5400.0), 0.65)  # creation to outcome: median 1.5 h, ~0.5 % over 8 h
_MACHINE_TURNAROUND = (math.log(300.0), 0.8)
_MACHINE_HANDLE = (math.log(0.8), 0.4)
_TRANSPORT = 1.5  # seconds of publish delay, uniform
_WARM_UP_MINUTES = 5  # audits come ~4 min after their submission
_APPROVE_SHORTFALL = 0.65  # p(approve) = 1 - this x (1 - quality)^2
_REWORK_AUDIT_RATE = 0.5  # repeat attempts get a full audit this often
_LOG_AUDIT, _LOG_SPEED_AUDIT = math.log(0.5), math.log(0.15)  # audit time / handle median
# Standard normal quantiles: one uniform draw and a lookup instead of
# random.normalvariate's rejection loop (4x faster; 4096 levels are plenty).
_Z = tuple(NormalDist().inv_cdf((i + 0.5) / 4096) for i in range(4096))


def _lognormal(rnd: Callable[[], float], mu: float, sigma: float) -> float:
    return exp(mu + sigma * _Z[int(rnd() * 4096)])


class _Task:
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
        self._run: _Run | None = None

    # -- sizing -----------------------------------------------------------------------

    def lines_per_task(self) -> float:
        """Expected lines per task outcome: the outcome, its audits, rework and their audits."""
        total = sum(q.weight for q in self.world.queues)
        expected = 0.0
        for q in self.world.queues:
            submitted = 1 - _P_EXPIRE - 0.06 * (1 - q.p_machine)
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
            tasks = tasks_per_s * 60 * _rate_factor(t)
            recent.append(tasks)
            lagged = recent[-_WARM_UP_MINUTES - 1] if len(recent) > _WARM_UP_MINUTES else 0.0
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
        run = _Run(self, n, end, max(span, 1.0), duration)
        self._run = run
        return run.lines()

    @property
    def manifest(self) -> dict[str, Any]:
        """Ground truth of the latest ``events()`` call (see ``_Run.manifest``)."""
        if self._run is None:
            raise RuntimeError("call events() first")
        return self._run.manifest()


def _rate_factor(ts: float) -> float:
    return rhythm(((ts + 8 * 3600) % 86400) / 3600)


class _Run:
    """The state of one ``events()`` call."""

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
        self.seconds: dict[int, str] = {}  # local second -> "YYYY-MM-DDTHH:MM:SS"
        self.prefixes: dict[int, str] = {}  # local minute -> "YYYY-MM-DDTHH:MM:"
        self.minutes: dict[int, str] = {}  # local minute and style -> full timestamp
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
        self.book = (
            DeliveryBook(
                self.world.queues, sim.start_ts, span_s, sim.tasks_per_second, _rate_factor,
                self.token,
            )
            if sim.delivery
            else None
        )  # fmt: skip
        bad = self.active.get("malformed")
        if bad is not None:
            for when, kind in bad.plan:
                self._push(when, _BAD_DUE, kind)

    # -- helpers ------------------------------------------------------------------------

    def _push(self, key: float, kind: int, payload: Any) -> None:
        self.seq += 1
        heappush(self.heap, (key, self.seq, kind, payload))

    def _fmt(self, ts: float, project: Project) -> str:
        """RFC 3339 in the project's offset, by hand (datetime is several times slower)."""
        if project.millis:
            sec, frac = divmod(int(ts * 1000), 1000)
        else:
            sec, frac = int(ts), -1
        local = sec + project.utc_offset_s
        text = self.seconds.get(local)
        if text is None:
            if len(self.seconds) > 200_000:
                self.seconds.clear()
                self.prefixes.clear()
            minute, second = divmod(local, 60)
            prefix = self.prefixes.get(minute)
            if prefix is None:
                stamp = EPOCH + timedelta(minutes=minute)
                prefix = self.prefixes[minute] = stamp.strftime("%Y-%m-%dT%H:%M:")
            text = self.seconds[local] = f"{prefix}{second:02d}"
        if frac < 0:
            return text + project.suffix
        return f"{text}.{frac:03d}{project.suffix}"

    def _fmt_minute(self, ts: float, project: Project) -> str:
        """The start of the minute of ``ts`` (tasks are created in batch uploads)."""
        local = int(ts) // 60 + project.utc_offset_s // 60
        key = local * 2 + project.millis  # the same minute may be written two ways
        text = self.minutes.get(key)
        if text is None:
            if len(self.minutes) > 200_000:
                self.minutes.clear()
            stamp = (EPOCH + timedelta(minutes=local)).strftime("%Y-%m-%dT%H:%M:00")
            text = self.minutes[key] = stamp + (".000" if project.millis else "") + project.suffix
        return text

    def _head(
        self,
        kind: str,
        t: float,
        queue: Queue,
        task_id: str,
        annotator_id: str,
        vendor_id: str | None,
        source: str,
    ) -> dict[str, Any]:
        """The fields both event types share, in contract order."""
        project = queue.project
        self.event_seq += 1
        event: dict[str, Any] = {
            "event_type": "task_completed" if kind == "tc" else "task_audited",
            "schema_version": 1,
            "event_id": f"{kind}-{self.token}-{self.event_seq:07d}",
            "occurred_at": self._fmt(t, project),
            "project_id": project.project_id,
            "queue_id": queue.queue_id,
            "task_id": task_id,
            "annotator_id": annotator_id,
        }
        if vendor_id is not None or project.inhouse_null:
            event["vendor_id"] = vendor_id  # in-house: null, or absent in some feeds
        event["locale"] = queue.locale
        event["source"] = source
        return event

    def _static(
        self, queue: Queue, annotator_id: str, vendor_id: str | None, source: str, tags: Any
    ) -> tuple[str, str, str]:
        """The JSON fragments of a task_completed line that depend on who labels where."""
        project = queue.project
        middle = orjson.dumps({"project_id": project.project_id, "queue_id": queue.queue_id})
        who: dict[str, Any] = {"annotator_id": annotator_id}
        if vendor_id is not None or project.inhouse_null:
            who["vendor_id"] = vendor_id  # in-house: null, or absent in some feeds
        who.update(locale=queue.locale, source=source, task_type=queue.task_type.name)
        tail = orjson.dumps(who).decode()[1:-1]
        tags_text = ',"tags":' + orjson.dumps(tags).decode() if tags else ""
        parts = (middle.decode()[1:-1] + ",", tail, tags_text)
        self.static[(queue.index, annotator_id, source)] = parts
        return parts

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
        publish = t + rnd() * _TRANSPORT
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
                _LINE,
                (line, (project.index, counts, source, vendor_id), t, sums, micro, delayed),
            ),
        )
        if version is not None and self.ledger is not None:
            self.ledger.register(self.seq, *version)

    # -- task outcomes ------------------------------------------------------------------

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
                t - _lognormal(rnd, *_MACHINE_TURNAROUND),
                1, "submitted", _lognormal(rnd, *_MACHINE_HANDLE), False, None,
            )  # fmt: skip
            return
        hybrid = u < queue.p_machine + queue.p_hybrid
        cum = queue.cum_weights
        person = queue.annotators[bisect(cum, rnd() * cum[-1])]
        # Two log-normal draws, inlined (see _lognormal): handle time and turnaround.
        handle = exp(
            queue.log_handle + person.log_speed + task_type.handle_sigma * _Z[int(rnd() * 4096)]
        )
        created = t - exp(_TURNAROUND[0] + _TURNAROUND[1] * _Z[int(rnd() * 4096)])
        if forced is not None:
            status = forced
        else:
            v = rnd()
            p_skip = (_P_SKIP_HYBRID if hybrid else _P_SKIP_HUMAN) + 0.05 * (1 - person.skill)
            status = (
                "skipped" if v < p_skip else "expired" if v < p_skip + _P_EXPIRE else "submitted"
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
            counts = _C_REWORK if attempt > 1 else _C_SUBMITTED
        elif status == "skipped":
            micro = 0
            ht = f',"handle_time_s":{round(handle * 0.3, 1)!r}'  # time spent before skipping
            counts = _C_SKIPPED
        else:
            micro = 0
            ht = ""
            counts = _C_EXPIRED
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
                    counts = _C_GOLD_OK
                else:
                    gold_text = ',"is_gold":true,"gold_correct":false'
                    counts = _C_GOLD_WRONG
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
            self._push(when, _VERSION, (what, 2, orjson.loads(line), queue, stat))
        if submitted and rnd() < (project.audit_rate if attempt == 1 else _REWORK_AUDIT_RATE):
            task = _Task(
                queue, person, annotator_id, vendor_id, source, quality, task_id, created,
                attempt, t,
            )  # fmt: skip
            self._push(t + max(_lognormal(rnd, *_AUDIT_DELAY), 30.0), _AUDIT, task)

    def _audit(self, t: float, task: _Task) -> None:
        """The audit of a submission: verdict, score and error categories follow quality."""
        rnd = self.rnd
        queue = task.queue
        project = queue.project
        quality = min(max(task.quality + (0.1 if task.attempt > 1 else 0.0), 0.0), 1.0)
        # Convex in the shortfall: solid work (quality ~0.75) passes ~96 %, a weak
        # annotator (quality ~0.3) ~68 %, so healthy vendors sit at ~0.92-0.97.
        p_approve = 1.0 - _APPROVE_SHORTFALL * (1.0 - quality) ** 2
        drop = self.drop
        if (
            drop is not None
            and drop.project is project
            and task.vendor_id == drop.vendor_id
            and drop.start <= t < drop.end
        ):
            p_approve *= drop.params["approval_factor"]
            drop.affected += 1
        verdict, score, categories = _judge(rnd, queue, quality, p_approve)
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
        audit_time = _lognormal(
            rnd, queue.log_handle + (_LOG_SPEED_AUDIT if kind == "speed" else _LOG_AUDIT), 0.5
        )
        event["audit_time_s"] = round(audit_time, 1)
        counts = _C_VERDICT_COUNTS[verdict]
        line = orjson.dumps(event)
        version = not_before = None
        if self.ledger is not None:  # every audit is a version of the audited work
            key = (ver.instant_us(t, project.millis), 1, event["event_id"].encode())
            kind = ""
            if self.vrnd() < ver.P_REAUDIT:
                when = t + ver.delay(self._vlognormal, ver.REAUDIT_DELAY)
                if self.vrnd() < ver.P_OUT_OF_ORDER:
                    not_before, kind = when + _TRANSPORT + 1.0 + 59.0 * self.vrnd(), "out_of_order"
                self._push(when, _VERSION, ("re_audit", 1, event, queue, task))
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
            self._push(t + _lognormal(rnd, *_REWORK_DELAY), _REWORK, task)

    # -- versions (simulator.versions) -------------------------------------------------

    def _vlognormal(self, mu: float, sigma: float) -> float:
        return _lognormal(self.vrnd, mu, sigma)

    def _plan_follow_up(self, t: float) -> tuple[tuple[str, float] | None, float | None]:
        """Whether a submission with a submission_id is edited or deleted, and when.

        Returns the follow-up (kind, time) and, for an edit sent before its
        original, the time before which the original must not be published.
        """
        u = self.vrnd()
        if u < ver.P_EDIT:
            when = t + ver.delay(self._vlognormal, ver.EDIT_DELAY)
            if self.vrnd() < ver.P_OUT_OF_ORDER:
                return ("edits", when), when + _TRANSPORT + 1.0 + 59.0 * self.vrnd()
            return ("edits", when), None
        if u < ver.P_EDIT + ver.P_DELETE:
            return ("deletions", t + ver.delay(self._vlognormal, ver.DELETE_DELAY)), None
        return None, None

    def _version(
        self, t: float, what: str, revision: int, first: dict[str, Any], queue: Queue, info: Any
    ) -> None:
        """A later version of ``first`` (a submission or an audit), due at ``t``.

        ``info``: the audited work (``_Task``) for a re-audit; for a submission,
        its statistics key (counters, source, vendor).
        """
        if what == "re_audit":
            self._re_audit(t, first, queue, info)
            return
        vrnd = self.vrnd
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
                t, project, line, _C_RETRACTED, source, vendor_id, self.handle_micro, 0,
                (entity, key, True, what),
            )  # fmt: skip
            if vrnd() < ver.P_RESTORE:
                when = t + ver.delay(self._vlognormal, ver.RESTORE_DELAY)
                self._push(when, _VERSION, ("restores", revision + 1, first, queue, info))
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

    def _re_audit(self, t: float, first: dict[str, Any], queue: Queue, task: _Task) -> None:
        """Another review of the same work: a senior reviewer judges its quality afresh."""
        vrnd = self.vrnd
        project = queue.project
        quality = min(max(task.quality + (0.1 if task.attempt > 1 else 0.0), 0.0), 1.0)
        p_approve = 1.0 - _APPROVE_SHORTFALL * (1.0 - quality) ** 2
        verdict, score, categories = _judge(vrnd, queue, quality, p_approve)
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
            t, project, orjson.dumps(event), _C_VERDICT_COUNTS[verdict], task.source,
            task.vendor_id, self.score_micro, round(event["score"] * 1e6),
            (entity, key, False, "re_audits"),
        )  # fmt: skip

    def _rework(self, t: float, task: _Task) -> None:
        """A repeat attempt after fix/reject, by the same annotator (or model)."""
        stall = self.stall
        if stall is not None and stall.queue is task.queue and stall.start <= t < stall.end:
            self._push(stall.end + 5.0 + 115.0 * self.rnd(), _REWORK, task)
            return
        rnd = self.rnd
        queue = task.queue
        person = task.annotator
        if person is None:
            handle = _lognormal(rnd, *_MACHINE_HANDLE)
        else:
            handle = 0.5 * _lognormal(
                rnd, queue.log_handle + person.log_speed, queue.task_type.handle_sigma
            )
        self._completed(
            t, queue, person, task.annotator_id, task.vendor_id, task.source, task.quality,
            task.task_id, task.created, task.attempt + 1, "submitted", handle, False,
            None if person is None else person.tags,
        )  # fmt: skip

    def _malformed(self, t: float, kind: str) -> None:
        """Build the malformed message of ``kind`` from events that are never published."""
        zh = [q for q in self.world.queues if q.language == "zh"]
        pool = zh if kind in ("gbk_encoded", "chinese_timestamp") and zh else self.world.queues
        queue = pool[int(self.rnd() * len(pool))]
        person = queue.annotators[0]
        task_id = f"{self.token}-bad-{len(self.malformed) + 1}"
        completed = self._head(
            "tc", t, queue, task_id, person.annotator_id, person.vendor_id, "human"
        )
        completed.update(
            task_type=queue.task_type.name,
            status="submitted",
            handle_time_s=45.2,
            task_created_at=self._fmt(t - 3600, queue.project),
            attempt=1,
        )
        audited = self._head(
            "ta", t, queue, task_id, person.annotator_id, person.vendor_id, "human"
        )
        audited.update(auditor_id=queue.project.auditors[0], verdict="approve", score=0.9)
        line = break_event(kind, completed, audited)
        self._push(t + self.rnd() * _TRANSPORT, _BAD, (line, kind, queue.project.index))

    # -- the loop -----------------------------------------------------------------------

    def _take(self, key: float, kind: int, payload: Any) -> bytes | None:
        """Handle a heap entry other than a valid line; return a line to publish, if any."""
        if kind == _STATUS and self.book is not None:
            self.book.snapshots_out += 1
            return payload  # type: ignore[no-any-return]
        if kind == _DUP:
            line, pidx = payload
            self.duplicates[pidx] += 1
            return line  # type: ignore[no-any-return]
        if kind == _BAD:
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
        if kind == _AUDIT:
            self._audit(key, payload)
        elif kind == _REWORK:
            self._rework(key, payload)
        elif kind == _VERSION:
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
                rate = base * _rate_factor(t)
                if ledger is not None and m % 60 == 0:
                    ledger.forget(t)
            t -= log(1.0 - rnd()) / rate  # exponential gap (random.expovariate, inlined)
            if t >= end:
                t, final = last, True
            if book is not None:  # snapshots of every minute boundary before this arrival
                while boundary <= t:
                    for status in book.lines(boundary):
                        self._push(boundary + PUBLISH_DELAY_S, _STATUS, status)
                    boundary += 60
            while heap and heap[0][0] <= t:
                key, _seq, kind, payload = heappop(heap)
                if kind == _LINE:
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
                        self._push(key + 0.5 + 29.5 * rnd(), _DUP, (line, stat[0]))
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

    # -- ground truth -------------------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        """Ground truth of the lines yielded so far (see the package docs for the format)."""
        sim = self.sim
        projects = self.world.projects
        per_project: list[dict[str, Any]] = [dict.fromkeys(PROJECT_FIELDS, 0) for _ in projects]
        by_source = dict.fromkeys(SOURCES, 0)
        by_vendor: dict[str, int] = {}
        ledger = self.ledger
        uncounted = {} if ledger is None else ledger.uncounted
        for stat, lines in sorted(
            self.stats.items(),
            key=lambda item: (item[0][0], item[0][1], item[0][2], item[0][3] or ""),
        ):
            pidx, counts, source, vendor = stat
            row = per_project[pidx]
            row["events"] += lines
            row[counts[0]] += lines  # the event type: every accepted line
            counting = lines - uncounted.get(stat, 0)  # the aggregates: what counts
            for name in counts[1:]:
                row[name] += counting
            by_source[source] += lines
            label = vendor or "(in-house)"
            by_vendor[label] = by_vendor.get(label, 0) + lines
        for project, row in zip(projects, per_project, strict=True):
            row["duplicates"] = self.duplicates[project.index]
            row["handle_time_sum_s"] = self.handle_micro[project.index] / 1_000_000
            row["audit_score_sum"] = self.score_micro[project.index] / 1_000_000
            if ledger is not None:
                row["superseded"] = ledger.superseded[project.index]
                row["retractions"] = ledger.retractions[project.index]
        by_reason: dict[str, int] = {}
        for item in self.malformed:
            by_reason[item["reason"]] = by_reason.get(item["reason"], 0) + 1
        unique = sum(row["events"] for row in per_project)
        duplicates = sum(self.duplicates)
        incidents = []
        for name in sim.incidents:
            described = self.active[name].describe()
            if name == "malformed":
                described["affected"] = len(self.malformed)
            incidents.append(described)
        manifest: dict[str, Any] = {
            "manifest_version": MANIFEST_VERSION,
            "generator": "annotel simulate",
            "seed": sim.seed,
            "start": iso(sim.start_ts),
            "requested": {
                "events": self.n,
                "duration_s": None if self.duration is None else self.duration.total_seconds(),
            },
            "knobs": dict(sim.knobs),
            "allowed_lateness_s": sim.allowed_lateness_s,
            "complete": self.finished,
            "span": {
                "first_occurred_at": iso(self.first_occurred) if unique else None,
                "last_occurred_at": iso(self.max_occurred) if unique else None,
                "planned_s": round(self.span_s, 3),
            },
            "counts": {
                "lines": self.lines_out,
                "valid": unique + duplicates,
                "unique_events": unique,
                "duplicates": duplicates,
                "malformed": len(self.malformed),
                "malformed_by_reason": dict(sorted(by_reason.items())),
                "task_completed": sum(row["task_completed"] for row in per_project),
                "task_audited": sum(row["task_audited"] for row in per_project),
                "delayed_within_lateness": self.delayed_within,
                "late_beyond_lateness": self.late_beyond,
                "by_source": by_source,
                "by_vendor": dict(sorted(by_vendor.items())),
            },
            "per_project": {
                project.project_id: row for project, row in zip(projects, per_project, strict=True)
            },
            "incidents_enabled": list(sim.incidents),
            "incidents": incidents,
            "malformed": list(self.malformed),
            "world": self.world.describe(),
        }
        if ledger is not None:
            manifest["counts"]["superseded"] = sum(ledger.superseded)
            manifest["counts"]["retractions"] = sum(ledger.retractions)
            manifest["versions"] = ledger.describe()
        if self.book is not None:  # snapshots are accepted events, of no project's counts
            manifest["counts"]["queue_status"] = self.book.snapshots_out
            manifest["counts"]["valid"] += self.book.snapshots_out
            manifest["counts"]["unique_events"] += self.book.snapshots_out
            manifest["delivery"] = self.book.describe()
        return manifest


def _judge(
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


# The per-project counters one line increments (the first name is its event type).
_Counts = tuple[str, ...]
_C_SUBMITTED: _Counts = ("task_completed", "tasks_submitted")
_C_REWORK: _Counts = ("task_completed", "tasks_submitted", "rework_submitted")
_C_GOLD_OK: _Counts = ("task_completed", "tasks_submitted", "gold_submitted", "gold_correct")
_C_GOLD_WRONG: _Counts = ("task_completed", "tasks_submitted", "gold_submitted")
_C_SKIPPED: _Counts = ("task_completed", "tasks_skipped")
_C_EXPIRED: _Counts = ("task_completed", "tasks_expired")
_C_RETRACTED: _Counts = ("task_completed",)  # a retraction adds to no aggregate
_C_VERDICT_COUNTS: dict[str, _Counts] = {
    "approve": ("task_audited", "audits", "audits_approved"),
    "fix": ("task_audited", "audits", "audits_fixed"),
    "reject": ("task_audited", "audits", "audits_rejected"),
}
