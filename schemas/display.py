"""Showing stored strings safely: characters that act instead of being seen become ``\\u`` escapes.

Ids, locales, tags and error categories come from the feeds. Whatever the
contract accepts today, older rows or other writers may hold control
characters (an ``ESC ]0;`` sequence retitles a terminal, ``ESC [2J`` clears
it), bidirectional overrides and isolates (U+202A-202E, U+2066-2069, which
reorder what a reader sees), marks (U+200E/F, U+061C) and zero-width or other
invisible format characters (U+200B-200D, U+2060, U+FEFF, tags U+E0000-E007F)
that make two different ids look alike. Every text output shows them as
escapes, so what is on screen is what is stored:

* ``visible`` for terminals and any plain text (each output kind then adds its
  own escaping on top: Markdown, HTML, Slack);
* ``visible(json_text, keep="\\n")`` for JSON printed to a terminal: the escape
  spelling is JSON's own (surrogate pairs beyond U+FFFF), so the document
  still decodes to exactly the stored values.

The characters are Unicode's ``Cc`` (C0, DEL, C1), ``Cf`` (format), ``Zl``,
``Zp`` and ``Cs`` (a lone surrogate cannot even be encoded for output).
"""

from __future__ import annotations

import unicodedata

UNSAFE_CATEGORIES = frozenset(("Cc", "Cf", "Zl", "Zp", "Cs"))


def is_unsafe(char: str) -> bool:
    """A character that changes the display (or the terminal) instead of being shown."""
    return unicodedata.category(char) in UNSAFE_CATEGORIES


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def visible(text: str, keep: str = "") -> str:
    """``text`` with every unsafe character except those in ``keep`` written as ``\\uXXXX``.

    Idempotent (the escapes are plain ASCII). ``str.isprintable`` is the fast
    path: it is false for every unsafe character, so printable text is
    returned untouched without a per-character loop.
    """
    if text.isprintable():
        return text
    return "".join(_escape(char) if char not in keep and is_unsafe(char) else char for char in text)
