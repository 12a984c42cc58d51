"""The in-house team (the empty ``vendor_id``) is named, never rendered as nothing.

In the rule's annotations (in the template's language), in every receiver's
scope, and under the name the rules file's ``labels.in_house`` gives it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from alerts.evaluator import Evaluator
from alerts.receivers.chat import alert_text
from alerts.receivers.slack import slack_message
from alerts.rules import rules_from_data
from tests.alert_events import event
from tests.alert_windows import quality
from tests.unit.alerts.evaluator.steps import audits, put, step

ANNOTATIONS = {
    "summary": "供应商 {vendor_id} 在项目 {project_id} 的审核通过率为 {value:.0%}",
    "description": "vendor {vendor_id}: pass rate {value:.0%}",
}


def _fired(labels: dict[str, Any] | None = None) -> dict[str, str]:
    data: dict[str, Any] = {
        "version": 1,
        "rules": [quality(annotations=ANNOTATIONS)],
        "receivers": {"log": {"type": "stdout"}},
    }
    if labels is not None:
        data["labels"] = labels
    ev = Evaluator(rules_from_data(data))
    put(ev, 0, audits(5, 10), vendor="")
    [fired] = step(ev, 300)
    assert fired.scope["vendor_id"] == ""  # the data keeps its id; only the text names it
    return fired.annotations


def test_templates_name_the_in_house_team_in_their_language() -> None:
    assert _fired() == {
        "summary": "供应商 自有团队 在项目 p1 的审核通过率为 50%",
        "description": "vendor in-house: pass rate 50%",
    }


def test_labels_in_house_renames_it() -> None:
    assert _fired({"in_house": "Team Blue"})["summary"].startswith("供应商 Team Blue 在项目")
    named = _fired({"in_house": {"en": "staff", "zh": "内部团队"}})
    assert named["summary"].startswith("供应商 内部团队 在项目")
    assert named["description"] == "vendor staff: pass rate 50%"


def test_receivers_show_the_name_in_their_language() -> None:
    in_house = replace(event(vendor=""), scope={"project_id": "医疗影像", "vendor_id": ""})
    utc = ZoneInfo("UTC")
    assert dict(alert_text(in_house, "zh", utc).scope)["vendor_id"] == "自有团队"
    assert dict(alert_text(in_house, "en", utc).scope)["vendor_id"] == "in-house"
    assert dict(alert_text(in_house, "en", utc, None, "staff").scope)["vendor_id"] == "staff"
    section = slack_message([in_house])["blocks"][1]["text"]["text"]
    assert "vendor_id=`in-house`" in section


def test_the_rules_file_fills_each_receivers_name_in_its_language() -> None:
    ruleset = rules_from_data(
        {
            "version": 1,
            "rules": [quality(receivers=["zh", "en"])],
            "receivers": {
                "zh": {"type": "feishu", "url_env": "X", "language": "zh"},
                "en": {"type": "slack", "webhook_url_env": "Y"},
            },
            "labels": {"in_house": {"en": "staff", "zh": "内部团队"}},
        }
    )
    assert ruleset.receivers["zh"].in_house == "内部团队"
    assert ruleset.receivers["en"].in_house == "staff"
