"""Rules file model and checker."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alerts.receivers.slack import SlackReceiver
from alerts.receivers.stdout import StdoutReceiver
from alerts.rules import (
    AnomalyRule,
    RulesError,
    ThresholdRule,
    check_file,
    load_rules,
    parse_rules,
    render_annotations,
    rules_from_data,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "alerts" / "examples" / "rules.yaml"
NOW = datetime(2024, 1, 1, 12, tzinfo=UTC)

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


# -- the model ---------------------------------------------------------------------------------


def test_the_spec_example_loads_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(SPEC_EXAMPLE, encoding="utf-8")
    assert check_file(path) == []
    rules = load_rules(path)
    quality, stalled, anomaly = rules.rules
    assert isinstance(quality, ThresholdRule)
    assert (quality.window, quality.resolve_at, quality.for_) == (900, 0.9, 1)
    assert quality.scope == ("project_id", "vendor_id")
    assert quality.receivers == ("oncall", "zh-slack")
    assert isinstance(stalled, ThresholdRule)
    assert (stalled.resolve_at, stalled.min_samples, stalled.absent_lookback) == (1.0, 0, 4)
    assert stalled.repeat_interval == 4 * 3600
    assert isinstance(anomaly, AnomalyRule)
    assert (anomaly.severity, anomaly.baseline_windows, anomaly.z) == ("warning", 12, 3.0)
    assert isinstance(rules.receivers["log"], StdoutReceiver)
    assert isinstance(rules.receivers["zh-slack"], SlackReceiver)
    assert rules.inhibit[0].target_scope_contains == ("project_id", "vendor_id")
    assert rules.silences_file == tmp_path / "silences.yaml"  # relative to the rules file


def test_the_shipped_example_is_valid() -> None:
    assert check_file(EXAMPLE) == []
    rules = load_rules(EXAMPLE)
    assert {r.metric for r in rules.rules} >= {
        "audit_pass_rate",
        "aht_s",
        "gold_accuracy",
        "turnaround_max_s",
        "throughput_per_hour",
    }
    assert any(isinstance(r, AnomalyRule) for r in rules.rules)
    assert all(r.receivers == ("log",) for r in rules.rules)
    assert list(rules.receivers) == ["log"]


def test_durations_are_seconds() -> None:
    rules = rules_from_data(
        {
            "version": 1,
            "rules": [rule(window="1h", repeat_interval="30m")],
            "receivers": {"log": {"type": "stdout"}},
        }
    )
    assert (rules.rules[0].window, rules.rules[0].repeat_interval) == (3600, 1800.0)


def test_chinese_text_round_trips(tmp_path: Path) -> None:
    text = SPEC_EXAMPLE.replace("team: zh-ops", "team: 中文运营组").replace(
        "Audit pass rate {value:.0%}", "供应商 {vendor_id} 审核通过率 {value:.0%}"
    )
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    quality = load_rules(path).rules[0]
    assert quality.labels == {"team": "中文运营组"}
    assert quality.annotations["summary"] == (
        "供应商 {vendor_id} 审核通过率 {value:.0%} for {vendor_id} in {project_id}"
    )


# -- every problem, with its location -----------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"name": "Vendor Quality"}, "rules[0] (Vendor Quality).name: String should match"),
        ({"metric": "quality"}, "rules[0] (r).metric: unknown metric 'quality'"),
        ({"scope": ["team"]}, "rules[0] (r).scope: unknown dimension(s) team"),
        ({"scope": ["vendor_id", "vendor_id"]}, "rules[0] (r).scope: duplicate dimension(s)"),
        ({"window": "90s"}, "rules[0] (r).window: window '90s' must be a positive multiple of 1m"),
        ({"window": "25h"}, "rules[0] (r).window: window '25h' is longer than 24h"),
        ({"window": "0m"}, "rules[0] (r).window: window '0m' must be a positive multiple"),
        ({"window": "soon"}, "rules[0] (r).window: invalid duration 'soon'"),
        ({"op": "=="}, "rules[0] (r).op: Input should be '<', '<=', '>' or '>='"),
        ({"threshold": "0.85"}, "rules[0] (r).threshold: Input should be a valid number"),
        ({"threshold": None}, "rules[0] (r).threshold: Field required"),
        ({"resolve_threshold": 0.8}, "rules[0] (r).resolve_threshold: must be >= threshold"),
        (
            {"op": ">", "threshold": 300, "resolve_threshold": 310},
            "rules[0] (r).resolve_threshold: must be <= threshold",
        ),
        ({"min_samples": -1}, "rules[0] (r).min_samples: Input should be greater than or equal"),
        ({"for": 0}, "rules[0] (r).for: Input should be greater than or equal to 1"),
        ({"severity": "page"}, "rules[0] (r).severity: Input should be 'critical', 'error'"),
        ({"repeat_interval": "0s"}, "rules[0] (r).repeat_interval: duration '0s' must be positive"),
        ({"receivers": ["pager"]}, "rules[0] (r).receivers[0]: unknown receiver 'pager'"),
        ({"labels": {"severity": "x"}}, "rules[0] (r).labels.severity: set by the evaluator"),
        ({"labels": {"vendor_id": "x"}}, "rules[0] (r).labels.vendor_id: set by the evaluator"),
        ({"labels": {"on-call": "x"}}, "rules[0] (r).labels.on-call: label names are letters"),
        ({"labels": {"tier": 1}}, "rules[0] (r).labels.tier: Input should be a valid string"),
        ({"colour": "red"}, "rules[0] (r).colour: unknown field; allowed: absent_lookback,"),
        ({"type": "ratio"}, "rules[0] (r).type: must be 'threshold' (the default) or 'anomaly'"),
        (
            {"annotations": {"summary": "{value:.0%} in {queue_id}"}},
            "rules[0] (r).annotations.summary: unknown field {queue_id}; known: metric,",
        ),
        (
            {"annotations": {"summary": "{vendor_id:.2f}"}},
            "rules[0] (r).annotations.summary: ValueError: Unknown format code 'f'",
        ),
        (
            {"annotations": {"summary": "{value.real}"}},
            "rules[0] (r).annotations.summary: field {value.real}: use a plain name",
        ),
        (
            {"annotations": {"summary": "rate {value"}},
            "rules[0] (r).annotations.summary: invalid template: expected '}'",
        ),
        ({"absent_lookback": 2}, "rules[0] (r).absent_lookback: only applies to throughput"),
        (
            {"metric": "throughput_per_hour", "threshold": 1, "for": 5},
            "rules[0] (r).for: 5 exceeds absent_lookback (4): a stalled queue could never fire",
        ),
    ],
)
def test_threshold_rule_problems(overrides: dict[str, Any], expected: str) -> None:
    found = problems_of(rule(**overrides))
    assert len(found) == 1, found
    assert found[0].startswith(expected), found


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"baseline_windows": 1}, "rules[0] (a).baseline_windows: Input should be greater than"),
        ({"z": 0}, "rules[0] (a).z: Input should be greater than 0"),
        ({"direction": "up"}, "rules[0] (a).direction: Input should be 'above', 'below' or 'both'"),
        ({"threshold": 3}, "rules[0] (a).threshold: unknown field; allowed:"),
        ({"min_std": -1}, "rules[0] (a).min_std: Input should be greater than or equal to 0"),
    ],
)
def test_anomaly_rule_problems(overrides: dict[str, Any], expected: str) -> None:
    anomaly = {
        "name": "a",
        "type": "anomaly",
        "metric": "aht_s",
        "window": "5m",
        "baseline_windows": 12,
        "z": 3,
        "annotations": {"summary": "{value:.0f}s vs {mean:.0f}s ± {std:.0f}s"},
    }
    anomaly.update(overrides)
    found = problems_of(anomaly)
    assert len(found) == 1, found
    assert found[0].startswith(expected), found


def test_file_level_problems() -> None:
    found = problems_of(
        rule(name="a"),
        rule(name="a", scope=["project_id"]),
        receivers={
            "log": {"type": "stdout"},
            "hook": {"type": "webhook"},
            "chat": {"type": "teams"},
            "pd": {"type": "pagerduty", "routing_key_env": "K", "group_wait": "soon"},
        },
        inhibit=[
            {"source": {"rule": "missing"}, "target_scope_contains": ["vendor_id"]},
            {"source": {"rule": "a"}, "target_scope_contains": ["queue_id"]},
            {"source": {"rule": "a"}, "target_scope_contains": []},
            {
                "source": {"rule": "a"},
                "target_scope_contains": ["vendor_id"],
                "target_rules": ["nope"],
            },
        ],
        extra_key=1,
    )
    assert found == [
        "extra_key: unknown field; allowed: inhibit, receivers, rules, silences_file, version",
        "rules[1] (a).name: duplicate rule name 'a' (first at rules[0])",
        "receivers.hook: set exactly one of url and url_env",
        "receivers.chat.type: must be one of webhook, slack, pagerduty, stdout, feishu, "
        "dingtalk, wecom, msteams, email",
        "receivers.pd.group_wait: invalid duration 'soon': expected e.g. 90s, 2m, 48h, 1d or "
        "plain seconds",
        "inhibit[0].source.rule: unknown rule 'missing'",
        "inhibit[1].target_scope_contains: queue_id not in the scope of rule 'a' "
        "(project_id, vendor_id)",
        "inhibit[2].target_scope_contains: List should have at least 1 item after validation, "
        "not 0",
        "inhibit[3].target_rules[0]: unknown rule 'nope'",
    ]


def test_every_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            version: 1
            rules:
              - name: vendor_quality_low
                metric: audit_pass_rate
                window: 7m30s
                op: "<"
                threshold: 0.85
                resolve_threshold: 0.8
                receivers: [pager]
                annotations:
                  summary: "{value:.0%} for {vendor_id}"
              - name: queue_stalled
                metric: throughput_per_hour
                scope: [queue_id]
                window: 5m
                window: 10m
                op: "<"
                threshold: 1
            receivers:
              log: {type: stdout}
            """
        ),
        encoding="utf-8",
    )
    expected = [
        "line 5: rules[0] (vendor_quality_low).window: invalid duration '7m30s': expected e.g. "
        "90s, 2m, 48h, 1d or plain seconds",
        "line 9: rules[0] (vendor_quality_low).receivers[0]: unknown receiver 'pager' "
        "(receivers: log)",
        "line 11: rules[0] (vendor_quality_low).annotations.summary: unknown field {vendor_id}; "
        "known: metric, rule, samples, severity, threshold, value, window",
        "line 16: rules[1]: duplicate key 'window'",
    ]
    assert check_file(path) == expected
    with pytest.raises(RulesError) as info:
        load_rules(path)
    assert info.value.problems == expected
    assert str(path) in str(info.value)


