"""Silences: label matchers with an expiry, kept in a small YAML file.

A silence mutes notifications, not history: a silenced event is still
published and stored, flagged ``muted_by="silence:<id>"``. Every silence must
expire (``ends_at`` is required) so a forgotten one cannot hide an outage
forever. ``annotel silence add`` writes the file atomically (temp file and
rename) so the worker never reads half a file, under a lock so concurrent adds
all persist, keeping the file's permissions, and through a symlink to its
target.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from schemas.durations import parse_duration
from schemas.units import parse_utc, rfc3339, utc
from schemas.yaml_load import YamlTooLarge, load_bounded


class SilencesError(ValueError):
    """An unreadable or invalid silences file; ``problems`` lists every problem."""

    def __init__(self, problems: Sequence[str], source: str = "silences file") -> None:
        self.problems = list(problems)
        super().__init__(f"invalid {source}:\n  " + "\n  ".join(self.problems))


class Silence(BaseModel):
    """Mutes events whose labels equal every matcher, from ``starts_at`` until ``ends_at``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    id: str = Field(min_length=1)
    matchers: dict[str, str] = Field(min_length=1)
    starts_at: datetime | None = None
    ends_at: datetime
    created_by: str | None = None
    comment: str | None = None

    @field_validator("starts_at", "ends_at", mode="before")
    @classmethod
    def _when(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return parse_utc(value)  # naive times in the file are UTC
            except ValueError:
                raise ValueError(f"invalid time {value!r}: expected ISO 8601") from None
        if isinstance(value, datetime):
            return utc(value)  # a YAML timestamp without an offset is UTC
        return value

    def active(self, now: datetime) -> bool:
        """Expired silences never match; nor do ones that have not started yet."""
        now = utc(now)
        started = self.starts_at is None or self.starts_at <= now
        return started and now < self.ends_at

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(name) == value for name, value in self.matchers.items())

    def to_yaml_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "matchers": dict(self.matchers)}
        if self.starts_at is not None:
            data["starts_at"] = rfc3339(self.starts_at)
        data["ends_at"] = rfc3339(self.ends_at)
        if self.created_by:
            data["created_by"] = self.created_by
        if self.comment:
            data["comment"] = self.comment
        return data


@dataclass(frozen=True)
class Silences:
    """The silences of one file, in file order (the first match names the silence)."""

    items: tuple[Silence, ...] = ()

    def match(self, labels: Mapping[str, str], now: datetime) -> Silence | None:
        for silence in self.items:
            if silence.active(now) and silence.matches(labels):
                return silence
        return None

    def __len__(self) -> int:
        return len(self.items)


def _parse(text: str, source: str) -> Silences:
    try:
        _root, data = load_bounded(text)
    except YamlTooLarge as exc:
        raise SilencesError([f"YAML refused: {exc.problem}"], source) from None
    except yaml.YAMLError as exc:
        raise SilencesError([f"YAML syntax error: {exc}"], source) from None
    if data is None:
        return Silences()
    if not isinstance(data, list):
        raise SilencesError(["expected a list of silences"], source)
    items: list[Silence] = []
    problems: list[str] = []
    seen: set[str] = set()
    for index, raw in enumerate(data):
        try:
            silence = Silence.model_validate(raw)
        except ValidationError as exc:
            for error in exc.errors():
                loc = ".".join(str(part) for part in error["loc"])
                message = str(error["msg"]).removeprefix("Value error, ")
                problems.append(f"[{index}]{'.' + loc if loc else ''}: {message}")
            continue
        if silence.id in seen:
            problems.append(f"[{index}].id: duplicate id {silence.id!r}")
        seen.add(silence.id)
        items.append(silence)
    if problems:
        raise SilencesError(problems, source)
    return Silences(tuple(items))


def load_silences(path: str | Path) -> Silences:
    """The silences in ``path``; a missing file means no silences."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Silences()
    except OSError as exc:
        raise SilencesError([f"cannot read: {exc.strerror or exc}"], str(file)) from None
    return _parse(text, str(file))


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``.<name>.lock`` beside ``target`` (waits for it).

    Serialises concurrent ``annotel silence add`` runs: each reads the file,
    appends, and replaces it inside the lock, so none loses another's silence.
    The lock file stays (removing it would let two writers lock different
    files); readers (the worker) never take it: the replace is atomic for them.
    """
    fd = os.open(target.parent / f".{target.name}.lock", os.O_RDONLY | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _write_atomically(target: Path, text: str) -> None:
    """Write a sibling temp file, fsync it, then rename over ``target``: readers see old or new.

    The new file keeps the old one's permission bits (and, where allowed, its
    owner and group), so a worker running as another user still reads it; a
    new file gets the usual mode for new files (0666 less the umask).
    ``target`` must already be resolved: renaming over a symlink would replace
    the link, not the file it points to.
    """
    try:
        old: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        old = None
    temp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            if old is not None:
                os.fchmod(handle.fileno(), stat.S_IMODE(old.st_mode))
                with contextlib.suppress(OSError):  # only root may give a file away
                    os.fchown(handle.fileno(), old.st_uid, old.st_gid)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)


def dump_silences(silences: Silences) -> str:
    """YAML text of the silences (UTF-8, Chinese kept as is)."""
    return yaml.safe_dump(
        [silence.to_yaml_dict() for silence in silences.items],
        allow_unicode=True,
        sort_keys=False,
    )


def add_silence(
    path: str | Path,
    matchers: Mapping[str, str],
    *,
    duration: float | str | None = None,
    ends_at: datetime | None = None,
    comment: str | None = None,
    created_by: str | None = None,
    now: datetime | None = None,
) -> Silence:
    """Append a silence starting ``now`` and ending after ``duration`` or at ``ends_at``.

    ``duration`` is seconds or a duration string (``2h``).

    Exactly one of ``duration`` and ``ends_at`` is required: a silence without
    an end is how outages get missed.
    """
    if (duration is None) == (ends_at is None):
        raise ValueError("give exactly one of duration and ends_at")
    if not matchers:
        raise ValueError("a silence needs at least one matcher")
    start = utc(now or datetime.now(UTC))
    if duration is not None:
        end = start + timedelta(seconds=parse_duration(duration))
    else:
        assert ends_at is not None
        end = utc(ends_at)
    if end <= start:
        raise ValueError("the silence would end before it starts")
    silence = Silence(
        id=uuid.uuid4().hex[:12],
        matchers=dict(matchers),
        starts_at=start,
        ends_at=end,
        created_by=created_by,
        comment=comment,
    )
    # Through a symlink to the file it names: the link stays, its target is updated.
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target):
        existing = load_silences(target)
        _write_atomically(target, dump_silences(Silences((*existing.items, silence))))
    return silence
