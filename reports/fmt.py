"""How numbers, times and names read in the reports (HTML, Markdown, terminal)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from schemas.display import visible
from schemas.durations import format_duration

IN_HOUSE = "(in-house)"
MACHINE = "(machine labels)"
NA = "–"


def pct(value: float | None, digits: int = 1) -> str:
    return NA if value is None else f"{value * 100:.{digits}f} %"


def pp(delta: float) -> str:
    """A difference of two rates, in percentage points, with its sign."""
    return f"{delta * 100:+.1f} pp"


def signed_pct(ratio: float) -> str:
    return f"{ratio * 100:+.0f} %"


def num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return NA
    return f"{value:,.{digits}f}"


def seconds(value: float | None) -> str:
    """Handle times: ``42.5 s``, ``6 m 05 s``, ``2 h 10 m``."""
    if value is None:
        return NA
    if value < 100:
        return f"{value:.1f} s"
    if value < 3600:
        minutes, secs = divmod(round(value), 60)
        return f"{minutes} m {secs:02d} s"
    hours, rest = divmod(round(value), 3600)
    return f"{hours} h {rest // 60:02d} m"


def duration(value: float) -> str:
    """Lengths of incidents and periods: ``45m``, ``3h 20m``, ``2d 4h``."""
    total = round(value)
    if total < 60:
        return f"{total}s"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def window(seconds_: float) -> str:
    return format_duration(seconds_)


def when(moment: datetime | None) -> str:
    if moment is None:
        return NA
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def vendor(vendor_id: str, machine: bool = False) -> str:
    if machine:
        return MACHINE
    return vendor_id or IN_HOUSE


def text_width(text: str) -> int:
    """Terminal columns: East Asian wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int, right: bool = False) -> str:
    fill = " " * max(0, width - text_width(text))
    return fill + text if right else text + fill


def table(headers: list[str], rows: list[list[str]], right: set[int] | None = None) -> str:
    """A plain-text table aligned for terminals (CJK-aware).

    Cells are made ``visible`` before they are measured: a control or bidi
    character in an id is shown as its escape, and the columns still line up.
    """
    right = right or set()
    headers = [visible(h) for h in headers]
    rows = [[visible(cell) for cell in row] for row in rows]
    widths = [text_width(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], text_width(cell))
    lines = [
        "  ".join(pad(h, widths[i], i in right) for i, h in enumerate(headers)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    for row in rows:
        lines.append(
            "  ".join(pad(cell, widths[i], i in right) for i, cell in enumerate(row)).rstrip()
        )
    return "\n".join(lines)
