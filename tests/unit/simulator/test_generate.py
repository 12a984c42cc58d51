"""The simulator: deterministic bytes, a contract-valid feed, realistic mixes, and
incidents that are really in the data (and absent when switched off).

Every line is decoded with the real ``schemas.decode.ContractDecoder``; the manifest
is checked against an independent recount of the lines.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas import ContractDecoder, DecodeError, TaskAudited, TaskCompleted
from simulator import INCIDENTS, IncidentError, Simulator, parse_incidents
from simulator.roster import roster_records

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC) - timedelta(hours=8)  # 09:00 in Beijing
SAMPLE = 20_000
DECODER = ContractDecoder()
CLOCK = START + timedelta(days=30)  # the decoder's "now": nothing is in the future


@dataclass
class Feed:
    """A generated feed, decoded and classified line by line."""

    lines: list[bytes]
    manifest: dict[str, Any]
    events: list[TaskCompleted | TaskAudited] = field(default_factory=list)  # unique, in order
    duplicates: list[tuple[int, bytes]] = field(default_factory=list)
    malformed: dict[int, str] = field(default_factory=dict)  # line number -> reason
    lag_s: list[float] = field(default_factory=list)  # per unique event: behind the max so far

    @classmethod
    def generate(cls, seed: int = 42, n: int = SAMPLE, **kwargs: Any) -> Feed:
        sim = Simulator(seed, START, **kwargs)
        lines = list(sim.events(n=n))
        return cls.classify(lines, sim.manifest)

    @classmethod
    def classify(cls, lines: list[bytes], manifest: dict[str, Any]) -> Feed:
        feed = cls(lines, manifest)
        first: dict[tuple[str, str], bytes] = {}
        newest: datetime | None = None
        for number, line in enumerate(lines, start=1):
            decoded = DECODER.decode(line, CLOCK)
            if isinstance(decoded, DecodeError):
                feed.malformed[number] = decoded.reason
                continue
            key = (decoded.project_id, decoded.event_id)
            if key in first:
                assert first[key] == line, f"line {number} re-uses an event_id with other bytes"
                feed.duplicates.append((number, line))
                continue
            first[key] = line
            feed.events.append(decoded)
            behind = 0.0 if newest is None else (newest - decoded.occurred_at).total_seconds()
            feed.lag_s.append(behind)
            if newest is None or decoded.occurred_at > newest:
                newest = decoded.occurred_at
        return feed

    def completed(self) -> list[TaskCompleted]:
        return [e for e in self.events if isinstance(e, TaskCompleted)]

    def audited(self) -> list[TaskAudited]:
        return [e for e in self.events if isinstance(e, TaskAudited)]

    def incident(self, name: str) -> dict[str, Any]:
        return next(i for i in self.manifest["incidents"] if i["name"] == name)


def interval(incident: dict[str, Any]) -> tuple[datetime, datetime]:
    return (
        datetime.fromisoformat(incident["start"].replace("Z", "+00:00")),
        datetime.fromisoformat(incident["end"].replace("Z", "+00:00")),
    )


def approval(audits: Iterable[TaskAudited]) -> tuple[float, int]:
    verdicts = [a.verdict for a in audits]
    return (sum(v == "approve" for v in verdicts) / len(verdicts) if verdicts else 0.0), len(
        verdicts
    )


@pytest.fixture(scope="module")
def feed() -> Feed:
    return Feed.generate()


@pytest.fixture(scope="module")
def quiet() -> Feed:
    """The same seed with every incident switched off."""
    return Feed.generate(incidents=set())


# -- determinism ------------------------------------------------------------------------


def test_same_seed_same_bytes_and_manifest() -> None:
    one = Simulator(7, START)
    first = b"\n".join(one.events(n=4000))
    manifest = one.manifest
    two = Simulator(7, START)
    assert b"\n".join(two.events(n=4000)) == first
    assert two.manifest == manifest
    # A second call on the same simulator starts over.
    assert b"\n".join(one.events(n=4000)) == first
    # Duration mode as well.
    assert list(Simulator(7, START).events(duration=timedelta(minutes=5))) == list(
        Simulator(7, START).events(duration=timedelta(minutes=5))
    )


def test_same_bytes_across_processes_and_hash_seeds() -> None:
    """No dependence on set or dict order of strings (PYTHONHASHSEED) or the clock."""
    code = (
        "import hashlib, sys; from datetime import datetime, UTC; from simulator import Simulator;"
        "sim = Simulator(3, datetime(2026, 11, 23, 1, tzinfo=UTC));"
        "print(hashlib.sha256(b'\\n'.join(sim.events(n=3000))).hexdigest())"
    )
    root = Path(__file__).resolve().parents[3]
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1
    expected = hashlib.sha256(b"\n".join(Simulator(3, START).events(n=3000))).hexdigest()
    assert digests == {expected + "\n"}


def test_different_seed_or_start_different_bytes() -> None:
    base = list(Simulator(7, START).events(n=500))
    assert list(Simulator(8, START).events(n=500)) != base
    later = list(Simulator(7, START + timedelta(hours=1)).events(n=500))
    assert later != base

    # Event ids of separate runs never collide (they carry a run token).
    def ids(lines: list[bytes]) -> set[str]:
        decoded = (DECODER.decode(line, CLOCK) for line in lines)
        return {e.event_id for e in decoded if not isinstance(e, DecodeError)}

    assert ids(base).isdisjoint(ids(later))


def test_switching_an_incident_off_keeps_the_schedule_of_the_others(feed: Feed) -> None:
    sim = Simulator(42, START, {"queue_stall"})
    list(sim.events(n=SAMPLE))
    (stall,) = sim.manifest["incidents"]
    assert stall == {**feed.incident("queue_stall"), "affected": stall["affected"]}


# -- every line classified, manifest equals a recount ---------------------------------


def test_every_line_is_valid_a_duplicate_or_an_expected_malformed_message(feed: Feed) -> None:
    manifest = feed.manifest
    counts = manifest["counts"]
    assert len(feed.lines) == SAMPLE == counts["lines"]
    assert manifest["complete"] is True
    expected = {item["line"]: item["reason"] for item in manifest["malformed"]}
    assert feed.malformed == expected
    assert len(expected) == counts["malformed"] == 12
    assert counts["malformed_by_reason"] == dict(sorted(Counter(expected.values()).items()))
    assert set(expected.values()) == {
        "invalid_json",
        "not_an_object",
        "unknown_event_type",
        "unsupported_version",
        "missing_field",
        "invalid_field",
    }
    assert counts["duplicates"] == len(feed.duplicates) > 0
    assert counts["unique_events"] == len(feed.events)
    assert counts["valid"] == len(feed.events) + len(feed.duplicates)
    assert counts["lines"] == counts["valid"] + counts["malformed"]
    # Each malformed kind is described, and one has Chinese in a bad timestamp.
    kinds = {item["kind"]: item for item in manifest["malformed"]}
    assert "年" in feed.lines[kinds["chinese_timestamp"]["line"] - 1].decode()


def test_manifest_per_project_counts_equal_a_recount(feed: Feed) -> None:
    recount: dict[str, Counter[str]] = defaultdict(Counter)
    handle_micro: Counter[str] = Counter()
    score_micro: Counter[str] = Counter()
    for event in feed.events:
        row = recount[event.project_id]
        row["events"] += 1
        row[event.event_type] += 1
        if isinstance(event, TaskCompleted):
            if event.status == "submitted":
                row["tasks_submitted"] += 1
                row["rework_submitted"] += event.attempt > 1
                row["gold_submitted"] += event.is_gold
                row["gold_correct"] += bool(event.gold_correct)
                handle_micro[event.project_id] += round((event.handle_time_s or 0) * 1e6)
            else:
                row[f"tasks_{event.status}"] += 1
        else:
            row["audits"] += 1
            row[{"approve": "audits_approved", "fix": "audits_fixed", "reject": "audits_rejected"}[
                event.verdict
            ]] += 1  # fmt: skip
            score_micro[event.project_id] += round((event.score or 0) * 1e6)
    for number, line in feed.duplicates:
        assert number > 0
        recount[orjson.loads(line)["project_id"]]["duplicates"] += 1
    per_project = feed.manifest["per_project"]
    assert set(per_project) == set(recount)
    for project_id, row in per_project.items():
        for name, value in row.items():
            if name == "handle_time_sum_s":
                assert round(value * 1e6) == handle_micro[project_id]
            elif name == "audit_score_sum":
                assert round(value * 1e6) == score_micro[project_id]
            else:
                assert value == recount[project_id][name], (project_id, name)
    counts = feed.manifest["counts"]
    assert counts["task_completed"] == len(feed.completed())
    assert counts["task_audited"] == len(feed.audited())
    assert counts["by_source"] == dict(Counter(e.source for e in feed.events))
    assert sum(counts["by_vendor"].values()) == len(feed.events)
    assert counts["by_vendor"]["(in-house)"] == sum(e.vendor_id == "" for e in feed.events)


def test_manifest_is_plain_json(feed: Feed) -> None:
    text = orjson.dumps(feed.manifest)
    assert orjson.loads(text) == feed.manifest
    for incident in feed.manifest["incidents"]:
        assert set(incident) >= {"name", "scope", "start", "end", "params", "affected"}
        start, end = interval(incident)
        assert start < end
    assert [i["name"] for i in feed.manifest["incidents"]] == list(INCIDENTS)


# -- realistic mixes --------------------------------------------------------------------


def test_distributions_are_roughly_right(feed: Feed) -> None:
    completed = feed.completed()
    submitted = [e for e in completed if e.status == "submitted"]
    audits = feed.audited()
    assert 0.10 <= len(audits) / len(submitted) <= 0.20
    gold = [e for e in submitted if e.is_gold]
    assert 0.05 <= len(gold) / len(submitted) <= 0.10
    assert 0.6 < sum(bool(e.gold_correct) for e in gold) / len(gold) < 0.98
    projects = {e.project_id for e in feed.events}
    assert len(projects) >= 4
    assert any("\u4e00" <= ch <= "\u9fff" for p in projects for ch in p)  # a Chinese project
    assert any("\u4e00" <= ch <= "\u9fff" for e in feed.events for ch in e.queue_id)
    vendors = {e.vendor_id for e in feed.events} - {""}
    assert 2 <= len(vendors) <= 4
    assert any(e.vendor_id == "" for e in feed.events)  # in-house
    people = {e.annotator_id for e in completed if e.source != "machine"}
    assert len(people) >= 250
    sources = Counter(e.source for e in completed)
    assert set(sources) == {"human", "hybrid", "machine"}
    assert sources["human"] > sources["hybrid"] > 0 and sources["machine"] > 0
    statuses = Counter(e.status for e in completed)
    assert statuses["skipped"] > 0 and statuses["expired"] > 0
    assert statuses["submitted"] > 0.85 * len(completed)
    assert {e.task_type for e in completed} >= {
        "bbox",
        "segmentation",
        "transcription",
        "intent_classification",
    }
    assert Counter(a.verdict for a in audits).keys() == {"approve", "fix", "reject"}
    offsets = {e.occurred_at.utcoffset() for e in feed.events}
    assert offsets == {timedelta(0), timedelta(hours=8)}
    assert all(e.task_created_at is not None for e in completed)
    # Turnaround: an hour or two typically, a thin tail past 8 h, none past a day
    # (the shipped turnaround rule's bound).
    turnaround = [
        (e.occurred_at - e.task_created_at).total_seconds()
        for e in submitted
        if e.task_created_at is not None and e.source != "machine"
    ]
    assert 3600 < statistics.median(turnaround) < 2 * 3600
    assert 0 < sum(t > 8 * 3600 for t in turnaround) < 0.02 * len(turnaround)
    assert max(turnaround) < 24 * 3600


def test_handle_times_are_log_normal_per_task_type(feed: Feed) -> None:
    times: dict[str, list[float]] = defaultdict(list)
    for e in feed.completed():
        if e.status == "submitted" and e.source == "human" and e.handle_time_s is not None:
            times[e.task_type or ""].append(e.handle_time_s)
    medians = {t: statistics.median(v) for t, v in times.items()}
    assert medians["transcription"] > medians["segmentation"] > medians["bbox"]
    assert medians["bbox"] > medians["intent_classification"]
    # Right-skewed: the mean is above the median, the log is roughly symmetric.
    for values in times.values():
        assert statistics.mean(values) > statistics.median(values)
    machine = [e.handle_time_s or 0 for e in feed.completed() if e.source == "machine"]
    assert statistics.median(machine) < 2


def test_skill_drives_audit_verdicts_and_error_categories(feed: Feed) -> None:
    tiers: dict[str, str] = {}
    for e in feed.completed():
        if e.tags:
            tiers[e.annotator_id] = e.tags[0]
    by_tier: dict[str, list[TaskAudited]] = defaultdict(list)
    for a in feed.audited():
        if a.source == "human" and a.annotator_id in tiers:
            by_tier[tiers[a.annotator_id]].append(a)
    best, _ = approval(by_tier["tier-1"])
    worst, count = approval(by_tier["tier-3"])
    assert count > 30
    assert best > worst + 0.1
    for a in feed.audited():
        assert bool(a.error_categories) == (a.verdict != "approve")
    zh_errors = {c for a in feed.audited() if a.locale == "zh-CN" for c in a.error_categories}
    assert any("\u4e00" <= ch <= "\u9fff" for c in zh_errors for ch in c)


def test_healthy_traffic_meets_the_shipped_quality_slas(quiet: Feed) -> None:
    """Calibration: without incidents, vendors pass ~0.9-0.97 of audits (the shipped
    SLA is 85 %) and only a few people fall below the annotator rule's 75 %, besides
    the roster's injected low-quality annotators, who all do."""
    injected = set(quiet.manifest["world"]["roster"]["low_quality"])
    assert len(injected) == 3
    by_vendor: dict[tuple[str, str | None], list[TaskAudited]] = defaultdict(list)
    by_person: dict[str, list[TaskAudited]] = defaultdict(list)
    weak: dict[str, list[TaskAudited]] = defaultdict(list)
    for a in quiet.audited():
        by_vendor[(a.project_id, a.vendor_id)].append(a)
        if a.annotator_id in injected:
            weak[a.annotator_id].append(a)
        elif a.source != "machine":
            by_person[a.annotator_id].append(a)
    assert set(weak) == injected
    assert all(approval(audits)[0] < 0.7 for audits in weak.values())
    vendor_rates = [approval(audits)[0] for audits in by_vendor.values() if len(audits) >= 100]
    assert len(vendor_rates) >= 5
    assert 0.9 < statistics.mean(vendor_rates) < 0.97
    # A vendor with a few weak people on a hard task type may sit near the SLA.
    assert all(0.82 < rate < 0.99 for rate in vendor_rates), vendor_rates
    overall, _ = approval(quiet.audited())
    assert 0.9 < overall < 0.97
    rates = [approval(audits)[0] for audits in by_person.values() if len(audits) >= 10]
    assert len(rates) > 20
    assert 0 < sum(r < 0.75 for r in rates) < 0.1 * len(rates)


