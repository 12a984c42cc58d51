"""Text the receivers' messages share: comparisons, windows, summaries, links.

No I/O and no configuration lookups here. Each receiver kind
(``alerts.receivers``) builds its own payload from these pieces; values and
times are spelt by ``schemas.units``, so the same value reads the same in
Slack, PagerDuty, the terminal and the report.
"""

from __future__ import annotations

from collections.abc import Mapping

from alerts.model import (
    IN_HOUSE,
    IN_HOUSE_DIMENSION,
    NO_DATA_REASON,
    AlertEvent,
    Contributor,
    display_scope,
)
from schemas.durations import format_duration
from schemas.units import interval, metric_value, percent, when


def truncate(text: str, limit: int) -> str:
    """Cut by characters (never inside a code point, so Chinese stays intact)."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def comparison(event: AlertEvent) -> str:
    """Value against threshold, both as people read them, with the rule's operator if known."""
    value = metric_value(event.metric, event.value)
    threshold = metric_value(event.metric, event.threshold)
    op = event.extra.get("op")
    if isinstance(op, str) and op:
        return f"{value} {op} {threshold} (threshold)"
    return f"{value} (threshold {threshold})"


def _scope_text(scope: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in scope.items()) or "all"


def window_text(event: AlertEvent) -> str:
    """The rule window in UTC with its length: which stretch of work the alert judged."""
    length = format_duration((event.window_end - event.window_start).total_seconds())
    return f"{interval(event.window_start, event.window_end)} ({length})"


def summary(event: AlertEvent) -> str:
    """The rule's rendered ``summary`` annotation, or one built from the event itself."""
    given = event.annotations.get("summary", "").strip()
    if given:
        return given
    state = "resolved" if event.status == "resolved" else "firing"
    scope = _scope_text(display_scope(event.scope, IN_HOUSE))
    return f"{event.rule} {state}: {event.metric} {comparison(event)} for {scope}"


def link_safe(url: str) -> bool:
    """An http(s) URL that cannot break out of Slack's ``<url|label>`` (templates take ids)."""
    return (
        url.startswith(("https://", "http://"))
        and url.isprintable()
        and not any(char in url for char in "|<> ")
    )


def no_data_line(event: AlertEvent, since: str | None = None, language: str = "en") -> str | None:
    """Why a resolve is not a recovery: the scope stopped sending data (``no_data``).

    ``since`` is the start of the first window without data as the receiver
    spells times (UTC by default). None for any other event.
    """
    if event.resolved_reason != NO_DATA_REASON:
        return None
    moment = since or when(event.ends_at or event.window_end)
    if language == "zh":
        return f"因无数据而恢复：自 {moment} 起没有足够的数据，问题未必已解决"
    return f"Resolved for lack of data: not enough data since {moment}; not necessarily fixed"


_CONTRIBUTORS = {
    "en": "Largest contributors by {dim}: {items}",
    "zh": "主要影响（按 {dim}）：{items}",
}


def _contributor(metric: str, item: Contributor, in_house: str) -> str:
    name = item.value or (in_house if item.dimension == IN_HOUSE_DIMENSION else '""')
    if item.count is not None:
        amount = str(item.count)
    elif item.delta is not None:
        sign = "+" if item.delta >= 0 else "−"
        amount = sign + metric_value(metric, abs(item.delta))
    else:
        amount = ""
    share = f" ({percent(item.share)})" if item.share is not None else ""
    return f"{name} {amount}{share}".strip()


def explanation_lines(
    event: AlertEvent, language: str = "en", in_house: str = IN_HOUSE
) -> list[str]:
    """One line per breakdown dimension: who or what drove the breach, largest first.

    Counts are the bad side of a rate (audits not approved, missed gold
    answers) with their share of the scope's total; a measured value shows how
    far each member moved it, and its share of the breach.
    """
    by_dim: dict[str, list[str]] = {}
    for item in event.explanation:
        by_dim.setdefault(item.dimension, []).append(_contributor(event.metric, item, in_house))
    template = _CONTRIBUTORS["zh" if language == "zh" else "en"]
    separator = "，" if language == "zh" else ", "
    return [template.format(dim=dim, items=separator.join(items)) for dim, items in by_dim.items()]
