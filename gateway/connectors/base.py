"""What every connector shares: the mapping of what platforms do not send, ids and times.

A connector is a pure function from one platform delivery (its parsed JSON
body, its headers, the moment it arrived) to contract events as plain JSON
objects. The gateway then judges each object with the contract's own decoder,
exactly as a line of ``annotel ingest``: a connector never validates the
contract itself, it only says what the platform said.

Platforms do not send everything the contract has (vendor, locale, queue
...); a source's mapping (``Mapping``, from the connectors file) gives those
as constants, as paths into the delivery (``task.data.queue``), or through
its ``users`` table (platform user id -> annotator id and vendor). Without a
mapping, ``project_id`` is the platform's project id, ``queue_id`` the same,
``vendor_id`` in-house and ``locale`` ``und``.

Ids are strings in the contract. A platform's numeric id is written in
decimal digits, exactly (the body is parsed with arbitrary-precision
integers, never through a float), and ``event_id``s are built from the
platform's entity ids and version stamps (``event_id``), so the same
delivery posted twice yields the same events: the worker's deduplication
makes the second a duplicate instead of a second count.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.units import epoch_us, rfc3339, utc

# Fields a source's mapping may set, and what a value of each must be.
MAPPABLE: dict[str, str] = {
    "project_id": "id",
    "queue_id": "id",
    "vendor_id": "id",
    "annotator_id": "id",
    "auditor_id": "id",
    "locale": "text",
    "task_type": "text",
    "tags": "list",
    "handle_time_s": "number",
    "gold_correct": "bool",
}
MAX_EVENT_ID = 128


@dataclass(frozen=True, slots=True)
class PayloadPath:
    """A dotted path into the delivery (``task.data.queue``); ``default`` when it is absent."""

    parts: tuple[str, ...]
    default: Any = None

    @classmethod
    def parse(cls, text: str, default: Any = None) -> PayloadPath:
        return cls(tuple(text.split(".")), default)

    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True)
class User:
    """Who a platform user is here; ``vendor_id`` None is in-house, absent keeps the mapping's."""

    annotator_id: str | None = None
    vendor_id: str | None = None
    has_vendor: bool = False


@dataclass(frozen=True)
class SourceMapping:
    """A source's mapping: field -> constant or ``PayloadPath``; the users table."""

    fields: Mapping[str, Any] = field(default_factory=dict)
    users: Mapping[str, User] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook request as a connector sees it."""

    body: Any
    headers: Mapping[str, str]  # lower-case names
    received_at: datetime
    source: str


@dataclass(frozen=True, slots=True)
class Ignored:
    """A part of a delivery that is no work to count (a draft, a ping, a project edit)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Unmappable:
    """A part of a delivery that parses but cannot become contract events; the message says why."""

    message: str


Item = dict[str, Any] | Ignored | Unmappable
Connector = Callable[[Delivery, SourceMapping], list[Item]]


class Unmapped(Exception):
    """Raised while mapping one item; the connector turns it into ``Unmappable``."""


# -- reading the delivery ---------------------------------------------------------------


def at_path(view: Any, parts: Sequence[str]) -> Any:
    """The value at a dotted path, or None; a list is indexed by a decimal segment."""
    node = view
    for part in parts:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
        if node is None:
            return None
    return node


def obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Unmapped(f"{what}: expected an object, got {_kind(value)}")
    return value


