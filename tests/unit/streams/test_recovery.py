"""Recovery of the alert stage's log: the last full snapshot and the steps recorded after it."""

from __future__ import annotations

from datetime import UTC, datetime

from alerts.stage import STEP
from streams.recovery import latest_snapshot

NOW_US = int(datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp() * 10**6)


def step(offset: int, now_us: int = NOW_US) -> dict[str, object]:
    return {"kind": STEP, "seq": offset, "offset": offset, "now_us": now_us}


def test_no_full_snapshot_means_nothing_to_replay_against() -> None:
    assert latest_snapshot([]) == (None, [])
    assert latest_snapshot([step(3), step(4)]) == (None, [])


def test_the_last_snapshot_and_only_the_steps_after_it_in_order() -> None:
    first = {"kind": "full", "offset": 2}
    last = {"offset": 10}  # written before step records existed: a full snapshot
    records = [first, step(5), last, step(9), step(12), step(12), step(11), step(15, NOW_US + 1)]
    snapshot, steps = latest_snapshot(records)
    assert snapshot is last
    assert [offset for offset, _ in steps] == [12, 15]  # not at or below 10, never back
    assert steps[1][1] == datetime.fromtimestamp((NOW_US + 1) / 10**6, UTC)