def test_audits_follow_their_submission_and_rework_follows_fix_or_reject(feed: Feed) -> None:
    submissions: dict[tuple[str, str], list[TaskCompleted]] = defaultdict(list)
    for e in feed.completed():
        if e.status == "submitted":
            submissions[(e.project_id, e.task_id)].append(e)
    audits: dict[tuple[str, str], list[TaskAudited]] = defaultdict(list)
    for a in feed.audited():
        key = (a.project_id, a.task_id)
        audits[key].append(a)
        earlier = [s for s in submissions[key] if s.occurred_at < a.occurred_at]
        assert earlier, f"audit {a.event_id} has no earlier submission"
        latest = max(earlier, key=lambda s: s.occurred_at)
        assert (latest.annotator_id, latest.vendor_id, latest.queue_id, latest.source) == (
            a.annotator_id,
            a.vendor_id,
            a.queue_id,
            a.source,
        )
    rework = [e for e in feed.completed() if e.attempt > 1]
    assert len(rework) > 50
    for e in rework:
        before = [a for a in audits[(e.project_id, e.task_id)] if a.occurred_at < e.occurred_at]
        assert any(a.verdict in ("fix", "reject") for a in before), e.event_id


def test_daily_rhythm() -> None:
    sim = Simulator(5, START, set(), tasks_per_second=0.3)
    hours: Counter[int] = Counter()
    for line in sim.events(duration=timedelta(days=1)):
        occurred = orjson.loads(line)["occurred_at"]
        hours[datetime.fromisoformat(occurred.replace("Z", "+00:00")).astimezone(UTC).hour] += 1
    assert len(hours) == 24
    assert max(hours.values()) > 3 * min(hours.values())
    # Busiest in the Beijing working day (UTC 01-09), quietest at Beijing night.
    assert max(hours, key=lambda h: hours[h]) in range(1, 10)
    assert min(hours, key=lambda h: hours[h]) in range(15, 22)


