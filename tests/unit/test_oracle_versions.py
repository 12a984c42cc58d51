"""The oracle's version rule on hand-built sequences, and its generator's versioned streams.

The oracle (tests/oracle.py) is the independent check of the production
aggregation: these tests hold its reading of the version rule to the
contract's words (docs/metrics.md), case by case, before it is used to judge
anything.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas import ContractDecoder, DecodeError
from tests.oracle import _entity, _rank, counting, generate, oracle

NOW = datetime(2027, 1, 1, tzinfo=UTC)
P = "医疗影像标注"


def completed(event_id: str, at: str, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_type": "task_completed",
        "schema_version": 1,
        "event_id": event_id,
        "occurred_at": at,
        "project_id": P,
        "queue_id": "队列A",
        "task_id": "t-1",
        "annotator_id": "标注员-1",
        "status": "submitted",
        "handle_time_s": 10.0,
    }
    event.update(fields)
    return event


def audited(event_id: str, at: str, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_type": "task_audited",
        "schema_version": 1,
        "event_id": event_id,
        "occurred_at": at,
        "project_id": P,
        "queue_id": "队列A",
        "task_id": "t-1",
        "annotator_id": "标注员-1",
        "auditor_id": "审核员-1",
        "verdict": "approve",
    }
    event.update(fields)
    return event


def retracted(event_id: str, at: str, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_type": "task_completed",
        "schema_version": 1,
        "event_id": event_id,
        "occurred_at": at,
        "project_id": P,
        "submission_id": "s-1",
        "retracted": True,
    }
    event.update(fields)
    return event


def key(minute: str, queue: str = "队列A", annotator: str = "标注员-1") -> tuple[Any, ...]:
    start = datetime.fromisoformat(minute).replace(tzinfo=None)
    return (start, P, queue, "", "und", "human", annotator)


def rows(events: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The expected rows, the same whatever order the events arrive in."""
    results = []
    for order in itertools.islice(itertools.permutations(events), 24):
        metrics, errors = oracle(list(order))
        results.append((metrics, errors))
    assert all(result == results[0] for result in results)
    return results[0][0]


def test_an_edit_counts_in_its_own_window_and_queue_only() -> None:
    first = completed("e-1", "2026-11-23T10:00:30Z", submission_id="s-1", handle_time_s=500.0)
    edit = completed(
        "e-2",
        "2026-11-23T10:05:10Z",
        submission_id="s-1",
        revision=2,
        queue_id="队列B",
        handle_time_s=20.0,
    )
    metrics = rows([first, edit])
    assert set(metrics) == {key("2026-11-23T10:05:00", "队列B")}
    row = metrics[key("2026-11-23T10:05:00", "队列B")]
    assert (row["tasks_submitted"], row["handle_time_sum_s"], row["handle_time_max_s"]) == (
        1,
        20.0,
        20.0,
    )
    assert counting([first, edit])[1] == {"superseded": 1, "retractions": 0}


def test_a_superseded_maximum_is_recomputed_from_what_counts() -> None:
    other = completed("o-1", "2026-11-23T10:00:05Z", handle_time_s=30.0, task_id="t-2")
    first = completed("e-1", "2026-11-23T10:00:30Z", submission_id="s-1", handle_time_s=500.0)
    edit = completed(
        "e-2", "2026-11-23T10:00:40Z", submission_id="s-1", revision=2, handle_time_s=20.0
    )
    row = rows([other, first, edit])[key("2026-11-23T10:00:00")]
    assert (row["tasks_submitted"], row["handle_time_sum_s"], row["handle_time_max_s"]) == (
        2,
        50.0,
        30.0,
    )


def test_a_delete_withdraws_the_work_and_a_later_version_brings_it_back() -> None:
    first = completed("e-1", "2026-11-23T10:00:30Z", submission_id="s-1")
    gone = retracted("e-2", "2026-11-23T10:20:00Z", revision=2)
    assert rows([first, gone]) == {}
    assert counting([first, gone])[1] == {"superseded": 1, "retractions": 1}
    back = completed("e-3", "2026-11-23T10:40:00Z", submission_id="s-1", revision=3)
    metrics = rows([first, gone, back])
    assert set(metrics) == {key("2026-11-23T10:40:00")}
    assert counting([first, gone, back])[1] == {"superseded": 2, "retractions": 1}


