"""The alert rules file (``ANNOTEL_RULES_FILE``): its model, loader and checker.

A rules file is read by people under pressure, so the loader reports every
problem at once, each with where it is (``rules[2] (vendor_quality_low).threshold``
and the line), instead of stopping at the first. Cross-references (receivers,
inhibit sources, template fields) are checked here too: the worker refuses to
start on a file that would fail at 3 a.m. when the first alert renders.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeAlias

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from alerts.model import Severity
from alerts.receivers.registry import KINDS, ReceiverConfig
from alerts.receivers.webhook import WebhookReceiver
from alerts.yaml_load import YamlTooLarge, load_bounded
from schemas.durations import format_duration, parse_duration
from schemas.metrics import KEY_DIMENSIONS, RATES
from schemas.units import NO_DATA

THROUGHPUT = "throughput_per_hour"
TURNAROUND_MAX = "turnaround_max_s"
METRICS: tuple[str, ...] = (*RATES, THROUGHPUT, TURNAROUND_MAX)
MAX_WINDOW_S = 86_400
DEFAULT_REPEAT_S = 4 * 3600.0
RESERVED_LABELS = frozenset(("alertname", "severity"))

Op = Literal["<", "<=", ">", ">="]
Loc = tuple[str | int, ...]

_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class RulesError(ValueError):
    """An invalid rules file; ``problems`` lists every problem with its location."""

    def __init__(self, problems: Sequence[str], source: str = "rules file") -> None:
        self.problems = list(problems)
        super().__init__(f"invalid {source}:\n  " + "\n  ".join(self.problems))


def compare(op: str, value: float, threshold: float) -> bool:
    """``value op threshold``: the one place the operators are spelled out."""
    if op == "<":
        return value < threshold
    if op == "<=":
        return value <= threshold
    if op == ">":
        return value > threshold
    return value >= threshold


# -- models ---------------------------------------------------------------------------------

_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
_Names = Annotated[tuple[str, ...], Field(strict=False)]


def _window_seconds(value: object) -> int:
    seconds = parse_duration(value)
    if seconds <= 0 or seconds % 60:
        raise ValueError(f"window {value!r} must be a positive multiple of 1m")
    if seconds > MAX_WINDOW_S:
        raise ValueError(f"window {value!r} is longer than 24h")
    return int(seconds)


def _positive_seconds(value: object) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"duration {value!r} must be positive")
    return seconds


class _RuleBase(BaseModel):
    """Fields shared by threshold and anomaly rules; durations are stored in seconds."""

    model_config = _STRICT

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

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, value: object) -> int:
        return _window_seconds(value)

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
    def is_throughput(self) -> bool:
        return self.metric == THROUGHPUT


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
    model_config = _STRICT
    rule: str


class InhibitRule(BaseModel):
    """While ``source.rule`` fires for a scope, mute other rules' alerts inside that scope."""

    model_config = _STRICT
    source: InhibitSource
    target_scope_contains: _Names = Field(min_length=1)
    # Optional: only these rules are muted (default: every other rule whose scope matches).
    target_rules: _Names = ()

    def mutes(self, rule: str) -> bool:
        if rule == self.source.rule:
            return False
        return not self.target_rules or rule in self.target_rules


class _RulesFile(BaseModel):
    """Only the top level: each item is validated on its own so every problem is reported."""

    model_config = _STRICT
    version: Literal[1]
    rules: list[Any] = Field(min_length=1)
    receivers: dict[str, Any] = Field(default_factory=dict)
    inhibit: list[Any] = Field(default_factory=list)
    silences_file: str | None = None


@dataclass(frozen=True)
class RuleSet:
    """A validated rules file. ``silences_file`` is resolved against the file's directory."""

    rules: tuple[Rule, ...]
    receivers: Mapping[str, ReceiverConfig] = field(default_factory=dict)
    inhibit: tuple[InhibitRule, ...] = ()
    silences_file: Path | None = None

    def rule(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)


_RECEIVER: TypeAdapter[ReceiverConfig] = TypeAdapter(ReceiverConfig)
RECEIVER_TYPES = tuple(KINDS)


# -- annotation templates -----------------------------------------------------------------


