"""Reading a running worker's database through its engine process: queries only, and safely."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from embedded.channel import ChdbProcessError
from embedded.chdb_process import ChdbProcessClient
from embedded.engine_reader import (
    LISTEN_BACKLOG,
    EngineReader,
    UnsafeSocketDirectory,
    socket_path,
)
from embedded.wire import Wire
from sinks.client import connect
from sinks.migrate import migrate
from sinks.writer import ClickHouseWriter
from streams.rows import rows_for_checkpoint
from streams.testing import NOW, aggregate
from tests.reader_socket import ended, raw_connection

pytestmark = pytest.mark.integration

NAMES = ["version", "name"]
ROOT = Path(__file__).resolve().parents[2]


def _engine(path: Path, **options: Any) -> ChdbProcessClient:
    engine = ChdbProcessClient("chdb://" + str(path), **options)
    migrate(engine)
    return engine


def _count(client: ChdbProcessClient | EngineReader) -> int:
    rows = client.query("SELECT count() FROM schema_migrations WHERE version >= 1000").result_rows
    return int(rows[0][0])


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One engine process (as a worker runs it) and one reader, for the statement checks."""
    base = tmp_path_factory.mktemp("reader")
    engine = _engine(base / "ch")
    engine.insert("schema_migrations", [[1000], ["质检"]], NAMES, None, True)
    reader = EngineReader.attach(base / "ch")
    assert reader is not None
    try:
        yield {"engine": engine, "reader": reader, "base": base}
    finally:
        reader.close()
        engine.close()


# Each is refused by the engine process before it runs, with a reason naming what is refused.
REFUSED = {
    "kill-query": ("KILL QUERY WHERE 1 SYNC", "not KILL"),
    "kill-query-async": ("KILL QUERY WHERE query_id != '' ASYNC", "not KILL"),
    "system-stop-merges": ("SYSTEM STOP MERGES", "not SYSTEM"),
    "system-stop-moves": ("SYSTEM STOP MOVES", "not SYSTEM"),
    "system-stop-merges-table": ("SYSTEM STOP MERGES schema_migrations", "not SYSTEM"),
    "select-into-outfile": ("SELECT 1 INTO OUTFILE '{out}'", "INTO OUTFILE"),
    "select-into-outfile-format": (
        "WITH 1 AS x SELECT x INTO OUTFILE '{out}' TRUNCATE FORMAT CSV",
        "INTO OUTFILE",
    ),
    "union-into-outfile": ("SELECT 1 UNION ALL SELECT 2 INTO OUTFILE '{out}'", "INTO OUTFILE"),
    "show-into-outfile": ("SHOW TABLES INTO OUTFILE '{out}'", "INTO OUTFILE"),
    "describe-into-outfile": (
        "DESCRIBE TABLE schema_migrations INTO OUTFILE '{out}'",
        "INTO OUTFILE",
    ),
    "exists-into-outfile": ("EXISTS TABLE schema_migrations INTO OUTFILE '{out}'", "INTO OUTFILE"),
    "insert": ("INSERT INTO schema_migrations (version, name) VALUES (1001, '写')", "not INSERT"),
    "insert-select": (
        "INSERT INTO schema_migrations SELECT * FROM schema_migrations",
        "not INSERT",
    ),
    "insert-into-table-function": (
        "INSERT INTO FUNCTION file('{out}', 'CSV', 'a UInt8') SELECT 1",
        "not INSERT",
    ),
    "alter-delete": ("ALTER TABLE schema_migrations DELETE WHERE 1", "not ALTER"),
    "drop": ("DROP TABLE schema_migrations", "not DROP"),
    "truncate": ("TRUNCATE TABLE schema_migrations", "not TRUNCATE"),
    "create": ("CREATE TABLE scratch (a UInt8) ENGINE = Memory", "not CREATE"),
    "optimize": ("OPTIMIZE TABLE schema_migrations FINAL", "not OPTIMIZE"),
    "set-readonly": ("SET readonly = 0", "not SET"),
    # A changed setting meets readonly=1 as the statement is parsed; an unchanged one, the check.
    "settings-readonly": ("SELECT 1 SETTINGS readonly = 0", "Cannot modify 'readonly'"),
    "settings-time-limit": (
        "SELECT 1 SETTINGS max_execution_time = 0",
        "Cannot modify 'max_execution_time'",
    ),
    "settings-in-subquery": (
        "SELECT * FROM (SELECT 1 SETTINGS readonly = 0)",
        "cannot carry SETTINGS",
    ),
    "settings-unchanged": ("SELECT 1 SETTINGS readonly = 1", "cannot carry SETTINGS"),
    "settings-after-format": (
        "SELECT 1 FORMAT CSV SETTINGS readonly = 0",
        "Cannot modify 'readonly'",
    ),
    "format": ("SELECT 1 FORMAT JSON", "FORMAT"),
    "show-format": ("SHOW TABLES FORMAT JSON", "FORMAT"),
    "drop-then-select": ("DROP TABLE schema_migrations; SELECT 1", "Multi-statements"),
    "select-then-drop": ("SELECT 1; DROP TABLE schema_migrations", "Multi-statements"),
    "select-then-kill": ("SELECT 1; KILL QUERY WHERE 1", "Multi-statements"),
    "comment-then-stop": ("SELECT 1 /* ; */; SYSTEM STOP MERGES", "Multi-statements"),
    "explain": ("EXPLAIN SELECT 1", "not EXPLAIN"),
    "empty": ("", "SYNTAX_ERROR"),
    # Not writes, but outside the database: the handle's readonly=1 refuses them.
    "file-table-function": ("SELECT * FROM file('/etc/hostname', 'LineAsString')", "READONLY"),
    "url-table-function": (
        "SELECT * FROM url('http://127.0.0.1:9/x', 'CSV', 'a String')",
        "READONLY",
    ),
}


