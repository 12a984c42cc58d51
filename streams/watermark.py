"""When windows close: the watermark policy, in one place. Pure: no I/O, no clock of its own.

A partition's watermark is its newest event time (its *base*) minus the
allowed lateness; a window ``[s, s+60)`` is closed once the watermark reaches
``s+60``, and an event older than the watermark minus the retention is
``too_late``. The rules here decide how the base moves (per input topic, with
the clock when idle and live) and when a partition stops holding the global
alerting watermark. ``PartitionState`` keeps the values and applies these
decisions; the processor asks for the inputs they need (high-water marks,
the clock). docs/architecture.md, *The watermark*, tells the story.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping

from schemas.metrics import WINDOW_SECONDS
from streams.windows import MINUTE_US


def watermark_of(base_us: int | None, lateness_us: int) -> int | None:
    """The watermark of a partition whose newest event time (its base) is ``base_us``."""
    return None if base_us is None else base_us - lateness_us


def horizon_of(watermark_us: int | None, retention_us: int) -> int | None:
    """Events older than this are beyond the retention horizon (too_late)."""
    return None if watermark_us is None else watermark_us - retention_us


def too_late_behind(lateness_us: int, retention_us: int) -> int:
    """How far behind the base an event is ``too_late`` (the per-event check inlines it)."""
    return lateness_us + retention_us


def behind(
    input_topics: Iterable[str],
    offsets: Mapping[str, int],
    highwater: Callable[[str], int | None] | None,
    live: bool,
) -> list[str]:
    """Input topics of a partition with unread messages (they hold the watermark).

    An unknown high-water mark counts as behind in a bounded replay (we
    cannot know yet) and as caught up live (a live watermark must not
    hang on a partition the consumer has not fetched).
    """
    if highwater is None:
        return []
    lagging = []
    for topic in input_topics:
        mark = highwater(topic)
        if mark is None:
            if not live:
                lagging.append(topic)
        elif offsets.get(topic, 0) < mark:
            lagging.append(topic)
    return lagging


def moved_base(
    base_us: int | None, topic_max: Mapping[str, int], behind: Collection[str] = ()
) -> int | None:
    """The new base from what each input topic has shown so far; None: it stays.

    Both input topics share a partition's state but are read at different
    speeds. A topic still ``behind`` its high-water mark holds the watermark
    at its own newest event time (its backlog may hold older events than the
    other topic shows); a behind topic with nothing read yet holds it where it
    is. Caught-up topics hold nothing: their next events are as new as
    anything seen. Without this, a fast topic would close windows a lagging
    topic is still filling and turn its events into corrections. The base
    never moves back.
    """
    if not topic_max:
        return None
    if any(topic not in topic_max for topic in behind):
        return None
    lagging = [topic_max[topic] for topic in behind]
    candidate = min(lagging) if lagging else max(topic_max.values())
    if base_us is None or candidate > base_us:
        return candidate
    return None


def close_target(
    closed_before: int, watermark_us: int | None, newest_open: int | None = None
) -> int:
    """Window starts below the returned one are closed (epoch s); it never moves back.

    ``newest_open``: the newest minute held open, when the input is drained
    and every window closes.
    """
    target = closed_before
    if watermark_us is not None:
        target = max(target, watermark_us // MINUTE_US * WINDOW_SECONDS)
    if newest_open is not None:
        target = max(target, newest_open + WINDOW_SECONDS)
    return target


def follows_clock(
    base_us: int | None, now_us: int, quiet_s: float, idle_timeout_s: float, lateness_us: int
) -> bool:
    """Whether a live partition's base may move to the wall clock ``now_us``.

    Only once the partition has been quiet for the idle timeout, and only when
    its newest event time is within lateness + idle timeout of the wall clock
    (and behind it): replayed history never gets its windows closed (or its
    events turned into too_late) by the clock.
    """
    if quiet_s < idle_timeout_s:
        return False
    threshold_us = lateness_us + int(idle_timeout_s * 1_000_000)
    if base_us is None or now_us - base_us > threshold_us:
        return False
    return now_us > base_us


def idle(
    behind: Collection[str],
    topic_max: Mapping[str, int],
    closed_before: int,
    quiet_s: float,
    live: bool,
    idle_timeout_s: float,
) -> bool:
    """Whether a partition may stop holding the global (alerting) watermark.

    Caught up and nothing open; live, also caught up and quiet for the idle
    timeout (its open windows then close late for alerting, not for BI).
    """
    if behind:
        return False
    newest = max(topic_max.values(), default=None)
    if newest is None or newest // 60_000_000 * 60 < closed_before:
        return True
    return live and quiet_s >= idle_timeout_s
