"""Loading a rules file: the spec example, the shipped example, broken and missing files."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.receivers.slack import SlackReceiver
from alerts.receivers.stdout import StdoutReceiver
from alerts.rules import AnomalyRule, RulesError, ThresholdRule, check_file, load_rules, parse_rules
from tests.rule_files import EXAMPLE, SPEC_EXAMPLE


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
    assert all(r.receivers in (("log",), ("managers",)) for r in rules.rules)
    assert list(rules.receivers) == ["log", "managers"]  # both stdout: no secret needed


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
