"""``annotel silence add`` on a file shared with a worker: modes, symlinks, concurrent writers.

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
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.silences import add_silence, load_silences

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
