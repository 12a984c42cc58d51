"""Digests: one message per period, its lists in the right order, nothing lost across a restart.

The book (``alerts.digest``) is fed built events here; the stage test feeds the
windows topic of ``tests.alert_windows`` through a stage whose quality rules go
to a digest receiver, once straight through and once restarted from a JSON
snapshot after every checkpoint round, and checks both against a recomputation
of which period each transition belongs to.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from alerts.digest import Digest, DigestBook, period_end
from alerts.digest_text import digest_body, digest_title
from alerts.model import AlertEvent
from alerts.receivers.settings import DigestSchedule
from alerts.rules import load_rules, rules_from_data
from alerts.stage import AlertStage
from annotel.resources import shipped_rules
from tests.alert_events import T0, event
from tests.alert_windows import NOW, quality, stalled, windows_topic

HOURLY = DigestSchedule(ZoneInfo("UTC"), every_s=3600)


def below(**kwargs: Any) -> AlertEvent:
    """An event of a rule that fires below its threshold (lower is worse)."""
    return replace(event(receivers=("managers",), **kwargs), extra={"op": "<"})


def at(hour: int, minute: int = 0) -> int:
    return int((T0 + timedelta(hours=hour, minutes=minute)).timestamp())


def names(events: tuple[AlertEvent, ...]) -> list[str]:
    return [e.scope["vendor_id"] for e in events]


def test_one_message_per_period_lists_fired_still_firing_resolved_worst_first() -> None:
    book = DigestBook({"managers": HOURLY})
    # 08:00-09:00: A, B, C fire; D fires and resolves; E fires muted (never meant for people).
    first = [
        below(vendor="A", value=0.80, minute=0),
        below(vendor="B", value=0.60, minute=5, severity="warning"),
        below(vendor="C", value=0.70, minute=10),
        below(vendor="D", value=0.50, minute=15, severity="info"),
        below(vendor="D", value=0.95, minute=30, status="resolved", severity="info"),
        below(vendor="E", value=0.10, minute=30, muted_by="inhibited"),
        event(vendor="F", minute=30, receivers=("oncall",)),  # not routed to the digest
    ]
    assert book.collect(first, at(0, 45)) == []  # the period has not ended
    (hour_one,) = book.collect([], at(1))
    assert (hour_one.period_start, hour_one.period_end) == (T0, T0 + timedelta(hours=1))
    # severity first (critical before warning), then the furthest below the threshold
    assert names(hour_one.fired) == ["C", "A", "B"]
    assert names(hour_one.still_firing) == []
    assert names(hour_one.resolved) == ["D"]

    # 09:00-10:00: A resolves, C repeats with a new value: C and B are still firing.
    second = [
        below(vendor="A", value=0.9, minute=60, status="resolved"),
        replace(below(vendor="C", value=0.65, minute=60), repeat=True),
    ]
    (hour_two,) = book.collect(second, at(2))
    assert names(hour_two.fired) == []
    assert names(hour_two.still_firing) == ["C", "B"]
    assert hour_two.still_firing[0].value == 0.65  # the latest window's value
    assert names(hour_two.resolved) == ["A"]

    # E's mute lifts: it is sent as a repeat, and is news to the managers.
    (hour_three,) = book.collect(
        [replace(below(vendor="E", value=0.1, minute=120), repeat=True)], at(3)
    )
    assert (names(hour_three.fired), names(hour_three.still_firing)) == (["E"], ["C", "B"])

    # Two quiet hours: the still-firing list comes once per period, not once per call.
    assert [names(d.still_firing) for d in book.collect([], at(5))] == [["E", "C", "B"]] * 2
    assert book.collect([], at(5)) == []

    # Both resolve: the last digest says so, then nothing more is sent.
    last = [
        below(vendor="B", value=0.9, minute=310, status="resolved", severity="warning"),
        below(vendor="C", value=0.9, minute=310, status="resolved"),
        below(vendor="E", value=0.9, minute=310, status="resolved"),
    ]
    (hour_five,) = book.collect(last, at(6))
    assert (names(hour_five.fired), names(hour_five.still_firing)) == ([], [])
    assert names(hour_five.resolved) == ["C", "E", "B"]
    assert book.collect([], at(30)) == []


def test_a_window_ending_at_the_period_end_belongs_to_that_period() -> None:
    book = DigestBook({"managers": HOURLY})
    (digest,) = book.collect([below(vendor="A", minute=45)], at(1))  # window 08:45-09:00
    assert digest.period_end == T0 + timedelta(hours=1) and names(digest.fired) == ["A"]
    # the next one, ending a minute later, waits for the next period
    assert book.collect([below(vendor="B", minute=46)], at(1, 1)) == []


def test_a_daily_digest_ends_at_the_local_time_of_its_zone() -> None:
    shanghai = DigestSchedule(ZoneInfo("Asia/Shanghai"), at=(9, 0))
    # 08:15 UTC is 16:15 in Shanghai: the next 09:00 there is 01:00 UTC the next day.
    assert period_end(shanghai, at(0, 15)) == int(datetime(2026, 11, 24, 1, tzinfo=UTC).timestamp())
    assert period_end(shanghai, at(-7)) == at(-7)  # 01:00 UTC is such an end itself
    book = DigestBook({"managers": shanghai})
    assert book.collect([below(vendor="A")], at(16, 59)) == []
    (digest,) = book.collect([], at(17))
    assert digest.period_start == datetime(2026, 11, 23, 1, tzinfo=UTC)
    title = digest_title(digest, "en", ZoneInfo("Asia/Shanghai"))
    assert title == (
        "Digest for managers: 1 fired, 0 still firing, 0 resolved "
        "(2026-11-23 09:00 – 2026-11-24 09:00 Asia/Shanghai)"
    )
    # Berlin leaves summer time on 2026-10-25: that day's period is 25 hours long.
    berlin = DigestSchedule(ZoneInfo("Europe/Berlin"), at=(9, 0))
    moment = int(datetime(2026, 10, 25, 12, tzinfo=UTC).timestamp())
    book = DigestBook({"managers": berlin})
    book.collect([replace(below(vendor="A"), window_end=datetime.fromtimestamp(moment, UTC))], 0)
    (digest,) = book.collect([], period_end(berlin, moment))
    assert digest.period_end - digest.period_start == timedelta(hours=24)
    assert digest.period_end == datetime(2026, 10, 26, 8, tzinfo=UTC)


def test_the_text_lists_sections_and_cuts_with_a_count() -> None:
    book = DigestBook({"managers": HOURLY})
    fired = [below(vendor=f"V{i:02}", value=0.5 + i / 100) for i in range(30)]
    (digest,) = book.collect(fired, at(1))
    full = digest_body(digest, "zh", "自有团队")
    assert full.splitlines()[0] == "新触发" and len(full.splitlines()) == 31
    assert "vendor_id=V00" in full.splitlines()[1]  # the lowest pass rate first
    cut = digest_body(digest, "en", limit=600)
    lines = cut.splitlines()
    assert len(cut.encode()) <= 600 and lines[0] == "Fired"
    assert lines[-1] == f"… and {30 - (len(lines) - 2)} more"


# -- through the stage: one run straight, one restarted from its snapshot every round ----------


def digest_rules() -> Any:
    """Quality rules to a contributor managers' digest (every 15 m), throughput to on-call."""
    return rules_from_data(
        {
            "version": 1,
            "rules": [
                quality(**{"for": 2}, resolve_threshold=0.9, min_samples=4, receivers=["mgr"]),
                quality(
                    name="annotator_quality_low",
                    scope=["project_id", "vendor_id", "annotator_id"],
                    threshold=0.7,
                    min_samples=3,
                    receivers=["mgr"],
                ),
                stalled(threshold=30, receivers=["log"]),
            ],
            "receivers": {
                "log": {"type": "stdout"},
                "mgr": {"type": "stdout", "digest": {"every": "15m"}},
            },
        }
    )


