"""The ClickHouse sink on the real embedded engine: outages, hostile strings, BI views."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import DeadLetter
from schemas.decode import ContractDecoder
from sinks import batches as batches_module
from sinks.client import connect
from sinks.failures import rows_at_fault
from sinks.migrate import migrate
from sinks.schema import COLUMN_TYPES, MIGRATIONS, PARTITION_MONTH, TABLE_COLUMNS
from sinks.writer import ClickHouseWriter, UnstorableRows
from streams.partition import PartitionState
from streams.ports import Message
from streams.processor import Processor
from streams.rows import dlq_row, rows_for_checkpoint
from streams.testing import NOW, RecordingPublisher, aggregate, write
from tests import corpus, strategies

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # One chDB session per process and data directory: the whole module shares it.
    path = tmp_path_factory.mktemp("chdb")
    ch = connect(f"chdb://{path}")
    migrate(ch)
    yield ch
    ch.close()


@pytest.fixture
def clean(client: Any) -> Any:
    for table in ("metrics_1m", "audit_errors_1m", "task_events", "audit_events", "dlq_events"):
        client.command(f"TRUNCATE TABLE {table}")
    return client


class Flaky:
    """A real client that fails its first ``failures`` inserts, before or after storing."""

    def __init__(self, real: Any, failures: int, after_store: bool = False):
        self.real = real
        self.failures = failures
        self.after_store = after_store
        self.attempts = 0

    def insert(self, table: str, rows: Any, column_names: list[str]) -> None:
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            if self.after_store:
                # The insert landed but the answer was lost: the retry must not double it.
                self.real.insert(table, rows, column_names=column_names)
            raise ConnectionError("injected: connection reset")
        self.real.insert(table, rows, column_names=column_names)

    def close(self) -> None:
        """The shared real client stays open."""


def _sample_lines() -> list[bytes]:
    return Path("examples/sample-events.jsonl").read_bytes().splitlines()


def _final_counts(client: Any) -> dict[str, int]:
    return {
        table: client.query(f"SELECT count() FROM {table} FINAL").result_rows[0][0]
        for table in ("metrics_1m", "task_events", "audit_events")
    }


@pytest.mark.parametrize("after_store", [False, True], ids=["lost-request", "lost-answer"])
def test_an_outage_delays_the_write_and_loses_or_doubles_nothing(
    clean: Any, after_store: bool
) -> None:
    reference = ClickHouseWriter(lambda: clean)
    state = write(reference, _sample_lines())
    expected = _final_counts(clean)
    assert expected["metrics_1m"] == len(state.windows) > 0
    sums = clean.query("SELECT sum(tasks_submitted), sum(audits) FROM metrics_1m FINAL").result_rows

    for table in ("metrics_1m", "audit_errors_1m", "task_events", "audit_events"):
        clean.command(f"TRUNCATE TABLE {table}")
    flaky = Flaky(clean, failures=7, after_store=after_store)
    connects = []

    def reconnect() -> Flaky:
        connects.append(1)
        return flaky

    writer = ClickHouseWriter(reconnect, base_delay=0.001, max_delay=0.01)
    write(writer, _sample_lines())
    assert writer.stats.retries == 7
    assert writer.stats.failing_since is None, "healthy again after the outage"
    assert len(connects) >= 2, "the writer reconnects after repeated failures"
    assert _final_counts(clean) == expected
    after = clean.query("SELECT sum(tasks_submitted), sum(audits) FROM metrics_1m FINAL")
    assert after.result_rows == sums


def test_a_stopping_writer_gives_up_instead_of_hanging(clean: Any) -> None:
    writer = ClickHouseWriter(
        lambda: Flaky(clean, failures=10**9), base_delay=0.001, should_stop=lambda: True
    )
    with pytest.raises(ConnectionError):
        write(writer, _sample_lines()[:5])
    assert writer.stats.failures == 1


TIMES = [datetime(2026, 5, 1, 8, m, s, tzinfo=UTC) for m in range(3) for s in (5, 40)]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(strategies.events, min_size=1, max_size=8))
def test_hostile_strings_are_stored_byte_exact(clean: Any, events: list[dict[str, Any]]) -> None:
    for table in ("task_events", "audit_events", "metrics_1m"):
        clean.command(f"TRUNCATE TABLE {table}")
    lines = [json.dumps(e, ensure_ascii=False).encode() for e in events]
    decoder = ContractDecoder(1 << 20, 3650 * 86400)
    valid = [decoder.decode(line, NOW) for line in lines]
    write(ClickHouseWriter(lambda: clean), lines)
    first: dict[tuple[str, str], Any] = {}
    for event in valid:
        assert not hasattr(event, "reason"), event
        first.setdefault((event.project_id, event.event_id), event)  # later ones are duplicates
    for event in first.values():
        table = "task_events" if event.event_type == "task_completed" else "audit_events"
        extra = "tags" if table == "task_events" else "error_categories"
        rows = clean.query(
            f"SELECT queue_id, task_id, annotator_id, vendor_id, locale, {extra} FROM {table} "
            "FINAL WHERE project_id = {p:String} AND event_id = {e:String}",
            parameters={"p": event.project_id, "e": event.event_id},
        ).result_rows
        assert len(rows) == 1
        queue, task, annotator, vendor, locale, listed = rows[0]
        assert (queue, task, annotator, vendor, locale) == (
            event.queue_id,
            event.task_id,
            event.annotator_id,
            event.vendor_id,
            event.locale,
        )
        wanted = event.tags if table == "task_events" else event.error_categories
        assert list(listed) == list(wanted)
        found = clean.query(
            "SELECT count() FROM metrics_1m FINAL WHERE project_id = {p:String} "
            "AND queue_id = {q:String} AND annotator_id = {a:String} AND vendor_id = {v:String}",
            parameters={
                "p": event.project_id,
                "q": event.queue_id,
                "a": event.annotator_id,
                "v": event.vendor_id,
            },
        ).result_rows[0][0]
        assert found >= 1


def _event(kind: str, minute: int, **fields: Any) -> bytes:
    base: dict[str, Any] = {
        "schema_version": 1,
        "event_type": kind,
        "event_id": f"{kind}-{minute}-{len(_SEQ)}",
        "occurred_at": (
            datetime(2026, 5, 1, 8, 0, tzinfo=UTC) + timedelta(minutes=minute)
        ).isoformat(),
        "project_id": fields.pop("project", "项目-视图"),
        "queue_id": "队列A",
        "task_id": f"t{len(_SEQ)}",
        "annotator_id": fields.pop("annotator", "标注员-1"),
        "vendor_id": fields.pop("vendor", None),
    }
    _SEQ.append(1)
    if kind == "task_audited":
        base["auditor_id"] = "审核员"
    base.update(fields)
    return json.dumps(base, ensure_ascii=False).encode()


_SEQ: list[int] = []


def test_view_rates_come_from_sums_and_are_null_on_zero_denominators(clean: Any) -> None:
    lines = [
        # Hour 08: two annotators with very different volumes (average of rates would be wrong).
        _event("task_completed", 1, status="submitted", handle_time_s=10.0),
        _event("task_completed", 2, status="submitted", handle_time_s=20.0, attempt=2),
        _event("task_completed", 3, status="submitted", handle_time_s=30.5, annotator="标注员-2"),
        _event("task_completed", 4, status="skipped", annotator="标注员-2"),
        _event(
            "task_completed",
            5,
            status="submitted",
            handle_time_s=1.0,
            is_gold=True,
            gold_correct=False,
        ),
        _event("task_audited", 6, verdict="approve", score=0.75),
        _event("task_audited", 7, verdict="reject"),
        _event("task_audited", 8, verdict="approve", annotator="标注员-2", score=0.5),
        # Another project: only skips, no audits → every rate but skip_rate undefined.
        _event("task_completed", 9, status="skipped", project="empty-p"),
    ]
    write(ClickHouseWriter(lambda: clean), lines)
    rows = clean.query(
        "SELECT project_id, tasks_submitted, throughput_per_hour, aht_s, audit_pass_rate, "
        "mean_audit_score, gold_accuracy, rework_rate, skip_rate, turnaround_avg_s "
        "FROM metrics_hourly ORDER BY project_id"
    ).named_results()
    by_project = {r["project_id"]: r for r in rows}
    main = by_project["项目-视图"]
    assert main["tasks_submitted"] == 4
    assert main["throughput_per_hour"] == pytest.approx(4.0)
    assert Decimal(str(main["aht_s"])) == pytest.approx(Decimal("61.5") / 4)
    assert main["audit_pass_rate"] == pytest.approx(2 / 3)
    assert main["mean_audit_score"] == pytest.approx(1.25 / 2)
    assert main["gold_accuracy"] == pytest.approx(0.0)
    assert main["rework_rate"] == pytest.approx(1 / 4)
    assert main["skip_rate"] == pytest.approx(1 / 5)
    assert main["turnaround_avg_s"] is None
    empty = by_project["empty-p"]
    assert empty["tasks_submitted"] == 0
    assert empty["throughput_per_hour"] == 0
    for rate in ("aht_s", "audit_pass_rate", "mean_audit_score", "gold_accuracy", "rework_rate"):
        assert empty[rate] is None, rate
    assert empty["skip_rate"] == pytest.approx(1.0)

    card = clean.query(
        "SELECT annotator_id, tasks_submitted, aht_s, audit_pass_rate FROM "
        "annotator_scorecard_daily WHERE project_id = {p:String} ORDER BY annotator_id",
        parameters={"p": "项目-视图"},
    ).result_rows
    assert card[0][0] == "标注员-1" and card[0][1] == 3
    assert card[0][2] == pytest.approx(31.0 / 3)
    assert card[0][3] == pytest.approx(1 / 2)
    assert card[1][0] == "标注员-2" and card[1][1] == 1
    assert card[1][3] == pytest.approx(1.0)


def test_migrations_are_idempotent_and_the_alerts_table_records_mutes(client: Any) -> None:
    assert migrate(client) == []  # the module fixture applied everything already
    applied = [
        r[0] for r in client.query("SELECT version FROM schema_migrations FINAL").result_rows
    ]
    assert sorted(applied) == [m.version for m in MIGRATIONS]
    columns = {r[0] for r in client.query("DESCRIBE TABLE alerts").result_rows}
    assert {"muted_by", "repeat"} <= columns


def test_the_parsed_column_types_are_what_the_engine_created(client: Any) -> None:
    """sinks.schema.COLUMN_TYPES (read from the DDL text) is what ClickHouse reports.

    The contract's bounds test (tests/unit/schemas/test_storage_bounds.py) reads the
    column types from COLUMN_TYPES; this holds that parse to the engine.
    """
    rows = client.query(
        "SELECT table, name, type FROM system.columns WHERE database = currentDatabase() "
        "ORDER BY table, position"
    ).result_rows
    engine: dict[str, dict[str, str]] = {}
    for table, name, kind in rows:
        engine.setdefault(table, {})[name] = kind
    views = {
        name
        for (name,) in client.query(
            "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine = 'View'"
        ).result_rows
    }
    assert {table: kinds for table, kinds in engine.items() if table not in views} == COLUMN_TYPES
    partitions = dict(
        client.query(
            "SELECT name, partition_key FROM system.tables WHERE database = currentDatabase() "
            "AND partition_key != ''"
        ).result_rows
    )
    assert {t: f"toYYYYMM({c})" for t, c in PARTITION_MONTH.items()} == partitions


def _span_batches() -> dict[str, Any]:
    """One checkpoint of the corpus's 130-month backfill: rows in 130 partitions."""
    (span,) = [case for case in corpus.load() if len(case.lines) > 100]
    state = aggregate(span.lines)
    return rows_for_checkpoint([state], int(NOW.timestamp() * 1_000_000))


