"""The topic contract: what existing topics may and may not look like (no broker here)."""

from __future__ import annotations

from streams.settings import Settings
from streams.topics import config_problems, partition_problems, topic_plan

SETTINGS = Settings(_env_file=None, kafka_partitions=4)
COMPLETED, AUDITED = SETTINGS.input_topics


def _counts() -> dict[str, int]:
    """The partition counts of a deployment created from the plan."""
    return {spec.name: spec.partitions for spec in topic_plan(SETTINGS)}


def test_the_plan_itself_breaks_nothing() -> None:
    assert partition_problems(SETTINGS, _counts()) == []
    plan = {spec.name: spec.configs for spec in topic_plan(SETTINGS)}
    assert config_problems(SETTINGS, plan) == ([], [])


def test_input_topics_with_different_counts_are_named_with_both_counts() -> None:
    counts = _counts()
    counts[AUDITED] = 6
    [problem] = partition_problems(SETTINGS, counts)
    assert f"{COMPLETED} has 4 partitions and {AUDITED} has 6" in problem
    assert "same count" in problem


def test_a_checkpoint_log_that_does_not_follow_the_inputs_is_an_error() -> None:
    counts = _counts()
    counts[SETTINGS.topic_state] = 2
    [problem] = partition_problems(SETTINGS, counts)
    assert f"{SETTINGS.topic_state} has 2 partitions but the input topics have 4" in problem


def test_global_logs_must_have_one_partition() -> None:
    counts = _counts()
    counts[SETTINGS.topic_windows] = 3
    counts[SETTINGS.topic_alert_state] = 2
    problems = partition_problems(SETTINGS, counts)
    assert len(problems) == 2
    assert all("must have exactly 1" in p for p in problems)


def test_missing_topics_are_no_problem() -> None:
    """Only what exists is judged: a first start creates the rest from the plan."""
    assert partition_problems(SETTINGS, {}) == []
    assert partition_problems(SETTINGS, {AUDITED: 9}) == []


def test_a_compacted_own_log_is_an_error_and_a_finite_retention_a_warning() -> None:
    configs = {
        SETTINGS.topic_state: {"cleanup.policy": "compact,delete", "retention.ms": "-1"},
        SETTINGS.topic_alert_state: {"cleanup.policy": "delete", "retention.ms": "604800000"},
        SETTINGS.topic_windows: {"cleanup.policy": "delete", "retention.ms": "604800000"},
    }
    errors, warnings = config_problems(SETTINGS, configs)
    assert len(errors) == 1 and SETTINGS.topic_state in errors[0] and "compact" in errors[0]
    # The windows topic is read as it is written: a finite retention is no harm there.
    assert len(warnings) == 1 and SETTINGS.topic_alert_state in warnings[0]
    assert "retention.ms=604800000" in warnings[0]


def test_a_broker_that_reports_no_configs_is_checked_for_counts_only() -> None:
    assert config_problems(SETTINGS, {}) == ([], [])