def objects(value: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise Unmapped(f"{what}: expected a list of objects")
    return value


def ident(value: Any, what: str) -> str:
    """A platform id as contract text: strings as they are, integers in exact decimal."""
    if isinstance(value, bool) or value is None:
        raise Unmapped(f"{what}: missing or not an id ({_kind(value)})")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        raise Unmapped(f"{what}: {value!r} is not an integer id")
    if isinstance(value, str) and value:
        return value
    raise Unmapped(f"{what}: missing or not an id ({_kind(value)})")


def instant(value: Any, what: str) -> datetime:
    """A platform timestamp: ISO 8601 with ``Z`` or an offset; without one it is UTC."""
    if not isinstance(value, str):
        raise Unmapped(f"{what}: missing or not a timestamp ({_kind(value)})")
    try:
        return utc(datetime.fromisoformat(value))
    except ValueError:
        raise Unmapped(f"{what}: {value[:40]!r} is not an ISO 8601 timestamp") from None
    except OverflowError:  # a valid local time whose UTC falls outside years 1-9999
        raise Unmapped(f"{what}: {value[:40]!r} is out of range in UTC") from None


def seconds(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unmapped(f"{what}: not a number of seconds ({_kind(value)})")
    return float(value)


def stamp(moment: datetime) -> str:
    """A version stamp for event ids: the instant in whole microseconds since the epoch."""
    return str(epoch_us(moment))


def digest(value: Any) -> str:
    """A short stable digest of a JSON value, for a version without a timestamp."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def event_id(*parts: str) -> str:
    """``prefix:part:part``; ids too long for the contract are shortened to a digest."""
    text = ":".join(parts)
    if len(text) <= MAX_EVENT_ID:
        return text
    return f"{parts[0]}:sha256:{hashlib.sha256(text.encode()).hexdigest()}"


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "an object", list: "a list", str: "text", bool: "a boolean"}.get(
        type(value), "a number"
    )


# -- building events --------------------------------------------------------------------


@dataclass
class Mapper:
    """Resolves the mapped fields of one item against its ``view`` (what paths read)."""

    mapping: SourceMapping
    view: Any

    def field(self, name: str, platform: Any = None) -> Any:
        """The mapped value of ``name``, else what the platform said (``platform``)."""
        spec = self.mapping.fields.get(name)
        if spec is None:
            return platform
        if isinstance(spec, PayloadPath):
            found = at_path(self.view, spec.parts)
            value = spec.default if found is None else found
            if value is None:
                return platform
            return _typed(name, value, f"map.{name} (path {spec.text()})")
        return spec

    def user(self, platform_id: str | None, *aliases: str | None) -> tuple[str | None, Any]:
        """(annotator id, vendor) of a platform user; vendor ``...`` means "not set here".

        The users table is keyed by the platform's user id, or by one of its
        ``aliases`` (a user name, an email) where the platform sends them.
        """
        if platform_id is None:
            return None, ...
        for key in (platform_id, *aliases):
            row = self.mapping.users.get(key) if key is not None else None
            if row is not None:
                vendor = row.vendor_id if row.has_vendor else ...
                return row.annotator_id or platform_id, vendor
        return platform_id, ...

    def person(
        self, role: str, platform_id: str | None, *aliases: str | None
    ) -> tuple[str, str | None]:
        """The annotator (or auditor) id and the vendor of the person in ``role``."""
        who, vendor = self.user(platform_id, *aliases)
        mapped = self.field(role)
        if mapped is not None:
            who = mapped
        if who is None:
            raise Unmapped(f"{role}: the delivery names nobody; map {role} in the connectors file")
        if vendor is ...:
            vendor = self.field("vendor_id")
        return str(who), vendor

    def common(
        self,
        event_type: str,
        *,
        event_id: str,
        occurred_at: datetime,
        project: str | None,
        revision: int = 1,
    ) -> dict[str, Any]:
        """The fields every event has; ``project`` is the platform's project id, if any."""
        project_id = self.field("project_id", project)
        if project_id is None:
            raise Unmapped("project_id: the delivery names no project; map project_id")
        return {
            "event_type": event_type,
            "schema_version": 1,
            "event_id": event_id,
            "occurred_at": rfc3339(occurred_at),
            "project_id": project_id,
            "queue_id": self.field("queue_id", project or project_id),
            "locale": self.field("locale", "und"),
            "revision": revision,
        }

    def completion(
        self,
        common: dict[str, Any],
        *,
        task: str,
        annotator: str | None,
        annotator_aliases: tuple[str | None, ...] = (),
        status: str,
        handle_time_s: float | None,
        submission: str,
        task_created_at: datetime | None = None,
        is_gold: bool = False,
        source: str = "human",
    ) -> dict[str, Any]:
        annotator_id, vendor = self.person("annotator_id", annotator, *annotator_aliases)
        handle = self.field("handle_time_s", handle_time_s)
        if handle is None and status == "submitted":
            handle = 0.0  # the platform does not measure it (docs/gateway.md)
        event = {
            **common,
            "task_id": task,
            "annotator_id": annotator_id,
            "vendor_id": vendor,
            "source": source,
            "status": status,
            "submission_id": submission,
            "task_type": self.field("task_type"),
            "tags": self.field("tags", []),
        }
        if handle is not None:
            event["handle_time_s"] = handle
        if task_created_at is not None:
            event["task_created_at"] = rfc3339(task_created_at)
        if is_gold:
            event["is_gold"] = True
            correct = self.field("gold_correct")
            if correct is None and status == "submitted":
                raise Unmapped(
                    "gold_correct: the platform marks this work as gold (ground truth) but "
                    "does not say whether it was right; map gold_correct in the connectors file"
                )
            event["gold_correct"] = correct
        return event

    def audit(
        self,
        common: dict[str, Any],
        *,
        task: str,
        annotator: str | None,
        auditor: str | None,
        verdict: str,
        annotator_aliases: tuple[str | None, ...] = (),
        auditor_aliases: tuple[str | None, ...] = (),
        audit_time_s: float | None = None,
        source: str = "human",
    ) -> dict[str, Any]:
        annotator_id, vendor = self.person("annotator_id", annotator, *annotator_aliases)
        auditor_id, _vendor = self.person("auditor_id", auditor, *auditor_aliases)
        event = {
            **common,
            "task_id": task,
            "annotator_id": annotator_id,
            "vendor_id": vendor,
            "source": source,
            "auditor_id": auditor_id,
            "verdict": verdict,
        }
        if audit_time_s is not None:
            event["audit_time_s"] = audit_time_s
        return event

    def retraction(self, common: dict[str, Any], **identity: str) -> dict[str, Any]:
        """What identifies the withdrawn piece of work, marked ``retracted``."""
        event = {k: v for k, v in common.items() if k not in ("queue_id", "locale")}
        return {**event, **identity, "retracted": True}


def _typed(name: str, value: Any, where: str) -> Any:
    """A value read from the delivery, checked against what its field takes."""
    kind = MAPPABLE[name]
    if kind == "id":
        return ident(value, where)
    if kind == "text":
        if not isinstance(value, str):
            raise Unmapped(f"{where}: expected text, got {_kind(value)}")
        return value
    if kind == "list":
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Unmapped(f"{where}: expected a list of text")
        return value
    if kind == "number":
        return seconds(value, where)
    if not isinstance(value, bool):
        raise Unmapped(f"{where}: expected true or false, got {_kind(value)}")
    return value


def each(parts: Sequence[Any], build: Callable[[Any], Item | list[Item]]) -> list[Item]:
    """``build`` per part of a delivery; a part that cannot be mapped becomes ``Unmappable``."""
    out: list[Item] = []
    for part in parts:
        try:
            built = build(part)
        except Unmapped as exc:
            out.append(Unmappable(str(exc)))
            continue
        out.extend(built if isinstance(built, list) else [built])
    return out
