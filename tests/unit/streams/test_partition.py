"""The per-event path of a partition: dedup, lateness, window updates; failures change nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from schemas.decode import ContractDecoder, DecodeError
from schemas.metrics import AGGREGATE_FIELDS
from streams.windows import MICRO_FIELDS
from tests.oracle import generate, oracle
from tests.unit.streams.events import (
    AUDITS,
    AUDITS_IDX,
    DECODER,
    NOW,
    SUBMITTED,
    TASKS,
    audited,
    checkpointed_run,
    completed,
    feed,
    held,
    minute_start,
    new_state,
)


def test_duplicates_are_counted_once() -> None:
    state = new_state()
    assert feed(state, TASKS, completed("e1", 0)) == "accepted"
    assert feed(state, TASKS, completed("e1", 0)) == "duplicate"
    # Same event id in another project is another event.
    assert feed(state, TASKS, completed("e1", 0, project="p2")) == "accepted"
    key = next(k for k in state.windows if k[1] == "项目甲")
    assert state.windows[key][SUBMITTED] == 1
    assert state.counters["duplicates"] == 1
    assert state.counters["events_in"] == 3


def test_windows_close_once_in_order_and_corrections_stay_exact() -> None:
    state = new_state()
    for i in range(5):
        feed(state, TASKS, completed(f"t{i}", i))
    state.move_watermark()
    first = state.advance()
    assert [c.window_start for c in first] == [minute_start(m) for m in range(2)]
    assert state.advance() == []  # nothing new: nothing handed out again
    assert feed(state, TASKS, completed("late", 0.5)) == "late"
    key = next(k for k in state.windows if k[0] == minute_start(0))
    assert state.windows[key][SUBMITTED] == 2
    rest = state.advance(close_all=True)
    assert [c.window_start for c in rest] == [minute_start(m) for m in range(2, 5)]


def test_too_late_beyond_retention_is_a_dead_letter() -> None:
    state = new_state()
    feed(state, TASKS, completed("new", 200))
    state.move_watermark()
    state.advance()
    assert feed(state, TASKS, completed("old", 0)) == "dead"
    assert state.dead_letters[-1].reason == "too_late"
    assert state.counters["dead_too_late"] == 1


def test_memory_follows_the_horizon_not_history() -> None:
    state = new_state()
    for i in range(600):
        feed(state, TASKS, completed(f"t{i}", i))
        if i % 10 == 0:
            state.move_watermark()
            state.advance()
            state.mark_checkpointed()
    state.move_watermark()
    state.advance()
    state.mark_checkpointed()
    state.evict()
    # Retention 60 min + lateness 2 min: about 62 minutes of windows and dedup marks remain.
    assert 55 <= len(state.windows) <= 65
    assert 55 <= len(state.seen) <= 65
    # The per-minute index names exactly the windows held.
    indexed = [k for keys in state.store.by_minute.values() for k in keys]
    assert sorted(indexed) == sorted(state.windows)


def test_packed_state_equals_the_oracle() -> None:
    stream = generate(seed=23, count=3000)
    state, _, _ = checkpointed_run(stream.lines, 50, pack_after_s=0)
    assert state.store.packed_minutes > 0
    expected_metrics, expected_errors = oracle(stream.valid)
    actual = {}
    for key, agg in state.windows.items():
        start = datetime.fromtimestamp(key[0], UTC).replace(tzinfo=None)
        actual[(start, *key[1:])] = {
            name: float(Decimal(agg[i]) / 10**6) if i in MICRO_FIELDS else agg[i]
            for i, name in enumerate(AGGREGATE_FIELDS)
        }
    assert actual == expected_metrics
    errors = {
        (datetime.fromtimestamp(k[0][0], UTC).replace(tzinfo=None), *k[0][1:], k[1]): n
        for k, n in state.errors.items()
    }
    assert errors == expected_errors


def test_an_event_whose_processing_raises_is_unprocessable_and_changes_nothing() -> None:
    """audit_time_s 1e308 overflowed round(x * MICRO) after the dedup mark was set.

    Built past the contract (model_copy does not validate), as a value the
    bounds did not foresee would be: the event is a dead letter with its
    bytes and the error, the state is exactly as before, and the same event
    id later, valid, is not taken for a duplicate.
    """
    state = new_state()
    assert feed(state, AUDITS, audited("a-0", 0)) == "accepted"
    feed(state, TASKS, completed("c-0", 30))
    state.move_watermark()
    state.advance()
    state.mark_checkpointed()
    assert state.store.is_packed(minute_start(0))  # the hostile event is a correction to it
    before = held(state)
    raw = audited("a-1", 0)
    event = DECODER.decode(raw, NOW)
    assert not isinstance(event, DecodeError)
    for hostile in (
        event.model_copy(update={"audit_time_s": 1e308}),
        event.model_copy(update={"score": float("nan")}),
        event.model_copy(update={"event_id": "a-\ud800"}),
        event.model_copy(update={"verdict": "shrug"}),
    ):
        offset = state.offsets[AUDITS]
        assert state.process(hostile, raw, AUDITS, offset) == "dead"
        assert state.offsets[AUDITS] == offset + 1
        assert held(state) == before
        letter = state.dead_letters[-1]
        assert letter.reason == "unprocessable"
        assert letter.payload == raw and letter.source_offset == offset
        assert letter.message.startswith("processing failed: ")
        assert letter.event_id is not None and letter.project_id == "项目甲"
        letter.to_json()  # publishable: hidden characters of the hints are escaped
    assert "OverflowError" in state.dead_letters[0].message
    assert state.counters["dead_unprocessable"] == 4
    assert state.counters["events_in"] == 2 + 4
    assert feed(state, AUDITS, raw) == "late"  # a correction, not a duplicate
    (first,) = [agg for key, agg in state.windows.items() if key[0] == minute_start(0)]
    assert first[AUDITS_IDX] == 2


def test_the_decoder_never_raises() -> None:
    """What the decoder itself cannot handle is unprocessable, not an exception."""

    class Exploding(ContractDecoder):
        def decode_object(self, obj: dict[str, Any], now: datetime | None = None) -> Any:
            raise RecursionError("maximum recursion depth exceeded")

    result = Exploding().decode(completed("c-1", 0), NOW)
    assert isinstance(result, DecodeError)
    assert result.reason == "unprocessable"
    assert "RecursionError" in result.message


def test_a_close_hands_the_error_category_counts_of_its_minutes_on() -> None:
    """The alert stage explains audit alerts with them (``alerts.handoff``)."""
    state = new_state()
    feed(state, AUDITS, audited("a1", 0))
    feed(state, AUDITS, audited("a2", 0.5))
    feed(state, AUDITS, audited("a3", 1))
    feed(state, TASKS, completed("t9", 5))  # moves the watermark past minutes 0 and 1
    state.move_watermark()
    closed = state.advance()
    assert [c.window_start for c in closed] == [minute_start(0), minute_start(1)]
    [(key0, n0)] = closed[0].errors.items()
    [(key1, n1)] = closed[1].errors.items()
    assert (key0[0][0], key0[1], n0) == (minute_start(0), "漏标", 2)
    assert (key1[0][0], key1[1], n1) == (minute_start(1), "漏标", 1)