# -- incidents --------------------------------------------------------------------------


def _vendor_audits(feed: Feed, incident: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    start, end = interval(incident)
    scope = incident["scope"]
    mine = [
        a
        for a in feed.audited()
        if a.project_id == scope["project_id"] and a.vendor_id == scope["vendor_id"]
    ]
    during = [a for a in mine if start <= a.occurred_at < end]
    other = [a for a in mine if not start <= a.occurred_at < end]
    return during, other


def test_vendor_quality_drop(feed: Feed, quiet: Feed) -> None:
    incident = feed.incident("vendor_quality_drop")
    during, other = _vendor_audits(feed, incident)
    rate_during, n_during = approval(during)
    rate_other, _ = approval(other)
    assert n_during >= 20
    assert rate_during < 0.7 * rate_other
    # Other vendors of the project are unaffected.
    start, end = interval(incident)
    others = [
        a
        for a in feed.audited()
        if a.project_id == incident["scope"]["project_id"]
        and a.vendor_id != incident["scope"]["vendor_id"]
        and start <= a.occurred_at < end
    ]
    assert approval(others)[0] > 0.6
    # Switched off: no drop in the same scope and interval.
    quiet_during, quiet_other = _vendor_audits(quiet, incident)
    assert approval(quiet_during)[0] > 0.8 * approval(quiet_other)[0]


def _queue_outcomes(feed: Feed, incident: dict[str, Any]) -> dict[str, Counter[str]]:
    start, end = interval(incident)
    length = end - start
    scope = incident["scope"]
    phases: dict[str, Counter[str]] = {"before": Counter(), "during": Counter()}
    for e in feed.completed():
        if e.project_id == scope["project_id"] and e.queue_id == scope["queue_id"]:
            if start - length <= e.occurred_at < start:
                phases["before"][e.status] += 1
            elif start <= e.occurred_at < end:
                phases["during"][e.status] += 1
    return phases


def test_queue_stall(feed: Feed, quiet: Feed) -> None:
    incident = feed.incident("queue_stall")
    phases = _queue_outcomes(feed, incident)
    assert phases["before"]["submitted"] > 50
    assert phases["during"]["submitted"] == 0
    assert phases["during"]["skipped"] == 0
    assert phases["during"]["expired"] > 0  # tasks time out while nobody works them
    quiet_phases = _queue_outcomes(quiet, incident)
    assert quiet_phases["during"]["submitted"] > 50


def _handle_ratio(feed: Feed, incident: dict[str, Any]) -> float:
    start, end = interval(incident)
    scope = incident["scope"]
    inside: list[float] = []
    outside: list[float] = []
    for e in feed.completed():
        if (
            e.status == "submitted"
            and e.source != "machine"
            and e.project_id == scope["project_id"]
            and e.queue_id == scope["queue_id"]
        ):
            (inside if start <= e.occurred_at < end else outside).append(e.handle_time_s or 0)
    assert len(inside) > 30
    ratio: float = statistics.median(inside) / statistics.median(outside)
    return ratio


def test_aht_spike(feed: Feed, quiet: Feed) -> None:
    incident = feed.incident("aht_spike")
    factor = incident["params"]["handle_time_factor"]
    assert _handle_ratio(feed, incident) > 0.7 * factor
    assert 0.7 < _handle_ratio(quiet, incident) < 1.4


def test_duplicates_and_late(feed: Feed, quiet: Feed) -> None:
    incident = feed.incident("duplicates_and_late")
    start, end = interval(incident)
    project_id = incident["scope"]["project_id"]
    assert feed.duplicates
    for _number, line in feed.duplicates:
        data = orjson.loads(line)
        assert data["project_id"] == project_id
        occurred = datetime.fromisoformat(data["occurred_at"].replace("Z", "+00:00"))
        assert start <= occurred < end
    # Delayed lines: far behind the newest event seen so far, all from the burst.
    lateness = feed.manifest["allowed_lateness_s"]
    delayed = [(e, lag) for e, lag in zip(feed.events, feed.lag_s, strict=True) if lag > 10]
    assert delayed
    for event, _lag in delayed:
        assert event.project_id == project_id and start <= event.occurred_at < end
    within = sum(lag <= lateness for _e, lag in delayed)
    beyond = sum(lag > lateness for _e, lag in delayed)
    assert within > beyond > 0  # most within the allowed lateness, some beyond
    counts = feed.manifest["counts"]
    assert counts["late_beyond_lateness"] == beyond
    assert counts["delayed_within_lateness"] == within
    # Switched off: no duplicates, nothing delayed, nothing malformed.
    assert not quiet.duplicates and not quiet.malformed
    assert max(quiet.lag_s) < 10
    assert quiet.manifest["counts"]["duplicates"] == 0
    assert quiet.manifest["incidents"] == []


def test_malformed_messages_are_spread_through_the_run(feed: Feed) -> None:
    numbers = sorted(feed.malformed)
    assert numbers[0] > SAMPLE * 0.05 and numbers[-1] < SAMPLE * 0.95


def test_small_and_odd_sizes() -> None:
    assert list(Simulator(1, START).events(n=0)) == []
    lines = list(Simulator(1, START).events(n=1))
    assert len(lines) == 1
    tiny = Simulator(1, START, projects=1, vendors=2, annotators=5)
    feed = Feed.classify(list(tiny.events(n=2000)), tiny.manifest)
    assert feed.manifest["counts"]["lines"] == 2000
    assert set(feed.malformed.values()) <= {
        "invalid_json",
        "not_an_object",
        "unknown_event_type",
        "unsupported_version",
        "missing_field",
        "invalid_field",
    }
    assert feed.malformed == {m["line"]: m["reason"] for m in feed.manifest["malformed"]}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"projects": 0}, "projects"),
        ({"vendors": 5}, "vendors"),
        ({"annotators": 0}, "annotators"),
        ({"tasks_per_second": 0}, "tasks_per_second"),
        ({"incidents": {"meteor_strike"}}, "meteor_strike"),
    ],
)
def test_bad_knobs_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Simulator(1, START, **kwargs)


