"""schemas.versions: the entity of an event and the order of its versions.

Checked on hand-built events, then against the test oracle's own reading of
the rule (tests/oracle.py, written without this module) over a generated
stream with every case of it.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from schemas import (
    ContractDecoder,
    ContractEvent,
    DecodeError,
    TaskAudited,
    TaskAuditedRetraction,
    TaskCompleted,
    TaskCompletedRetraction,
)
from schemas.units import epoch_us
from schemas.versions import contributes, entity, order_key
from tests.oracle import counting, generate

DECODER = ContractDecoder(1 << 20, 3650 * 86400)
NOW = datetime(2027, 1, 1, tzinfo=UTC)


def event(**fields: Any) -> ContractEvent:
    base: dict[str, Any] = {
        "event_type": "task_completed",
        "schema_version": 1,
        "event_id": "e-1",
        "occurred_at": "2026-11-23T10:00:30Z",
        "project_id": "项目",
        "queue_id": "q",
        "task_id": "t-1",
        "annotator_id": "标注员",
        "status": "submitted",
        "handle_time_s": 1.0,
    }
    if fields.get("event_type") == "task_audited":
        base.update(auditor_id="审核员", verdict="approve")
    base.update(fields)
    decoded = DECODER.decode(orjson.dumps(base), NOW)
    assert not isinstance(decoded, DecodeError), decoded
    return decoded


def test_the_entity_of_each_kind_of_event() -> None:
    plain = event()
    assert isinstance(plain, TaskCompleted) and entity(plain) is None
    assert entity(event(submission_id="s-1")) == ("项目", "s-1")
    gone = event(submission_id="s-1", retracted=True)
    assert isinstance(gone, TaskCompletedRetraction) and entity(gone) == ("项目", "s-1")
    audit = event(event_type="task_audited")
    assert isinstance(audit, TaskAudited) and entity(audit) == ("项目", "t-1", "标注员")
    withdrawn = event(event_type="task_audited", retracted=True, revision=2)
    assert isinstance(withdrawn, TaskAuditedRetraction)
    assert entity(withdrawn) == entity(audit)
    # A submission named like an audit's work is another entity.
    assert entity(event(submission_id="t-1")) != entity(audit)
    assert (contributes(plain), contributes(gone), contributes(withdrawn)) == (True, False, False)


def test_epoch_microseconds_are_exact_in_any_offset() -> None:
    beijing = timezone(timedelta(hours=8))
    moment = datetime(2106, 2, 7, 6, 28, 15, 999999, tzinfo=UTC)
    assert epoch_us(moment) == (2**32 - 1) * 10**6 + 999999
    assert epoch_us(moment.astimezone(beijing)) == epoch_us(moment)
    assert epoch_us(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    assert epoch_us(moment) - epoch_us(moment - timedelta(microseconds=1)) == 1


def test_versions_are_ordered_by_time_then_revision_then_event_id_bytes() -> None:
    a = event(event_id="b", occurred_at="2026-11-23T10:00:30.000001Z", submission_id="s")
    b = event(event_id="a", occurred_at="2026-11-23T10:00:30.000002Z", submission_id="s")
    assert order_key(a) < order_key(b)  # time first, to the microsecond
    c = event(event_id="z", occurred_at="2026-11-23T18:00:30.000002+08:00", revision=2)
    assert order_key(b) < order_key(c)  # the same instant: revision
    d = event(event_id="é", occurred_at="2026-11-23T10:00:30.000002Z", revision=2)
    assert order_key(c) < order_key(d)  # the same revision: event_id bytes
    e = event(event_id="zz", occurred_at="2026-11-23T10:00:30.000001Z", revision=9)
    assert order_key(e) < order_key(b)  # a higher revision stamped earlier loses
    assert order_key(d) == (epoch_us(d.occurred_at), 2, "é".encode())


def _latest(events: list[ContractEvent]) -> ContractEvent:
    return max(events, key=order_key)


def test_the_latest_is_the_same_in_every_arrival_order() -> None:
    versions = [
        event(event_id="e-1", submission_id="s"),
        event(event_id="e-2", submission_id="s", revision=2, occurred_at="2026-11-23T10:05:00Z"),
        event(
            event_id="e-3",
            submission_id="s",
            revision=3,
            retracted=True,
            occurred_at="2026-11-23T10:05:00Z",
        ),
        event(event_id="e-0", submission_id="s", revision=4, occurred_at="2026-11-23T09:00:00Z"),
    ]
    winners = {_latest(list(order)).event_id for order in itertools.permutations(versions)}
    assert winners == {"e-3"}


@pytest.mark.parametrize("seed", [11, 12])
def test_the_rule_equals_the_oracles_independent_reading(seed: int) -> None:
    stream = generate(seed=seed, count=3000, versions=True)
    decoded = [DECODER.decode(orjson.dumps(data), NOW) for data in stream.valid]
    latest: dict[Any, ContractEvent] = {}
    alone: list[ContractEvent] = []
    versioned = 0
    for item in decoded:
        assert not isinstance(item, DecodeError), item
        key = entity(item)
        if key is None:
            alone.append(item)
            continue
        versioned += 1
        if key not in latest or order_key(item) > order_key(latest[key]):
            latest[key] = item
    counted = alone + [e for e in latest.values() if contributes(e)]
    expected, numbers = counting(stream.valid)
    assert sorted((e.project_id, e.event_id) for e in counted) == sorted(
        (e["project_id"], e["event_id"]) for e in expected
    )
    assert numbers["superseded"] == versioned - len(latest) > 0
    assert numbers["retractions"] == sum(1 for e in decoded if e.retracted) > 0
