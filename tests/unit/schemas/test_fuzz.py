"""Fuzz: hostile messages through decode, the partition state and the real Native encoder.

Whatever a feed sends, each message ends as an accepted event whose rows
ClickHouse's encoder takes (clickhouse-connect's own codec, as the writer
uses it), or as a dead letter with a reason that can be published and stored;
nothing raises, and the counts add up. Inputs: valid events with fields
replaced by hostile values (integers past every column, 1e308, -0.0,
denormals, dates from year 1 to 9999 under any offset, control, bidi and
zero-width characters, lone surrogates, deep nesting, wrong types), raw
mutations of their bytes (invalid UTF-8, NaN and Infinity tokens, cuts), and
the regression corpus of tests/data/hostile-events.jsonl mixed in.

Bounded: 500 examples, about ten seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from clickhouse_connect.datatypes.registry import get_from_name
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from embedded.wire import native_block
from schemas import ContractDecoder
from schemas.deadletter import REASONS
from schemas.events import HIDDEN_RANGES, TaskAudited, TaskCompleted
from sinks.schema import COLUMN_TYPES, TABLE_COLUMNS
from streams.partition import PartitionState
from streams.rows import dlq_row, rows_for_checkpoint
from tests import corpus, strategies

NOW = datetime(2026, 12, 1, tzinfo=UTC)
MICRO = 1_000_000
TOPICS = ("annotation.task-completed", "annotation.task-audited")
FIELDS = sorted(set(TaskCompleted.model_fields) | set(TaskAudited.model_fields))

_hidden = st.one_of(
    [st.integers(low, high).map(chr) for low, high in HIDDEN_RANGES]
    + [st.integers(0xD800, 0xDFFF).map(chr)]  # lone surrogates (decode_object only)
)
hostile_text = st.one_of(
    st.builds(lambda a, h, b: a + h + b, st.text(max_size=5), _hidden, st.text(max_size=5)),
    st.sampled_from(["zh-CN\x1b]0;pwned\x07", "a\u202eb", "\ufeff", "漏\u200b标", "x" * 129, ""]),
)
_EDGES: list[int | float] = [0, -1, 1, 65535, 65536, 2**31, 2**32, 2**63 - 1, 2**63, 2**64 - 1]
_EDGES += [-(2**63), 0.0, -0.0, 5e-324, 1.0, 1.01, 86400, 86400.000001, 1e308, -1e308]
hostile_numbers = st.one_of(
    st.sampled_from(_EDGES),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
)
_offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
hostile_times = st.one_of(
    st.datetimes(
        datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999), timezones=_offsets
    ).map(lambda d: d.isoformat()),
    st.sampled_from(
        [
            "1969-12-31T23:59:59.999999Z",
            "1970-01-01T00:00:00Z",
            "2106-02-07T06:28:15Z",
            "2106-02-07T06:28:16Z",
            "1899-12-31T23:59:59Z",
            "2299-12-31T23:59:59.999999Z",
            "0001-01-01T00:00:00+08:00",
            "9999-12-31T23:59:59-08:00",
        ]
    ),
)


def _deep(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


nested = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner),
    max_leaves=12,
)
hostile_values = st.one_of(
    hostile_text,
    hostile_numbers,
    hostile_times,
    nested,
    st.lists(hostile_text, max_size=4),
    st.integers(2, 600).map(lambda depth: _deep(depth)),
)


@st.composite
def hostile_objects(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with up to three fields replaced (or removed)."""
    data = dict(draw(strategies.events))
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
        if draw(st.integers(0, 9)) == 0:
            data.pop(name, None)
        else:
            data[name] = draw(hostile_values)
    return data


def _mutate(raw: bytes, how: int, where: int) -> bytes:
    """Byte-level damage a transport or a sloppy producer does."""
    where = where % (len(raw) + 1)
    return [
        raw,
        raw[:where],
        raw[:where] + b"\xff\xfe" + raw[where:],
        raw[:where] + b"\xed\xa0\x80" + raw[where:],  # a UTF-8-encoded surrogate
        raw.replace(b": 1", b": NaN", 1).replace(b": 0", b": Infinity", 1),
        raw.replace(b'"', b'"\\ud800', 1),
        raw[:-1] + b', "extra": ' + b"[" * 1100 + b"]" * 1100 + b"}",
        b"\x00" + raw,
    ][how % 8]


_CORPUS = [line for case in corpus.load() for line in case.lines]


@st.composite
def hostile_messages(draw: st.DrawFn) -> tuple[bytes | dict[str, Any], str]:
    """Raw bytes (most), or a Python object a caller of decode_object could pass."""
    topic = draw(st.sampled_from(TOPICS))
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(st.sampled_from(_CORPUS)), topic
    data = draw(hostile_objects())
    if choice == 1:
        return data, topic  # as a Python object: surrogates, big ints and all
    try:
        raw = orjson.dumps(data)
    except orjson.JSONEncodeError:  # a lone surrogate or an int past 64 bits
        raw = repr(data).encode("utf-8", "surrogatepass")
    if choice <= 4:
        raw = _mutate(raw, draw(st.integers(0, 7)), draw(st.integers(0, 10_000)))
    return raw, topic


_TYPES = {
    table: [get_from_name(COLUMN_TYPES[table][name]) for name in TABLE_COLUMNS[table]]
    for table in ("task_events", "audit_events", "metrics_1m", "audit_errors_1m", "dlq_events")
}


def _encode(table: str, batch: Any) -> None:
    """The writer's encoding of a batch, as for an insert: raises if ClickHouse cannot take it."""
    native_block(table, TABLE_COLUMNS[table], _TYPES[table], batch, column_oriented=True)


@pytest.fixture(autouse=True)
def _quiet_encoder() -> Iterator[None]:
    # clickhouse-connect logs every encoding failure with a traceback; a failure
    # fails the test anyway.
    logging.disable(logging.ERROR)
    yield
    logging.disable(logging.NOTSET)


@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(hostile_messages(), min_size=1, max_size=6))
def test_every_hostile_message_is_stored_or_a_dead_letter(
    messages: list[tuple[bytes | dict[str, Any], str]],
) -> None:
    decoder = ContractDecoder(1 << 16, 86400)
    # A fresh partition with no watermark yet: where a pre-1970 date used to slip in.
    state = PartitionState(0, 120 * MICRO, 48 * 3600 * MICRO)
    outcomes = []
    for message, topic in messages:
        offset = state.offsets.get(topic, 0)
        if isinstance(message, dict):
            decoded = decoder.decode_object(message, NOW)
            raw = repr(message).encode("utf-8", "surrogatepass")
        else:
            decoded = decoder.decode(message, NOW)
            raw = message
        outcomes.append(state.process(decoded, raw, topic, offset))
    assert set(outcomes) <= {"accepted", "late", "duplicate", "dead"}
    for outcome in outcomes:
        event(outcome)
    counters = state.counters
    dead = sum(v for k, v in counters.items() if k.startswith("dead_"))
    assert counters["events_in"] == len(messages)
    assert counters["events_in"] == counters["accepted"] + counters["duplicates"] + dead
    assert dead == len(state.dead_letters) == outcomes.count("dead")
    for position, letter in enumerate(state.dead_letters):
        assert letter.reason in REASONS
        letter.to_json()  # publishable on the dead-letter topic
        # and storable: the agent's row for it, through the real encoder
        _encode("dlq_events", list(map(list, zip(dlq_row(letter, 0, position), strict=True))))
    state.advance(close_all=True)
    for table, batch in rows_for_checkpoint([state], int(NOW.timestamp() * MICRO)).items():
        if batch.rows:
            _encode(table, batch)
