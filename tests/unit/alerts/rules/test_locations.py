"""Every problem of a file at once, each with its line and path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from alerts.rules import RulesError, check_file, load_rules


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
