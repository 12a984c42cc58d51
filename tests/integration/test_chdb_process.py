"""Embedded chDB in a process of its own: the rows of in-process, and no orphan, hang or lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from embedded.channel import ChdbProcessError
from embedded.chdb_process import ChdbProcessClient
from sinks import batches as batches_module
from sinks.client import EngineDirectoryBusy, connect
from sinks.migrate import migrate
from sinks.schema import MIGRATIONS, TABLE_COLUMNS
from sinks.writer import ClickHouseWriter
from streams.rows import rows_for_checkpoint
from streams.testing import NOW, aggregate
from tests import corpus

pytestmark = pytest.mark.integration

TABLES = ("metrics_1m", "audit_errors_1m", "task_events", "audit_events")
ROOT = Path(__file__).resolve().parents[2]


def _batches() -> dict[str, Any]:
    lines = (ROOT / "examples/sample-events.jsonl").read_bytes().splitlines()
    return rows_for_checkpoint([aggregate(lines)], int(NOW.timestamp() * 1_000_000))


def _everything(client: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row of the written tables, in a fixed order."""
    out = {}
    for table in TABLES:
        names = ", ".join(TABLE_COLUMNS[table])
        rows = client.query(f"SELECT {names} FROM {table} FINAL").result_rows
        out[table] = sorted(rows, key=repr)
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def _wait_gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_rows_written_through_the_child_process_equal_those_written_in_process(
    tmp_path: Path,
) -> None:
    batches = _batches()
    inside = connect("chdb://" + str(tmp_path / "inside"))
    migrate(inside)
    ClickHouseWriter(lambda: inside).write(batches)
    expected = _everything(inside)
    inside.close()

    child = connect("chdb://" + str(tmp_path / "child"), own_process=True)
    assert isinstance(child, ChdbProcessClient)
    try:
        assert migrate(child) == [m.version for m in MIGRATIONS]
        ClickHouseWriter(lambda: child).write(batches)
        got = _everything(child)
    finally:
        child.close()
    for table in ("metrics_1m", "task_events", "audit_events"):
        assert expected[table], table
    assert got == expected
    annotators = {
        row[TABLE_COLUMNS["task_events"].index("annotator_id")] for row in got["task_events"]
    }
    assert any("标注员" in name for name in annotators), "Chinese ids made the round trip"


def test_an_error_inside_the_process_reaches_the_caller_and_the_process_carries_on(
    tmp_path: Path,
) -> None:
    child = ChdbProcessClient("chdb://" + str(tmp_path / "ch"))
    try:
        with pytest.raises(ChdbProcessError, match="SYNTAX_ERROR"):
            child.command("SELECT nonsense(")
        with pytest.raises(ChdbProcessError, match="UNKNOWN_TABLE"):
            child.command("INSERT INTO no_such_table VALUES (1)")
        with pytest.raises(ChdbProcessError, match="'no_such_table' has no column"):
            child.insert("no_such_table", [[1]], ["x"])
        migrate(child)
        names = ["version", "name", "applied_at"]
        # A value the column's codec cannot encode fails in the worker: nothing is sent.
        with pytest.raises(Exception) as bad:
            child.insert("schema_migrations", [["七"], ["n"], [None]], names, column_oriented=True)
        assert not isinstance(bad.value, ChdbProcessError)
        count = "SELECT count() FROM schema_migrations"
        assert child.query(count).result_rows == [(len(MIGRATIONS),)]
        assert child.query("SELECT {s:String}", parameters={"s": "审核 ✓"}).result_rows == [
            ("审核 ✓",)
        ]
    finally:
        child.close()
    assert child.process.returncode == 0


@pytest.mark.parametrize("reaped_first", [False, True], ids=["in-flight", "already-dead"])
def test_a_killed_engine_process_fails_the_call_and_the_writer_starts_a_new_one(
    tmp_path: Path, reaped_first: bool
) -> None:
    dsn = "chdb://" + str(tmp_path / "ch")
    started: list[ChdbProcessClient] = []

    def start() -> ChdbProcessClient:
        started.append(ChdbProcessClient(dsn))
        return started[-1]

    writer = ClickHouseWriter(start, base_delay=0.01, max_delay=0.05)
    migrate(writer.client)
    batches = _batches()
    first = started[0]
    os.kill(first.pid, signal.SIGKILL)
    if reaped_first:
        # Every thread of it has exited (the leader shows as a zombie earlier,
        # while the engine's threads still hold the socket): the request's
        # write meets a closed socket (EPIPE) instead of the reply's read
        # meeting end-of-file. The caller still learns how it ended.
        # WNOWAIT leaves the reaping to the client.
        os.waitid(os.P_PID, first.pid, os.WEXITED | os.WNOWAIT)
    with pytest.raises(ChdbProcessError, match="exited with status -9"):
        first.command("SELECT 1")
    writer.write(batches)  # retries, closes the dead client, starts another
    assert len(started) == 2
    assert writer.stats.retries >= 1
    stored = _everything(writer.client)
    writer.close()
    assert len(stored["metrics_1m"]) == len(batches["metrics_1m"][0])


def test_a_hung_engine_process_is_killed_after_the_request_timeout(tmp_path: Path) -> None:
    child = ChdbProcessClient("chdb://" + str(tmp_path / "ch"), request_timeout=1.0)
    os.kill(child.pid, signal.SIGSTOP)
    began = time.monotonic()
    with pytest.raises(ChdbProcessError, match="did not answer"):
        child.command("SELECT 1")
    assert 0.9 <= time.monotonic() - began < 10
    assert _wait_gone(child.pid, 10)
    child.close()


