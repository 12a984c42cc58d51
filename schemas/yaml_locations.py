"""Where a problem is in an operator's YAML file: ``line N: rules[2] (name).field: message``.

The rules file and the gateway's connectors file are read by people under
pressure, so every problem names its path (with an item's name beside its
index) and its line. The lines come from the YAML node tree, which also shows
duplicate keys that a plain load would drop.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import yaml
from pydantic import BaseModel, ValidationError

Loc = tuple[str | int, ...]


class Lines:
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
        """YAML keeps the last of duplicate keys silently; an operator's file must not."""
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
class Problems:
    """Collects problems with their location; renders ``line N: where: message``."""

    lines: Lines
    # An item of a list shown with its name: ("rules", 2) -> "vendor_quality_low".
    names: dict[Loc, str] = field(default_factory=dict)
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
                name = self.names.get(path[: index + 1])
                if name is not None:
                    out += f" ({name})"
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