def test_cross_field_problems_of_a_valid_rule_have_lines(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(SPEC_EXAMPLE.replace("resolve_threshold: 0.9", "resolve_threshold: 0.5"))
    assert check_file(path) == [
        "line 9: rules[0] (vendor_quality_low).resolve_threshold: must be >= threshold (0.85) "
        "for op '<': an alert resolves on the good side"
    ]


NOT_EMPTY = "List should have at least 1 item after validation, not 0"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ["expected a mapping with `version: 1`, `rules:` and `receivers:`"]),
        (
            "version: 1\nrules: [\n",
            ["line 3: YAML syntax error: expected the node content, but found '<stream end>'"],
        ),
        ("version: 1\nrules: []\n", [f"line 2: rules: {NOT_EMPTY}"]),
        ("rules: []\n", ["line 1: version: Field required", f"line 1: rules: {NOT_EMPTY}"]),
    ],
)
def test_broken_files(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    assert check_file(path) == expected


def test_missing_file() -> None:
    [problem] = check_file("/nonexistent/rules.yaml")
    assert problem == "cannot read /nonexistent/rules.yaml: No such file or directory"


def test_parse_rules_raises_with_every_problem() -> None:
    with pytest.raises(RulesError) as info:
        parse_rules("version: 1\nrules:\n  - {name: a}\n  - {name: b, metric: aht_s}\n")
    # a: metric, window, op, threshold missing; b: window, op, threshold missing
    assert len(info.value.problems) == 7


def test_a_template_error_at_render_time_keeps_the_raw_template() -> None:
    rendered, errors = render_annotations(
        {"summary": "{value:d} tasks", "ok": "{value:.0%}"}, {"value": 0.5}
    )
    assert rendered == {"summary": "{value:d} tasks", "ok": "50%"}
    assert errors == ["summary: ValueError: Unknown format code 'd' for object of type 'float'"]
