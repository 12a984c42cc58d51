"""A seeded event stream with known ground truth, and an independent oracle.

The oracle recomputes every aggregate with plain Python and Decimal from the
generator's own list of unique valid events; it shares no code with the
production aggregation, nor with the production's version rule
(``schemas.versions``): which version of a piece of work counts is decided
here again, from the JSON the generator wrote.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

PROJECTS = ["医疗影像标注", "autonomous-driving", "客服对话质检", "语音转写", "p5-retail"]
QUEUES = ["队列-分割", "lidar-boxes", "意图分类", "queue'); DROP TABLE x; --"]
VENDORS = [None, "vendor-a", "供应商乙", "vendor-c"]
LOCALES = ["zh-CN", "en-US", "zh-TW"]
SOURCES = ["human", "machine", "hybrid"]
CATEGORIES = ["漏标", "边界不准", "类别错误", "typo", "emoji🙂"]
TZ8 = timezone(timedelta(hours=8))


@dataclass
class Stream:
    lines: list[bytes] = field(default_factory=list)  # what is published, in order
    valid: list[dict[str, Any]] = field(default_factory=list)  # unique valid events
    duplicates: int = 0
    invalid: int = 0


def _ts(moment: datetime, rng: random.Random) -> str:
    if rng.random() < 0.5:
        moment = moment.astimezone(TZ8)
    text = moment.isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z") if rng.random() < 0.5 else text


def generate(
    seed: int, count: int, start: datetime | None = None, *, versions: bool = False
) -> Stream:
    """``count`` events, shuffled within the lateness, with redeliveries and invalid lines.

    With ``versions``, pieces of work come in several versions as well (see
    ``_add_versions``); without, the stream is the same bytes as before
    versions existed.
    """
    rng = random.Random(seed)
    start = start or datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    annotators = [f"标注员-{i:03d}" for i in range(40)] + ["emoji🙂", 'quote"\\x']
    events: list[tuple[float, dict[str, Any]]] = []
    clock = start
    for i in range(count):
        clock += timedelta(milliseconds=rng.randint(50, 900))
        moment = clock
        if rng.random() < 0.02:  # a correction, well behind the watermark
            moment = clock - timedelta(minutes=rng.randint(5, 90))
        common: dict[str, Any] = {
            "schema_version": 1,
            "event_id": f"evt-{seed}-{i}",
            "occurred_at": _ts(moment, rng),
            "project_id": rng.choice(PROJECTS),
            "queue_id": rng.choice(QUEUES),
            "task_id": f"任务-{rng.randint(1, 5000)}",
            "annotator_id": rng.choice(annotators),
            "locale": rng.choice(LOCALES),
            "source": rng.choice(SOURCES),
        }
        vendor = rng.choice(VENDORS)
        if vendor is not None:
            common["vendor_id"] = vendor
        if rng.random() < 0.75:
            status = rng.choice(["submitted"] * 8 + ["skipped", "expired"])
            event = {**common, "event_type": "task_completed", "status": status}
            if status == "submitted":
                event["handle_time_s"] = rng.randint(1000, 900_000) / 1000
                if rng.random() < 0.5:
                    created = moment - timedelta(milliseconds=rng.randint(0, 36_000_000))
                    event["task_created_at"] = _ts(created, rng)
                event["attempt"] = rng.choice([1, 1, 1, 2, 3])
                if rng.random() < 0.08:
                    event["is_gold"] = True
                    event["gold_correct"] = rng.random() < 0.8
        else:
            event = {
                **common,
                "event_type": "task_audited",
                "auditor_id": f"审核员-{rng.randint(1, 5)}",
                "verdict": rng.choice(["approve", "approve", "approve", "fix", "reject"]),
            }
            if rng.random() < 0.7:
                event["score"] = rng.randint(0, 1000) / 1000
            if rng.random() < 0.5:
                event["audit_time_s"] = rng.randint(0, 600_000) / 1000
            if rng.random() < 0.4:
                cats = rng.sample(CATEGORIES, rng.randint(1, 3))
                if rng.random() < 0.2:
                    cats.append(cats[0])  # a repeat counts once
                event["error_categories"] = cats
        events.append((clock.timestamp(), event))  # publish time: corrections stay behind
    vrng = random.Random(f"versions/{seed}")
    if versions:
        events = _add_versions(events, vrng, seed)
    # Shuffle within the allowed lateness: displace each event by up to 60 s.
    events.sort(key=lambda item: item[0] + rng.uniform(0, 60))
    stream = Stream()
    for _, event in events:
        stream.valid.append(event)
        stream.lines.append(json.dumps(event, ensure_ascii=False).encode())
        if rng.random() < 0.03:  # redelivery, a little later
            stream.duplicates += 1
            stream.lines.insert(len(stream.lines) - rng.randint(0, 5), stream.lines[-1])
        elif versions and event.get("retracted") is True and vrng.random() < 0.3:
            stream.duplicates += 1  # a platform re-sending its delete
            stream.lines.insert(len(stream.lines) - vrng.randint(0, 5), stream.lines[-1])
    for i in range(max(3, count // 500)):
        position = rng.randint(0, len(stream.lines))
        bad = rng.choice(
            [
                b"{not json",
                json.dumps({"event_type": "task_completed", "schema_version": 1}).encode(),
                json.dumps({**stream.valid[i], "schema_version": 2}).encode(),
            ]
        )
        stream.lines.insert(position, bad)
        stream.invalid += 1
    return stream


def _add_versions(
    events: list[tuple[float, dict[str, Any]]], vrng: random.Random, seed: int
) -> list[tuple[float, dict[str, Any]]]:
    """Pieces of work in several versions, from their own random stream.

    A third of the completions carry a ``submission_id``; some of those get
    edits (later, or at the same instant with a higher revision, or at the
    same instant and revision with another event_id, or a higher revision at
    an earlier instant, which loses), moving the work to another minute,
    queue or vendor; some are retracted (ids only, or the whole version), and
    some of those come back with a later version. A tenth of the audits are
    re-audited, minutes later or earlier, or retracted. A third of the
    versioned pieces of work publish their first version after the others
    (a lower revision after a higher one). (publish time, event) pairs.
    """
    out: list[tuple[float, dict[str, Any]]] = []
    number = 0
    for publish, event in events:
        versions = [event]
        if event["event_type"] == "task_completed" and vrng.random() < 0.35:
            number += 1
            event["submission_id"] = f"提交-{seed}-{number}"
            versions += _submission_versions(event, vrng)
        elif event["event_type"] == "task_audited" and vrng.random() < 0.1:
            versions += _audit_versions(event, vrng)
        if len(versions) == 1:
            out.append((publish, event))
            continue
        times = [publish] + [
            max(publish, _parse(v["occurred_at"]).timestamp()) for v in versions[1:]
        ]
        if vrng.random() < 0.35:  # the first version arrives after the later ones
            times[0] = max(times[1:]) + vrng.uniform(1, 90)
        out += zip(times, versions, strict=True)
    return out


def _moment(event: dict[str, Any], seconds: float) -> datetime:
    return _parse(event["occurred_at"]) + timedelta(seconds=seconds)


def _submission_versions(first: dict[str, Any], vrng: random.Random) -> list[dict[str, Any]]:
    """Later versions of a submission (``first`` is revision 1, written without it)."""
    roll = vrng.random()
    if roll < 0.3:  # edits, each a second to 20 minutes after the previous one
        chain, previous = [], first
        for revision in range(2, 2 + vrng.randint(1, 3)):
            previous = _edit(previous, revision, _moment(previous, vrng.uniform(1, 1200)), vrng)
            chain.append(previous)
        return chain
    if roll < 0.4:  # the same instant (another offset, maybe): the higher revision wins
        return [_edit(first, 2, _moment(first, 0), vrng)]
    if roll < 0.45:  # the same instant and revision: the greater event_id (bytes) wins
        second = _edit(first, 2, _moment(first, 0), vrng, suffix="-v2-é")
        return [second, _edit(first, 2, _moment(first, 0), vrng, suffix="-v2-z")]
    if roll < 0.5:  # a higher revision stamped earlier: the event time decides, it loses
        return [_edit(first, 2, _moment(first, -vrng.uniform(1, 600)), vrng)]
    if roll < 0.6:  # deleted at the source; a third come back later
        gone = _retraction(first, 2, _moment(first, vrng.uniform(1, 1800)), vrng)
        if vrng.random() < 1 / 3:
            return [gone, _edit(first, 3, _moment(gone, vrng.uniform(1, 1800)), vrng)]
        return [gone]
    return []


def _edit(
    previous: dict[str, Any],
    revision: int,
    moment: datetime,
    vrng: random.Random,
    suffix: str | None = None,
) -> dict[str, Any]:
    """A later version of a submission: same submission_id, maybe other time, queue, numbers."""
    event = {k: v for k, v in previous.items() if k != "retracted"}
    event["event_id"] = f"{previous['event_id'].split('-v')[0]}{suffix or f'-v{revision}'}"
    event["revision"] = revision
    event["occurred_at"] = _ts(moment, vrng)
    if vrng.random() < 0.3:
        event["queue_id"] = vrng.choice(QUEUES)
    if vrng.random() < 0.2:
        vendor = vrng.choice(VENDORS)
        if vendor is None:
            event.pop("vendor_id", None)
        else:
            event["vendor_id"] = vendor
    if event["status"] == "submitted" and vrng.random() < 0.7:
        event["handle_time_s"] = vrng.randint(1000, 900_000) / 1000
    if "task_created_at" in event and _parse(event["task_created_at"]) > moment:
        del event["task_created_at"]  # created after the (earlier) edit: not this one
    return event


def _retraction(
    version: dict[str, Any], revision: int, moment: datetime, vrng: random.Random
) -> dict[str, Any]:
    """A delete: what identifies the entity, or the whole version marked retracted."""
    if vrng.random() < 0.5:
        identity = (
            ("submission_id",)
            if version["event_type"] == "task_completed"
            else ("task_id", "annotator_id")
        )
        keep = ("event_type", "schema_version", "project_id", *identity)
        event = {k: v for k, v in version.items() if k in keep}
    else:
        event = dict(version)
    event["event_id"] = f"{version['event_id'].split('-v')[0]}-v{revision}-x"
    event["occurred_at"] = _ts(moment, vrng)
    event["revision"] = revision
    event["retracted"] = True
    return event


def _audit_versions(first: dict[str, Any], vrng: random.Random) -> list[dict[str, Any]]:
    """Another audit of the same annotator's work on the task, or its retraction."""
    roll = vrng.random()
    if roll < 0.15:
        return [_retraction(first, 2, _moment(first, vrng.uniform(1, 1800)), vrng)]
    later = vrng.uniform(60, 3600) if roll < 0.85 else -vrng.uniform(1, 600)
    audit = dict(first)
    audit["event_id"] = f"{first['event_id']}-re"
    audit["occurred_at"] = _ts(_moment(first, later), vrng)
    audit["auditor_id"] = f"审核员-{vrng.randint(1, 5)}"
    audit["verdict"] = vrng.choice(["approve", "fix", "reject"])
    audit["score"] = vrng.randint(0, 1000) / 1000
    cats = vrng.sample(CATEGORIES, vrng.randint(0, 2))
    if cats:
        audit["error_categories"] = cats
    else:
        audit.pop("error_categories", None)
    if vrng.random() < 0.5:
        audit["revision"] = 2  # a review updated in place, or a new one (revision absent)
    return [audit]


