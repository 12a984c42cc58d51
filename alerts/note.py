"""Notes: a message that is not about alerts, sent through a receiver of the rules file.

The weekly squad digest (``annotel squad-digest``) tells a contributor manager
who newly needs coaching and who became ready for advancement; it is computed
from ClickHouse by a scheduled command, not by the alert stage, and carries no
alert events. A note is its title, its plain text and a deterministic id, so
the same squad and week always give the same message and a receiver can drop
a repeat. Kinds that take notes have a ``note_requests`` method
(``alerts.receivers``: webhook, slack, stdout); ``note_kinds`` names them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

NOTE_KINDS = ("webhook", "slack", "stdout")


@dataclass(frozen=True)
class Note:
    """``kind`` says what the note is (``squad_digest``); ``key`` names its subject and
    period (the squad and the week's end), from which the id is derived."""

    kind: str
    key: str
    title: str
    text: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def note_id(self) -> str:
        material = f"note|{self.kind}|{self.key}"
        return hashlib.sha256(material.encode()).hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        return {
            "note_id": self.note_id,
            "kind": self.kind,
            "title": self.title,
            "text": self.text,
            **self.fields,
        }
