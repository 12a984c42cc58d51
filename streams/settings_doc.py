"""The README's configuration table, written from the settings model.

Why a generator: a table kept by hand drifts from the model (a new field
nobody lists, a default changed in one place). Here each field of
``streams.settings.Settings`` gives its row: the environment variable, the
accepted values (from the type and its bounds), the default (durations spelt
as a user writes them) and its ``description``, which is Markdown. The
descriptions are the documentation; ``tests/unit/streams/test_settings_doc.py``
fails when README.md and the model disagree.

    python -m streams.settings_doc            # rewrite the table in README.md
    python -m streams.settings_doc --check    # exit 1 if README.md is stale
"""

from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BeforeValidator, SecretStr
from pydantic.fields import FieldInfo

from schemas.durations import format_duration, parse_duration
from streams.settings import Settings

BEGIN = "<!-- settings table: python -m streams.settings_doc writes it from streams/settings.py -->"
END = "<!-- end of the settings table -->"
HEADER = "| variable | values | default | meaning |\n|---|---|---|---|"
README = Path(__file__).resolve().parents[1] / "README.md"


def _is_duration(info: FieldInfo) -> bool:
    return any(
        isinstance(item, BeforeValidator) and item.func is parse_duration for item in info.metadata
    )


def _bounds(info: FieldInfo) -> str:
    """``1–1024``, ``≥ 1``, ``> 0, ≤ 1``: the constraints pydantic keeps as metadata."""
    limits = {
        name: getattr(item, name)
        for item in info.metadata
        for name in ("ge", "gt", "le", "lt")
        if getattr(item, name, None) is not None
    }
    if "ge" in limits and "le" in limits:
        return f"{limits['ge']}–{limits['le']}"
    signs = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤"}
    return ", ".join(f"{signs[name]} {value}" for name, value in limits.items())


def _values(annotation: Any, info: FieldInfo) -> str:
    """What a user may write, from the field's type."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        inner = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(inner) == 1:  # X | None: unset is the default's business
            return _values(inner[0], info)
    if origin is Literal:
        return ", ".join(f"`{choice}`" for choice in get_args(annotation))
    if origin is Annotated:
        base, *extra = get_args(annotation)
        if base is Path and any(getattr(item, "path_type", None) == "file" for item in extra):
            return "existing file"
        return _values(base, info)
    if _is_duration(info):
        return "duration"
    if annotation is bool:
        return "`true`, `false`"
    if annotation in (int, float):
        bounds = _bounds(info)
        kind = "integer" if annotation is int else "number"
        return f"{kind} {bounds}" if bounds else kind
    if annotation is SecretStr:
        return "text, never printed"
    if annotation is Path:
        return "path"
    if annotation is str:
        return "text"
    raise TypeError(f"no documentation spelling for {annotation!r}: add one to {__name__}")


def _default(value: Any, info: FieldInfo) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        text = str(value).lower()
    elif _is_duration(info):
        text = format_duration(value)
    else:
        text = str(value)
    return f"`{text}`"


def rows(model: type[Settings] = Settings) -> list[str]:
    """One Markdown row per field, in the model's order."""
    prefix = str(model.model_config.get("env_prefix", ""))
    out = []
    for name, info in model.model_fields.items():
        if not info.description:
            raise ValueError(f"{name} has no description")
        cells = (
            f"`{prefix}{name.upper()}`",
            _values(info.annotation, info),
            _default(info.default, info),
            info.description.replace("|", "\\|"),
        )
        out.append("| " + " | ".join(cells) + " |")
    return out


def markdown_table(model: type[Settings] = Settings) -> str:
    return "\n".join([HEADER, *rows(model)])


def with_table(readme: str, table: str) -> str:
    """``readme`` with the text between the markers replaced by ``table``."""
    head, begin, rest = readme.partition(BEGIN)
    _old, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"README.md lacks the markers {BEGIN!r} ... {END!r}")
    return f"{head}{BEGIN}\n\n{table}\n\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m streams.settings_doc", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--check", action="store_true", help="only report whether it is stale")
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)
    current = args.readme.read_text(encoding="utf-8")
    wanted = with_table(current, markdown_table())
    if current == wanted:
        return 0
    if args.check:
        print(
            f"{args.readme}: the settings table differs from streams/settings.py", file=sys.stderr
        )
        return 1
    args.readme.write_text(wanted, encoding="utf-8")
    print(f"wrote the settings table of {args.readme}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
