"""How names and tables read in the reports (HTML, Markdown, terminal).

Numbers and times are spelt by ``schemas.units``, the one formatter every
output shares; this module holds what only the reports show: the names of
the in-house team and of machine labels, and aligned plain-text tables.
"""

from __future__ import annotations

import unicodedata

from schemas.display import visible

IN_HOUSE = "(in-house)"
MACHINE = "(machine labels)"
NONE = "–"  # nothing to name (a vendor without error categories); a missing number is NO_DATA


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
