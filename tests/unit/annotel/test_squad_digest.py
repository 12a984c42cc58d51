"""``annotel squad-digest``'s pure parts: the routes, the note and its id, the payloads."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from pydantic import TypeAdapter

from alerts.receiver_config import build
from alerts.receivers.registry import ReceiverConfig
from annotel.commands.squad_digest import routes, squad_note
from reports.sections.squad_changes import SquadChanges

END = datetime(2026, 12, 7, tzinfo=UTC)


def _changes(squad: str = "华数-一组") -> SquadChanges:
    return SquadChanges(squad, ["组长"], END, newly_coaching=["标注员 3 号"], newly_ready=["甲"])


def test_routes_parse_pairs_and_refuse_malformed_ones() -> None:
    assert routes(["a=cm-1", "华数-一组=cm-2"]) == {"a": "cm-1", "华数-一组": "cm-2"}
    for bad in ("a", "=cm", "a="):
        with pytest.raises(ValueError, match="expected SQUAD=RECEIVER"):
            routes([bad])


def test_the_note_id_depends_on_the_squad_and_the_week_only() -> None:
    note = squad_note(_changes(), "2026-12-07T00:00:00Z")
    assert note.note_id == squad_note(_changes(), "2026-12-07T00:00:00Z").note_id
    assert note.note_id != squad_note(_changes(), "2026-12-14T00:00:00Z").note_id
    assert note.note_id != squad_note(_changes("华数-二组"), "2026-12-07T00:00:00Z").note_id
    assert note.text.splitlines()[1:] == [
        "- needs coaching now: 标注员 3 号",
        "- ready for advancement now: 甲",
    ]


def _receiver(config: dict[str, object], env: dict[str, str] | None = None) -> object:
    parsed = TypeAdapter(ReceiverConfig).validate_python(config)
    return build("cm", parsed, env or {})


def test_each_kind_that_takes_notes_renders_one_message() -> None:
    note = squad_note(_changes(), "2026-12-07T00:00:00Z")
    for fmt in ("json", "alertmanager"):
        hook = _receiver({"type": "webhook", "url": "http://127.0.0.1:9/h", "format": fmt})
        (request,) = hook.note_requests(note)  # type: ignore[attr-defined]
        body = orjson.loads(request.body)["note"]
        assert body["note_id"] == note.note_id
        assert body["newly_coaching"] == ["标注员 3 号"] and body["squad"] == "华数-一组"
    slack = _receiver(
        {"type": "slack", "webhook_url_env": "HOOK"}, {"HOOK": "https://hooks.slack.com/x"}
    )
    (request,) = slack.note_requests(note)  # type: ignore[attr-defined]
    text = orjson.loads(request.body)["text"]
    assert text.startswith("*Squad 华数-一组: coaching") and "标注员 3 号" in text
    stdout = _receiver({"type": "stdout"})
    (request,) = stdout.note_requests(note)  # type: ignore[attr-defined]
    assert request.destination is None
    assert orjson.loads(request.body)["note"]["title"] == note.title