def test_a_checkpoint_spanning_130_months_is_stored_in_parts(clean: Any) -> None:
    """Error 252 (Too many partitions for single INSERT block) is avoided, not retried."""
    batches = _span_batches()
    names = list(TABLE_COLUMNS["task_events"])
    types = clean.create_insert_context("task_events", names).column_types
    with pytest.raises(Exception, match="Too many partitions for single INSERT block") as raised:
        clean.insert(
            "task_events",
            batches["task_events"],
            column_names=names,
            column_types=types,
            column_oriented=True,
        )
    assert rows_at_fault(raised.value)
    writer = ClickHouseWriter(lambda: clean)
    assert writer.write(batches, rejectable=("task_events", "audit_events")) == []
    assert writer.stats.retries == 0
    assert writer.stats.inserts == 2 * 3  # task_events and metrics_1m, 64 + 64 + 2 months each
    counted = clean.query(
        "SELECT count(), uniqExact(toYYYYMM(occurred_at)) FROM task_events FINAL"
    ).result_rows
    assert counted == [(130, 130)]
    assert clean.query("SELECT count() FROM metrics_1m FINAL").result_rows == [(130,)]


def test_a_batch_the_engine_refuses_is_halved_until_it_is_stored(
    clean: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the split the engine's own 252 is a row fault: halves of 65 months go in.

    metrics_1m takes no rejections: halving stores it all the same.
    """
    monkeypatch.setattr(batches_module, "MONTHS_PER_INSERT", 1000)
    writer = ClickHouseWriter(lambda: clean)
    assert writer.write(_span_batches(), rejectable=("task_events",)) == []
    assert writer.stats.retries == 0 and writer.stats.rejected == 0
    assert clean.query("SELECT count() FROM task_events FINAL").result_rows == [(130,)]


def _valid(i: int) -> dict[str, Any]:
    return {
        "event_type": "task_completed",
        "schema_version": 1,
        "event_id": f"e-{i}",
        "occurred_at": f"2026-05-01T08:{i % 60:02d}:00Z",
        "project_id": "p",
        "queue_id": "q",
        "task_id": f"t-{i}",
        "annotator_id": "a",
        "status": "submitted",
        "handle_time_s": 1.5,
    }


def _events_batch(count: int) -> Any:
    lines = [json.dumps(_valid(i)).encode() for i in range(count)]
    return rows_for_checkpoint([aggregate(lines)], int(NOW.timestamp() * 1_000_000))


def test_rows_the_encoder_refuses_are_returned_and_the_rest_is_stored(clean: Any) -> None:
    """No retry of a refusal that would repeat forever: the rows at fault are found."""
    batches = _events_batch(40)
    tasks = batches["task_events"]
    names = TABLE_COLUMNS["task_events"]
    tasks[names.index("attempt")][7] = 65536  # past the contract, as a bug would
    tasks[names.index("window_start")][31] = -60  # before 1970
    writer = ClickHouseWriter(lambda: clean, base_delay=10.0)  # a retry would show
    refused = writer.write(batches, rejectable=("task_events", "audit_events"))
    assert sorted(r.values[0] for r in refused) == ["e-31", "e-7"]
    assert all(r.table == "task_events" and "out of range" in r.error for r in refused)
    assert writer.stats.retries == 0 and writer.stats.rejected == 2
    stored = {r[0] for r in clean.query("SELECT event_id FROM task_events FINAL").result_rows}
    assert stored == {f"e-{i}" for i in range(40)} - {"e-7", "e-31"}
    assert clean.query("SELECT sum(tasks_submitted) FROM metrics_1m FINAL").result_rows == [(40,)]


def test_a_refused_row_of_a_table_without_rejections_fails_at_once(clean: Any) -> None:
    batches = _events_batch(3)
    metrics = batches["metrics_1m"]
    metrics[TABLE_COLUMNS["metrics_1m"].index("window_start")][0] = -60
    writer = ClickHouseWriter(lambda: clean, base_delay=10.0)
    with pytest.raises(UnstorableRows, match=r"metrics_1m: a row refused .* out of range"):
        writer.write({"metrics_1m": metrics}, rejectable=("task_events",))
    assert writer.stats.retries == 0


class _PastTheContract(ContractDecoder):
    """Lets one event through with a value the contract refuses: a bug in the bounds."""

    def decode(self, raw: bytes, now: datetime | None = None) -> Any:
        event = super().decode(raw, now)
        if getattr(event, "event_id", None) == "e-7":
            return event.model_copy(update={"attempt": 65536})
        return event


async def test_an_event_row_the_writer_refuses_becomes_an_unprocessable_dead_letter(
    clean: Any,
) -> None:
    """The writer's path for event rows, behind the contract's bounds (defense in depth)."""

    async def no_state(partition: int) -> tuple[list[dict[str, Any]], int]:
        return [], 0

    async def no_seek(topic: str, partition: int, offset: int) -> None:
        return None

    published = RecordingPublisher()
    processor = Processor(
        decoder=_PastTheContract(1 << 20, 3650 * 86400),
        sink=ClickHouseWriter(lambda: clean, base_delay=10.0),
        publisher=published,
        load_state=no_state,
        seek=no_seek,
        state_topic="state",
        dlq_topic="dlq",
        lateness_s=120,
        retention_s=3650 * 86400,
        idle_timeout_s=30,
        live=False,
    )
    try:
        lines = [json.dumps({**_valid(i), "attempt": 2}).encode() for i in range(20)]
        topic = "annotation.task-completed"
        await processor.process([Message(topic, 3, i, line) for i, line in enumerate(lines)])
        await processor.checkpoint(close_all=True)
    finally:
        processor.close()
    letters = [DeadLetter.from_json(v) for t, _, _, v in published.records if t == "dlq"]
    assert [(d.reason, d.event_id, d.source_offset) for d in letters] == [
        ("unprocessable", "e-7", 7)
    ]
    (letter,) = letters
    assert "task_events" in letter.message and "out of range" in letter.message
    event = json.loads(letter.payload)
    assert (event["event_id"], event["attempt"], event["event_type"]) == (
        "e-7",
        65536,
        "task_completed",
    )
    assert event["occurred_at"] == "2026-05-01T08:07:00.000Z"
    assert (letter.source_topic, letter.source_partition) == (topic, 3)
    assert processor.stats["unstored_rows"] == 1
    # Counted as accepted and in its window (documented); its raw row is the dead letter.
    assert processor.totals()["accepted"] == 20
    stored = clean.query("SELECT count() FROM task_events FINAL").result_rows
    assert stored == [(19,)]
    assert clean.query("SELECT sum(rework_submitted) FROM metrics_1m FINAL").result_rows == [(20,)]


CASES = corpus.load()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_hostile_case_is_stored_or_a_dead_letter_with_its_reason(
    clean: Any, case: corpus.Case
) -> None:
    """The regression corpus (issue 19's cases), on a fresh partition, into real chDB."""
    decoder = ContractDecoder(1 << 16, 86400)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    state = PartitionState(0, 120 * 10**6, 48 * 3600 * 10**6)
    outcomes = []
    for line in case.lines:
        decoded = decoder.decode(line, now)
        topic = (
            "annotation.task-audited" if b"task_audited" in line else "annotation.task-completed"
        )
        outcomes.append(state.process(decoded, line, topic, state.offsets.get(topic, 0)))
    writer = ClickHouseWriter(lambda: clean, base_delay=10.0)  # a retry would show
    state.advance(close_all=True)
    refused = writer.write(
        rows_for_checkpoint([state], int(now.timestamp() * 10**6)),
        rejectable=("task_events", "audit_events"),
    )
    writer.write({"dlq_events": [dlq_row(d, 0, i) for i, d in enumerate(state.dead_letters)]})
    assert refused == [] and writer.stats.retries == 0
    stored = clean.query(
        "SELECT count() FROM (SELECT event_id FROM task_events FINAL "
        "UNION ALL SELECT event_id FROM audit_events FINAL)"
    ).result_rows[0][0]
    letters = clean.query("SELECT reason, field, hex(payload) FROM dlq_events FINAL").result_rows
    if case.poison:
        assert outcomes == ["dead"] * len(case.lines)
        assert stored == 0
        assert sorted(letters) == sorted(
            (case.expect, case.field, line.hex().upper()) for line in case.lines
        )
    else:
        assert set(outcomes) <= {"accepted", "late"}
        assert stored == len(case.lines) and letters == []


# -- versions: the _current views apply the rule in SQL ---------------------------------


def _versioned_lines() -> list[bytes]:
    """Versions with every tie: same instant (revision decides), same revision (event_id bytes)."""
    at = "2026-11-20T01:00:00.123456Z"
    task = {
        "schema_version": 1,
        "event_type": "task_completed",
        "project_id": "项目甲",
        "queue_id": "队列",
        "task_id": "任务-1",
        "annotator_id": "标注员-1",
        "status": "submitted",
        "handle_time_s": 10.0,
    }
    audit = {
        **{k: task[k] for k in ("schema_version", "project_id", "queue_id", "task_id")},
        "event_type": "task_audited",
        "annotator_id": "标注员-1",
        "auditor_id": "审核员",
        "verdict": "approve",
    }
    events: list[dict[str, Any]] = [
        # s-1: three versions at one instant; revision 3 wins over the greater event id.
        {**task, "event_id": "z", "occurred_at": at, "submission_id": "s-1", "revision": 2},
        {**task, "event_id": "a", "occurred_at": at, "submission_id": "s-1", "revision": 3},
        {**task, "event_id": "m", "occurred_at": at, "submission_id": "s-1"},
        # s-2: same instant and revision: the event id's UTF-8 bytes ("é" > "z").
        {**task, "event_id": "z2", "occurred_at": at, "submission_id": "s-2"},
        {**task, "event_id": "é2", "occurred_at": at, "submission_id": "s-2"},
        # s-3: deleted by a later retraction carrying only its identity.
        {**task, "event_id": "s3-1", "occurred_at": at, "submission_id": "s-3"},
        {
            **{k: task[k] for k in ("schema_version", "event_type", "project_id")},
            "event_id": "s3-x",
            "occurred_at": "2026-11-20T01:10:00Z",
            "submission_id": "s-3",
            "retracted": True,
        },
        # s-4: a retraction beaten by a later version: it comes back.
        {**task, "event_id": "s4-1", "occurred_at": at, "submission_id": "s-4", "retracted": True},
        {**task, "event_id": "s4-2", "occurred_at": "2026-11-20T01:01:00Z", "submission_id": "s-4"},
        # no submission_id: work of its own, twice.
        {**task, "event_id": "plain-1", "occurred_at": at},
        {**task, "event_id": "plain-2", "occurred_at": at},
        # An audit re-done a microsecond later: the later one counts, whatever its revision.
        {**audit, "event_id": "r-2", "occurred_at": at, "revision": 7, "verdict": "reject"},
        {**audit, "event_id": "r-1", "occurred_at": "2026-11-20T01:00:00.123457Z"},
        # Another annotator's work on the same task: another entity.
        {**audit, "event_id": "o-1", "occurred_at": at, "annotator_id": "标注员-2"},
    ]
    return [json.dumps(e, ensure_ascii=False).encode() for e in events]


def test_the_current_views_hold_the_versions_that_count(clean: Any) -> None:
    lines = _versioned_lines()
    state = write(ClickHouseWriter(lambda: clean), lines)
    assert state.counters["superseded"] == 6 and state.counters["retractions"] == 2
    stored = {
        table: clean.query(f"SELECT count() FROM {table} FINAL").result_rows[0][0]
        for table in ("task_events", "audit_events")
    }
    assert stored == {"task_events": 11, "audit_events": 3}  # every version is kept
    current = {
        table: sorted(
            r[0] for r in clean.query(f"SELECT event_id FROM {table}_current").result_rows
        )
        for table in ("task_events", "audit_events")
    }
    assert current == {
        "task_events": sorted(["a", "é2", "s4-2", "plain-1", "plain-2"]),
        "audit_events": ["o-1", "r-1"],
    }
    # The views agree with metrics_1m FINAL: what they hold is what is counted.
    submitted, audits, approved = clean.query(
        "SELECT sum(tasks_submitted), sum(audits), sum(audits_approved) FROM metrics_1m FINAL"
    ).result_rows[0]
    assert (submitted, audits, approved) == (5, 2, 2)
    rows = clean.query(
        "SELECT retracted, revision, submission_id FROM task_events FINAL WHERE event_id = 's3-x'"
    ).result_rows
    assert rows == [(True, 1, "s-3")]