def test_a_retraction_counts_nothing_even_carrying_a_whole_version() -> None:
    whole = completed("e-1", "2026-11-23T10:00:30Z", submission_id="s-1", retracted=True)
    assert rows([whole]) == {}
    assert counting([whole])[1] == {"superseded": 0, "retractions": 1}


def test_only_the_latest_audit_counts_and_its_error_categories() -> None:
    first = audited(
        "a-1", "2026-11-23T10:00:30Z", verdict="reject", error_categories=["漏标"], score=0.2
    )
    again = audited("a-2", "2026-11-23T10:30:00+08:00", verdict="fix", error_categories=["边界"])
    # Without any version field, 10:30 Beijing is 02:30 UTC, before the first audit.
    metrics, errors = oracle([again, first])
    assert set(metrics) == {key("2026-11-23T10:00:00")}
    assert metrics[key("2026-11-23T10:00:00")]["audits_rejected"] == 1
    assert errors == {(*key("2026-11-23T10:00:00"), "漏标"): 1}
    later = audited("a-3", "2026-11-23T11:00:00Z", verdict="approve")
    metrics, errors = oracle([first, later, again])
    assert set(metrics) == {key("2026-11-23T11:00:00")}
    row = metrics[key("2026-11-23T11:00:00")]
    assert (row["audits"], row["audits_approved"], row["audit_score_count"]) == (1, 1, 0)
    assert errors == {}


def test_audits_of_other_annotators_or_tasks_are_other_entities() -> None:
    one = audited("a-1", "2026-11-23T10:00:30Z")
    other_person = audited("a-2", "2026-11-23T10:00:40Z", annotator_id="标注员-2")
    other_task = audited("a-3", "2026-11-23T10:00:50Z", task_id="t-2")
    other_project = audited("a-4", "2026-11-23T10:00:55Z", project_id="p-2")
    assert counting([one, other_person, other_task, other_project])[1]["superseded"] == 0


def test_completions_without_submission_id_are_never_superseded() -> None:
    events = [
        completed("e-1", "2026-11-23T10:00:30Z"),
        completed("e-2", "2026-11-23T10:00:40Z", revision=2),  # same task and annotator
    ]
    assert rows(events)[key("2026-11-23T10:00:00")]["tasks_submitted"] == 2
    assert counting(events)[1] == {"superseded": 0, "retractions": 0}


def test_ties_on_event_time_go_to_the_revision_then_the_event_id_bytes() -> None:
    at_utc, at_beijing = "2026-11-23T10:00:30.123Z", "2026-11-23T18:00:30.123+08:00"
    low = completed("e-9", at_utc, submission_id="s-1", handle_time_s=1.0)
    high = completed("e-1", at_beijing, submission_id="s-1", revision=2, handle_time_s=2.0)
    assert rows([low, high])[key("2026-11-23T10:00:00")]["handle_time_sum_s"] == 2.0
    same_a = completed("v-z", at_utc, submission_id="s-1", revision=2, handle_time_s=3.0)
    same_b = completed("v-é", at_beijing, submission_id="s-1", revision=2, handle_time_s=4.0)
    assert "é".encode() > b"z"
    assert rows([same_a, same_b])[key("2026-11-23T10:00:00")]["handle_time_sum_s"] == 4.0


def test_the_event_time_comes_before_the_revision() -> None:
    first = completed("e-1", "2026-11-23T10:00:30Z", submission_id="s-1", handle_time_s=1.0)
    stamped_earlier = completed(
        "e-2", "2026-11-23T10:00:29.999Z", submission_id="s-1", revision=5, handle_time_s=2.0
    )
    assert rows([stamped_earlier, first])[key("2026-11-23T10:00:00")]["handle_time_sum_s"] == 1.0


