"""Each section of the file validated, and the names one section gives another."""

from __future__ import annotations

from typing import Any

import pytest

from tests.rule_files import problems_of, rule


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"receivers": ["pager"]}, "rules[0] (r).receivers[0]: unknown receiver 'pager'"),
        (
            {"type": "ratio"},
            "rules[0] (r).type: must be 'threshold' (the default), 'anomaly' or 'delivery'",
        ),
    ],
)
def test_rule_section_problems(overrides: dict[str, Any], expected: str) -> None:
    found = problems_of(rule(**overrides))
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
        "extra_key: unknown field; allowed: "
        "inhibit, labels, receivers, rules, silences_file, version",
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
