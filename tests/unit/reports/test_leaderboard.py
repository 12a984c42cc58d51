"""The leaderboard from per-contributor rows: minimum samples, ranking, coaching floors."""

from __future__ import annotations

from typing import Any

from reports.sections.leaderboard import coaching_thresholds, leaderboard
from reports.types import Options
from tests.unit.reports.rows import (
    APEX,
    HUASHU,
    IN_HOUSE,
    MEDICAL,
    SPEECH,
    quality_rule,
    ruleset,
    sums,
)

HOUR = 3600.0
GOLD_RULE = {
    "name": "gold_accuracy_low",
    "metric": "gold_accuracy",
    "scope": ["project_id", "vendor_id"],
    "window": "1h",
    "op": "<",
    "threshold": 0.75,
    "receivers": ["log"],
}
RULES = ruleset(
    quality_rule(),  # 0.85 per vendor ...
    quality_rule(name="annotator_quality_low", scope=["annotator_id"], threshold=0.75),  # ... 0.75
    GOLD_RULE,
)


def person(annotator: str, vendor: str, **fields: Any) -> dict[str, Any]:
    """A row as ``reports.queries.annotator_sums`` returns it."""
    return sums(annotator_id=annotator, vendor_id=vendor, projects=[MEDICAL, SPEECH], **fields)


PEOPLE = [
    person(
        "华数-0033",
        HUASHU,
        tasks_submitted=40,
        handle_time_sum_s=800.0,
        audits=10,
        audits_approved=10,
        gold_submitted=10,
        gold_correct=9,
    ),
    person(
        "华数-0042",
        HUASHU,
        tasks_submitted=25,
        handle_time_sum_s=1000.0,
        audits=10,
        audits_approved=10,
    ),
    person(
        "apx-0022", APEX, tasks_submitted=30, handle_time_sum_s=900.0, audits=20, audits_approved=20
    ),
    person(
        "apx-0039",
        APEX,
        tasks_submitted=50,
        handle_time_sum_s=1500.0,
        audits=8,
        audits_approved=5,
        gold_submitted=4,
        gold_correct=1,
    ),
    person(
        "staff-01",
        IN_HOUSE,
        tasks_submitted=30,
        handle_time_sum_s=600.0,
        audits=6,
        audits_approved=5,
        gold_submitted=10,
        gold_correct=6,
    ),
    person("tiny-0001", APEX, tasks_submitted=3, audits=3, audits_approved=3),  # too few tasks
    person("lurker", APEX, tasks_submitted=25, audits=4, audits_approved=4),  # too few audits
    person("idle", APEX),  # nothing in the period
]


def test_ranked_by_pass_rate_then_audits_then_aht() -> None:
    board = leaderboard(PEOPLE, HOUR, RULES, Options())
    assert (board.active, board.ranked) == (7, 5)
    assert (board.min_tasks, board.min_audits, board.min_gold) == (20, 5, 5)
    # Three at 100 %: 20 audits first; 华数-0033 (AHT 20 s) before 华数-0042 (40 s);
    # then 5/6 and 5/8.
    assert [a.annotator_id for a in board.top] == [
        "apx-0022",
        "华数-0033",
        "华数-0042",
        "staff-01",
        "apx-0039",
    ]
    staff = board.top[3]
    assert staff.vendor == "(in-house)"
    assert staff.projects == [MEDICAL, SPEECH]
    assert staff.figures.rate("aht_s") == 20.0


def test_coaching_below_the_floors_of_the_rules() -> None:
    board = leaderboard(PEOPLE, HOUR, RULES, Options())
    assert board.thresholds == {
        "audit_pass_rate": (0.75, "rule annotator_quality_low"),  # the narrower scope
        "gold_accuracy": (0.75, "rule gold_accuracy_low"),
    }
    assert [(a.annotator_id, a.reasons) for a in board.coaching] == [
        # 5/8 approved; gold 1/4 is below min_gold 5, so it does not count.
        ("apx-0039", ["audit pass rate 62.5% < 75.0% (rule annotator_quality_low)"]),
        # 5/6 approved is above the floor; gold 6/10 is not.
        ("staff-01", ["gold accuracy 60.0% < 75.0% (rule gold_accuracy_low)"]),
    ]
    assert board.coaching_total == 2


def test_without_floors_the_lowest_pass_rates_need_coaching() -> None:
    stalled = {
        "name": "queue_stalled",
        "metric": "throughput_per_hour",
        "window": "5m",
        "op": "<",
        "threshold": 1,
        "receivers": ["log"],
    }
    board = leaderboard(PEOPLE, HOUR, ruleset(stalled), Options(top_n=2, coaching_n=3))
    assert [a.annotator_id for a in board.top] == ["apx-0022", "华数-0033"]
    assert board.ranked == 5
    assert [a.annotator_id for a in board.coaching] == ["apx-0039", "staff-01", "apx-0022"]
    assert {r for a in board.coaching for r in a.reasons} == {"lowest audit pass rate"}
    assert board.coaching_total == 5
    assert board.thresholds == {}


def test_minimums_are_options() -> None:
    board = leaderboard(PEOPLE, HOUR, RULES, Options(min_tasks=1, min_audits=1))
    assert board.ranked == 7
    assert board.top[0].annotator_id == "apx-0022"  # 20 audits at 100 % beat tiny's 3
    assert "tiny-0001" in [a.annotator_id for a in board.top]


def test_coaching_thresholds_take_quality_floors_only() -> None:
    rules = ruleset(
        quality_rule(op="<=", threshold=0.8),
        quality_rule(name="too_good", op=">", threshold=0.99),  # a ceiling, not a floor
        {
            "name": "rework_high",
            "metric": "rework_rate",
            "window": "1h",
            "op": ">",
            "threshold": 0.1,
            "receivers": ["log"],
        },
    )
    assert coaching_thresholds(rules) == {"audit_pass_rate": (0.8, "rule vendor_quality_low")}


def test_no_contributors() -> None:
    board = leaderboard([], HOUR, RULES, Options())
    assert (board.active, board.ranked, board.top, board.coaching) == (0, 0, [], [])