def test_naive_start_and_missing_size_are_rejected() -> None:
    with pytest.raises(ValueError, match="offset"):
        Simulator(1, datetime(2026, 11, 23))
    with pytest.raises(ValueError, match="duration"):
        Simulator(1, START).events()


def test_parse_incidents() -> None:
    assert parse_incidents("all") == frozenset(INCIDENTS)
    assert parse_incidents("none") == frozenset()
    assert parse_incidents("queue_stall, malformed") == {"queue_stall", "malformed"}
    with pytest.raises(IncidentError, match="choose from"):
        parse_incidents("queue_stall,nope")


# -- the roster -------------------------------------------------------------------------


def test_roster_squads_per_vendor_with_its_ground_truth(feed: Feed) -> None:
    sim = Simulator(42, START)
    truth = feed.manifest["world"]["roster"]
    assert truth == sim.world.roster.describe()
    everyone = {a.annotator_id: a for a in sim.world.annotators}
    listed = [m for squad in truth["squads"].values() for m in squad["members"]]
    assert len(listed) == len(set(listed))  # one squad each
    assert set(listed) | set(truth["unlisted"]) == set(everyone)
    assert not set(listed) & set(truth["unlisted"]) and truth["unlisted"]
    for squad in truth["squads"].values():
        # Squads are per vendor, each with one manager.
        assert {everyone[m].vendor_id for m in squad["members"]} == {squad["vendor_id"]}
        assert squad["manager"] and 1 <= len(squad["members"]) <= 12
    assert any(not name.isascii() for name in truth["squads"])  # 华数-一组 ...
    standout = everyone[truth["standout"]]
    assert (standout.skill, standout.speed) == (0.97, 0.45)
    assert len(truth["low_quality"]) == 3
    assert len({everyone[a].vendor_id for a in truth["low_quality"]}) == 3
    assert all(everyone[a].skill == 0.15 for a in truth["low_quality"])
    assert truth["new_joiners"] and all("trainee" in everyone[a].tags for a in truth["new_joiners"])
    records = {r["annotator_id"]: r for r in roster_records(sim.world.roster, START)}
    assert set(records) == set(listed)
    day = START.date()
    assert records[truth["standout"]]["start_date"] == (day - timedelta(weeks=40)).isoformat()
    for joiner in truth["new_joiners"]:
        started = datetime.fromisoformat(records[joiner]["start_date"]).date()
        assert timedelta(weeks=1) <= day - started <= timedelta(weeks=4)
        assert records[joiner]["level"] == "L1"