@pytest.mark.parametrize(("sql", "reason"), REFUSED.values(), ids=REFUSED.keys())
def test_a_reader_cannot_run(shared: dict[str, Any], sql: str, reason: str) -> None:
    out = shared["base"] / f"out-{abs(hash(sql))}"
    reader: EngineReader = shared["reader"]
    with pytest.raises(ChdbProcessError, match=reason):
        reader.query(sql.format(out=out))
    assert not out.exists(), "no file was written"
    assert reader.query("SELECT 1").result_rows == [(1,)], "the reader is served on"
    assert _count(shared["engine"]) == 1, "the worker's data and channel are intact"


ACCEPTED = {
    "select-param": (
        "SELECT version, name FROM schema_migrations WHERE name = {n:String}",
        [(1000, "质检")],
    ),
    "with": ("WITH 1000 AS v SELECT count() FROM schema_migrations WHERE version = v", [(1,)]),
    "union": ("SELECT 1 UNION ALL SELECT 2 ORDER BY 1", [(1,), (2,)]),
    "except": ("SELECT number FROM numbers(3) EXCEPT SELECT 1 ORDER BY 1", [(0,), (2,)]),
    "show-tables": ("SHOW TABLES LIKE 'schema_%'", [("schema_migrations",)]),
    "describe": ("DESCRIBE TABLE schema_migrations", None),
    "exists": ("EXISTS TABLE schema_migrations", [(1,)]),
    # Text that only looks like a refused clause, inside literals and comments.
    "literals": ("SELECT ';' AS s, 'INTO OUTFILE x' AS t, 'FORMAT JSON' AS u", None),
    "line-comment": ("SELECT 1 -- ; KILL QUERY WHERE 1\n", [(1,)]),
    "trailing-semicolon": ("SELECT 1;", [(1,)]),
    "settings-read": (
        "SELECT getSetting('readonly'), getSetting('max_execution_time')",
        [(1, 60.0)],
    ),
}


@pytest.mark.parametrize(("sql", "rows"), ACCEPTED.values(), ids=ACCEPTED.keys())
def test_a_reader_runs_reads(
    shared: dict[str, Any], sql: str, rows: list[tuple[Any, ...]] | None
) -> None:
    result = shared["reader"].query(sql, parameters={"n": "质检"} if "{n:" in sql else None)
    if rows is not None:
        assert result.result_rows == rows
    else:
        assert result.result_rows and result.column_names
    if sql.startswith("SELECT ';'"):
        assert result.result_rows == [(";", "INTO OUTFILE x", "FORMAT JSON")]
        assert result.column_names == ("s", "t", "u")