class _Formatter(string.Formatter):
    """``str.format`` that renders a missing value (a no-data repeat) as ``no data``."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            return NO_DATA
        return str(super().format_field(value, format_spec))


_FORMATTER = _Formatter()


def _allowed_fields(scope: Sequence[str], labels: Sequence[str], anomaly: bool) -> set[str]:
    names = {"value", "threshold", "rule", "metric", "severity", "window", "samples"}
    names.update(scope)
    names.update(label for label in labels if _IDENTIFIER.match(label))
    if anomaly:
        names.update(("mean", "std"))
    return names


def template_fields(rule: Rule) -> set[str]:
    """Names an annotation of ``rule`` may use."""
    return _allowed_fields(rule.scope, list(rule.labels), isinstance(rule, AnomalyRule))


def _template_problems(template: str, allowed: set[str]) -> list[str]:
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as exc:
        return [f"invalid template: {exc} (write {{{{ and }}}} for literal braces)"]
    problems = []
    for _literal, name, spec, _conversion in parsed:
        if name is None:
            continue
        if not _IDENTIFIER.match(name):
            problems.append(f"field {{{name}}}: use a plain name such as {{value}}")
        elif name not in allowed:
            problems.append(f"unknown field {{{name}}}; known: {', '.join(sorted(allowed))}")
        if spec and ("{" in spec or "}" in spec):
            problems.append(f"field {{{name}}}: nested fields in a format spec are not supported")
    return problems


def sample_fields(rule: Rule) -> dict[str, object]:
    """Plausible values, used to try every template when the file is checked."""
    sample: dict[str, object] = {name: "x" for name in template_fields(rule)}
    sample.update(
        value=0.5,
        threshold=0.5,
        mean=0.5,
        std=0.1,
        samples=10,
        rule=rule.name,
        metric=rule.metric,
        severity=rule.severity,
        window=format_duration(rule.window),
    )
    sample.update(rule.labels)
    return sample


def render_annotations(
    templates: Mapping[str, str], fields: Mapping[str, object]
) -> tuple[dict[str, str], list[str]]:
    """Render every template; a failing one keeps its raw text and is reported, never raised.

    A template that fails at alert time must not cost the alert itself.
    """
    rendered: dict[str, str] = {}
    errors: list[str] = []
    for key, template in templates.items():
        try:
            rendered[key] = _FORMATTER.vformat(template, (), dict(fields))
        except (KeyError, IndexError, ValueError, TypeError, AttributeError) as exc:
            rendered[key] = template
            errors.append(f"{key}: {type(exc).__name__}: {exc}")
    return rendered, errors


# -- locations ----------------------------------------------------------------------------


class _Lines:
    """Line numbers of YAML paths, from the composed node tree (cheap: one extra parse)."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.root = root

    def line(self, path: Loc) -> int | None:
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in path:
            child: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode) and key.value == part:
                        child, line = value, key.start_mark.line + 1
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                child = node.value[part]
                line = child.start_mark.line + 1
            if child is None:
                break
            node = child
        return line

    def duplicate_keys(self) -> Iterator[tuple[Loc, str, int]]:
        """YAML keeps the last of duplicate keys silently; a rules file must not."""
        yield from self._duplicates(self.root, ())

    def _duplicates(self, node: yaml.Node | None, path: Loc) -> Iterator[tuple[Loc, str, int]]:
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else None
                if name is not None:
                    if name in seen:
                        yield path, name, key.start_mark.line + 1
                    seen.add(name)
                    yield from self._duplicates(value, (*path, name))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                yield from self._duplicates(item, (*path, index))


