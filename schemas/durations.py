"""Human durations (``90s``, ``2m``, ``48h``, ``1d`` or plain seconds).

Shared by settings and rule files so both accept exactly the same spelling.
"""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def parse_duration(value: object) -> float:
    """Return seconds; raise ValueError with the accepted forms on anything else."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: expected e.g. 90s, 2m, 48h or seconds")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _PATTERN.match(value)
        if not match:
            raise ValueError(
                f"invalid duration {value!r}: expected e.g. 90s, 2m, 48h, 1d or plain seconds"
            )
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    else:
        raise ValueError(f"invalid duration {value!r}: expected e.g. 90s, 2m, 48h or seconds")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"invalid duration {value!r}: must be finite and not negative")
    return seconds


def format_duration(seconds: float) -> str:
    """Shortest exact spelling, used in docs and summaries."""
    for unit in ("d", "h", "m"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