def test_a_reader_cannot_cancel_the_worker_s_query(shared: dict[str, Any]) -> None:
    """KILL QUERY from a reader would cancel the worker's insert in flight; it is refused."""
    engine: ChdbProcessClient = shared["engine"]
    done: list[Any] = []

    def worker_query() -> None:
        try:
            done.append(engine.query("SELECT sleepEachRow(0.1) FROM numbers(20)").result_rows)
        except BaseException as exc:
            done.append(exc)

    thread = threading.Thread(target=worker_query)
    thread.start()
    time.sleep(0.5)  # the worker's query runs (2 s)
    for sql in ("KILL QUERY WHERE 1 SYNC", "KILL QUERY WHERE query_id != '' SYNC"):
        with pytest.raises(ChdbProcessError, match="not KILL"):
            shared["reader"].query(sql)
    thread.join(30)
    assert done and done[0] == [(0,)] * 20, done


def test_nothing_sent_to_the_socket_is_unpickled(shared: dict[str, Any]) -> None:
    """A crafted ``__reduce__`` payload, framed as ``Connection.send`` writes it, runs nothing."""
    marker = shared["base"] / "pickle-ran"

    class Touch:
        def __reduce__(self) -> tuple[Any, ...]:
            return (open, (str(marker), "w"))

    conn = raw_connection(shared["base"] / "ch")
    hello = conn.recv_bytes()
    conn.send(Touch())  # multiprocessing's pickling send, as the old protocol read it
    reply = conn.recv_bytes() if conn.poll(10) else b""
    time.sleep(0.2)
    assert not marker.exists(), "the payload did not run"
    assert set(orjson.loads(hello)["ok"]) == {"timezone"}
    assert orjson.loads(reply) == {
        "error": "ProtocolError",
        "message": "a message header must be a JSON object",
    }
    assert ended(conn), "the channel ends after a message that is not ours"
    conn.close()

    # Unframed pickle bytes: the first 4 bytes read as a negative length.
    conn = raw_connection(shared["base"] / "ch")
    conn.recv_bytes()
    os.write(conn.fileno(), pickle.dumps(Touch()))
    assert orjson.loads(conn.recv_bytes())["error"] == "ProtocolError"
    assert ended(conn)
    conn.close()
    # A length of 2 GiB is not read: the channel ends at once.
    conn = raw_connection(shared["base"] / "ch")
    conn.recv_bytes()
    os.write(conn.fileno(), struct.pack("!i", 2**31 - 1))
    assert ended(conn)
    conn.close()
    # A header that announces a body: readers send none.
    conn = raw_connection(shared["base"] / "ch")
    conn.recv_bytes()
    conn.send_bytes(orjson.dumps({"op": "query", "sql": "SELECT 1", "body": True}))
    assert orjson.loads(conn.recv_bytes())["error"] == "ProtocolError"
    assert ended(conn)
    conn.close()
    assert not marker.exists()
    assert _count(shared["reader"]) == 1 and _count(shared["engine"]) == 1


def test_a_reader_sees_the_rows_and_cannot_write(tmp_path: Path) -> None:
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
            with pytest.raises(ChdbProcessError, match="queries only"):
                reader.command("TRUNCATE TABLE schema_migrations")
            assert _count(reader) == 1
        finally:
            reader.close()
        assert _count(engine) == 1, "the worker's channel carried on"
    finally:
        engine.close()
    assert engine.process.returncode == 0


def test_a_reader_s_query_is_cut_off_at_the_time_limit(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "ch", reader_time_limit_s=1.0)
    try:
        reader = EngineReader.attach(tmp_path / "ch")
        assert reader is not None
        assert reader.query("SELECT getSetting('max_execution_time')").result_rows == [(1.0,)]
        began = time.monotonic()
        with pytest.raises(ChdbProcessError, match="TIMEOUT_EXCEEDED"):
            # About 6 s of sleeping in three blocks, unless cut off.
            reader.query("SELECT count() FROM numbers(150000) WHERE sleepEachRow(0.00004) = 0")
        elapsed = time.monotonic() - began
        assert 0.9 <= elapsed < 4, elapsed
        assert reader.query("SELECT 1").result_rows == [(1,)], "the reader is served on"
        # The worker's own channel has no such limit.
        rows = engine.query("SELECT count() FROM numbers(30000) WHERE sleepEachRow(0.00004) = 0")
        assert rows.result_rows == [(30000,)]
        reader.close()
    finally:
        engine.close()
    assert engine.process.returncode == 0