@dataclass
class _Problems:
    """Collects problems with their location; renders ``line N: where: message``."""

    lines: _Lines
    rule_names: dict[int, str] = field(default_factory=dict)
    items: list[tuple[int, str]] = field(default_factory=list)

    def add(self, path: Loc, message: str) -> None:
        line = self.lines.line(path)
        where = self.where(path)
        text = f"{where}: {message}" if where else message
        if line is not None:
            text = f"line {line}: {text}"
        self.items.append((line or 0, text))

    def where(self, path: Loc) -> str:
        out = ""
        for index, part in enumerate(path):
            if isinstance(part, int):
                out += f"[{part}]"
                if index == 1 and path[0] == "rules" and part in self.rule_names:
                    out += f" ({self.rule_names[part]})"
            else:
                out += f".{part}" if out else part
        return out

    def add_validation(self, prefix: Loc, exc: ValidationError, model: type[BaseModel]) -> None:
        for error in exc.errors():
            loc = tuple(error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            message = message.replace("Tuple should", "List should")  # YAML has lists
            if error["type"] == "extra_forbidden" and len(loc) == 1:
                allowed = sorted((info.alias or name) for name, info in model.model_fields.items())
                message = f"unknown field; allowed: {', '.join(allowed)}"
            self.add((*prefix, *loc), message)

    def sorted(self) -> list[str]:
        return [text for _line, text in sorted(self.items, key=lambda item: item[0])]


# -- loading ------------------------------------------------------------------------------


def _rule_model(raw: Mapping[str, Any]) -> type[ThresholdRule] | type[AnomalyRule] | None:
    kind = raw.get("type", "threshold")
    if kind == "threshold":
        return ThresholdRule
    if kind == "anomaly":
        return AnomalyRule
    return None


def _validate_rules(raw_rules: list[Any], problems: _Problems) -> dict[int, Rule]:
    rules: dict[int, Rule] = {}
    for index, raw in enumerate(raw_rules):
        path: Loc = ("rules", index)
        if not isinstance(raw, dict):
            problems.add(path, "expected a mapping with name, metric, window, ...")
            continue
        if isinstance(raw.get("name"), str):
            problems.rule_names[index] = raw["name"]
        model = _rule_model(raw)
        if model is None:
            problems.add((*path, "type"), "must be 'threshold' (the default) or 'anomaly'")
            continue
        try:
            rules[index] = model.model_validate(raw)
        except ValidationError as exc:
            problems.add_validation(path, exc, model)
    return rules


def _rule_problems(rule: Rule) -> Iterator[tuple[Loc, str]]:
    """Checks across fields of one rule (pydantic reports single fields)."""
    if isinstance(rule, ThresholdRule) and rule.resolve_threshold is not None:
        lower_is_bad = rule.op in ("<", "<=")
        if lower_is_bad and rule.resolve_threshold < rule.threshold:
            yield (
                ("resolve_threshold",),
                (
                    f"must be >= threshold ({rule.threshold:g}) for op {rule.op!r}: "
                    "an alert resolves on the good side"
                ),
            )
        if not lower_is_bad and rule.resolve_threshold > rule.threshold:
            yield (
                ("resolve_threshold",),
                (
                    f"must be <= threshold ({rule.threshold:g}) for op {rule.op!r}: "
                    "an alert resolves on the good side"
                ),
            )
    if "absent_lookback" in rule.model_fields_set and not rule.is_throughput:
        yield ("absent_lookback",), f"only applies to {THROUGHPUT} rules"
    if (
        isinstance(rule, ThresholdRule)
        and rule.is_throughput
        and rule.op in ("<", "<=")
        and 0 < rule.absent_lookback < rule.for_
    ):
        yield (
            ("for",),
            (
                f"{rule.for_} exceeds absent_lookback ({rule.absent_lookback}): "
                "a stalled queue could never fire"
            ),
        )
    yield from _label_problems(rule.labels, rule.scope)
    yield from _annotation_problems(rule.annotations, template_fields(rule), sample_fields(rule))


def _label_problems(
    labels: Mapping[str, object], scope: Sequence[str]
) -> Iterator[tuple[Loc, str]]:
    for name in labels:
        if not _LABEL_NAME.match(name):
            yield ("labels", name), "label names are letters, digits and _ (not first)"
        elif name in RESERVED_LABELS or name in scope:
            yield ("labels", name), "set by the evaluator (alertname, severity, scope labels)"


def _annotation_problems(
    annotations: Mapping[str, str], allowed: set[str], sample: Mapping[str, object] | None
) -> Iterator[tuple[Loc, str]]:
    """Unknown fields, then (with sample values) format specs that cannot render."""
    for key, template in annotations.items():
        found = _template_problems(template, allowed)
        if not found and sample is not None:
            _rendered, errors = render_annotations({key: template}, sample)
            found = [error.removeprefix(f"{key}: ") for error in errors]
        for message in found:
            yield ("annotations", key), message


def _raw_rule_problems(raw: Mapping[str, Any]) -> Iterator[tuple[Loc, str]]:
    """Reference checks on a rule that failed validation, so one run reports everything."""

    def strings(value: object) -> list[str]:
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    def str_map(value: object) -> dict[str, str]:
        if not isinstance(value, dict):
            return {}
        return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}

    scope = [dim for dim in strings(raw.get("scope")) if dim in KEY_DIMENSIONS]
    labels = str_map(raw.get("labels"))
    yield from _label_problems(labels, scope)
    allowed = _allowed_fields(scope, list(labels), raw.get("type") == "anomaly")
    yield from _annotation_problems(str_map(raw.get("annotations")), allowed, None)


