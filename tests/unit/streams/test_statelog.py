"""The checkpoint log's chunks: built from pieces, they are the chunks of the whole record."""

from __future__ import annotations

import random

import orjson

from streams.statelog import (
    CHUNK_BYTES,
    decode_checkpoints,
    encode_checkpoint,
    encode_chunks,
)


def test_chunks_built_from_pieces_are_the_chunks_of_the_whole_record() -> None:
    rng = random.Random(5)
    record = {
        "seq": 9,
        "windows": [[f"项目-{i}", i, "x" * rng.randrange(200)] for i in range(12_000)],
    }
    whole = encode_checkpoint(record, base=3)
    assert len(whole) > 2  # the record spans several chunks
    body = orjson.dumps(record)
    for _ in range(5):
        cuts = {*rng.sample(range(1, len(body)), 40), CHUNK_BYTES, 2 * CHUNK_BYTES}
        cuts = sorted(c for c in cuts if c < len(body))
        pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
        assert encode_chunks(pieces, 9, base=3) == whole
    assert decode_checkpoints(whole) == [record]
    # A body of exactly one chunk is one message, never a trailing empty chunk.
    assert len(encode_chunks([b"x" * CHUNK_BYTES], 1)) == 1