def test_32_readers_at_once_are_all_served(tmp_path: Path) -> None:
    """``annotel top`` 32 times at once: the engine queues them all, then answers each."""
    from reports.live import status

    engine = _engine(tmp_path / "ch")
    try:
        lines = (ROOT / "examples/sample-events.jsonl").read_bytes().splitlines()
        batches = rows_for_checkpoint([aggregate(lines)], int(NOW.timestamp() * 1_000_000))
        ClickHouseWriter(lambda: engine).write(batches)
        expected = status(engine).to_json()
        assert expected["projects"], "the sample has projects"
        path = socket_path(tmp_path / "ch")
        assert path is not None
        # Stopped, the engine accepts nothing: every connection waits in the listen backlog.
        socks: list[socket.socket] = []
        os.kill(engine.pid, signal.SIGSTOP)
        try:
            for _ in range(32):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.setblocking(False)
                sock.connect(str(path))  # BlockingIOError once the backlog is full
                socks.append(sock)
        finally:
            os.kill(engine.pid, signal.SIGCONT)
        assert LISTEN_BACKLOG >= 32
        answers: list[Any] = []
        started = threading.Barrier(32, timeout=60)

        def top(sock: socket.socket) -> None:
            try:
                sock.setblocking(True)
                reader = EngineReader(Wire(sock.detach()))
                started.wait()
                answers.append(status(reader).to_json())
                reader.close()
            except BaseException as exc:
                answers.append(exc)

        threads = [threading.Thread(target=top, args=(sock,)) for sock in socks]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        elapsed = time.monotonic() - began
        assert len(answers) == 32 and all(a == expected for a in answers), answers[:3]
        print(f"32 concurrent `annotel top` reads answered in {elapsed:.2f} s")
    finally:
        engine.close()
    assert engine.process.returncode == 0


def _python_as_nobody() -> str | None:
    """An interpreter the user ``nobody`` may run (the test's own may live in a private home)."""
    for candidate in (sys.executable, "/usr/bin/python3"):
        try:
            ran = subprocess.run(
                [candidate, "-c", "pass"], user=65534, group=65534, extra_groups=[], cwd="/"
            )
        except OSError:
            continue
        if ran.returncode == 0:
            return candidate
    return None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another uid")
