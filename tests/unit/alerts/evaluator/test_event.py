"""The event of a transition: a stable fingerprint, labels and annotations in any script.

Times are offsets from T0 = 2024-01-01T00:00:00Z (``tests.alert_windows``);
every expected value is computed by hand from the aggregates fed in.
"""

from __future__ import annotations

import orjson

from alerts.evaluator import Evaluator
from alerts.model import AlertEvent, fingerprint
from tests.alert_windows import quality, ruleset
from tests.unit.alerts.evaluator.steps import audits, put, step


def test_fingerprint_is_stable() -> None:
    ev = Evaluator(ruleset(quality()))
    put(ev, 0, audits(1, 10))
    [event] = step(ev, 300)
    # Pinned: it is the PagerDuty dedup_key, so it must never change between releases.
    assert event.fingerprint == "d8922e5811b19c13"
    assert fingerprint("vendor_quality_low", {"vendor_id": "v1", "project_id": "p1"}) == (
        event.fingerprint
    )


def test_chinese_labels_and_annotations_round_trip() -> None:
    rule = quality(
        labels={"team": "中文运营组"},
        annotations={"summary": "供应商 {vendor_id} 在 {project_id} 审核通过率 {value:.0%}"},
    )
    ev = Evaluator(ruleset(rule))
    put(ev, 0, audits(6, 10), project="项目一", vendor="供应商甲")
    [event] = step(ev, 300)
    assert event.annotations == {"summary": "供应商 供应商甲 在 项目一 审核通过率 60%"}
    assert event.labels["team"] == "中文运营组"
    payload = event.to_json()
    assert "供应商甲".encode() in payload
    restored = AlertEvent.from_dict(orjson.loads(payload))
    assert (restored.labels, restored.annotations) == (event.labels, event.annotations)
