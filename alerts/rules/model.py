"""What a valid rules file holds: threshold, anomaly and inhibit rules, receivers.

The evaluator, the alert stage and the report read these types, never the
YAML: a rule that got here was checked field by field (pydantic, strict, so a
quoted number is an error rather than a number) and across fields
(``alerts.rules.checks``), and its durations are already seconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, TypeAlias

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from alerts.model import IN_HOUSE, IN_HOUSE_ZH, Severity
from alerts.receivers.registry import ReceiverConfig
from schemas.durations import parse_duration
from schemas.metrics import KEY_DIMENSIONS, RATES

THROUGHPUT = "throughput_per_hour"
TURNAROUND_MAX = "turnaround_max_s"
METRICS: tuple[str, ...] = (*RATES, THROUGHPUT, TURNAROUND_MAX)
MAX_WINDOW_S = 86_400  # a tumbling window
MAX_TRAILING_S = 7 * 86_400  # a trailing window (``every`` shorter than ``window``)
# Evaluations per trailing window at most: each is a bucket of sums kept per scope,
# so this bounds the memory of a trailing rule (docs/alerts.md, "Trailing windows").
MAX_STEPS = 168
DEFAULT_REPEAT_S = 4 * 3600.0
# What an alert's contributors can be broken down by: the key dimensions the closed
# windows handed to the alert stage carry, and the error categories of their audits
# (handed over beside them, ``alerts.handoff``).
ERROR_CATEGORY = "error_category"
EXPLAIN_DIMENSIONS: tuple[str, ...] = (*KEY_DIMENSIONS, ERROR_CATEGORY)
# Metrics of audits: their alerts are explained by error categories too by default.
AUDIT_METRICS = frozenset(("audit_pass_rate", "audit_reject_rate", "mean_audit_score"))

Op = Literal["<", "<=", ">", ">="]


def compare(op: str, value: float, threshold: float) -> bool:
    """``value op threshold``: the one place the operators are spelled out."""
    if op == "<":
        return value < threshold
    if op == "<=":
        return value <= threshold
    if op == ">":
        return value > threshold
    return value >= threshold


STRICT = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
_Names = Annotated[tuple[str, ...], Field(strict=False)]


def _window_seconds(value: object, name: str = "window") -> int:
    seconds = parse_duration(value)
    if seconds <= 0 or seconds % 60:
        raise ValueError(f"{name} {value!r} must be a positive multiple of 1m")
    if seconds > MAX_TRAILING_S:
        raise ValueError(f"{name} {value!r} is longer than 7d")
    return int(seconds)


def next_dimension(scope: tuple[str, ...]) -> str | None:
    """The level below a scope, where an alert's contributors are looked for.

    A vendor's or a queue's people are its annotators; a project's parts are
    its queues; everything's parts are its projects. An annotator has no
    level below.
    """
    if "annotator_id" in scope:
        return None
    if "queue_id" in scope or "vendor_id" in scope:
        return "annotator_id"
    if "project_id" in scope:
        return "queue_id"
    return "project_id"


def _positive_seconds(value: object) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"duration {value!r} must be positive")
    return seconds


class _RuleBase(BaseModel):
    """Fields shared by threshold and anomaly rules; durations are stored in seconds."""

    model_config = STRICT

    name: str = Field(pattern=r"^[a-z0-9_-]+$")
    metric: str
    scope: _Names = ()
    window: int
    min_samples: int = Field(0, ge=0)
    for_: int = Field(1, ge=1, alias="for")
    severity: Severity = "warning"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    receivers: _Names = ()
    repeat_interval: float = DEFAULT_REPEAT_S
    absent_lookback: int = Field(4, ge=0)
    # A firing alert whose scope has no data for ``no_data_for`` evaluations in a row:
    # resolved (``resolved_reason: no_data``) or kept firing.
    no_data: Literal["keep", "resolve"] = "resolve"
    no_data_for: int = Field(3, ge=1)
    # Evaluate every ``every`` over the trailing ``window`` (None: tumbling windows).
    every_: int | None = Field(None, alias="every")
    # What a firing alert's contributors are broken down by (None: the default).
    explain_: _Names | None = Field(None, alias="explain")

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, value: object) -> int:
        return _window_seconds(value)

    @field_validator("every_", mode="before")
    @classmethod
    def _every(cls, value: object) -> int:
        return _window_seconds(value, "every")

    @field_validator("explain_")
    @classmethod
    def _explain(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [dim for dim in value if dim not in EXPLAIN_DIMENSIONS]
        if unknown:
            raise ValueError(
                f"unknown dimension(s) {', '.join(unknown)}; expected some of "
                f"{', '.join(EXPLAIN_DIMENSIONS)}"
            )
        if len(set(value)) != len(value):
            raise ValueError("a dimension is listed twice")
        return value

    @field_validator("repeat_interval", mode="before")
    @classmethod
    def _repeat(cls, value: object) -> float:
        return _positive_seconds(value)

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"unknown metric {value!r}; expected one of {', '.join(METRICS)}")
        return value

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [dim for dim in value if dim not in KEY_DIMENSIONS]
        if unknown:
            raise ValueError(
                f"unknown dimension(s) {', '.join(unknown)}; expected a subset of "
                f"{', '.join(KEY_DIMENSIONS)}"
            )
        duplicates = sorted({dim for dim in value if value.count(dim) > 1})
        if duplicates:
            raise ValueError(f"duplicate dimension(s) {', '.join(duplicates)}")
        return value

    @property
    def window_s(self) -> int:
        return self.window

    @property
    def every(self) -> int:
        """How often the rule is evaluated: its window's length unless trailing."""
        return self.window if self.every_ is None else self.every_

    @property
    def trailing(self) -> bool:
        """Evaluated every ``every`` over the trailing ``window`` (not tumbling windows)."""
        return self.every < self.window

    @property
    def is_throughput(self) -> bool:
        return self.metric == THROUGHPUT

    @property
    def explain(self) -> tuple[str, ...]:
        """The breakdowns of a firing alert: given, or the level below the scope (and the
        error categories behind an audit metric)."""
        if self.explain_ is not None:
            return self.explain_
        below = next_dimension(self.scope)
        levels = () if below is None else (below,)
        return (*levels, ERROR_CATEGORY) if self.metric in AUDIT_METRICS else levels


