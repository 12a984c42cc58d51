"""Hostile strings for the tests of every text output: what an id from a feed may hold.

Whatever the contract accepts today, older rows or other writers may hold
characters that act instead of being seen (terminal escapes, bidirectional
overrides, invisible format characters) or markup. ``schemas.display`` and each
output's escaping must show them as text.
"""

from __future__ import annotations

import unicodedata

from schemas.display import UNSAFE_CATEGORIES

TITLE = "\x1b]0;pwned\x07"  # sets the terminal title (OSC 0), BEL-terminated
CLEAR = "\x1b[2J\x1b[H"  # clears the screen
CSI_C1 = "\x9b31m"  # the 8-bit CSI
RLO = "user\u202efdp.exe"  # right-to-left override: shows as "userexe.pdf"
ISOLATE = "\u2066a\u2069\u2067b\u2069\u2068c\u2069"
MARKS = "a\u200eb\u200fc\u061c"
ZERO_WIDTH = "ad\u200bmin\u200c\u200d\u2060\ufeff"
TAGS = "x\U000e0041\U000e0042"  # invisible "tag" characters (astral)
LINES = "a\u2028b\u2029c\nd\re\tf\x00g\x7fh"
SURROGATE = "bad\udcff"
UNSAFE_VALUES = [TITLE, CLEAR, CSI_C1, RLO, ISOLATE, MARKS, ZERO_WIDTH, TAGS, LINES, SURROGATE]

MARKUP_VALUES = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    "![x](javascript:alert(1))",
    "<javascript:alert(1)>",
    "a|b|c",
    "`code` **bold** _em_ ~~gone~~",
    "# heading",
    "back\\slash\\",
    "R&D &lt;b&gt;",
]


def unsafe_in(text: str, keep: str = "") -> list[str]:
    """Unsafe characters in ``text``, except the renderer's own (line breaks) in ``keep``."""
    return [
        f"U+{ord(c):04X}"
        for c in text
        if c not in keep and unicodedata.category(c) in UNSAFE_CATEGORIES
    ]
