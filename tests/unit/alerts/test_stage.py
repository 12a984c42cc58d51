"""The alert stage's pure logic: windows-topic records in, the evaluator fed exactly once.

``ReferenceStage`` is the windows-topic consumer as it was before the fast path
(every row re-keyed into a dict for ``add_minute``, with the accumulation of
``reference_add_minute``); the stage must match it transition for transition.
Its snapshot, written in pieces, must be the whole snapshot byte for byte.
"""

from __future__ import annotations

from functools import partial

import orjson
import pytest

from alerts import stage as stage_module
from alerts.model import AlertEvent
from alerts.stage import AlertStage
from schemas.json_pieces import json_array
from streams.statelog import decode_checkpoints, encode_checkpoint, encode_chunks
from tests.alert_windows import NOW, STREAM_RULES, reference_add_minute, windows_topic


class ReferenceStage(AlertStage):
    def apply(self, offset: int, value: bytes) -> None:
        self.offset = offset + 1
        record = orjson.loads(value)
        if record["k"] == "piece":
            self.pending.setdefault(record["a"], []).extend(record["m"])
            return
        partition = int(record["p"])
        minutes = self.pending.pop(record["a"], [])
        floor = self.applied.get(partition, 0)
        for window_start, rows in minutes:
            if window_start < floor or window_start >= record["closed_before"]:
                continue
            aggregates = {(window_start, *row[:6]): row[6:] for row in rows}
            reference_add_minute(self.evaluator, window_start, aggregates)
        self.applied[partition] = max(floor, int(record["closed_before"]))
        self.idle[partition] = bool(record["idle"])


def feed_stage(stage: AlertStage, records: list[bytes], ends: list[int]) -> list[AlertEvent]:
    """Batches ending at ``ends``: apply, then evaluate, as AlertRuntime.process does."""
    events: list[AlertEvent] = []
    start = 0
    for end in ends:
        for offset in range(start, end):
            stage.apply(offset, records[offset])
        stage.forget_orphans()
        events += stage.new_events(stage.evaluate(NOW))
        start = end
    return events


def test_stage_fast_path_equals_the_old_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows straight into rules grouped by scope and window: same transitions, same state."""
    records, rounds = windows_topic(monkeypatch)
    old = ReferenceStage(STREAM_RULES, 4)
    new = AlertStage(STREAM_RULES, 4)
    expected = feed_stage(old, records, rounds)
    got = feed_stage(new, records, rounds)
    assert {e.status for e in expected} == {"firing", "resolved"}
    assert {e.rule for e in expected} >= {"vendor_quality_low", "queue_stalled", "turnaround"}
    assert any(e.muted_by for e in expected) and any(e.repeat for e in expected)
    assert [e.to_dict() for e in got] == [e.to_dict() for e in expected]
    assert new.evaluator.state() == old.evaluator.state()
    assert new.evaluator.ignored_late_minutes == old.evaluator.ignored_late_minutes > 0


@pytest.mark.parametrize("batch", [1, 2, 4096])
def test_a_snapshot_written_in_pieces_is_the_snapshot_byte_for_byte(
    monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    """The alert runtime's full snapshot, streamed: same JSON, same chunks, same restore."""
    monkeypatch.setattr(stage_module, "json_array", partial(json_array, batch=batch))
    records, rounds = windows_topic(monkeypatch)
    stage = AlertStage(STREAM_RULES, 4)
    record = {"kind": "full"}
    several_partials = firing = False

    def check(stage: AlertStage) -> None:
        nonlocal several_partials, firing
        state = stage.evaluator.state()
        several_partials |= any(len(r["partials"]) > 1 for r in state["rules"].values())
        firing |= any(s["event"] for r in state["rules"].values() for _, s in r["series"])
        whole = orjson.dumps({**record, **stage.snapshot()})
        assert b"".join(stage.snapshot_json(record)) == whole
        chunks = encode_chunks(stage.snapshot_json(record), stage.offset, 7)
        assert chunks == encode_checkpoint({**record, **stage.snapshot()}, 7)
        restored = AlertStage(STREAM_RULES, 4)
        restored.restore(decode_checkpoints(chunks)[0])
        assert restored.snapshot() == stage.snapshot()

    check(stage)  # nothing applied yet
    start = 0
    for end in rounds:
        for offset in range(start, end):
            stage.apply(offset, records[offset])
            if offset % 7 == 0:
                check(stage)
        stage.forget_orphans()
        stage.new_events(stage.evaluate(NOW))
        check(stage)
        start = end
    # Everything applied before the first evaluation: partial windows of many starts.
    unevaluated = AlertStage(STREAM_RULES, 4)
    for offset, value in enumerate(records):
        unevaluated.apply(offset, value)
    check(unevaluated)
    assert (several_partials, firing) == (True, True)  # what the snapshots must carry
