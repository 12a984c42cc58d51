"""The engine directory's lock: probed without taking it, waited for, and named when it stays."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from embedded.engine_lock import EngineDirectoryBusy, held, wait_for_engine_directory


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[int]:
    """An open file holding ``status`` as ClickHouse holds it (an exclusive ``flock``)."""
    fd = os.open(tmp_path / "status", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    yield fd
    os.close(fd)


def test_a_directory_never_opened_or_let_go_of_is_not_held(tmp_path: Path) -> None:
    assert not held(tmp_path / "nothing-here")
    assert not held(tmp_path)  # no status file
    (tmp_path / "status").write_text("")
    assert not held(tmp_path)


def test_a_held_directory_is_seen_and_probing_does_not_take_it(tmp_path: Path, holder: int) -> None:
    assert held(tmp_path)
    assert held(tmp_path), "the probe let go of nothing it did not take"
    fcntl.flock(holder, fcntl.LOCK_UN)
    assert not held(tmp_path)
    assert not held(tmp_path), "the probe released what it took"


def test_the_wait_ends_when_the_holder_lets_go(tmp_path: Path, holder: int) -> None:
    released: list[float] = []

    def release() -> None:
        released.append(time.monotonic())
        fcntl.flock(holder, fcntl.LOCK_UN)

    timer = threading.Timer(0.5, release)
    timer.start()
    wait_for_engine_directory(tmp_path, timeout=10)
    assert released and time.monotonic() >= released[0]
    timer.join()


def test_a_directory_that_stays_held_is_named_after_the_timeout(
    tmp_path: Path, holder: int
) -> None:
    started = time.monotonic()
    with pytest.raises(EngineDirectoryBusy, match="is held by another process") as busy:
        wait_for_engine_directory(tmp_path, timeout=0.3)
    assert str(tmp_path) in str(busy.value)
    assert "ANNOTEL_CLICKHOUSE_URL" in str(busy.value)
    assert 0.3 <= time.monotonic() - started < 5
    assert held(tmp_path), "the holder still holds it"