def _validate_receivers(raw: dict[str, Any], problems: _Problems) -> dict[str, ReceiverConfig]:
    receivers: dict[str, ReceiverConfig] = {}
    for name, config in raw.items():
        path: Loc = ("receivers", name)
        try:
            receiver = _RECEIVER.validate_python(config)
        except ValidationError as exc:
            kind = config.get("type") if isinstance(config, dict) else None
            for error in exc.errors():
                loc = tuple(error["loc"])
                if loc and loc[0] == kind:
                    loc = loc[1:]
                message = str(error["msg"]).removeprefix("Value error, ")
                if error["type"] in ("union_tag_not_found", "union_tag_invalid"):
                    loc, message = ("type",), f"must be one of {', '.join(RECEIVER_TYPES)}"
                problems.add((*path, *loc), message)
            continue
        receivers[name] = receiver
        try:
            parse_duration(receiver.group_wait)
        except ValueError as exc:
            problems.add((*path, "group_wait"), str(exc))
        if isinstance(receiver, WebhookReceiver) and (receiver.url is None) == (
            receiver.url_env is None
        ):
            problems.add(path, "set exactly one of url and url_env")
    return receivers


def _validate_inhibit(
    raw: list[Any], rules: Mapping[str, Rule], all_names: set[str], problems: _Problems
) -> list[InhibitRule]:
    inhibit: list[InhibitRule] = []
    for index, item in enumerate(raw):
        path: Loc = ("inhibit", index)
        try:
            entry = InhibitRule.model_validate(item)
        except ValidationError as exc:
            problems.add_validation(path, exc, InhibitRule)
            continue
        inhibit.append(entry)
        for position, target in enumerate(entry.target_rules):
            if target not in all_names:
                problems.add((*path, "target_rules", position), f"unknown rule {target!r}")
        source = entry.source.rule
        if source not in all_names:
            problems.add((*path, "source", "rule"), f"unknown rule {source!r}")
            continue
        rule = rules.get(source)
        if rule is None:
            continue  # the rule itself is invalid and already reported
        outside = [dim for dim in entry.target_scope_contains if dim not in rule.scope]
        if outside:
            problems.add(
                (*path, "target_scope_contains"),
                f"{', '.join(outside)} not in the scope of rule {source!r} "
                f"({', '.join(rule.scope) or 'empty'})",
            )
    return inhibit


def _cross_checks(
    raw_rules: list[Any], rules: dict[int, Rule], receivers: set[str], problems: _Problems
) -> None:
    first: dict[str, int] = {}
    for index, raw in enumerate(raw_rules):
        name = raw.get("name") if isinstance(raw, dict) else None
        if not isinstance(name, str):
            continue
        if name in first:
            problems.add(
                ("rules", index, "name"),
                f"duplicate rule name {name!r} (first at rules[{first[name]}])",
            )
        else:
            first[name] = index
    for index, raw in enumerate(raw_rules):
        if not isinstance(raw, dict):
            continue
        rule = rules.get(index)
        found = _rule_problems(rule) if rule is not None else _raw_rule_problems(raw)
        for path, message in found:
            problems.add(("rules", index, *path), message)
        names = rule.receivers if rule is not None else raw.get("receivers")
        for position, receiver in enumerate(names if isinstance(names, list | tuple) else ()):
            if isinstance(receiver, str) and receiver not in receivers:
                known = ", ".join(sorted(receivers)) or "none defined"
                problems.add(
                    ("rules", index, "receivers", position),
                    f"unknown receiver {receiver!r} (receivers: {known})",
                )


