"""The alert rules file (``ANNOTEL_RULES_FILE``): its model, loader and checker.

A rules file is read by people under pressure, so the loader reports every
problem at once, each with where it is (``rules[2] (vendor_quality_low).threshold``
and the line), instead of stopping at the first. Cross-references (receivers,
inhibit sources, template fields) are checked here too: the worker refuses to
start on a file that would fail at 3 a.m. when the first alert renders.

The modules, in the order a file meets them: ``loader`` (text or path in,
``RuleSet`` or ``RulesError`` out), ``schemas.yaml_locations`` (the line and path of each
problem), ``sections`` (each section validated, and the references between
them), ``checks`` (one rule across its fields), ``templates`` (annotation
fields and rendering), ``model`` (what a valid file holds). Other packages
import the names below from ``alerts.rules``.
"""

from alerts.rules.loader import RulesError, check_file, load_rules, parse_rules, rules_from_data
from alerts.rules.model import (
    ERROR_CATEGORY,
    METRICS,
    THROUGHPUT,
    TURNAROUND_MAX,
    AnomalyRule,
    InhibitRule,
    InHouse,
    Rule,
    RuleSet,
    ThresholdRule,
    compare,
)
from alerts.rules.templates import render_annotations

__all__ = [
    "ERROR_CATEGORY",
    "METRICS",
    "THROUGHPUT",
    "TURNAROUND_MAX",
    "AnomalyRule",
    "InHouse",
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
