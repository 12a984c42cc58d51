"""No log record and no uncaught traceback carries a secret, whoever logged it."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator

import pytest

from schemas.redact import add_secret
from streams.logs import setup_logging

SECRET = "Wq4/logged#secret"


@pytest.fixture
def logging_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    hooks = sys.excepthook, threading.excepthook
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        sys.excepthook, threading.excepthook = hooks


@pytest.mark.parametrize("json_logs", [True, False])
def test_records_are_redacted_before_they_are_written(
    logging_restored: None, capsys: pytest.CaptureFixture[str], json_logs: bool
) -> None:
    add_secret(SECRET, user="writer")
    setup_logging("INFO", json_logs=json_logs)
    log = logging.getLogger("clickhouse_connect.driver")  # as a library would
    log.warning("auth failed with %s", SECRET)
    log.warning(
        "retrying",
        extra={"url": "https://writer:unknown-pw@h:8443/db", "password": "pw1", "rows": 3},
    )
    try:
        raise RuntimeError(f"server replied: password {SECRET} is wrong")
    except RuntimeError:
        log.exception("insert failed")
    err = capsys.readouterr().err
    assert "Wq4" not in err and "unknown-pw" not in err and "pw1" not in err
    assert "auth failed with ***" in err
    assert "https://writer:***@h:8443/db" in err
    assert "RuntimeError: server replied: password *** is wrong" in err
    if json_logs:
        records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
        assert [r["msg"] for r in records] == ["auth failed with ***", "retrying", "insert failed"]
        assert records[1]["password"] == "***" and records[1]["rows"] == 3
        assert "Traceback" in records[2]["exc"]


def test_uncaught_tracebacks_are_redacted(
    logging_restored: None, capsys: pytest.CaptureFixture[str]
) -> None:
    add_secret(SECRET)
    setup_logging("INFO", json_logs=True)
    try:
        raise ConnectionError(f"cannot reach https://u:{SECRET}@h/")
    except ConnectionError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    thread = threading.Thread(target=lambda: (_ for _ in ()).throw(ValueError(SECRET)))
    thread.start()
    thread.join()
    err = capsys.readouterr().err
    assert "Wq4" not in err
    assert "ConnectionError: cannot reach https://u:***@h/" in err
    assert "Exception in thread" in err and "ValueError: ***" in err
