"""Reading ``ANNOTEL_PLANS_FILE``: every problem with its line, like the rules file.

The worker refuses to start on a file with problems (a wrong deadline would
page people about a delivery that is on time), and ``annotel plans check``
prints the same problems, one per line: ``line 7: plans[1].due_at: ...``.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from schemas.plans import Plan, PlansFile
from schemas.yaml_load import load_bounded
from schemas.yaml_locations import Lines, Problems


class PlansError(Exception):
    """The plans file has problems; ``problems`` are located, one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def parse_plans(text: str) -> PlansFile:
    """The plans of a YAML text, or ``PlansError`` listing every problem with its line."""
    try:
        root, data = load_bounded(text)
    except yaml.YAMLError as exc:
        raise PlansError([f"YAML refused: {exc}"]) from None
    problems = Problems(Lines(root))
    for path, name, line in problems.lines.duplicate_keys():
        where = problems.where(path)
        problems.items.append(
            (line, f"line {line}: {where or 'top level'}: duplicate key {name!r}")
        )
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PlansError(["the file must be a mapping with 'version' and 'plans'"])
    try:
        plans = PlansFile.model_validate(data)
    except ValidationError as exc:
        problems.add_validation((), exc, PlansFile)
        plans = None
    if problems.items or plans is None:
        raise PlansError(problems.sorted())
    return plans


def load_plans(path: Path | str) -> PlansFile:
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlansError([f"cannot read: {type(exc).__name__}: {exc}"]) from None
    return parse_plans(text)


def plans_of(path: Path | str | None) -> list[Plan]:
    """The plans the worker applies: none without a file."""
    return [] if path is None else list(load_plans(path).plans)
