"""The roster file: who is in which squad, under which contributor manager (CSV or YAML).

Why a file and a table: contributor managers keep their roster where they keep
everything else (a spreadsheet export, a YAML in a repository); ``annotel
roster load`` puts it into the ClickHouse table ``roster``, which the coaching
commands and the BI views join at query time. Changing a squad in the file and
loading it again regroups all history, with nothing reprocessed.

Columns: ``annotator_id`` and ``squad`` are required; ``display_name``,
``manager``, ``vendor_id``, ``start_date`` (YYYY-MM-DD), ``level`` and
``tags`` are optional. In CSV the first line names the columns (any order)
and tags are separated by ``;``. In YAML::

    version: 1
    annotators:
      - annotator_id: 华数-0001
        squad: 华数-一组
        start_date: 2025-03-03
        tags: [night-shift]

Every problem is reported with its location (``line 4: ...``), all of them at
once, like ``annotel rules check``. YAML values are read from the document's
text (the composed nodes), never converted: ``0012`` stays ``0012`` and a date
stays the text it was written as.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from schemas.yaml_load import YamlTooLarge, expanded_size

COLUMNS = (
    "annotator_id",
    "display_name",
    "squad",
    "manager",
    "vendor_id",
    "start_date",
    "level",
    "tags",
)
REQUIRED = ("annotator_id", "squad")
UNASSIGNED = "unassigned"  # the squad of every annotator missing from the roster
MAX_MEMBERS = 100_000
MAX_FIELD = 200  # characters
MAX_BYTES = 50 * 1024 * 1024
TAG_SEPARATOR = ";"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Member:
    annotator_id: str
    squad: str
    display_name: str = ""
    manager: str = ""
    vendor_id: str = ""
    start_date: date | None = None
    level: str = ""
    tags: tuple[str, ...] = ()

    def row(self) -> list[Any]:
        """The values in ``COLUMNS`` order (the ``roster`` table's first columns)."""
        return [
            self.annotator_id,
            self.display_name,
            self.squad,
            self.manager,
            self.vendor_id,
            self.start_date,
            self.level,
            list(self.tags),
        ]


@dataclass(frozen=True)
class Roster:
    members: tuple[Member, ...]

    @property
    def squads(self) -> list[str]:
        return sorted({m.squad for m in self.members})


class RosterError(ValueError):
    """An invalid roster file; ``problems`` lists every problem with its location."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid roster file:\n  " + "\n  ".join(self.problems))


def _control(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text)


class _Checker:
    """Collects the problems of one file while members are built from its records."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.members: list[Member] = []
        self.first_seen: dict[str, str] = {}

    def add(self, where: str, fields: dict[str, tuple[str, str] | list[tuple[str, str]]]) -> None:
        """One record: field -> (text, location), tags -> [(tag, location)]."""
        before = len(self.problems)
        values: dict[str, str] = {}
        for name in COLUMNS:
            if name == "tags":
                continue
            raw = fields.get(name)
            if raw is None or isinstance(raw, list):
                values[name] = ""
                continue
            text, at = raw
            values[name] = text.strip()
            self._text(at, name, values[name])
        for name in REQUIRED:
            if not values[name]:
                self.problems.append(f"{where}: {name} is required")
        tags: list[str] = []
        raw_tags = fields.get("tags")
        for tag, at in raw_tags if isinstance(raw_tags, list) else []:
            tag = tag.strip()
            if not tag:
                self.problems.append(f"{at}: an empty tag")
                continue
            self._text(at, "tags", tag)
            tags.append(tag)
        start: date | None = None
        if values["start_date"]:
            start = self._date(fields, values["start_date"])
        annotator = values["annotator_id"]
        if annotator:
            if annotator in self.first_seen:
                self.problems.append(
                    f"{where}: annotator_id {annotator} is listed twice "
                    f"(first at {self.first_seen[annotator]})"
                )
            else:
                self.first_seen[annotator] = where
        if len(self.problems) > before:
            return
        self.members.append(
            Member(
                annotator_id=annotator,
                squad=values["squad"],
                display_name=values["display_name"],
                manager=values["manager"],
                vendor_id=values["vendor_id"],
                start_date=start,
                level=values["level"],
                tags=tuple(tags),
            )
        )

    def _text(self, at: str, name: str, text: str) -> None:
        if len(text) > MAX_FIELD:
            self.problems.append(f"{at}: {name} is longer than {MAX_FIELD} characters")
        if _control(text):
            self.problems.append(f"{at}: {name} holds a control or invisible format character")

    def _date(self, fields: dict[str, Any], text: str) -> date | None:
        at = fields["start_date"][1]
        if not _DATE.match(text):
            self.problems.append(f"{at}: start_date {text!r} is not a date (YYYY-MM-DD)")
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            self.problems.append(f"{at}: start_date {text!r} is not a date (YYYY-MM-DD)")
            return None


def _decode(data: bytes) -> tuple[str | None, str | None]:
    """UTF-8 text (a byte-order mark allowed), or the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, f"line {line}: not UTF-8 (save the file as UTF-8; GBK is not read)"


def _csv_records(text: str, checker: _Checker) -> None:
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if header is None:
            header = [cell.strip() for cell in record]
            unknown = [name for name in header if name not in COLUMNS]
            for name in unknown:
                checker.problems.append(
                    f"line {line}: unknown column {name!r} (columns: {', '.join(COLUMNS)})"
                )
            for name in REQUIRED:
                if name not in header:
                    checker.problems.append(f"line {line}: no {name} column")
            repeated = sorted({name for name in header if header.count(name) > 1})
            for name in repeated:
                checker.problems.append(f"line {line}: column {name} appears twice")
            if unknown or repeated or any(name not in header for name in REQUIRED):
                return
            continue
        if len(record) != len(header):
            checker.problems.append(
                f"line {line}: {len(record)} fields, the header names {len(header)}"
            )
            continue
        fields: dict[str, Any] = {}
        for name, cell in zip(header, record, strict=True):
            at = f"line {line}, {name}"
            if name == "tags":
                fields["tags"] = [(tag, at) for tag in cell.split(TAG_SEPARATOR)] if cell else []
            else:
                fields[name] = (cell, at)
        checker.add(f"line {line}", fields)
    if header is None:
        checker.problems.append("line 1: no header line (the first line names the columns)")


def _where(node: yaml.Node) -> str:
    return f"line {node.start_mark.line + 1}, column {node.start_mark.column + 1}"


def _yaml_records(text: str, checker: _Checker) -> None:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if root is not None:
            expanded_size(root)
    except YamlTooLarge as exc:
        checker.problems.append(exc.problem)
        return
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        checker.problems.append(f"{where}not valid YAML ({getattr(exc, 'problem', None) or exc})")
        return
    except RecursionError:
        checker.problems.append("nested too deeply")
        return
    if not isinstance(root, yaml.MappingNode):
        where = _where(root) if root is not None else "line 1"
        checker.problems.append(f"{where}: expected a mapping with an annotators list")
        return
    people: yaml.Node | None = None
    for key, value in root.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else None
        if name == "version":
            if not (isinstance(value, yaml.ScalarNode) and value.value == "1"):
                checker.problems.append(f"{_where(value)}: version must be 1")
        elif name == "annotators":
            people = value
        else:
            checker.problems.append(
                f"{_where(key)}: unknown key {name!r} (expected version, annotators)"
            )
    if people is None:
        checker.problems.append("line 1: no annotators list")
        return
    if not isinstance(people, yaml.SequenceNode):
        checker.problems.append(f"{_where(people)}: annotators must be a list")
        return
    for item in people.value:
        _yaml_member(item, checker)


def _yaml_member(item: yaml.Node, checker: _Checker) -> None:
    where = _where(item)
    if not isinstance(item, yaml.MappingNode):
        checker.problems.append(f"{where}: an annotator is a mapping of columns")
        return
    fields: dict[str, Any] = {}
    for key, value in item.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else None
        if name not in COLUMNS:
            checker.problems.append(
                f"{_where(key)}: unknown column {name!r} (columns: {', '.join(COLUMNS)})"
            )
            continue
        if name in fields:
            checker.problems.append(f"{_where(key)}: {name} appears twice")
            continue
        if name == "tags":
            if isinstance(value, yaml.ScalarNode) and value.tag.endswith(":null"):
                fields["tags"] = []
            elif isinstance(value, yaml.SequenceNode) and all(
                isinstance(tag, yaml.ScalarNode) for tag in value.value
            ):
                fields["tags"] = [(tag.value, _where(tag)) for tag in value.value]
            else:
                checker.problems.append(f"{_where(value)}: tags must be a list of texts")
            continue
        if not isinstance(value, yaml.ScalarNode):
            checker.problems.append(f"{_where(value)}: {name} must be a text")
            continue
        text = "" if value.tag.endswith(":null") and value.style is None else value.value
        fields[name] = (text, _where(value))
    checker.add(where, fields)


def parse_roster(data: bytes, name: str) -> Roster:
    """The roster in ``data`` (YAML when ``name`` ends in .yaml / .yml, else CSV)."""
    checker = _Checker()
    if len(data) > MAX_BYTES:
        raise RosterError([f"larger than {MAX_BYTES // (1024 * 1024)} MB"])
    text, problem = _decode(data)
    if text is None:
        raise RosterError([problem or "not UTF-8"])
    if name.lower().endswith((".yaml", ".yml")):
        _yaml_records(text, checker)
    else:
        _csv_records(text, checker)
    if not checker.problems and not checker.members:
        checker.problems.append("no annotators")
    if len(checker.members) > MAX_MEMBERS:
        checker.problems.append(f"more than {MAX_MEMBERS:,} annotators")
    if checker.problems:
        raise RosterError(checker.problems)
    return Roster(tuple(checker.members))


def load_roster(path: Path | str) -> Roster:
    """The roster of a file; ``RosterError`` with every problem, or naming an unreadable file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RosterError([f"cannot read {path}: {exc.strerror or exc}"]) from None
    return parse_roster(data, path.name)


def roster_csv(members: Iterable[Member]) -> str:
    """A roster as CSV text, the format ``load_roster`` reads (``annotel demo`` writes one)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for m in members:
        writer.writerow(
            [
                m.annotator_id,
                m.display_name,
                m.squad,
                m.manager,
                m.vendor_id,
                m.start_date.isoformat() if m.start_date else "",
                m.level,
                TAG_SEPARATOR.join(m.tags),
            ]
        )
    return out.getvalue()


def members_from_records(records: Iterable[dict[str, Any]]) -> Iterator[Member]:
    """Members from plain records (the simulator's roster, ``Simulator.roster``)."""
    for record in records:
        start = record.get("start_date")
        yield Member(
            annotator_id=str(record["annotator_id"]),
            squad=str(record["squad"]),
            display_name=str(record.get("display_name") or ""),
            manager=str(record.get("manager") or ""),
            vendor_id=str(record.get("vendor_id") or ""),
            start_date=date.fromisoformat(start) if start else None,
            level=str(record.get("level") or ""),
            tags=tuple(record.get("tags") or ()),
        )
