"""The JSON of a long list, produced a piece at a time.

Large snapshots (a worker partition's state, the alert stage's evaluator) are
tens of MB of JSON at 10 000 annotators; building them in pieces keeps the
whole body from existing as objects and bytes at once. Both the worker
(``streams``) and the alert stage (``alerts``) need it, and they share only
``schemas``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

import orjson


def json_array(items: Iterable[Any], batch: int = 4096) -> Iterator[bytes]:
    """The JSON of ``list(items)``, in pieces of ``batch`` items."""
    yield b"["
    first = True
    iterator = iter(items)
    while piece := list(itertools.islice(iterator, batch)):
        yield orjson.dumps(piece)[1:-1] if first else b"," + orjson.dumps(piece)[1:-1]
        first = False
    yield b"]"