def test_the_engine_process_exits_with_its_worker_and_a_new_one_waits_for_the_lock(
    tmp_path: Path,
) -> None:
    dsn = "chdb://" + str(tmp_path / "ch")
    # A stand-in worker: opens the engine process, writes, prints its pid, then hangs.
    script = textwrap.dedent(
        f"""
        import sys, time
        from sinks.client import connect
        from sinks.migrate import migrate
        client = connect({dsn!r}, own_process=True)
        migrate(client)
        client.command("INSERT INTO schema_migrations (version, name) VALUES (99, '锁')")
        client.insert("schema_migrations", [[98], ["列"]], ["version", "name"], None, True)
        print(client.pid, flush=True)
        print(",".join(m for m in ("pandas", "numpy", "pyarrow", "chdb") if m in sys.modules))
        time.sleep(600)
        """
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        engine_pid = int(owner.stdout.readline())  # type: ignore[union-attr]
    except ValueError:
        owner.kill()
        raise
    assert _alive(engine_pid)
    # The worker side of the client loads neither the engine nor the DataFrame libraries.
    assert owner.stdout.readline().strip() == ""  # type: ignore[union-attr]

    # A second client starts while the first engine process still holds the directory.
    opened: list[ChdbProcessClient] = []
    opener = threading.Thread(target=lambda: opened.append(ChdbProcessClient(dsn)))
    opener.start()
    opener.join(2.0)
    assert opener.is_alive() and not opened, "waits while the directory is held"

    owner.kill()  # the worker dies at once: no clean shutdown
    owner.wait()
    assert _wait_gone(engine_pid, 15), "the engine process follows its worker"
    opener.join(60)
    assert opened, "the new engine process opened the directory once it was free"
    try:
        rows = opened[0].query("SELECT name FROM schema_migrations WHERE version >= 98")
        assert sorted(rows.result_rows) == [("列",), ("锁",)]
    finally:
        opened[0].close()


def test_an_in_process_open_waits_for_the_engine_process_and_is_not_spoiled_by_a_busy_directory(
    tmp_path: Path,
) -> None:
    """chDB cannot open again in a process where one open failed: a busy directory waits."""
    dsn = "chdb://" + str(tmp_path / "ch")
    holder = ChdbProcessClient(dsn)
    migrate(holder)
    holder.insert("schema_migrations", [[97], ["审核"]], ["version", "name"], None, True)
    with pytest.raises(EngineDirectoryBusy, match=str(tmp_path / "ch")):
        connect(dsn, open_timeout=0.3)
    closing: list[float] = []

    def release() -> None:
        closing.append(time.monotonic())
        holder.close()

    closer = threading.Timer(1.0, release)
    closer.start()
    client = connect(dsn)  # waits for the holder to let go, then opens in this process
    try:
        assert closing and time.monotonic() > closing[0], "opened only once the holder let go"
        rows = client.query("SELECT name FROM schema_migrations WHERE version = 97").result_rows
        assert rows == [("审核",)]
    finally:
        client.close()
        closer.join()


def test_a_worker_gone_between_an_insert_request_and_its_body_leaves_no_engine_behind(
    tmp_path: Path,
) -> None:
    """The body follows its request's header as a frame of its own; the worker can die between."""
    dsn = "chdb://" + str(tmp_path / "ch")
    child = ChdbProcessClient(dsn)
    migrate(child)
    # The worker's half of the protocol, cut short: a header announcing a body, then nothing.
    header = {"op": "insert_native", "table": "schema_migrations", "columns": ["version", "name"]}
    child._wire.send({**header, "body": True})
    child._wire.close()
    assert child.process.wait(timeout=30) == 0, "the engine process closed chDB and exited"
    reopened = connect(dsn, open_timeout=5)  # the directory is free and intact
    try:
        count = reopened.query("SELECT count() FROM schema_migrations").result_rows
        assert count == [(len(MIGRATIONS),)]
    finally:
        reopened.close()


def test_the_engine_process_unpickles_nothing_its_worker_sends(tmp_path: Path) -> None:
    """The worker's socket pair speaks the same data protocol: a pickle payload runs nothing."""
    marker = tmp_path / "pickle-ran"

    class Touch:
        def __reduce__(self) -> tuple[Any, ...]:
            return (open, (str(marker), "w"))

    child = ChdbProcessClient("chdb://" + str(tmp_path / "ch"))
    migrate(child)
    child._wire._conn.send(Touch())  # a pickled message, framed as the old protocol was
    header, _ = child._wire.receive()
    assert header == {"error": "ProtocolError", "message": "a message header must be a JSON object"}
    assert child.process.wait(timeout=30) == 0, "the channel ended: the engine closed and exited"
    assert not marker.exists(), "the payload did not run"


def test_the_engine_process_refusals_are_told_apart_from_its_death(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the child: 252 is halved away, a refused value is returned, nothing retried."""
    (span,) = [case for case in corpus.load() if len(case.lines) > 100]
    batches = rows_for_checkpoint([aggregate(span.lines)], int(NOW.timestamp() * 1_000_000))
    tasks = batches["task_events"]
    tasks[TABLE_COLUMNS["task_events"].index("attempt")][3] = 70_000
    monkeypatch.setattr(batches_module, "MONTHS_PER_INSERT", 1000)  # let the engine say 252
    child = connect("chdb://" + str(tmp_path / "child"), own_process=True)
    try:
        migrate(child)
        writer = ClickHouseWriter(lambda: child, base_delay=10.0)
        refused = writer.write(batches, rejectable=("task_events",))
        assert [(r.table, "out of range" in r.error) for r in refused] == [("task_events", True)]
        assert writer.stats.retries == 0
        counts = [
            child.query(f"SELECT count() FROM {t} FINAL").result_rows[0][0]
            for t in ("task_events", "metrics_1m")
        ]
        assert counts == [129, 130]
    finally:
        child.close()
