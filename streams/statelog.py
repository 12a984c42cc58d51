"""The checkpoint log: one Kafka record (or a few chunks) per partition per checkpoint.

A checkpoint of partition ``p`` goes to partition ``p`` of the state topic. A
record that does not fit in one message is split into chunks; recovery
applies a checkpoint only when all its chunks are present, so a crash in the
middle of writing one leaves the previous checkpoint in force.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

CHUNK_BYTES = 512 * 1024


def encode_checkpoint(record: dict[str, Any], base: int = 0) -> list[bytes]:
    """Serialize a checkpoint record into one or more chunk messages.

    Every chunk names ``base``: the offset of the first chunk of the latest
    complete full snapshot before it (0: none, read from the beginning).
    Recovery reads the partition's last message, seeks to its ``base`` and
    replays from there, so recovery time follows the snapshot interval, not
    the age of the log.
    """
    return encode_chunks((orjson.dumps(record),), record["seq"], base)


def encode_chunks(parts: Iterable[bytes], seq: int, base: int = 0) -> list[bytes]:
    """Chunk messages of a record given as consecutive pieces of its JSON.

    A full snapshot of a large partition is tens of megabytes of JSON; built
    piece by piece, the only copy held at once is the chunks themselves, not
    the record's objects, the whole body and its slices side by side.
    """
    bodies: list[bytes] = []
    pending = bytearray()
    for part in parts:
        view = memoryview(part)
        if pending:  # complete the chunk begun by earlier pieces
            taken = CHUNK_BYTES - len(pending)
            pending += view[:taken]
            view = view[taken:]
            if len(pending) < CHUNK_BYTES:
                continue
            bodies.append(bytes(pending))
            pending.clear()
        # Whole chunks straight from the piece: a large one is not copied twice.
        while len(view) >= CHUNK_BYTES:
            bodies.append(bytes(view[:CHUNK_BYTES]))
            view = view[CHUNK_BYTES:]
        pending += view
    if pending or not bodies:
        bodies.append(bytes(pending))
    count = len(bodies)
    for i, body in enumerate(bodies):
        header = orjson.dumps({"seq": seq, "chunk": i, "of": count, "base": base})
        bodies[i] = header + b"\n" + body
    return bodies


def decode_checkpoints(messages: Iterable[bytes]) -> list[dict[str, Any]]:
    """Complete checkpoint records in log order; incomplete ones are skipped."""
    records: list[dict[str, Any]] = []
    parts: list[bytes] = []
    expected: tuple[int, int] | None = None
    for message in messages:
        header_raw, _, body = message.partition(b"\n")
        header = orjson.loads(header_raw)
        seq, chunk, count = header["seq"], header["chunk"], header["of"]
        if chunk == 0:
            parts, expected = [], (seq, count)
        elif expected != (seq, count) or len(parts) != chunk:
            parts, expected = [], None  # an orphan chunk of an interrupted checkpoint
            continue
        parts.append(body)
        if len(parts) == count:
            records.append(orjson.loads(b"".join(parts)))
            parts, expected = [], None
    return records


def base_of(message: bytes) -> int:
    """Where recovery starts, from any chunk of the log (its header's ``base``)."""
    header_raw, _, _ = message.partition(b"\n")
    try:
        base = orjson.loads(header_raw).get("base", 0)
    except (orjson.JSONDecodeError, AttributeError):
        return 0
    return base if isinstance(base, int) and base >= 0 else 0
