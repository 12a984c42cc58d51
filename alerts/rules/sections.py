"""Each section of the rules file validated into models, and the references between them.

Every item (a rule, a receiver, an inhibit rule) is validated on its own and
its problems collected, so one bad rule does not hide the next one's; then the
names one section gives another are checked: duplicate rule names, receivers
a rule sends to, inhibit sources and the scope they mute.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from alerts.receivers.registry import KINDS, ReceiverConfig
from alerts.receivers.webhook import WebhookReceiver
from alerts.rules.checks import raw_rule_problems, rule_problems
from alerts.rules.delivery_rule import DeliveryRule
from alerts.rules.model import AnomalyRule, InhibitRule, Names, Rule, ThresholdRule
from schemas.durations import parse_duration
from schemas.yaml_locations import Loc, Problems

_RECEIVER: TypeAdapter[ReceiverConfig] = TypeAdapter(ReceiverConfig)
RECEIVER_TYPES = tuple(KINDS)


def _rule_model(raw: Mapping[str, Any]) -> type[ThresholdRule] | type[AnomalyRule] | None:
    kind = raw.get("type", "threshold")
    if kind == "threshold":
        return ThresholdRule
    if kind == "anomaly":
        return AnomalyRule
    if kind == "delivery":
        return DeliveryRule
    return None


def validate_rules(raw_rules: list[Any], problems: Problems) -> dict[int, Rule]:
    rules: dict[int, Rule] = {}
    for index, raw in enumerate(raw_rules):
        path: Loc = ("rules", index)
        if not isinstance(raw, dict):
            problems.add(path, "expected a mapping with name, metric, window, ...")
            continue
        if isinstance(raw.get("name"), str):
            problems.names[("rules", index)] = raw["name"]
        model = _rule_model(raw)
        if model is None:
            problems.add(
                (*path, "type"), "must be 'threshold' (the default), 'anomaly' or 'delivery'"
            )
            continue
        try:
            rules[index] = model.model_validate(raw)
        except ValidationError as exc:
            problems.add_validation(path, exc, model)
    return rules


def validate_names(raw: dict[str, Any], problems: Problems) -> Names:
    """The ``labels:`` section: names for ids that have none (the in-house team)."""
    try:
        return Names.model_validate(raw)
    except ValidationError as exc:
        problems.add_validation(("labels",), exc, Names)
        return Names()


def validate_receivers(
    raw: dict[str, Any], problems: Problems, names: Names | None = None
) -> dict[str, ReceiverConfig]:
    """Each receiver validated; one without its own ``in_house`` gets the file's, in its
    language."""
    names = names or Names()
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
        if receiver.in_house is None:
            language = getattr(receiver, "language", "en")
            receiver = receiver.model_copy(update={"in_house": names.in_house.name(language)})
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


def validate_inhibit(
    raw: list[Any], rules: Mapping[str, Rule], all_names: set[str], problems: Problems
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


def cross_checks(
    raw_rules: list[Any], rules: dict[int, Rule], receivers: set[str], problems: Problems
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
        found = rule_problems(rule) if rule is not None else raw_rule_problems(raw)
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
