"""Standard output: one JSON line per alert event, for the demo and for log shippers.

The line is the event as on the ``annotation.alerts`` topic, with C1, bidi and
zero-width characters spelled out as JSON escapes (``schemas.display``): a
terminal shows them, it does not obey them, and the line still decodes to the
exact event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import orjson

from alerts.digest import Digest
from alerts.model import AlertEvent
from alerts.note import Note
from alerts.receivers.base import Outcome, Request, http_outcome
from alerts.receivers.settings import Grouping, group_wait_s
from schemas.display import visible


class StdoutReceiver(Grouping):
    """One JSON line per alert event on standard output (for the demo and for log shippers)."""

    type: Literal["stdout"]


class Stdout:
    """The worker's standard output; nothing to connect to, nothing secret."""

    one_event_per_message = False
    uses_http = False
    target = "stdout"
    timeout_s = 10.0  # unused: a write to stdout has no request to time

    def __init__(self, name: str, config: StdoutReceiver, wait_s: float) -> None:
        self.name = name
        self.kind = config.type
        self.group_by = config.group_by
        self.group_wait_s = wait_s
        self.max_per_second = config.max_per_second

    @classmethod
    def check(cls, name: str, config: StdoutReceiver, env: Mapping[str, str] | None) -> None:
        group_wait_s(name, config)

    @classmethod
    def from_config(
        cls, name: str, config: StdoutReceiver, env: Mapping[str, str], external_url: str
    ) -> Stdout:
        return cls(name, config, group_wait_s(name, config))

    def requests(
        self, events: Sequence[AlertEvent], group_labels: Mapping[str, str]
    ) -> list[Request]:
        text = "".join(visible(event.to_json().decode()) + "\n" for event in events)
        return [Request(None, text.encode(), tuple(events))]

    def digest_requests(self, digest: Digest) -> list[Request]:
        text = visible(orjson.dumps({"digest": digest.to_dict()}).decode()) + "\n"
        return [Request(None, text.encode(), digest.events)]

    def note_requests(self, note: Note) -> list[Request]:
        text = visible(orjson.dumps({"note": note.to_dict()}).decode()) + "\n"
        return [Request(None, text.encode(), ())]

    def classify(self, status: int, body: bytes) -> Outcome:
        return http_outcome(status)  # never called: nothing goes over HTTP
