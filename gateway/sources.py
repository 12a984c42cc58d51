"""The connectors file (``ANNOTEL_CONNECTORS_FILE``): which platforms post here, mapped how.

::

    version: 1
    clients:                       # more tokens for POST /v1/events
      nightly-etl: {token_env: ETL_TOKEN, rate_limit: 5}
    sources:
      ls-medical:                  # POST /v1/hooks/ls-medical
        type: label_studio         # label_studio | cvat | labelbox | argilla | toloka
        token_env: LS_MEDICAL_TOKEN   # Authorization: Bearer <token>
        secret_env: ...            # the platform's signing secret (not Label Studio)
        rate_limit: 20             # requests/s (default ANNOTEL_GATEWAY_RATE_LIMIT)
        map:                       # what the platform does not send
          project_id: 医疗影像标注                     # a constant
          queue_id: {path: task.data.queue}            # a path into the delivery
          locale: {path: task.data.locale, default: zh-CN}
        users:                     # platform user id (or name) -> who they are here
          "17": {annotator_id: 标注员-017, vendor_id: apex-labeling}

Secrets never live in the file: it names environment variables. Like the
rules file, loading reports every problem at once with its line and path
(``schemas.yaml_locations``), so ``annotel connectors check FILE`` lists
them all before a gateway refuses to start.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.connectors import SIGNED, TYPES, secret_key
from gateway.connectors.base import MAPPABLE, PayloadPath, SourceMapping, User
from schemas.yaml_load import YamlTooLarge, load_bounded
from schemas.yaml_locations import Lines, Loc, Problems

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PATH = re.compile(r"^[^.\s]+(?:\.[^.\s]+)*$")
_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)


class ConnectorsError(ValueError):
    """An invalid connectors file; ``problems`` lists every problem with its location."""

    def __init__(self, problems: list[str], source: str = "connectors file") -> None:
        self.problems = problems
        super().__init__(f"invalid {source}:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class Source:
    """One ``sources:`` entry: the route ``/v1/hooks/<name>`` and how to read it."""

    name: str
    type: str
    token_env: str | None = None
    secret_env: str | None = None
    rate_limit: float | None = None
    mapping: SourceMapping = field(default_factory=SourceMapping)


@dataclass(frozen=True)
class Client:
    """One ``clients:`` entry: a token for ``POST /v1/events``."""

    name: str
    token_env: str
    rate_limit: float | None = None


@dataclass(frozen=True)
class Connectors:
    sources: Mapping[str, Source] = field(default_factory=dict)
    clients: Mapping[str, Client] = field(default_factory=dict)

    def env_variables(self) -> list[tuple[str, str]]:
        """(variable, what reads it) for every secret the file names."""
        needed = [(c.token_env, f"clients.{c.name}.token_env") for c in self.clients.values()]
        for source in self.sources.values():
            if source.token_env:
                needed.append((source.token_env, f"sources.{source.name}.token_env"))
            if source.secret_env:
                needed.append((source.secret_env, f"sources.{source.name}.secret_env"))
        return needed


# -- the file's shape ------------------------------------------------------------------


class _File(BaseModel):
    model_config = _STRICT
    version: Literal[1]
    clients: dict[str, Any] = Field(default_factory=dict)
    sources: dict[str, Any] = Field(default_factory=dict)


class _Client(BaseModel):
    model_config = _STRICT
    token_env: str = Field(pattern=ENV_NAME.pattern)
    rate_limit: float | None = Field(default=None, gt=0)


class _Source(BaseModel):
    model_config = _STRICT
    type: Literal["label_studio", "cvat", "labelbox", "argilla", "toloka"]
    token_env: str | None = Field(default=None, pattern=ENV_NAME.pattern)
    secret_env: str | None = Field(default=None, pattern=ENV_NAME.pattern)
    rate_limit: float | None = Field(default=None, gt=0)
    map: dict[str, Any] = Field(default_factory=dict)
    users: dict[str, Any] = Field(default_factory=dict)


class _User(BaseModel):
    model_config = _STRICT
    annotator_id: str | None = Field(default=None, min_length=1, max_length=128)
    vendor_id: str | None = Field(default=None, min_length=1, max_length=128)


class _PathSpec(BaseModel):
    model_config = _STRICT
    path: str = Field(pattern=_PATH.pattern, max_length=512)
    default: Any = None


assert set(TYPES) == {"label_studio", "cvat", "labelbox", "argilla", "toloka"}


def _keyed(data: Any) -> Any:
    """YAML reads ``17:`` as an integer key; a users table means the text ``"17"``."""
    if not isinstance(data, dict):
        return data
    return {
        str(k) if isinstance(k, int) and not isinstance(k, bool) else k: v for k, v in data.items()
    }


def _constant(name: str, value: Any) -> str | None:
    """Why ``value`` cannot be the constant of mapped field ``name``, or None."""
    kind = MAPPABLE[name]
    if kind == "id":
        ok = (isinstance(value, str) and 0 < len(value) <= 128) or (
            isinstance(value, int) and not isinstance(value, bool)
        )
        return None if ok else "expected an id: text of 1-128 characters"
    if kind == "text":
        return None if isinstance(value, str) else "expected text"
    if kind == "list":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else "expected a list of text"
    if kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 86400
        return None if ok else "expected seconds, 0-86400"
    return None if isinstance(value, bool) else "expected true or false"


def _value(name: str, value: Any) -> Any:
    """A constant as the event carries it: a numeric id is text."""
    is_number = isinstance(value, int) and not isinstance(value, bool)
    return str(value) if MAPPABLE[name] == "id" and is_number else value


def _mapping(raw: Any, where: Loc, problems: Problems) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if not isinstance(raw, dict):
        problems.add(where, "expected a mapping of field: value")
        return fields
    for name, spec in raw.items():
        at = (*where, str(name))
        if name not in MAPPABLE:
            problems.add(at, f"not a mapped field; allowed: {', '.join(MAPPABLE)}")
            continue
        if isinstance(spec, dict):
            try:
                path = _PathSpec.model_validate(spec)
            except ValidationError as exc:
                problems.add_validation(at, exc, _PathSpec)
                continue
            if path.default is not None and (why := _constant(name, path.default)):
                problems.add((*at, "default"), why)
                continue
            fields[name] = PayloadPath.parse(path.path, _value(name, path.default))
            continue
        why = "expected a value or {path: ...}" if spec is None else _constant(name, spec)
        if why is not None:
            problems.add(at, why)
        else:
            fields[name] = _value(name, spec)
    return fields


def _users(raw: dict[str, Any], where: Loc, problems: Problems) -> dict[str, User]:
    users: dict[str, User] = {}
    for key, row in raw.items():
        at = (*where, str(key))
        if not isinstance(key, str) or not key:
            problems.add(at, "user ids are text (quote them) or whole numbers")
            continue
        try:
            user = _User.model_validate(row)
        except ValidationError as exc:
            problems.add_validation(at, exc, _User)
            continue
        users[key] = User(user.annotator_id, user.vendor_id, "vendor_id" in user.model_fields_set)
    return users


def _source(name: str, raw: Any, problems: Problems) -> Source | None:
    where: Loc = ("sources", name)
    if not NAME.match(name):
        problems.add(where, "a source name is 1-64 letters, digits, '.', '_' or '-' (it is a URL)")
    if isinstance(raw, dict) and isinstance(raw.get("users"), dict):
        raw = {**raw, "users": _keyed(raw["users"])}
    entry = None
    try:
        entry = _Source.model_validate(raw)
    except ValidationError as exc:
        problems.add_validation(where, exc, _Source)
    # The map and the users are checked even when the rest is wrong: one run, every problem.
    parts = raw if isinstance(raw, dict) else {}
    raw_map, raw_users = parts.get("map"), parts.get("users")
    fields = _mapping(raw_map, (*where, "map"), problems) if isinstance(raw_map, dict) else {}
    users = _users(raw_users, (*where, "users"), problems) if isinstance(raw_users, dict) else {}
    if entry is None:
        return None
    if entry.type not in SIGNED and entry.secret_env:
        problems.add((*where, "secret_env"), f"{entry.type} signs nothing: use token_env")
    if entry.type not in SIGNED and not entry.token_env:
        problems.add(where, f"{entry.type} signs nothing: token_env is required")
    if entry.type in SIGNED and not (entry.secret_env or entry.token_env):
        problems.add(where, "secret_env (the platform's signing secret) or token_env is required")
    mapping = SourceMapping(fields, users)
    return Source(name, entry.type, entry.token_env, entry.secret_env, entry.rate_limit, mapping)


def _build(data: Any, lines: Lines) -> tuple[Connectors | None, list[str]]:
    problems = Problems(lines)
    for path, key, line in lines.duplicate_keys():
        where = problems.where(path)
        problems.items.append((line, f"line {line}: {where or 'top level'}: duplicate key {key!r}"))
    if not isinstance(data, dict):
        problems.add((), "expected a mapping with `version: 1` and `sources:`")
        return None, problems.sorted()
    try:
        top = _File.model_validate(data)
    except ValidationError as exc:
        problems.add_validation((), exc, _File)
        return None, problems.sorted()
    sources = {}
    for name, raw in top.sources.items():
        source = _source(str(name), raw, problems)
        if source is not None:
            sources[source.name] = source
    clients = {}
    for name, raw in top.clients.items():
        if not NAME.match(str(name)):
            problems.add(("clients", str(name)), "a client name is 1-64 letters, digits, . _ -")
        try:
            client = _Client.model_validate(raw)
        except ValidationError as exc:
            problems.add_validation(("clients", str(name)), exc, _Client)
            continue
        clients[str(name)] = Client(str(name), client.token_env, client.rate_limit)
    if problems.items:
        return None, problems.sorted()
    return Connectors(sources, clients), []


def parse_text(text: str) -> tuple[Connectors | None, list[str]]:
    try:
        root, data = load_bounded(text)
    except YamlTooLarge as exc:
        return None, [f"YAML refused: {exc.problem}"]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        return None, [f"{where}YAML syntax error: {getattr(exc, 'problem', None) or exc}"]
    return _build(data, Lines(root))


def _read(path: Path) -> tuple[str | None, list[str]]:
    try:
        return path.read_text(encoding="utf-8"), []
    except OSError as exc:
        return None, [f"cannot read {path}: {exc.strerror or exc}"]
    except UnicodeDecodeError as exc:
        return None, [f"{path} is not UTF-8: {exc.reason} at byte {exc.start}"]


def load_connectors(path: str | Path) -> Connectors:
    """The connectors file; raises ``ConnectorsError`` with every problem."""
    text, problems = _read(Path(path))
    connectors = None
    if text is not None:
        connectors, problems = parse_text(text)
    if connectors is None:
        raise ConnectorsError(problems, str(path))
    return connectors


def env_problems(connectors: Connectors, env: Mapping[str, str]) -> list[str]:
    """The secrets the file names, as the gateway reads them at start: set, and well formed."""
    problems = [
        f"{where}: {variable} is not set"
        for variable, where in connectors.env_variables()
        if not env.get(variable, "").strip()
    ]
    for source in connectors.sources.values():
        value = env.get(source.secret_env or "", "").strip()
        if value:
            try:
                secret_key(source.type, value)
            except ValueError as exc:
                problems.append(f"sources.{source.name}.secret_env: {source.secret_env}: {exc}")
    return problems
