"""Hypothesis strategies for contract-v1 events, with hostile Unicode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

# Printable text including CJK, emoji, quotes, backslashes and SQL-looking bits;
# no control, format (bidi, zero-width) or separator characters: the contract
# forbids them in every string (events.HIDDEN_RANGES).
_ALPHABET = st.characters(
    blacklist_categories=("Cc", "Cs", "Cf", "Zl", "Zp"),
    blacklist_characters="\x7f",
)
HOSTILE = st.sampled_from(
    [
        "项目-中文",
        "队列'); DROP TABLE metrics_1m; --",
        'quote"back\\slash',
        "emoji🙂👍🏽",
        "标注员·张",
    ]
)
identifiers = st.one_of(HOSTILE, st.text(_ALPHABET, min_size=1, max_size=128))
short_text = st.text(_ALPHABET, max_size=64)
# revision: 1 to the largest UInt32, with the ends and small numbers often.
revisions = st.one_of(st.sampled_from([1, 2, 3, 2**32 - 1]), st.integers(1, 2**32 - 1))

offsets = st.sampled_from(
    [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))]
)


@st.composite
def timestamps(draw: st.DrawFn) -> datetime:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    moment = base + timedelta(microseconds=draw(st.integers(0, 300 * 86400 * 10**6)))
    return moment.astimezone(draw(offsets))


@st.composite
def common(draw: st.DrawFn, event_type: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "event_type": event_type,
        "schema_version": 1,
        "event_id": draw(identifiers),
        "occurred_at": draw(timestamps()).isoformat(),
        "project_id": draw(identifiers),
        "queue_id": draw(identifiers),
        "task_id": draw(identifiers),
        "annotator_id": draw(identifiers),
    }
    vendor = draw(st.one_of(st.none(), identifiers, st.just("<absent>")))
    if vendor != "<absent>":
        data["vendor_id"] = vendor
    if draw(st.booleans()):
        data["locale"] = draw(st.sampled_from(["zh-CN", "zh-Hant-TW", "en-US", "und"]))
    if draw(st.booleans()):
        data["source"] = draw(st.sampled_from(["human", "machine", "hybrid"]))
    if draw(st.booleans()):
        data["revision"] = draw(revisions)
    if draw(st.integers(0, 3)) == 0:
        data["retracted"] = False
    return data


@st.composite
def task_completed(draw: st.DrawFn) -> dict[str, Any]:
    data = draw(common("task_completed"))
    status = draw(st.sampled_from(["submitted", "skipped", "expired"]))
    data["status"] = status
    if status == "submitted" or draw(st.booleans()):
        data["handle_time_s"] = draw(
            st.one_of(st.integers(0, 86400), st.floats(0, 86400, allow_nan=False))
        )
    if draw(st.booleans()):
        occurred = datetime.fromisoformat(data["occurred_at"])
        data["task_created_at"] = (
            occurred - timedelta(seconds=draw(st.integers(0, 10 * 86400)))
        ).isoformat()
    if draw(st.booleans()):
        data["attempt"] = draw(st.integers(1, 9))
    if draw(st.booleans()):
        data["is_gold"] = True
        if status == "submitted":
            data["gold_correct"] = draw(st.booleans())
        else:
            data["gold_correct"] = draw(st.one_of(st.none(), st.booleans()))
    if draw(st.booleans()):
        data["task_type"] = draw(short_text)
    if draw(st.booleans()):
        data["tags"] = draw(st.lists(short_text, max_size=32))
    if draw(st.booleans()):
        data["submission_id"] = draw(identifiers)
    return data


@st.composite
def task_audited(draw: st.DrawFn) -> dict[str, Any]:
    data = draw(common("task_audited"))
    data["auditor_id"] = draw(identifiers)
    data["verdict"] = draw(st.sampled_from(["approve", "fix", "reject"]))
    if draw(st.booleans()):
        data["score"] = draw(st.one_of(st.none(), st.floats(0, 1), st.sampled_from([0, 1])))
    if draw(st.booleans()):
        data["error_categories"] = draw(st.lists(short_text, max_size=32, unique=True))
    if draw(st.booleans()):
        data["audit_kind"] = draw(st.sampled_from(["spot", "full", "speed", "gold", "consensus"]))
    if draw(st.booleans()):
        data["audit_time_s"] = draw(st.floats(0, 86400, allow_nan=False))
    return data


events = st.one_of(task_completed(), task_audited())


# Retractions: what identifies the entity, plus any subset of the other fields of
# a valid version (each valid on its own; no rule between fields binds a retraction).
_ENVELOPE = ("event_type", "schema_version", "event_id", "occurred_at", "project_id")
RETRACTION_REQUIRED = {
    "task_completed": (*_ENVELOPE, "submission_id", "retracted"),
    "task_audited": (*_ENVELOPE, "task_id", "annotator_id", "retracted"),
}


@st.composite
def retraction(draw: st.DrawFn, event_type: str) -> dict[str, Any]:
    version = draw(task_completed() if event_type == "task_completed" else task_audited())
    version["retracted"] = True
    if event_type == "task_completed":
        version.setdefault("submission_id", draw(identifiers))
    required = RETRACTION_REQUIRED[event_type]
    others = sorted(set(version) - set(required))
    kept = draw(st.sets(st.sampled_from(others))) if others else set()
    return {name: value for name, value in version.items() if name in required or name in kept}


retractions = st.one_of(retraction("task_completed"), retraction("task_audited"))
any_events = st.one_of(events, retractions)
