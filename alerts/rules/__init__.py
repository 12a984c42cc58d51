"""The alert rules file: its model, loader and checker (``alerts.rules.loader``)."""

from alerts.rules.loader import (
    METRICS,
    THROUGHPUT,
    TURNAROUND_MAX,
    AnomalyRule,
    InhibitRule,
    Rule,
    RulesError,
    RuleSet,
    ThresholdRule,
    check_file,
    compare,
    load_rules,
    parse_rules,
    render_annotations,
    rules_from_data,
)

__all__ = [
    "METRICS",
    "THROUGHPUT",
    "TURNAROUND_MAX",
    "AnomalyRule",
    "InhibitRule",
    "Rule",
    "RuleSet",
    "RulesError",
    "ThresholdRule",
    "check_file",
    "compare",
    "load_rules",
    "parse_rules",
    "render_annotations",
    "rules_from_data",
]