def run(records: list[bytes], rounds: list[int], restart: bool) -> tuple[list[Any], list[Any]]:
    rules = digest_rules()
    stage = AlertStage(rules, 4)
    events: list[AlertEvent] = []
    digests: list[Digest] = []
    start = 0
    for end in rounds:
        if restart:  # a crash after the round's checkpoint: only the JSON snapshot survives
            snapshot = orjson.loads(orjson.dumps(stage.snapshot()))
            stage = AlertStage(rules, 4)
            stage.restore(snapshot)
        for offset in range(start, end):
            stage.apply(offset, records[offset])
        events += stage.evaluate(NOW)
        digests += stage.take_digests()
        start = end
    return events, digests


def test_the_stage_sends_each_period_once_and_a_restart_loses_and_repeats_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records, rounds = windows_topic(monkeypatch)
    events, straight = run(records, rounds, restart=False)
    _, restarted = run(records, rounds, restart=True)
    assert [d.to_dict() for d in restarted] == [d.to_dict() for d in straight]

    ends = [d.period_end for d in straight]
    assert ends == sorted(set(ends))  # one message per period
    assert all(int(e.timestamp()) % 900 == 0 for e in ends)
    assert all(any(section for _, section in d.sections()) for d in straight)
    assert all(d.fired for d in straight[:1]) and any(d.resolved for d in straight)
    assert any(d.still_firing for d in straight)

    # Recomputed by hand: each transition to the digest receiver is listed in the period
    # its window ends in: a first firing among fired (or resolved, if it resolved in the
    # same period), a resolve among resolved; nothing else reaches it.
    by_end = {d.period_end: d for d in straight}
    routed = [e for e in events if "mgr" in e.receivers]
    assert routed and not any("mgr" in e.receivers for e in events if e.rule == "queue_stalled")
    listed = 0
    for e in routed:
        if e.repeat or (e.status == "firing" and e.muted_by is not None):
            continue
        end = -(-int(e.window_end.timestamp()) // 900) * 900
        digest = by_end[datetime.fromtimestamp(end, UTC)]
        section = digest.resolved if e.status == "resolved" else digest.events
        ids = {x.fingerprint for x in section}
        assert e.fingerprint in ids
        listed += 1
    assert listed >= 4
    fired_total = sum(len(d.fired) for d in straight)
    first_firings = sum(
        1 for e in routed if e.status == "firing" and not e.repeat and not e.muted_by
    )
    resolved_in_period = sum(
        1
        for d in straight
        for r in d.resolved
        if r.fingerprint not in {x.fingerprint for x in d.still_firing}
    )
    assert fired_total <= first_firings <= fired_total + resolved_in_period


def test_the_shipped_rules_send_annotators_to_a_digest_and_the_rest_to_on_call() -> None:
    rules = load_rules(shipped_rules())
    digests = {name for name, config in rules.receivers.items() if config.digest is not None}
    assert digests == {"managers"}
    per_annotator = {r.name for r in rules.rules if "annotator_id" in r.scope}
    assert per_annotator == {"annotator_quality_low", "gold_accuracy_low"}
    for rule in rules.rules:
        assert (set(rule.receivers) <= digests) == (rule.name in per_annotator), rule.name
    assert DigestBook.from_receivers(rules.receivers).names == {"managers"}
