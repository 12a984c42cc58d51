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

    One message, unnumbered, when everything fits. Otherwise in order: what
    each alert adds to a message is measured once (beside another alert);
    each message takes the alerts those sizes allow, and is then rendered and
    checked: if a title or a line of mentions grew by more than the sum, the
    longest prefix that fits is found by bisection and the next message starts
    after it. About three renders of one or two alerts per alert and a few of
    each message, so the work grows with the group, not with its square.
    """
    if not alerts:
        return []
    everything = render(alerts, label(1, 1))
    if everything[1] <= limit:
        return [(tuple(range(len(alerts))), everything[0])]
    widest = label(len(alerts), len(alerts))  # no part number has more digits than this
    fitted = [fit_alone(alert, render, widest, limit) for alert in alerts]
    alone = render([fitted[0]], widest)[1]
    added = [render([fitted[0], alert], widest)[1] - alone for alert in fitted]
    base = alone - added[0]  # a message without alerts: title, footer, markup around them

    def fits(start: int, end: int) -> bool:
        return render(fitted[start:end], widest)[1] <= limit

    parts: list[range] = []
    start = 0
    while start < len(fitted):
        end, size = start + 1, base + added[start]
        while end < len(fitted) and size + added[end] <= limit:
            size += added[end]
            end += 1
        if end - start > 1 and not fits(start, end):
            low, high = 1, end - start - 1  # a prefix that fits (one alert always does), the most
            while low < high:
                middle = (low + high + 1) // 2
                low, high = (middle, high) if fits(start, start + middle) else (low, middle - 1)
            end = start + low
        parts.append(range(start, end))
        start = end
    total = len(parts)
    return [
        (tuple(part), render([fitted[i] for i in part], label(number, total))[0])
        for number, part in enumerate(parts, start=1)
    ]
