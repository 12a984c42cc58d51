"""The silences file: its model and matching, and adds to a file shared with a worker.

The worker may run as another user and the file may be a symlink into a
shared directory; several operators may add silences at the same moment.
Every add must persist, the file keep its permissions, and a link stay a link.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from alerts.silences import Silence, SilencesError, add_silence, load_silences

NOW = datetime(2024, 1, 1, 12, tzinfo=UTC)
WRITERS = 8


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("kept", [0o644, 0o640, 0o664, 0o600])
def test_an_existing_file_keeps_its_mode(tmp_path: Path, kept: int) -> None:
    path = tmp_path / "silences.yaml"
    add_silence(path, {"vendor_id": "v1"}, duration="1h", now=NOW)
    os.chmod(path, kept)
    with umask(0o077):  # a strict umask must not leak into an existing file
        add_silence(path, {"vendor_id": "v2"}, duration="1h", now=NOW)
    assert mode(path) == kept
    assert len(load_silences(path)) == 2


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_a_new_file_follows_the_umask(tmp_path: Path, mask: int, expected: int) -> None:
    path = tmp_path / "silences.yaml"
    with umask(mask):
        add_silence(path, {"vendor_id": "v1"}, duration="1h", now=NOW)
    assert mode(path) == expected


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_an_existing_file_keeps_its_owner_and_group(tmp_path: Path) -> None:
    path = tmp_path / "silences.yaml"
    add_silence(path, {"vendor_id": "v1"}, duration="1h", now=NOW)
    os.chown(path, 65534, 65534)
    os.chmod(path, 0o640)
    add_silence(path, {"vendor_id": "v2"}, duration="1h", now=NOW)
    info = os.stat(path)
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (65534, 65534, 0o640)


def test_a_symlink_stays_and_its_target_is_updated(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    target = shared / "silences.yaml"
    first = add_silence(target, {"vendor_id": "v1"}, duration="1h", now=NOW)
    os.chmod(target, 0o644)
    link_dir = tmp_path / "deploy"
    link_dir.mkdir()
    link = link_dir / "silences.yaml"
    link.symlink_to(os.path.relpath(target, link_dir))
    second = add_silence(link, {"vendor_id": "v2"}, duration="1h", now=NOW)
    assert link.is_symlink() and link.resolve() == target
    assert load_silences(target).items == (first, second)
    assert mode(target) == 0o644
    assert os.listdir(link_dir) == ["silences.yaml"]  # temp and lock files live by the target
    assert sorted(os.listdir(shared)) == [".silences.yaml.lock", "silences.yaml"]


def test_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "silences.yaml"
    link.symlink_to(tmp_path / "elsewhere" / "real.yaml")
    silence = add_silence(link, {"vendor_id": "v1"}, duration="1h", now=NOW)
    assert link.is_symlink()
    assert load_silences(tmp_path / "elsewhere" / "real.yaml").items == (silence,)


def test_concurrent_adds_all_persist(tmp_path: Path) -> None:
    path = tmp_path / "silences.yaml"
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", os.getcwd())}
    processes = [
        subprocess.Popen(
            [
                sys.executable, "-m", "annotel", "silence", "add",
                "--match", f"annotator_id=a{i}", "--for", "1h", "--created-by", f"op{i}",
                "--file", str(path),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(WRITERS)
    ]  # fmt: skip
    for process in processes:
        _out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
    silences = load_silences(path).items
    assert sorted(s.matchers["annotator_id"] for s in silences) == sorted(
        f"a{i}" for i in range(WRITERS)
    )
    assert len({s.id for s in silences}) == WRITERS
    assert sorted(os.listdir(tmp_path)) == [".silences.yaml.lock", "silences.yaml"]


# -- silences ------------------------------------------------------------------------------


def test_add_silence_writes_atomically_and_round_trips_chinese(tmp_path: Path) -> None:
    path = tmp_path / "silences.yaml"
    first = add_silence(path, {"vendor_id": "供应商甲"}, duration="2h", comment="维护", now=NOW)
    second = add_silence(
        path,
        {"alertname": "queue_stalled", "queue_id": "q1"},
        ends_at=NOW + timedelta(minutes=30),
        created_by="lin",
        now=NOW,
    )
    # No temp file left behind; the lock file stays for the next writer.
    assert sorted(os.listdir(tmp_path)) == [".silences.yaml.lock", "silences.yaml"]
    assert "供应商甲" in path.read_text(encoding="utf-8")
    loaded = load_silences(path)
    assert loaded.items == (first, second)
    assert first.starts_at == NOW
    assert first.ends_at == NOW + timedelta(hours=2)
    assert (first.comment, second.created_by) == ("维护", "lin")
    assert yaml.safe_load(path.read_text(encoding="utf-8"))[1]["ends_at"] == "2024-01-01T12:30:00Z"


def test_silence_matching_and_expiry(tmp_path: Path) -> None:
    path = tmp_path / "silences.yaml"
    silence = add_silence(path, {"vendor_id": "v1"}, duration=3600, now=NOW)
    silences = load_silences(path)
    labels = {"alertname": "r", "vendor_id": "v1", "project_id": "p1"}
    assert silences.match(labels, NOW) == silence
    assert silences.match(labels, NOW + timedelta(minutes=59)) == silence
    assert silences.match(labels, NOW + timedelta(hours=1)) is None  # ends_at is exclusive
    assert silences.match(labels, NOW - timedelta(seconds=1)) is None  # not started
    assert silences.match({**labels, "vendor_id": "v2"}, NOW) is None
    assert silences.match({"alertname": "r"}, NOW) is None


def test_invalid_silences_files(tmp_path: Path) -> None:
    assert len(load_silences(tmp_path / "missing.yaml")) == 0
    path = tmp_path / "silences.yaml"
    path.write_text(
        "- {id: a, matchers: {vendor_id: v1}}\n"
        "- {id: b, matchers: {}, ends_at: '2024-01-01T00:00:00Z'}\n"
        "- {id: c, matchers: {x: y}, ends_at: tomorrow}\n"
    )
    with pytest.raises(SilencesError) as info:
        load_silences(path)
    assert info.value.problems == [
        "[0].ends_at: Field required",
        "[1].matchers: Dictionary should have at least 1 item after validation, not 0",
        "[2].ends_at: invalid time 'tomorrow': expected ISO 8601",
    ]


def test_add_silence_needs_an_end_and_a_matcher(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one of duration and ends_at"):
        add_silence(tmp_path / "s.yaml", {"a": "b"}, now=NOW)
    with pytest.raises(ValueError, match="at least one matcher"):
        add_silence(tmp_path / "s.yaml", {}, duration=60, now=NOW)
    assert not (tmp_path / "s.yaml").exists()


def test_naive_times_in_the_file_are_utc() -> None:
    silence = Silence.model_validate(
        {"id": "x", "matchers": {"a": "b"}, "ends_at": datetime(2024, 1, 1, 13)}
    )
    assert silence.ends_at == datetime(2024, 1, 1, 13, tzinfo=UTC)
    assert silence.active(NOW)