FIELDS = (
    "tasks_submitted",
    "tasks_skipped",
    "tasks_expired",
    "rework_submitted",
    "handle_time_sum_s",
    "handle_time_max_s",
    "turnaround_count",
    "turnaround_sum_s",
    "turnaround_max_s",
    "gold_submitted",
    "gold_correct",
    "audits",
    "audits_approved",
    "audits_fixed",
    "audits_rejected",
    "audit_score_sum",
    "audit_score_count",
    "audit_time_sum_s",
)


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _entity(event: dict[str, Any]) -> tuple[str, ...] | None:
    """The piece of work an event is a version of (None: a piece of its own)."""
    if event["event_type"] == "task_audited":
        return ("audit", event["project_id"], event["task_id"], event["annotator_id"])
    if event.get("submission_id") is None:
        return None
    return ("submission", event["project_id"], event["submission_id"])


def _rank(event: dict[str, Any]) -> tuple[int, int, bytes]:
    """Event time in whole microseconds, revision, event_id bytes: the greatest counts."""
    delta = _parse(event["occurred_at"]) - _EPOCH
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return micros, event.get("revision", 1), event["event_id"].encode("utf-8")


def counting(valid: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The events that count by the version rule, and how many were superseded / retractions.

    Of the versions of one piece of work only the greatest counts, and nothing
    when it is a retraction; an event without a piece of work counts alone.
    """
    latest: dict[tuple[str, ...], dict[str, Any]] = {}
    alone: list[dict[str, Any]] = []
    versioned = 0
    for event in valid:
        entity = _entity(event)
        if entity is None:
            alone.append(event)
            continue
        versioned += 1
        if entity not in latest or _rank(event) > _rank(latest[entity]):
            latest[entity] = event
    counted = alone + [e for e in latest.values() if e.get("retracted") is not True]
    numbers = {
        "superseded": versioned - len(latest),
        "retractions": sum(1 for e in valid if e.get("retracted") is True),
    }
    return counted, numbers


def oracle(
    valid: list[dict[str, Any]], *, versions: bool = True
) -> tuple[dict[tuple[Any, ...], dict[str, Any]], dict[tuple[Any, ...], int]]:
    """Expected metrics_1m and audit_errors_1m rows, keyed like the tables.

    By the version rule (``counting``). ``versions=False``: every accepted
    event counts, the rule before contract versions, which is what a worker
    whose state does not apply versions computes.
    """
    metrics: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(
        lambda: {name: Decimal(0) for name in FIELDS}
    )
    errors: dict[tuple[Any, ...], int] = defaultdict(int)
    counted = counting(valid)[0] if versions else valid
    for event in counted:
        occurred = _parse(event["occurred_at"]).astimezone(UTC)
        start = occurred.replace(second=0, microsecond=0).replace(tzinfo=None)
        key = (
            start,
            event["project_id"],
            event["queue_id"],
            event.get("vendor_id") or "",
            event.get("locale", "und"),
            event.get("source", "human"),
            event["annotator_id"],
        )
        row = metrics[key]
        if event["event_type"] == "task_completed":
            status = event["status"]
            if status == "submitted":
                row["tasks_submitted"] += 1
                handle = Decimal(str(event["handle_time_s"]))
                row["handle_time_sum_s"] += handle
                row["handle_time_max_s"] = max(row["handle_time_max_s"], handle)
                if event.get("attempt", 1) > 1:
                    row["rework_submitted"] += 1
                if "task_created_at" in event:
                    delta = occurred - _parse(event["task_created_at"])
                    seconds = (
                        Decimal(delta.days * 86400 + delta.seconds)
                        + Decimal(delta.microseconds) / 1000000
                    )
                    row["turnaround_count"] += 1
                    row["turnaround_sum_s"] += seconds
                    row["turnaround_max_s"] = max(row["turnaround_max_s"], seconds)
                if event.get("is_gold"):
                    row["gold_submitted"] += 1
                    row["gold_correct"] += 1 if event["gold_correct"] else 0
            elif status == "skipped":
                row["tasks_skipped"] += 1
            else:
                row["tasks_expired"] += 1
        else:
            row["audits"] += 1
            verdict = {
                "approve": "audits_approved",
                "fix": "audits_fixed",
                "reject": "audits_rejected",
            }
            row[verdict[event["verdict"]]] += 1
            if event.get("score") is not None:
                row["audit_score_sum"] += Decimal(str(event["score"]))
                row["audit_score_count"] += 1
            if event.get("audit_time_s") is not None:
                row["audit_time_sum_s"] += Decimal(str(event["audit_time_s"]))
            for category in set(event.get("error_categories", [])):
                errors[(*key, category)] += 1
    expected = {
        key: {k: float(v) if isinstance(v, Decimal) else v for k, v in row.items()}
        for key, row in metrics.items()
    }
    return expected, dict(errors)


# A worker killed a moment ago leaves its engine process finishing its last
# request and closing the directory: on a loaded machine that can take long.
OPEN_TIMEOUT_S = 120.0


def read_tables(
    dsn: str, *, read_only: bool = False
) -> tuple[dict[tuple[Any, ...], dict[str, Any]], dict[tuple[Any, ...], int], dict[str, int]]:
    from sinks.client import connect

    client = connect(dsn, open_timeout=OPEN_TIMEOUT_S, read_only=read_only)
    try:
        columns = [
            "window_start",
            "project_id",
            "queue_id",
            "vendor_id",
            "locale",
            "source",
            "annotator_id",
            *FIELDS,
        ]
        result = client.query(f"SELECT {', '.join(columns)} FROM metrics_1m FINAL")
        metrics = {}
        for row in result.result_rows:
            metrics[tuple(row[:7])] = {
                name: float(value) for name, value in zip(FIELDS, row[7:], strict=True)
            }
        errs = client.query(
            "SELECT window_start, project_id, queue_id, vendor_id, locale, source, annotator_id, "
            "error_category, errors FROM audit_errors_1m FINAL"
        )
        # A count of 0: the only audit that had that category was superseded.
        errors = {tuple(row[:8]): row[8] for row in errs.result_rows if row[8]}
        counts = {
            table: client.query(f"SELECT count() FROM {table} FINAL").result_rows[0][0]
            for table in ("task_events", "audit_events", "dlq_events")
        }
        counts["metrics_rows_raw"] = client.query("SELECT count() FROM metrics_1m").result_rows[0][
            0
        ]
        return metrics, errors, counts
    finally:
        client.close()


def compare_metrics(
    actual: dict[tuple[Any, ...], dict[str, Any]], expected: dict[tuple[Any, ...], dict[str, Any]]
) -> list[str]:
    """Every difference, as readable lines (empty when equal)."""
    problems = []
    # A row whose every field is 0 is no row: what counted there was superseded
    # or retracted, and the worker wrote the zeros over the row it had written.
    actual = {k: v for k, v in actual.items() if any(v.values())}
    for key in sorted(set(actual) | set(expected), key=repr):
        if key not in actual:
            problems.append(f"missing row {key}")
        elif key not in expected:
            problems.append(f"unexpected row {key}: {actual[key]}")
        else:
            for name in FIELDS:
                if actual[key][name] != expected[key][name]:
                    problems.append(
                        f"{key} {name}: got {actual[key][name]} expected {expected[key][name]}"
                    )
    return problems


def read_union(
    dsns: list[str], *, read_only: bool = False
) -> tuple[dict[tuple[Any, ...], dict[str, Any]], dict[tuple[Any, ...], int], dict[str, int]]:
    """The tables of several workers' databases, merged the way ReplacingMergeTree would.

    Each key keeps its highest-version row across all databases: when a
    partition moves between workers, the new owner's rows supersede. With
    ``read_only``, databases of running workers are read through their engine
    processes.
    """
    from sinks.client import connect

    metrics: dict[tuple[Any, ...], tuple[int, dict[str, Any]]] = {}
    errors: dict[tuple[Any, ...], tuple[int, int]] = {}
    events: dict[str, set[tuple[str, str]]] = {"task_events": set(), "audit_events": set()}
    letters: set[str] = set()
    key_columns = "window_start, project_id, queue_id, vendor_id, locale, source, annotator_id"
    for dsn in dsns:
        client = connect(dsn, open_timeout=OPEN_TIMEOUT_S, read_only=read_only)
        try:
            result = client.query(
                f"SELECT {key_columns}, {', '.join(FIELDS)}, version FROM metrics_1m"
            )
            for row in result.result_rows:
                key, version = tuple(row[:7]), row[-1]
                if key not in metrics or metrics[key][0] < version:
                    values = {n: float(v) for n, v in zip(FIELDS, row[7:-1], strict=True)}
                    metrics[key] = (version, values)
            result = client.query(
                f"SELECT {key_columns}, error_category, errors, version FROM audit_errors_1m"
            )
            for row in result.result_rows:
                key, version = tuple(row[:8]), row[-1]
                if key not in errors or errors[key][0] < version:
                    errors[key] = (version, row[8])
            for table, found in events.items():
                found.update(
                    (r[0], r[1])
                    for r in client.query(f"SELECT project_id, event_id FROM {table}").result_rows
                )
            letters.update(
                r[0] for r in client.query("SELECT dead_letter_id FROM dlq_events").result_rows
            )
        finally:
            client.close()
    counts = {table: len(found) for table, found in events.items()}
    counts["dlq_events"] = len(letters)
    return (
        {k: v for k, (_, v) in metrics.items()},
        {k: v for k, (_, v) in errors.items() if v},
        counts,
    )


def read_current(dsn: str) -> dict[str, set[tuple[str, str]]]:
    """The (project_id, event_id) of the rows of the ``_current`` views, by event table."""
    from sinks.client import connect

    client = connect(dsn, open_timeout=OPEN_TIMEOUT_S)
    try:
        return {
            table: {
                (row[0], row[1])
                for row in client.query(
                    f"SELECT project_id, event_id FROM {table}_current"
                ).result_rows
            }
            for table in ("task_events", "audit_events")
        }
    finally:
        client.close()


def expected_current(valid: list[dict[str, Any]]) -> dict[str, set[tuple[str, str]]]:
    """What the ``_current`` views must hold: the events that count (``counting``)."""
    out: dict[str, set[tuple[str, str]]] = {"task_events": set(), "audit_events": set()}
    for event in counting(valid)[0]:
        table = "task_events" if event["event_type"] == "task_completed" else "audit_events"
        out[table].add((event["project_id"], event["event_id"]))
    return out
