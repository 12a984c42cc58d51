"""Chat platforms answer HTTP 200 with a result code in the body: 0 is the only success.

Feishu (``code``), DingTalk and WeCom (``errcode``) report throttling, a bad
signature, a missing keyword or a message too long as a 200 whose JSON says
so. Such a reply is never counted as delivered: each kind lists the codes
its platform documents as transient (retried, after the platform's back-off
where it names one) and everything else is a permanent failure, reported
with its code. The platform's own message is not used: it is text from the
reply, which may echo the request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import orjson

from alerts.receivers.base import Outcome, Verdict, http_outcome


@dataclass(frozen=True)
class Code:
    """What one documented code means: our words, the outcome, the back-off if any."""

    meaning: str
    outcome: Outcome = Outcome.REJECTED
    pause_s: float | None = None


def body_code(body: bytes, fields: Sequence[str]) -> int | None:
    """The first integer among ``fields`` of a JSON object body, else None."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    for name in fields:
        value = data.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def code_verdict(
    status: int, body: bytes, fields: Sequence[str], table: Mapping[int, Code]
) -> Outcome | Verdict:
    """HTTP first (429, 5xx, 4xx as usual); a 2xx is delivered only with code 0."""
    if not 200 <= status < 300:
        return http_outcome(status)
    code = body_code(body, fields)
    if code is None:
        # The platform always answers JSON with a code: without one, nothing confirms delivery.
        return Verdict(Outcome.REJECTED, "reply without a result code")
    if code == 0:
        return Outcome.DELIVERED
    known = table.get(code)
    if known is None:
        return Verdict(Outcome.REJECTED, f"code {code}")
    return Verdict(known.outcome, f"code {code} ({known.meaning})", known.pause_s)
