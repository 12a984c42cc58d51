"""A digest as people read it: one title and a list, the same words in every receiver.

Each kind (``alerts.receivers``) wraps this text in its own message shape
(a Slack text, a Feishu card, an email); the list is what the manager acts on,
so it is cut at the end, with a line saying how many were left out, when a
platform's message limit is reached.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from alerts.digest import FIRED, RESOLVED, STILL_FIRING, Digest
from alerts.formats import comparison
from alerts.model import IN_HOUSE, IN_HOUSE_ZH, NO_DATA_REASON, AlertEvent, display_scope

_HEADINGS = {
    "en": {FIRED: "Fired", STILL_FIRING: "Still firing", RESOLVED: "Resolved"},
    "zh": {FIRED: "新触发", STILL_FIRING: "仍在触发", RESOLVED: "已恢复"},
}
_NO_DATA = {"en": "resolved for lack of data", "zh": "因无数据而恢复"}
_MORE = {"en": "… and {n} more", "zh": "…… 另有 {n} 条"}


def in_house_name(configured: str | None, language: str) -> str:
    """The receiver's name for the in-house team, by default in its language."""
    return configured or (IN_HOUSE_ZH if language == "zh" else IN_HOUSE)


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return f"{moment.astimezone(tz):%Y-%m-%d %H:%M}"


def digest_title(digest: Digest, language: str = "en", tz: ZoneInfo | None = None) -> str:
    """Counts per section and the period, in the receiver's time zone (UTC by default)."""
    zone = tz or ZoneInfo("UTC")
    period = f"{_local(digest.period_start, zone)} – {_local(digest.period_end, zone)} {zone.key}"
    counts = [len(events) for _, events in digest.sections()]
    if language == "zh":
        return (
            f"{digest.receiver} 摘要：新触发 {counts[0]}，仍在触发 {counts[1]}，"
            f"已恢复 {counts[2]}（{period}）"
        )
    return (
        f"Digest for {digest.receiver}: {counts[0]} fired, {counts[1]} still firing, "
        f"{counts[2]} resolved ({period})"
    )


def digest_line(event: AlertEvent, language: str = "en", in_house: str = IN_HOUSE) -> str:
    """One alert: severity, rule, its scope, the value of the window that decided it."""
    scope = ", ".join(f"{k}={v}" for k, v in display_scope(event.scope, in_house).items())
    line = f"[{event.severity}] {event.rule} · {scope or 'all'} · {comparison(event)}"
    if event.resolved_reason == NO_DATA_REASON:
        line += f" ({_NO_DATA['zh' if language == 'zh' else 'en']})"
    return line


def digest_sections(
    digest: Digest, language: str = "en", in_house: str = IN_HOUSE
) -> list[tuple[str, list[str]]]:
    """(heading, lines) of the non-empty sections, in the digest's order (worst first)."""
    headings = _HEADINGS["zh" if language == "zh" else "en"]
    return [
        (headings[name], [digest_line(e, language, in_house) for e in events])
        for name, events in digest.sections()
        if events
    ]


def digest_body(
    digest: Digest,
    language: str = "en",
    in_house: str = IN_HOUSE,
    *,
    limit: int = 100_000,
    heading: str = "{}",
    item: str = "- {}",
) -> str:
    """The list as text, at most ``limit`` UTF-8 bytes: headings and items in the given
    markup, and a last line counting the items that did not fit."""
    more = _MORE["zh" if language == "zh" else "en"]
    lines: list[str] = []
    size = 0
    total = sum(len(events) for _, events in digest.sections())
    shown = 0
    for title, items in digest_sections(digest, language, in_house):
        candidates = [heading.format(title)] + [item.format(text) for text in items]
        for position, text in enumerate(candidates):
            cost = len(text.encode()) + 1
            reserve = len(more.format(n=total).encode()) + 1
            if size + cost + reserve > limit:
                lines.append(more.format(n=total - shown))
                return "\n".join(lines)
            lines.append(text)
            size += cost
            shown += position > 0
    return "\n".join(lines)