class ThresholdRule(_RuleBase):
    """Fires when the window value compares with ``threshold`` by ``op``."""

    type: Literal["threshold"] = "threshold"
    op: Op
    threshold: float
    resolve_threshold: float | None = None

    @property
    def resolve_at(self) -> float:
        return self.threshold if self.resolve_threshold is None else self.resolve_threshold


class AnomalyRule(_RuleBase):
    """Fires when the window value leaves ``mean ± z * std`` of the scope's own baseline."""

    type: Literal["anomaly"]
    baseline_windows: int = Field(ge=2)
    z: float = Field(gt=0)
    direction: Literal["above", "below", "both"] = "both"
    # Floors of the standard deviation used (docs/alerts.md, "anomaly"): without
    # them a flat baseline (std 0, or nearly) would fire on the first bit of noise.
    min_std: float = Field(0.0, ge=0)
    min_std_ratio: float = Field(0.05, ge=0)  # times |mean|

    def sigma(self, mean: float, std: float) -> float:
        """The deviation unit: the baseline's std, but never below the floors."""
        return max(std, self.min_std, self.min_std_ratio * abs(mean))


Rule: TypeAlias = ThresholdRule | AnomalyRule


class InhibitSource(BaseModel):
    model_config = STRICT
    rule: str


class InhibitRule(BaseModel):
    """While ``source.rule`` fires for a scope, mute other rules' alerts inside that scope."""

    model_config = STRICT
    source: InhibitSource
    target_scope_contains: _Names = Field(min_length=1)
    # Optional: only these rules are muted (default: every other rule whose scope matches).
    target_rules: _Names = ()

    def mutes(self, rule: str) -> bool:
        if rule == self.source.rule:
            return False
        return not self.target_rules or rule in self.target_rules


_CJK = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")


class InHouse(BaseModel):
    """The name of the in-house team (the empty ``vendor_id``), per language."""

    model_config = STRICT
    en: str = Field(IN_HOUSE, min_length=1, max_length=64)
    zh: str = Field(IN_HOUSE_ZH, min_length=1, max_length=64)

    def name(self, language: str) -> str:
        return self.zh if language == "zh" else self.en

    def for_template(self, template: str) -> str:
        """The name in a template's language: Chinese if it has any CJK character."""
        return self.zh if _CJK.search(template) else self.en


def _in_house(value: object) -> object:
    """One name for both languages, or ``{en: ..., zh: ...}``."""
    return {"en": value, "zh": value} if isinstance(value, str) else value


class Names(BaseModel):
    """The rules file's ``labels:``: how ids without a name of their own are shown."""

    model_config = STRICT
    in_house: Annotated[InHouse, BeforeValidator(_in_house)] = InHouse()


@dataclass(frozen=True)
class RuleSet:
    """A validated rules file. ``silences_file`` is resolved against the file's directory."""

    rules: tuple[Rule, ...]
    receivers: Mapping[str, ReceiverConfig] = field(default_factory=dict)
    inhibit: tuple[InhibitRule, ...] = ()
    silences_file: Path | None = None
    names: Names = field(default_factory=Names)

    def rule(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)
