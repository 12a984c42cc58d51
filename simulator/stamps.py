"""Event times as the feeds write them: RFC 3339 in the project's own offset.

Every line carries one or two timestamps, so they are written by hand from
cached prefixes (``datetime`` formatting is several times slower). A project
writes milliseconds or whole seconds, ``Z`` or ``+08:00`` (``Project.millis``,
``Project.suffix``): the worker's decoder must read every style.
"""

from __future__ import annotations

from datetime import timedelta

from schemas.units import EPOCH
from simulator.world import Project


class Stamps:
    """The formatter of one run, with its caches (bounded: cleared past 200,000 entries)."""

    def __init__(self) -> None:
        self.seconds: dict[int, str] = {}  # local second -> "YYYY-MM-DDTHH:MM:SS"
        self.prefixes: dict[int, str] = {}  # local minute -> "YYYY-MM-DDTHH:MM:"
        self.minutes: dict[int, str] = {}  # local minute and style -> full timestamp

    def fmt(self, ts: float, project: Project) -> str:
        """RFC 3339 in the project's offset, by hand (datetime is several times slower)."""
        if project.millis:
            sec, frac = divmod(int(ts * 1000), 1000)
        else:
            sec, frac = int(ts), -1
        local = sec + project.utc_offset_s
        text = self.seconds.get(local)
        if text is None:
            if len(self.seconds) > 200_000:
                self.seconds.clear()
                self.prefixes.clear()
            minute, second = divmod(local, 60)
            prefix = self.prefixes.get(minute)
            if prefix is None:
                stamp = EPOCH + timedelta(minutes=minute)
                prefix = self.prefixes[minute] = stamp.strftime("%Y-%m-%dT%H:%M:")
            text = self.seconds[local] = f"{prefix}{second:02d}"
        if frac < 0:
            return text + project.suffix
        return f"{text}.{frac:03d}{project.suffix}"

    def fmt_minute(self, ts: float, project: Project) -> str:
        """The start of the minute of ``ts`` (tasks are created in batch uploads)."""
        local = int(ts) // 60 + project.utc_offset_s // 60
        key = local * 2 + project.millis  # the same minute may be written two ways
        text = self.minutes.get(key)
        if text is None:
            if len(self.minutes) > 200_000:
                self.minutes.clear()
            stamp = (EPOCH + timedelta(minutes=local)).strftime("%Y-%m-%dT%H:%M:00")
            text = self.minutes[key] = stamp + (".000" if project.millis else "") + project.suffix
        return text
