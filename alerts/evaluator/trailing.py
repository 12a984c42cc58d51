"""The sums of a trailing window: running totals, and the buckets still inside it, packed.

A trailing rule (``every`` shorter than ``window``) is judged every ``every``
over the last ``window``, from sums: each ``every`` of closed minutes is one
bucket (summed like a tumbling window's minutes, in ``partials``); evaluating
adds the newest bucket to the running totals and takes out the buckets that
left the window. So a week judged hourly costs one addition and one
subtraction per scope and hour, not a sum of 168 buckets.

The buckets inside the window are kept only to be taken out later, never
read otherwise, so each is one compressed bytes object (zlib of its JSON
rows): at 10 000 annotators over a week this is what keeps the memory
bounded (docs/alerts.md, "Trailing windows", has the figures). Maxima cannot
be taken out of a sum, so the running totals keep sums only (the checker
refuses a trailing ``turnaround_max_s`` rule); a maximum field reads 0.
"""

from __future__ import annotations

import base64
import zlib
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from operator import add, sub
from typing import Any

import orjson

Key = tuple[str, ...]


def pack(bucket: Mapping[Key, Sequence[int]]) -> bytes:
    """A bucket as one compressed object: JSON rows ``[*key, *values]``."""
    return zlib.compress(orjson.dumps([[*key, *values] for key, values in bucket.items()]), 1)


def unpack(blob: bytes, key_width: int) -> Iterator[tuple[Key, list[int]]]:
    for row in orjson.loads(zlib.decompress(blob)):
        yield tuple(row[:key_width]), row[key_width:]


class Trailing:
    """Running totals per key over the trailing window, and the packed buckets inside it.

    ``zeroed``: positions of the values that are maxima (kept at 0).
    """

    __slots__ = ("history", "key_width", "sums", "zeroed")

    def __init__(self, key_width: int, zeroed: Sequence[int] = ()) -> None:
        self.key_width = key_width
        self.zeroed = tuple(zeroed)
        self.sums: dict[Key, list[int]] = {}
        self.history: deque[tuple[int, bytes]] = deque()  # (bucket start, packed), oldest first

    def push(self, start: int, bucket: Mapping[Key, Sequence[int]], oldest: int) -> None:
        """Add the bucket starting at ``start``; take out every bucket that starts before
        ``oldest`` (the trailing window's start). Stored sums are always new lists."""
        sums = self.sums
        if bucket:
            if self.zeroed:
                bucket = {key: self._zero(values) for key, values in bucket.items()}
            for key, values in bucket.items():
                acc = sums.get(key)
                sums[key] = list(values) if acc is None else list(map(add, acc, values))
            self.history.append((start, pack(bucket)))
        while self.history and self.history[0][0] < oldest:
            _, blob = self.history.popleft()
            for key, values in unpack(blob, self.key_width):
                left = list(map(sub, sums[key], values))
                if any(left):
                    sums[key] = left
                else:
                    del sums[key]  # no event of this key left in the window

    def _zero(self, values: Sequence[int]) -> list[int]:
        out = list(values)
        for i in self.zeroed:
            out[i] = 0
        return out

    @property
    def packed_bytes(self) -> int:
        return sum(len(blob) for _, blob in self.history)

    # -- state ------------------------------------------------------------------------

    def state(self) -> Iterable[list[Any]]:
        """The buckets inside the window (the totals are rebuilt from them)."""
        return ([start, base64.b64encode(blob).decode()] for start, blob in self.history)

    def restore(self, items: Iterable[Sequence[Any]]) -> None:
        self.sums, self.history = {}, deque()
        for start, text in items:
            blob = base64.b64decode(text)
            self.history.append((int(start), blob))
            for key, values in unpack(blob, self.key_width):
                acc = self.sums.get(key)
                self.sums[key] = values if acc is None else list(map(add, acc, values))
