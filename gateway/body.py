"""A request body of ``POST /v1/events`` as the items it carries, and a webhook body as JSON.

``/v1/events`` takes one JSON object, a JSON array of them, or NDJSON
(``application/x-ndjson``: one object per line, blank lines skipped, as
``annotel ingest`` reads a file). Each item is then judged on its own by the
contract's decoder, so a body that is not JSON at all is one item that the
decoder refuses (``invalid_json``), not an error of the request: it is
accounted for like any other refused item, with a dead letter.

Webhook bodies are parsed with the standard library, whose integers are
exact at any size: a platform's numeric id must reach the contract as the
same digits (orjson reads integers beyond 64 bits as floats).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from schemas import DecodeError

NDJSON_TYPES = frozenset(("application/x-ndjson", "application/jsonl", "application/jsonlines"))


class BodyError(Exception):
    """The request as a whole cannot be taken: ``status`` and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Item = bytes | DecodeError  # an item's bytes, or why it is refused before the decoder sees it


def event_items(body: bytes, content_type: str, max_items: int) -> list[Item]:
    """The raw items of a ``/v1/events`` body, in order."""
    items: list[Item]
    if content_type.lower() in NDJSON_TYPES:
        items = [line.rstrip(b"\r") for line in body.split(b"\n") if line.strip()]
    else:
        text = body.strip()
        items = [text] if text else []
        if text[:1] == b"[":
            try:
                parsed = orjson.loads(text)
            except orjson.JSONDecodeError:
                parsed = None  # one item, which the decoder refuses as invalid_json
            if isinstance(parsed, list):
                _check_count(len(parsed), max_items)
                items = [_encoded(element) for element in parsed]
    if not items:
        raise BodyError(400, "empty body: send a JSON object, a JSON array or NDJSON lines")
    _check_count(len(items), max_items)
    return items


def _encoded(element: Any) -> Item:
    """An array element as bytes for the decoder.

    orjson reads nesting 1024 levels deep but writes only 254: an element in
    between cannot be written back. No event of the contract nests like that,
    so it is refused here with the reason the decoder gives such content.
    """
    try:
        return orjson.dumps(element)
    except orjson.JSONEncodeError as exc:
        if isinstance(element, dict):
            return DecodeError("invalid_field", f"a field nests too deeply ({exc})")
        return DecodeError("not_an_object", f"an array item nested too deeply ({exc})")


def _check_count(count: int, max_items: int) -> None:
    if count > max_items:
        raise BodyError(413, f"{count} items in one request; at most {max_items}")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def webhook_json(body: bytes) -> Any:
    """The parsed body, integers exact; raises ValueError when it is not JSON."""
    try:
        return json.loads(body, parse_constant=_no_constants)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(str(exc)) from None