def test_event_time_is_compared_to_the_microsecond() -> None:
    a = completed("b", "2026-11-23T10:00:30.000001Z", submission_id="s-1", handle_time_s=1.0)
    b = completed("a", "2026-11-23T10:00:30.000002Z", submission_id="s-1", handle_time_s=2.0)
    assert rows([a, b])[key("2026-11-23T10:00:00")]["handle_time_sum_s"] == 2.0
    assert _rank(b)[0] - _rank(a)[0] == 1


def test_without_the_rule_every_event_counts() -> None:
    first = audited("a-1", "2026-11-23T10:00:30Z", verdict="reject")
    again = audited("a-2", "2026-11-23T10:00:40Z")
    metrics, _errors = oracle([first, again], versions=False)
    assert metrics[key("2026-11-23T10:00:00")]["audits"] == 2


# -- the generator --------------------------------------------------------------------

# sha256 of b"\n".join(generate(seed, count).lines), recorded before versions existed.
OLD_STREAMS = {
    (11, 6000): "162b9c35cf3c6b6ffe03a74663c0f8dcd8b7f6e2aa27d1114bff162410dd492b",
    (23, 3000): "4dcbfc1dd8f2fce9a0858280b624bfcdda716765dc82714480ae4de2a13d7b56",
    (29, 12000): "cece280db5e44398dab316c77f28c51a94b79bf1ed391b06c4f4e248a7391af5",
}


@pytest.mark.parametrize(("seed", "count"), sorted(OLD_STREAMS))
def test_without_versions_the_stream_is_the_same_bytes_as_before(seed: int, count: int) -> None:
    stream = generate(seed=seed, count=count)
    assert hashlib.sha256(b"\n".join(stream.lines)).hexdigest() == OLD_STREAMS[(seed, count)]
    assert not any({"revision", "retracted", "submission_id"} & set(e) for e in stream.valid)


@pytest.fixture(scope="module")
def versioned() -> Any:
    return generate(seed=11, count=6000, versions=True)


def test_the_versioned_stream_is_valid_and_deterministic(versioned: Any) -> None:
    again = generate(seed=11, count=6000, versions=True)
    assert again.lines == versioned.lines
    assert generate(seed=12, count=6000, versions=True).lines != versioned.lines
    decoder = ContractDecoder(1 << 20, 3650 * 86400)
    first: dict[tuple[str, str], bytes] = {}
    refused = 0
    for line in versioned.lines:
        event = decoder.decode(line, NOW)
        if isinstance(event, DecodeError):
            refused += 1
            continue
        first.setdefault((event.project_id, event.event_id), line)
    assert refused == versioned.invalid
    assert len(first) == len(versioned.valid)
    assert len(versioned.lines) == len(versioned.valid) + versioned.duplicates + refused
    unique = {(e["project_id"], e["event_id"]) for e in versioned.valid}
    assert len(unique) == len(versioned.valid)


def test_the_versioned_stream_holds_every_case_of_the_rule(versioned: Any) -> None:
    valid = versioned.valid
    by_entity: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for event in valid:
        entity = _entity(event)
        if entity is not None:
            by_entity.setdefault(entity, []).append(event)
    kinds: Counter[str] = Counter()
    for entity, events in by_entity.items():
        if len(events) < 2:
            continue
        kinds["submission versions" if entity[0] == "submission" else "re-audits"] += 1
        ranks = [_rank(e) for e in events]
        if any(ranks[i] > ranks[i + 1] for i in range(len(ranks) - 1)):
            kinds["out of order"] += 1
        if any(a[1] < b[1] and a[0] > b[0] for a in ranks for b in ranks):
            kinds["lower revision stamped later"] += 1
        times = Counter(r[0] for r in ranks)
        for instant, n in times.items():
            if n > 1:
                same = [r for r in ranks if r[0] == instant]
                revisions = {r[1] for r in same}
                kinds["tie by revision" if len(revisions) == len(same) else "tie by event_id"] += 1
        flags = [e.get("retracted") is True for e in sorted(events, key=_rank)]
        if any(flags):
            kinds["retracted"] += 1
        if any(a and not b for a, b in itertools.pairwise(flags)):
            kinds["brought back"] += 1
        if any(
            e.get("retracted") is True and "status" not in e and "verdict" not in e for e in events
        ):
            kinds["retraction with ids only"] += 1
        if entity[0] == "audit" and any(e.get("retracted") is True for e in events):
            kinds["audit retracted"] += 1
    lines = Counter(versioned.lines)
    retraction_lines = {
        json.dumps(e, ensure_ascii=False).encode() for e in valid if e.get("retracted")
    }
    version_lines = {json.dumps(e, ensure_ascii=False).encode() for e in valid if "revision" in e}
    kinds["duplicated retractions"] = sum(1 for line in retraction_lines if lines[line] > 1)
    kinds["duplicated versions"] = sum(1 for line in version_lines if lines[line] > 1)
    kinds["without new fields"] = sum(
        1 for e in valid if not {"revision", "retracted", "submission_id"} & set(e)
    )
    for case in (
        "submission versions",
        "re-audits",
        "out of order",
        "lower revision stamped later",
        "tie by revision",
        "tie by event_id",
        "retracted",
        "brought back",
        "retraction with ids only",
        "audit retracted",
        "duplicated retractions",
        "duplicated versions",
    ):
        assert kinds[case] >= 5, (case, kinds)
    assert kinds["without new fields"] > len(valid) / 2
    _counted, numbers = counting(valid)
    assert numbers["superseded"] > 500 and numbers["retractions"] > 100


