"""The windows topic's records: what a partition's checkpoint publishes, what the stage reads."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from alerts import handoff
from alerts.handoff import ClosedWindow, Mark, Piece, decode, encode_reports
from tests.alert_windows import T0, agg, key


def test_encode_reports_keeps_its_records(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same bytes as the row-by-row version it replaced, around every piece boundary."""

    def reference(partition: int, closed_before: int, closed: list[ClosedWindow]) -> list[bytes]:
        attempt, pieces = "a" * 32, []
        rows: list[list[Any]] = []
        current: list[list[Any]] = []
        count = 0
        for window in closed:
            current = []
            rows.append([window.window_start, current])
            for window_key, aggregate in window.aggregates.items():
                current.append([*window_key[1:], *aggregate])
                count += 1
                if count % handoff.PIECE_KEYS == 0:
                    pieces.append(
                        orjson.dumps({"k": "piece", "p": partition, "a": attempt, "m": rows})
                    )
                    rows, current = [], []
                    rows.append([window.window_start, current])
        if rows:
            pieces.append(orjson.dumps({"k": "piece", "p": partition, "a": attempt, "m": rows}))
        mark = {"k": "mark", "p": partition, "a": attempt, "n": len(pieces)}
        mark.update(closed_before=closed_before, idle=False)
        return [*pieces, orjson.dumps(mark)]

    class FixedUUID:
        hex = "a" * 32

    monkeypatch.setattr(handoff.uuid, "uuid4", FixedUUID)
    monkeypatch.setattr(handoff, "PIECE_KEYS", 3)
    for sizes in ([], [0], [1], [3], [2, 1], [3, 3], [4, 0, 2], [7], [6, 0], [2, 2, 2, 5]):
        windows = [
            ClosedWindow(
                0,
                T0 + i * 60,
                {key(T0 + i * 60, annotator=f"a{j}"): agg(audits=j) for j in range(size)},
            )
            for i, size in enumerate(sizes)
        ]
        got = encode_reports(0, T0 + 3600, False, windows)
        assert got == reference(0, T0 + 3600, windows), sizes


def test_decode_reads_back_what_encode_reports_wrote(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pieces of one attempt carry every row of every window; the mark closes that attempt."""
    monkeypatch.setattr(handoff, "PIECE_KEYS", 3)
    windows = [
        ClosedWindow(
            2,
            T0 + i * 60,
            {key(T0 + i * 60, annotator=f"a{j}"): agg(audits=j) for j in range(size)},
        )
        for i, size in enumerate([2, 4, 0, 1])
    ]
    records = [decode(value) for value in encode_reports(2, T0 + 600, True, windows)]
    *pieces, mark = records
    assert len(pieces) == 3 and all(isinstance(piece, Piece) for piece in pieces)
    assert isinstance(mark, Mark)
    assert (mark.partition, mark.closed_before, mark.idle) == (2, T0 + 600, True)
    assert {piece.attempt for piece in pieces if isinstance(piece, Piece)} == {mark.attempt}
    rows: dict[int, list[Any]] = {}
    for piece in pieces:
        assert isinstance(piece, Piece)
        for window_start, part in piece.minutes:
            rows.setdefault(window_start, []).extend(part)
    expected = {w.window_start: [[*k[1:], *a] for k, a in w.aggregates.items()] for w in windows}
    assert {start: part for start, part in rows.items() if part} == {
        start: part for start, part in expected.items() if part
    }


@pytest.mark.parametrize(
    "value", [b"not json", b"", b"null", b"[]", b'"piece"', b"{}", b'{"p": 0}']
)
def test_decode_skips_what_is_not_a_record(value: bytes) -> None:
    assert decode(value) is None


def test_a_record_of_a_known_kind_missing_a_field_raises() -> None:
    """Only the worker writes this topic: a mark without its fields is a bug, not input."""
    with pytest.raises(KeyError):
        decode(orjson.dumps({"k": "mark", "p": 0, "a": "x"}))
    with pytest.raises(KeyError):
        decode(orjson.dumps({"k": "piece", "p": 0}))
