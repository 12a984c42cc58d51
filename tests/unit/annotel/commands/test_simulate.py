"""``annotel simulate``: the command writes the simulator's bytes, refuses bad arguments
with exit 2, and publishes through ``streams.ingest`` exactly what the API generates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from annotel.cli import build_parser
from annotel.commands import simulate
from schemas import ContractDecoder, DecodeError
from simulator import Simulator

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC) - timedelta(hours=8)  # 09:00 in Beijing
DECODER = ContractDecoder()


def _run(argv: list[str]) -> int:
    args = build_parser().parse_args(["simulate", *argv])
    code: int = args.func(args)
    return code


def test_cli_writes_the_same_lines_as_the_api(tmp_path: Path) -> None:
    out, manifest = tmp_path / "events.jsonl", tmp_path / "manifest.json"
    argv = ["--seed", "9", "--events", "3000", "--start", "2026-11-23T09:00:00+08:00"]
    assert _run([*argv, "--out", str(out), "--manifest", str(manifest)]) == 0
    sim = Simulator(9, START)
    expected = list(sim.events(n=3000))
    assert out.read_bytes() == b"\n".join(expected) + b"\n"
    assert orjson.loads(manifest.read_bytes()) == orjson.loads(orjson.dumps(sim.manifest))


def test_cli_subset_of_incidents_and_default_start(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    manifest = tmp_path / "manifest.json"
    argv = ["--duration", "20m", "--incidents", "queue_stall", "--out", str(out)]
    assert _run([*argv, "--manifest", str(manifest)]) == 0
    data = orjson.loads(manifest.read_bytes())
    assert [i["name"] for i in data["incidents"]] == ["queue_stall"]
    start = datetime.fromisoformat(data["start"].replace("Z", "+00:00"))
    now = datetime.now(UTC)
    assert start.second == 0 and timedelta(minutes=19) < now - start < timedelta(minutes=22)
    for line in out.read_bytes().splitlines():
        assert not isinstance(DECODER.decode(line), DecodeError)  # nothing in the future


@pytest.mark.parametrize(
    "argv",
    [
        ["--events", "0"],
        ["--events", "ten"],
        ["--duration", "2 weeks"],
        ["--duration", "0s"],
        ["--events", "5", "--duration", "1h"],
        ["--rate", "0"],
        ["--start", "2026-11-23T09:00:00"],
        ["--start", "2026年11月23日 09:00"],
        ["--incidents", "queue_stall,meteor"],
        ["--seed", "x"],
    ],
)
def test_cli_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        _run([*argv, "--out", "-"])
    assert exc.value.code == 2
    assert "annotel simulate: error: argument" in capsys.readouterr().err


def test_cli_bad_knob_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["--projects", "9", "--events", "10", "--out", "-"]) == 2
    assert "projects must be" in capsys.readouterr().err


class _Sent:
    def get(self, timeout: float | None = None) -> None:
        return None


class _FakeProducer:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes | None, bytes]] = []
        self.closed = False

    def send(self, topic: str, key: bytes | None = None, value: bytes = b"") -> _Sent:
        self.messages.append((topic, key, value))
        return _Sent()

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True


def test_cli_publishes_through_ingest(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = _FakeProducer()
    topics: list[str] = []
    monkeypatch.setattr(simulate, "producer", lambda settings: fake)
    monkeypatch.setattr(simulate, "ensure_topics", lambda settings, names: topics.extend(names))
    # A day ago: ingest judges future timestamps by the real clock.
    start = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    argv = ["--seed", "4", "--events", "2000", "--start", start.isoformat(), "--json"]
    assert _run(argv) == 0
    summary = orjson.loads(capsys.readouterr().out)
    assert fake.closed and "annotation.dlq" in topics
    counts = summary["counts"]
    assert summary["ingest"]["published"] == counts["valid"]
    assert summary["ingest"]["dead_lettered"] == counts["malformed"] == 12
    assert summary["ingest"]["by_reason"] == counts["malformed_by_reason"]
    sim = Simulator(4, start)
    lines = list(sim.events(n=2000))
    published = [value for topic, _key, value in fake.messages if topic != "annotation.dlq"]
    malformed_lines = {item["line"] for item in sim.manifest["malformed"]}
    assert published == [
        line for number, line in enumerate(lines, start=1) if number not in malformed_lines
    ]
    keys = {key for topic, key, _value in fake.messages if topic != "annotation.dlq"}
    assert keys == {p.encode() for p in sim.manifest["per_project"]}  # keyed by project_id
