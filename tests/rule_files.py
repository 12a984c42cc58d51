"""Rules files shared by the rules tests (``tests/unit/alerts/rules/``) and the command's.

``SPEC_EXAMPLE`` is the example of the rules file's specification, with every
kind of receiver and an inhibit rule; ``rule`` and ``problems_of`` build a
file around rules given as data and return what the loader says of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from alerts.rules import RulesError, rules_from_data

EXAMPLE = Path(__file__).resolve().parents[1] / "alerts" / "examples" / "rules.yaml"

SPEC_EXAMPLE = """\
version: 1
rules:
  - name: vendor_quality_low          # unique; [a-z0-9_-]
    metric: audit_pass_rate
    scope: [project_id, vendor_id]
    window: 15m
    op: "<"
    threshold: 0.85
    resolve_threshold: 0.9
    min_samples: 20
    for: 1
    severity: critical
    labels: {team: zh-ops}
    annotations:
      summary: "Audit pass rate {value:.0%} for {vendor_id} in {project_id}"
      runbook_url: https://wiki.example/runbooks/vendor-quality
    receivers: [oncall, zh-slack]
  - name: queue_stalled
    metric: throughput_per_hour
    scope: [project_id, queue_id]
    window: 5m
    op: "<"
    threshold: 1
    for: 2
    severity: error
    receivers: [zh-slack]
  - name: aht_anomaly
    type: anomaly
    metric: aht_s
    scope: [project_id, queue_id]
    window: 5m
    baseline_windows: 12
    z: 3
    direction: above
    min_samples: 10
    receivers: [zh-slack]
receivers:
  oncall: {type: pagerduty, routing_key_env: ANNOTEL_PAGERDUTY_KEY}
  zh-slack: {type: slack, webhook_url_env: ANNOTEL_SLACK_WEBHOOK}
  alertmanager: {type: webhook, url: "http://127.0.0.1:9093/api/v2/alerts", format: alertmanager}
  log: {type: stdout}
inhibit:
  - source: {rule: vendor_quality_low}
    target_scope_contains: [project_id, vendor_id]
silences_file: silences.yaml
"""


def rule(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "r",
        "metric": "audit_pass_rate",
        "scope": ["project_id", "vendor_id"],
        "window": "5m",
        "op": "<",
        "threshold": 0.85,
        "receivers": ["log"],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def problems_of(*rules: dict[str, Any], **top: Any) -> list[str]:
    data: dict[str, Any] = {
        "version": 1,
        "rules": list(rules),
        "receivers": {"log": {"type": "stdout"}},
    }
    data.update(top)
    with pytest.raises(RulesError) as info:
        rules_from_data(data)
    return info.value.problems
