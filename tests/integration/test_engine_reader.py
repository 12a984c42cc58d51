"""Reading a running worker's database through its engine process: queries only, and safely."""

from __future__ import annotations

import os
import signal
import stat
import tempfile
import threading
import time
from pathlib import Path

import pytest

from sinks.chdb_process import ChdbProcessClient, ChdbProcessError
from sinks.clickhouse import connect, migrate
from sinks.engine_reader import EngineReader, UnsafeSocketDirectory, socket_path

pytestmark = pytest.mark.integration

NAMES = ["version", "name"]


def _engine(path: Path) -> ChdbProcessClient:
    engine = ChdbProcessClient("chdb://" + str(path))
    migrate(engine)
    return engine


def _count(client: ChdbProcessClient | EngineReader) -> int:
    rows = client.query("SELECT count() FROM schema_migrations WHERE version >= 1000").result_rows
    return int(rows[0][0])


def test_a_reader_sees_the_rows_and_can_change_nothing(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "ch")
    try:
        engine.insert("schema_migrations", [[1000], ["质检"]], NAMES, None, True)
        reader = connect("chdb://" + str(tmp_path / "ch"), read_only=True)
        assert isinstance(reader, EngineReader)
        try:
            result = reader.query(
                "SELECT version, name FROM schema_migrations WHERE name = {n:String}",
                parameters={"n": "质检"},
            )
            assert result.column_names == ("version", "name")
            assert result.result_rows == [(1000, "质检")]
            for sql in (
                "INSERT INTO schema_migrations (version, name) VALUES (1001, '写')",
                "ALTER TABLE schema_migrations DELETE WHERE 1",
                "DROP TABLE schema_migrations",
                "SELECT 1 SETTINGS readonly = 0",
                "DROP TABLE schema_migrations; SELECT 1",  # a statement smuggled before a SELECT
            ):
                with pytest.raises(ChdbProcessError, match="READONLY"):
                    reader.query(sql)
            with pytest.raises(ChdbProcessError, match="queries only"):
                reader.command("TRUNCATE TABLE schema_migrations")
            assert _count(reader) == 1
        finally:
            reader.close()
        assert _count(engine) == 1, "the worker's channel carried on"
    finally:
        engine.close()
    assert engine.process.returncode == 0


def test_readers_and_the_worker_at_once(tmp_path: Path) -> None:
    """Inserts land while readers query; each reader only ever sees counts grow."""
    engine = _engine(tmp_path / "ch")
    seen: list[list[int]] = [[], []]
    errors: list[BaseException] = []
    stop = threading.Event()
    attached = threading.Barrier(3, timeout=60)

    def read(into: list[int]) -> None:
        try:
            reader = EngineReader.attach(tmp_path / "ch")
            assert reader is not None
            attached.wait()  # the inserts start once both readers are in
            while not stop.is_set():
                into.append(_count(reader))
            reader.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(s,)) for s in seen]
    for thread in threads:
        thread.start()
    attached.wait()
    try:
        for version in range(1000, 1040):
            engine.insert("schema_migrations", [[version], [f"批{version}"]], NAMES, None, True)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    try:
        assert not errors, errors
        assert _count(engine) == 40
        for counts in seen:
            assert counts and counts == sorted(counts), counts[:50]
        assert any(len(set(counts)) > 1 for counts in seen), "a reader saw inserts land"
    finally:
        engine.close()


def test_the_socket_is_private_and_an_engine_process_exits_with_a_reader_attached(
    tmp_path: Path,
) -> None:
    engine = _engine(tmp_path / "ch")
    try:
        sock = socket_path(tmp_path / "ch")
        assert sock is not None and sock.exists()
        assert stat.S_IMODE(os.stat(sock.parent).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
        reader = EngineReader.attach(tmp_path / "ch")
        assert reader is not None
    finally:
        engine.close()  # the worker stops while the reader is still attached
    assert engine.process.returncode == 0
    assert not sock.exists(), "the engine process removed its socket"
    with pytest.raises(ChdbProcessError, match="closed the connection"):
        reader.query("SELECT 1")


def test_a_worker_stops_while_a_reader_is_mid_query(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "ch")
    reader = EngineReader.attach(tmp_path / "ch")
    assert reader is not None
    failed: list[BaseException] = []

    def slow() -> None:
        try:
            reader.query("SELECT sleepEachRow(0.1) FROM numbers(25)")  # 2.5 s
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.5)  # the query is running (it lasts 2.5 s)
    engine.close()  # waits for the reader's query, then the engine closes cleanly
    assert engine.process.returncode == 0
    thread.join(30)
    assert failed and isinstance(failed[0], ChdbProcessError), failed


def test_a_killed_engine_process_leaves_a_socket_nobody_answers(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "ch")
    engine.insert("schema_migrations", [[1000], ["遗留"]], NAMES, None, True)
    os.kill(engine.pid, signal.SIGKILL)
    os.waitid(os.P_PID, engine.pid, os.WEXITED | os.WNOWAIT)
    sock = socket_path(tmp_path / "ch")
    assert sock is not None and sock.exists(), "a SIGKILL leaves the socket file"
    assert EngineReader.attach(tmp_path / "ch") is None
    # The directory is free: a read-only open falls back to the engine in this process.
    client = connect("chdb://" + str(tmp_path / "ch"), read_only=True, open_timeout=30)
    try:
        assert not isinstance(client, EngineReader)
        assert client.query("SELECT name FROM schema_migrations WHERE version = 1000").result_rows
    finally:
        client.close()
    with pytest.raises(ChdbProcessError):
        engine.command("SELECT 1")
    # A new engine process replaces the stale socket with its own.
    successor = ChdbProcessClient("chdb://" + str(tmp_path / "ch"))
    try:
        reader = EngineReader.attach(tmp_path / "ch")
        assert reader is not None
        assert _count(reader) == 1
        reader.close()
    finally:
        successor.close()


def test_a_socket_directory_open_to_others_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "tmp"
    (shared / f"annotel-{os.getuid()}").mkdir(parents=True, mode=0o777)
    os.chmod(shared / f"annotel-{os.getuid()}", 0o777)
    monkeypatch.setenv("TMPDIR", str(shared))  # the engine process's temporary directory
    monkeypatch.setattr(tempfile, "tempdir", str(shared))  # and this process's
    engine = _engine(tmp_path / "ch")
    try:
        assert list((shared / f"annotel-{os.getuid()}").iterdir()) == [], "no socket there"
        with pytest.raises(UnsafeSocketDirectory, match="not a directory private to this user"):
            EngineReader.attach(tmp_path / "ch")
        assert _count(engine) == 0, "the worker's own channel is unaffected"
    finally:
        engine.close()