def test_the_roster_shows_in_the_events(feed: Feed) -> None:
    """The standout submits more than anyone and passes audits; the injected low-quality
    annotators fail many."""
    truth = feed.manifest["world"]["roster"]
    submitted = Counter(
        e.annotator_id
        for e in feed.completed()
        if e.status == "submitted" and e.source != "machine"
    )
    top = [name for name, _n in submitted.most_common(len(submitted) // 20)]
    assert truth["standout"] in top  # the top 5 % by volume
    audits: dict[str, list[TaskAudited]] = defaultdict(list)
    for a in feed.audited():
        audits[a.annotator_id].append(a)
    rate, count = approval(audits[truth["standout"]])
    assert count >= 20 and rate > 0.95
    weak = [a for person in truth["low_quality"] for a in audits[person]]
    rate, count = approval(weak)
    assert count >= 20 and rate < 0.7, (rate, count)
    assert all(approval(audits[person])[0] < 0.75 for person in truth["low_quality"])


def test_a_small_world_has_a_roster_without_injected_people() -> None:
    tiny = Simulator(1, START, projects=1, vendors=2, annotators=5)
    truth = tiny.world.roster.describe()
    assert truth["standout"] is None and truth["low_quality"] == [] and truth["unlisted"] == []
    records = roster_records(tiny.world.roster, START)
    assert {r["annotator_id"] for r in records} == {a.annotator_id for a in tiny.world.annotators}
