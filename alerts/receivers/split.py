"""A group too large for one message of its platform becomes several, each within the limit.

Sizes are UTF-8 bytes of what the platform measures (the whole body for
Feishu, DingTalk and Teams, the markdown content for WeCom): a Chinese
character is 3 bytes, so counting characters would overshoot the limit
threefold. Alerts are never divided between messages: every alert is in
exactly one, whole. Messages are numbered ``1/3``, ``2/3``...; room for the
widest number is kept while packing, so the final numbers always fit. An
alert too large for a message on its own keeps its markup and has its texts
from the data cut (``AlertText.cut``) before they are escaped, so no cut falls
inside a character, an escape or a markup element.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from alerts.receivers.chat import AlertText

# (the alerts of one message, its part label) -> (the body to send, its size as the platform counts)
Render = Callable[[Sequence[AlertText], str], tuple[bytes, int]]
Label = Callable[[int, int], str]  # (index, total) -> "" for a single message, else e.g. " (1/3)"


def _longest(alert: AlertText) -> int:
    return max(
        len(alert.summary),
        sum(len(line) for line in alert.details),
        len(alert.rule),
        *(len(value) for _, value in alert.scope),
        1,
    )


def fit_alone(alert: AlertText, render: Render, label: str, limit: int) -> AlertText:
    """``alert`` as is if it fits a message alone, else with its texts cut as little as needed."""
    if render([alert], label)[1] <= limit:
        return alert
    low, high = 1, _longest(alert)  # a budget that fits (assumed), one that does not
    best = alert.cut(low)
    while low < high:
        middle = (low + high + 1) // 2
        candidate = alert.cut(middle)
        if render([candidate], label)[1] <= limit:
            low, best = middle, candidate
        else:
            high = middle - 1
    return best


def split(
    alerts: Sequence[AlertText], render: Render, limit: int, label: Label
) -> list[tuple[tuple[int, ...], bytes]]:
    """The messages for ``alerts``: for each, the indices of its alerts and its body.

    Greedy in order: each message takes alerts while it fits. One message
    when everything fits (no number then).
    """
    if not alerts:
        return []
    everything = render(alerts, label(1, 1))
    if everything[1] <= limit:
        return [(tuple(range(len(alerts))), everything[0])]
    widest = label(len(alerts), len(alerts))  # no part number has more digits than this
    parts: list[list[tuple[int, AlertText]]] = []
    current: list[tuple[int, AlertText]] = []
    for index, alert in enumerate(alerts):
        candidate = [*current, (index, alert)]
        if current and render([a for _, a in candidate], widest)[1] <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        current = [(index, fit_alone(alert, render, widest, limit))]
    parts.append(current)
    total = len(parts)
    return [
        (tuple(i for i, _ in part), render([a for _, a in part], label(number, total))[0])
        for number, part in enumerate(parts, start=1)
    ]