def test_the_worked_example_of_the_metrics_docs() -> None:
    """docs/metrics.md, "What counts": the windows before and after each event."""
    docs = {"locale": "zh-CN"}
    e1 = completed("e-1", "2026-11-23T10:00:20Z", handle_time_s=30.0, task_id="t-1", **docs)
    e2 = completed("e-2", "2026-11-23T10:00:40Z", submission_id="ann-17", handle_time_s=500.0,
                   task_id="t-2", **docs)  # fmt: skip
    e3 = completed("e-3", "2026-11-23T10:04:10Z", submission_id="ann-17", revision=2,
                   queue_id="队列B", handle_time_s=60.0, task_id="t-2", **docs)  # fmt: skip
    e4 = retracted("e-4", "2026-11-23T10:30:00Z", submission_id="ann-17", revision=3)

    def windows(events: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[float, ...]]:
        metrics, _errors = oracle(events)
        return {
            (k[0].strftime("%H:%M"), k[2]): (
                row["tasks_submitted"],
                row["handle_time_sum_s"],
                row["handle_time_max_s"],
            )
            for k, row in metrics.items()
        }

    assert windows([e1, e2]) == {("10:00", "队列A"): (2, 530.0, 500.0)}
    after = {("10:00", "队列A"): (1, 30.0, 30.0), ("10:04", "队列B"): (1, 60.0, 60.0)}
    assert windows([e1, e2, e3]) == windows([e3, e1, e2]) == after
    assert counting([e1, e2, e3])[1] == {"superseded": 1, "retractions": 0}
    assert windows([e1, e2, e3, e4]) == {("10:00", "队列A"): (1, 30.0, 30.0)}
    assert counting([e1, e2, e3, e4])[1] == {"superseded": 2, "retractions": 1}

    a1 = audited("a-1", "2026-11-23T10:10:00Z", task_id="t-9", verdict="reject", score=0.3,
                 error_categories=["漏标"], **docs)  # fmt: skip
    a2 = audited("a-2", "2026-11-23T10:50:00Z", task_id="t-9", score=0.9, **docs)

    def audits(events: list[dict[str, Any]]) -> tuple[dict[str, tuple[float, ...]], Any]:
        metrics, errors = oracle(events)
        rows = {
            k[0].strftime("%H:%M"): (
                row["audits"],
                row["audits_approved"],
                row["audits_rejected"],
                row["audit_score_sum"],
            )
            for k, row in metrics.items()
        }
        return rows, {(k[0].strftime("%H:%M"), k[7]): n for k, n in errors.items()}

    assert audits([a1]) == ({"10:10": (1, 0, 1, 0.3)}, {("10:10", "漏标"): 1})
    assert audits([a1, a2]) == audits([a2, a1]) == ({"10:50": (1, 1, 0, 0.9)}, {})
