"""``streams.ingest``'s line sources: pacing keeps the wall-clock rate it is given."""

from __future__ import annotations

import time

from streams.ingest import paced


def test_paced_output_keeps_the_rate() -> None:
    began = time.monotonic()
    assert list(paced([b"a"] * 11, 100.0)) == [b"a"] * 11
    assert time.monotonic() - began >= 0.09