def test_the_engine_process_refuses_a_process_of_another_uid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real engine process and a client running as ``nobody``, let through the directory."""
    python = _python_as_nobody()
    if python is None:
        pytest.skip("no Python interpreter the user nobody may run")
    # A socket directory of this test's own, opened up below: never the user's shared one.
    outer = Path(tempfile.mkdtemp(prefix="annotel-uid-", dir="/tmp"))
    try:
        monkeypatch.setenv("TMPDIR", str(outer))  # the engine process's temporary directory
        monkeypatch.setattr(tempfile, "tempdir", str(outer))  # and this process's
        engine = _engine(tmp_path / "ch")
        try:
            path = socket_path(tmp_path / "ch")
            assert path is not None and path.parent.parent == outer
            for opened, mode in ((outer, 0o711), (path.parent, 0o711), (path, 0o666)):
                os.chmod(opened, mode)  # as if the directory were open to others
            client = textwrap.dedent(
                f"""
                import json, socket
                from multiprocessing.connection import Connection
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect({str(path)!r})
                conn = Connection(sock.detach())
                first = conn.recv_bytes().decode()
                try:
                    conn.send_bytes(b'{{"op": "query", "sql": "SELECT 1"}}')
                    conn.recv_bytes()
                    ended = False
                except (EOFError, OSError):
                    ended = True
                print(json.dumps({{"first": first, "ended": ended}}))
                """
            )
            run = subprocess.run(
                [python, "-c", client],
                user=65534,
                group=65534,
                extra_groups=[],
                cwd="/",
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert run.returncode == 0, run.stderr
            seen = json.loads(run.stdout)
            first = json.loads(seen["first"])
            assert first["error"] == "PeerRefused" and "not uid 65534" in first["message"], first
            assert seen["ended"]
            os.chmod(path.parent, 0o700)  # this process checks the directory is private
            reader = EngineReader.attach(tmp_path / "ch")  # this uid is still served
            assert reader is not None and _count(reader) == 0
            reader.close()
        finally:
            engine.close()
    finally:
        shutil.rmtree(outer, ignore_errors=True)


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


# -- the same results as an in-process read ----------------------------------------------------

# Every kind of value a result can hold, and parameters that need escaping and a time zone.
TYPES_SQL = """SELECT
    toDateTime('2026-11-23 01:02:03', 'UTC') AS dt_utc,
    toDateTime('2026-11-23 01:02:03') AS dt,
    toDateTime64('2026-11-23 01:02:03.123456', 6, 'UTC') AS dt64,
    toDateTime64('2026-11-23 01:02:03.123456', 6, 'Asia/Shanghai') AS dt64_shanghai,
    toDate('2026-11-23') AS d, toDate32('1900-01-01') AS d32,
    toDecimal128('12345678901234567890.123456789', 9) AS dec,
    toUInt64(18446744073709551615) AS u64, toInt64(-9223372036854775808) AS i64,
    toUInt128('340282366920938463463374607431768211455') AS u128,
    toInt256('-57896044618658097711785492504343953926634992332820282019728792003956564819968')
        AS i256,
    nan AS f_nan, inf AS f_inf, -0. AS neg_zero, 0.1 + 0.2 AS f, toFloat32(1.1) AS f32,
    'a\\0b' AS zero_byte, unhex('ff00fe') AS not_utf8, '标注 ✓' AS cjk,
    toUUID('61f0c404-5cb3-11e7-907b-a6006ad3dba0') AS uuid,
    toIPv4('127.0.0.1') AS ip4, toIPv6('::1') AS ip6,
    [1, 2, 3] AS arr, (1, 'x') AS tup, map('k', 1) AS m,
    CAST(NULL AS Nullable(String)) AS n, toLowCardinality('lc') AS lc,
    CAST('a' AS Enum8('a' = 1)) AS e, true AS b,
    {at:DateTime64(6, 'UTC')} AS param_at, {text:String} AS param_text,
    {ids:Array(UInt64)} AS param_ids"""
TYPES_PARAMS = {
    "at": datetime(2026, 11, 23, 1, 2, 3, 456789, tzinfo=UTC),
    "text": "it's a \\ test\twith 'quotes', 标注 and a newline\n",
    "ids": [0, 2**64 - 1],
}


def _reads(client: Any) -> dict[str, str]:
    """What ``annotel report``, ``top`` and ``alerts list`` show, and every kind of value."""
    from alerts.rules import load_rules
    from reports.live import current_alerts, status
    from reports.markdown import render_markdown
    from reports.model import build_report
    from tests.integration.test_report import RULES

    now = datetime(2026, 11, 23, 3, tzinfo=UTC)
    report = build_report(client, load_rules(RULES), now=now)
    types = client.query(TYPES_SQL, parameters=TYPES_PARAMS)
    return {
        "report": repr(report.to_dict()),
        "markdown": render_markdown(report),
        "top": repr(status(client)),
        "alerts": repr([current_alerts(client, s) for s in (None, "firing", "resolved")]),
        "types": repr((types.column_names, types.result_rows)),
    }


def identical_child(data_dir: str, out_file: str) -> None:
    """In-process reads, then the same reads through a running engine process (and its worker
    channel); writes them all for the test to compare."""
    from tests.integration.test_report import populate

    dsn = "chdb://" + str(Path(data_dir) / "clickhouse")
    written = populate(Path(data_dir), events=15_000)
    client = connect(dsn)
    in_process = _reads(client)
    client.close()
    engine = ChdbProcessClient(dsn)
    try:
        reader = connect(dsn, read_only=True)
        assert isinstance(reader, EngineReader)
        through_reader = _reads(reader)
        reader.close()
        through_worker_channel = {"types": _reads(engine)["types"]}
    finally:
        engine.close()
    Path(out_file).write_text(
        json.dumps(
            {
                "transitions": len(written["transitions"]),
                "in_process": in_process,
                "reader": through_reader,
                "worker": through_worker_channel,
            },
            ensure_ascii=False,
        )
    )


def test_reads_through_the_engine_process_equal_in_process_reads(tmp_path: Path) -> None:
    out = tmp_path / "reads.json"
    code = (
        "import sys; from tests.integration.test_engine_reader import identical_child; "
        "identical_child(*sys.argv[1:])"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "data"), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    reads = json.loads(out.read_text())
    assert reads["transitions"] > 0, "the data has alerts"
    in_process, reader = reads["in_process"], reads["reader"]
    assert "'projects': [{" in in_process["report"], "the report has projects"
    # Every incident of this data ends (no data resolves too): the list holds its resolves.
    assert "'status': 'resolved'" in in_process["alerts"], "the alerts list has the incidents"
    for kind in ("18446744073709551615", "Decimal('12345678901234567890.123456789')", "nan"):
        assert kind in in_process["types"], kind
    for name in in_process:
        assert reader[name] == in_process[name], name
    assert reads["worker"]["types"] == in_process["types"]
