"""``schemas.display.visible``: every unsafe character shown as an escape, nothing else touched."""

from __future__ import annotations

import json

import pytest

from schemas.display import visible
from tests.hostile import RLO, TAGS, TITLE, UNSAFE_VALUES, unsafe_in


@pytest.mark.parametrize("value", UNSAFE_VALUES)
def test_visible_leaves_no_unsafe_character(value: str) -> None:
    shown = visible(value)
    assert unsafe_in(shown) == []
    assert visible(shown) == shown  # idempotent
    assert shown.isascii() or unsafe_in(value)  # every escape is ASCII


def test_visible_spells_escapes_and_keeps_what_is_asked() -> None:
    assert visible(TITLE) == "\\u001b]0;pwned\\u0007"
    assert visible(RLO) == "user\\u202efdp.exe"
    assert visible(TAGS) == "x\\udb40\\udc41\\udb40\\udc42"
    assert visible("a\nb\tc", keep="\n") == "a\nb\\u0009c"


def test_visible_keeps_printable_text_untouched() -> None:
    for text in ("医疗影像标注", "供应商甲 · queue 1", "non\u00a0breaking\u3000space", "👩‍⚕️"):
        expected = text.replace("\u200d", "\\u200d")  # ZWJ is a format character
        assert visible(text) == expected


@pytest.mark.parametrize("value", UNSAFE_VALUES)
def test_json_on_a_terminal_decodes_to_the_exact_value(value: str) -> None:
    document = {"project_id": value, "nested": [value, {"k": value}]}
    text = visible(json.dumps(document, ensure_ascii=False))
    assert unsafe_in(text) == []
    assert json.loads(text) == document
