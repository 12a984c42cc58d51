"""Loading a rules file: text or a path in, a ``RuleSet`` or every problem out.

The worker, ``annotel rules check``, the demo and the report all load rules
here. Loading never stops at the first problem: the top level is validated,
then whichever sections have the right shape, then the references between
them, and every problem comes back with its location (``schemas.yaml_locations``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError

from alerts.rules.model import STRICT, Rule, RuleSet
from alerts.rules.sections import (
    cross_checks,
    validate_inhibit,
    validate_names,
    validate_receivers,
    validate_rules,
)
from schemas.yaml_load import YamlTooLarge, load_bounded
from schemas.yaml_locations import Lines, Problems


class RulesError(ValueError):
    """An invalid rules file; ``problems`` lists every problem with its location."""

    def __init__(self, problems: Sequence[str], source: str = "rules file") -> None:
        self.problems = list(problems)
        super().__init__(f"invalid {source}:\n  " + "\n  ".join(self.problems))


class _RulesFile(BaseModel):
    """Only the top level: each item is validated on its own so every problem is reported."""

    model_config = STRICT
    version: Literal[1]
    rules: list[Any] = Field(min_length=1)
    receivers: dict[str, Any] = Field(default_factory=dict)
    inhibit: list[Any] = Field(default_factory=list)
    silences_file: str | None = None
    labels: dict[str, Any] = Field(default_factory=dict)


def _top_level(data: dict[Any, Any], problems: Problems) -> _RulesFile:
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
        labels=section("labels", dict),
    )


def _build(data: Any, lines: Lines, base_dir: Path | None) -> tuple[RuleSet | None, list[str]]:
    problems = Problems(lines)
    for path, key, line in lines.duplicate_keys():
        where = problems.where(path)
        problems.items.append((line, f"line {line}: {where or 'top level'}: duplicate key {key!r}"))
    if not isinstance(data, dict):
        problems.add((), "expected a mapping with `version: 1`, `rules:` and `receivers:`")
        return None, problems.sorted()
    top = _top_level(data, problems)
    rules = validate_rules(top.rules, problems)
    cross_checks(top.rules, rules, set(top.receivers), problems)
    names = validate_names(top.labels, problems)
    receivers = validate_receivers(top.receivers, problems, names)
    all_names = {r.get("name") for r in top.rules if isinstance(r, dict)}
    by_name: dict[str, Rule] = {}
    for index in sorted(rules):
        by_name.setdefault(rules[index].name, rules[index])
    inhibit = validate_inhibit(top.inhibit, by_name, {n for n in all_names if n}, problems)
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
        names=names,
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
    return _build(data, Lines(root), base_dir)


def parse_rules(text: str, base_dir: Path | None = None) -> RuleSet:
    """Validate rules given as YAML text; raise ``RulesError`` with every problem."""
    ruleset, problems = _parse_text(text, base_dir)
    if ruleset is None:
        raise RulesError(problems)
    return ruleset


def rules_from_data(data: Mapping[str, Any], base_dir: Path | None = None) -> RuleSet:
    """Validate an already-parsed rules document (no line numbers)."""
    ruleset, problems = _build(dict(data), Lines(None), base_dir)
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
