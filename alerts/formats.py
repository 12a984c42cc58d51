"""Text the receivers' messages share: values as people read them, windows, summaries.

No I/O and no configuration lookups here. Each receiver kind
(``alerts.receivers``) builds its own payload from these pieces, so the same
value reads the same in Slack and PagerDuty.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from alerts.model import AlertEvent
from schemas.durations import format_duration


def rfc3339(moment: datetime) -> str:
    """UTC with a ``Z`` suffix: the spelling Alertmanager and PagerDuty both parse."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def truncate(text: str, limit: int) -> str:
    """Cut by characters (never inside a code point, so Chinese stays intact)."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def format_value(metric: str, value: float | None) -> str:
    """Show a value the way a program manager reads it: rates as %, seconds as durations."""
    if value is None:
        return "no data"
    if metric.endswith(("_rate", "_accuracy")):
        return f"{value * 100:.1f}%"
    if metric.endswith("_s"):
        if value >= 60:
            minutes, seconds = divmod(round(value), 60)
            hours, minutes = divmod(minutes, 60)
            if hours:
                return f"{hours}h {minutes:02d}m"
            return f"{minutes}m {seconds:02d}s"
        return f"{value:.1f}s"
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"


def comparison(event: AlertEvent) -> str:
    """Value against threshold, both as people read them, with the rule's operator if known."""
    value = format_value(event.metric, event.value)
    threshold = format_value(event.metric, event.threshold)
    op = event.extra.get("op")
    if isinstance(op, str) and op:
        return f"{value} {op} {threshold} (threshold)"
    return f"{value} (threshold {threshold})"


def _scope_text(scope: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in scope.items()) or "all"


def window_text(event: AlertEvent) -> str:
    """The rule window in UTC with its length: which stretch of work the alert judged."""
    start = event.window_start.astimezone(UTC)
    end = event.window_end.astimezone(UTC)
    length = format_duration((end - start).total_seconds())
    end_text = (
        end.strftime("%H:%M") if end.date() == start.date() else end.strftime("%Y-%m-%d %H:%M")
    )
    return f"{start:%Y-%m-%d %H:%M}–{end_text} UTC ({length})"


def summary(event: AlertEvent) -> str:
    """The rule's rendered ``summary`` annotation, or one built from the event itself."""
    given = event.annotations.get("summary", "").strip()
    if given:
        return given
    state = "resolved" if event.status == "resolved" else "firing"
    return (
        f"{event.rule} {state}: {event.metric} {comparison(event)} for {_scope_text(event.scope)}"
    )


def link_safe(url: str) -> bool:
    """An http(s) URL that cannot break out of Slack's ``<url|label>`` (templates take ids)."""
    return (
        url.startswith(("https://", "http://"))
        and url.isprintable()
        and not any(char in url for char in "|<> ")
    )
