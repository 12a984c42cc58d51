"""Request bodies as items: one object, an array, NDJSON; webhook JSON with exact integers."""

from __future__ import annotations

import pytest

from gateway.body import BodyError, event_items, webhook_json
from schemas import DecodeError


def test_an_object_an_array_and_ndjson() -> None:
    assert event_items(b' {"a": 1} ', "application/json", 10) == [b'{"a": 1}']
    assert event_items(b'[{"a": 1}, 2, "x"]', "application/json", 10) == [
        b'{"a":1}',
        b"2",
        b'"x"',
    ]
    ndjson = b'{"a": 1}\r\n\n  \n{not json\n'
    assert event_items(ndjson, "application/x-ndjson", 10) == [b'{"a": 1}', b"{not json"]


def test_what_is_not_json_is_one_item_for_the_decoder() -> None:
    assert event_items(b"[1, 2", "application/json", 10) == [b"[1, 2"]
    assert event_items(b"hello", "text/plain", 10) == [b"hello"]


def test_array_items_nested_deeper_than_orjson_writes_are_refused_items() -> None:
    deep = b"[" * 300 + b"]" * 300  # read by orjson (1024 levels), not written (254)
    body = b'[{"a": 1}, {"a": ' + deep + b"}, " + deep + b"]"
    first, field, array = event_items(body, "application/json", 10)
    assert first == b'{"a":1}'
    assert isinstance(field, DecodeError) and field.reason == "invalid_field"
    assert isinstance(array, DecodeError) and array.reason == "not_an_object"


def test_empty_bodies_and_too_many_items() -> None:
    with pytest.raises(BodyError) as info:
        event_items(b" \n", "application/json", 10)
    assert info.value.status == 400
    with pytest.raises(BodyError) as info:
        event_items(b"[" + b",".join([b"{}"] * 11) + b"]", "application/json", 10)
    assert info.value.status == 413 and "11 items" in info.value.message
    with pytest.raises(BodyError) as info:
        event_items(b"{}\n" * 11, "application/x-ndjson", 10)
    assert info.value.status == 413


def test_webhook_json_keeps_big_integers_and_refuses_non_json() -> None:
    assert webhook_json(b'{"id": 123456789012345678901234567890}') == {
        "id": 123456789012345678901234567890
    }
    for bad in (b"{", b'{"a": NaN}', b"\xff\xfe{", b"[" * 100_000):
        with pytest.raises(ValueError):
            webhook_json(bad)
