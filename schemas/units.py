"""Values as people read them, and the instants every module passes around.

Why one module: an audit pass rate of 0.953 used to read "95.3%" in Slack,
"95%" in the demo's live view and "95.3 %" in the report. A reader who sees
two spellings of one number wonders whether they are two numbers. Every
receiver, the terminal views, the demo summary and the report render values
here, so the same value reads the same everywhere; and the epoch, the RFC 3339
spelling and the epoch-microsecond arithmetic are defined once.

The spellings chosen, and why:

* Rates: ``95.3%``, one decimal, no space. It is how both our readerships
  write a percentage: English style guides (Chicago, AP, the Microsoft style
  guide) and Chinese publishing practice (GB/T 15835-2011, 出版物上数字用法,
  writes 95.3%) put the sign straight after the number; a space inside
  Chinese text reads as a gap (``审核通过率 95.3 %``). ISO 80000-1 asks for a
  space, a convention of scientific typesetting few of our readers meet. No
  space also means a line never wraps between the number and its sign (HTML,
  Slack), and it is what ``{value:.1%}`` gives in a rule's own annotation
  template, so the rule author's text and ours agree. One decimal: 95.3% and
  94.6% are different verdicts against a 95% SLA, and whole percents hid that.
* Durations: ``42.5s``, ``6m 05s``, ``2h 10m``, ``2d 4h``, the unit letters
  settings and rules accept (``90s``, ``2m``, ``48h``), also without a space.
  A configured length (a rule's window, a setting's default) is echoed in the
  spelling that configures it instead (``schemas.durations.format_duration``:
  ``90s``, ``15m``), so it can be copied back into a rules file.
* Counts: ``12,345``: thousands separated by commas, as both readerships
  write them in tables.
* Times: RFC 3339 in UTC with ``Z`` where a program reads them
  (``2026-11-23T08:00:00Z``); ``2026-11-23 08:00 UTC`` and ``08:00`` where a
  person does, always saying UTC once.
* A missing value (a rate with no samples) is ``no data``, never a dash or
  ``n/a`` that could be taken for zero or an error.

Pure and dependency-free: ``schemas`` imports nothing else of the project, and
every package may import this one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal, overload

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NO_DATA = "no data"

_US = timedelta(microseconds=1)
TimeSpec = Literal["auto", "seconds", "milliseconds", "microseconds"]


# -- instants ------------------------------------------------------------------------------


def epoch_us(moment: datetime) -> int:
    """Exact microseconds since the epoch (no float rounding) of an aware datetime."""
    return (moment - EPOCH) // _US


def from_epoch_us(micros: int) -> datetime:
    """The aware UTC instant ``micros`` microseconds after the epoch, exactly."""
    return EPOCH + timedelta(microseconds=micros)


def from_epoch_s(seconds: float) -> datetime:
    """The aware UTC instant of a Unix timestamp in seconds."""
    return datetime.fromtimestamp(seconds, UTC)


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive value is taken to be UTC already (ClickHouse, YAML)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@overload
def rfc3339(moment: datetime, timespec: TimeSpec = "auto") -> str: ...
@overload
def rfc3339(moment: None, timespec: TimeSpec = "auto") -> None: ...
def rfc3339(moment: datetime | None, timespec: TimeSpec = "auto") -> str | None:
    """UTC with a ``Z`` suffix, the spelling Alertmanager, PagerDuty and JSON readers parse.

    ``None`` passes through, for optional fields (an alert that has not ended).
    """
    if moment is None:
        return None
    return utc(moment).isoformat(timespec=timespec).replace("+00:00", "Z")


def parse_utc(text: str) -> datetime:
    """ISO 8601 / RFC 3339 text (``Z`` or an offset; naive means UTC) as an aware UTC datetime.

    For times this project wrote or a person typed; events from feeds go
    through the contract's stricter ``schemas.events.parse_rfc3339``.
    """
    return utc(datetime.fromisoformat(text))


# -- times for people ----------------------------------------------------------------------


def hhmm(moment: datetime) -> str:
    """``08:15``: the minute in UTC, where the line already says UTC or the day."""
    return f"{utc(moment):%H:%M}"


def when(moment: datetime | None) -> str:
    """``2026-11-23 08:15 UTC``."""
    if moment is None:
        return NO_DATA
    return f"{utc(moment):%Y-%m-%d %H:%M} UTC"


def interval(start: datetime, end: datetime) -> str:
    """``2026-11-23 08:00–08:15 UTC``; the end's date is written only when it differs."""
    start, end = utc(start), utc(end)
    end_text = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M}"
    return f"{start:%Y-%m-%d %H:%M}–{end_text} UTC"


# -- numbers -------------------------------------------------------------------------------


def percent(value: float | None, digits: int = 1) -> str:
    """A share of 0-1 as ``95.3%`` (``digits`` decimals; axis ticks use 0)."""
    if value is None:
        return NO_DATA
    return f"{value * 100:.{digits}f}%"


def points(delta: float) -> str:
    """A difference of two rates in percentage points, signed: ``+3.1 pp``."""
    return f"{delta * 100:+.1f} pp"


def change(ratio: float) -> str:
    """A relative change, signed, in whole percents: ``+12%`` (``ratio`` 0.12)."""
    return f"{ratio * 100:+.0f}%"


def count(value: float | None) -> str:
    """A count with thousands separators: ``12,345``."""
    if value is None:
        return NO_DATA
    if isinstance(value, int):
        return f"{value:,}"  # exact, whatever its size
    return f"{value:,.0f}"


def number(value: float | None) -> str:
    """A measure without a unit of its own (a mean audit score, a meta-alert's count):
    four significant digits (``0.8765``, ``12.5``, ``3``), whole and separated from 1,000."""
    if value is None:
        return NO_DATA
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"


def per_hour(value: float | None) -> str:
    """A rate per hour (throughput): one decimal below 100 (``56.2``), whole above (``1,056``)."""
    if value is None:
        return NO_DATA
    return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"


def duration(seconds: float | None) -> str:
    """A measured length: ``42.5s``, ``6m 05s``, ``2h 10m``, ``2d 4h`` (zero tails left out).

    Below a minute tenths of a second matter (handle times); above, whole
    seconds, then whole minutes (rounded down), then hours.
    """
    if seconds is None:
        return NO_DATA
    if abs(round(seconds, 1)) < 60:
        return f"{seconds:.1f}s"
    total = round(seconds)
    if total < 3600:
        minutes, secs = divmod(total, 60)
        return f"{minutes}m {secs:02d}s" if secs else f"{minutes}m"
    hours, minutes = divmod(total // 60, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


THROUGHPUT_METRIC = "throughput_per_hour"  # schemas.metrics.throughput_rate's name


def metric_value(metric: str, value: float | None) -> str:
    """A rule or report metric in its unit, by the naming rule of ``schemas.metrics``:
    ``*_rate`` and ``*_accuracy`` are shares, ``*_s`` seconds, throughput tasks per hour."""
    if value is None:
        return NO_DATA
    if metric == THROUGHPUT_METRIC:
        return f"{per_hour(value)} tasks/h"
    if metric.endswith(("_rate", "_accuracy")):
        return percent(value)
    if metric.endswith("_s"):
        return duration(value)
    return number(value)