def _top_level(data: dict[Any, Any], problems: _Problems) -> _RulesFile:
    """Validate the top level, then keep going with whichever sections have the right shape."""
    try:
        return _RulesFile.model_validate(data)
    except ValidationError as exc:
        problems.add_validation((), exc, _RulesFile)

    def section(name: str, kind: type[Any]) -> Any:
        value = data.get(name)
        return value if isinstance(value, kind) else kind()

    receivers = {k: v for k, v in section("receivers", dict).items() if isinstance(k, str)}
    return _RulesFile.model_construct(
        version=1,
        rules=section("rules", list),
        receivers=receivers,
        inhibit=section("inhibit", list),
        silences_file=None,
    )


def _build(data: Any, lines: _Lines, base_dir: Path | None) -> tuple[RuleSet | None, list[str]]:
    problems = _Problems(lines)
    for path, key, line in lines.duplicate_keys():
        where = problems.where(path)
        problems.items.append((line, f"line {line}: {where or 'top level'}: duplicate key {key!r}"))
    if not isinstance(data, dict):
        problems.add((), "expected a mapping with `version: 1`, `rules:` and `receivers:`")
        return None, problems.sorted()
    top = _top_level(data, problems)
    rules = _validate_rules(top.rules, problems)
    _cross_checks(top.rules, rules, set(top.receivers), problems)
    receivers = _validate_receivers(top.receivers, problems)
    all_names = {r.get("name") for r in top.rules if isinstance(r, dict)}
    by_name: dict[str, Rule] = {}
    for index in sorted(rules):
        by_name.setdefault(rules[index].name, rules[index])
    inhibit = _validate_inhibit(top.inhibit, by_name, {n for n in all_names if n}, problems)
    if problems.items:
        return None, problems.sorted()
    silences = None
    if top.silences_file:
        silences = Path(top.silences_file)
        if base_dir is not None and not silences.is_absolute():
            silences = base_dir / silences
    ruleset = RuleSet(
        rules=tuple(rules[index] for index in sorted(rules)),
        receivers=receivers,
        inhibit=tuple(inhibit),
        silences_file=silences,
    )
    return ruleset, []


def _parse_text(text: str, base_dir: Path | None) -> tuple[RuleSet | None, list[str]]:
    try:
        root, data = load_bounded(text)
    except YamlTooLarge as exc:
        return None, [f"YAML refused: {exc.problem}"]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [f"{where}YAML syntax error: {problem}"]
    return _build(data, _Lines(root), base_dir)


def parse_rules(text: str, base_dir: Path | None = None) -> RuleSet:
    """Validate rules given as YAML text; raise ``RulesError`` with every problem."""
    ruleset, problems = _parse_text(text, base_dir)
    if ruleset is None:
        raise RulesError(problems)
    return ruleset


def rules_from_data(data: Mapping[str, Any], base_dir: Path | None = None) -> RuleSet:
    """Validate an already-parsed rules document (no line numbers)."""
    ruleset, problems = _build(dict(data), _Lines(None), base_dir)
    if ruleset is None:
        raise RulesError(problems)
    return ruleset


def _read(path: Path) -> tuple[str | None, list[str]]:
    try:
        return path.read_text(encoding="utf-8"), []
    except OSError as exc:
        return None, [f"cannot read {path}: {exc.strerror or exc}"]
    except UnicodeDecodeError as exc:
        return None, [f"{path} is not UTF-8: {exc.reason} at byte {exc.start}"]


def check_file(path: str | Path) -> list[str]:
    """Every problem of a rules file, each with its location; empty when valid."""
    file = Path(path)
    text, problems = _read(file)
    if text is None:
        return problems
    return _parse_text(text, file.parent)[1]


def load_rules(path: str | Path) -> RuleSet:
    """Load a rules file; raise ``RulesError`` listing every problem."""
    file = Path(path)
    text, problems = _read(file)
    if text is None:
        raise RulesError(problems, str(file))
    ruleset, problems = _parse_text(text, file.parent)
    if ruleset is None:
        raise RulesError(problems, str(file))
    return ruleset
