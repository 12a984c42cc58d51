"""Secrets out of every printed URL, error text and log line: the one redactor.

Why one module: each printer used to redact on its own, through
``urlsplit().password``, which misreads a password holding an unencoded
``/``, ``#``, ``?`` or ``@`` (the URL's parts shift and the password is shown
as a host, a path or a query) and knows nothing of ``?password=``; the
exception text then showed it a second time. Every command, the worker's
logs and its start line now go through ``redact``.

Three layers, applied in this order; each covers what the one before cannot:

1. **Known values.** The settings register the secrets the process holds
   (the ClickHouse password, the Kafka SASL password, receivers' keys and
   URLs) with ``add_secret``. Each is replaced wherever it appears, also
   percent-encoded (either hex case, ``+`` for a space), backslash- or
   ``\\u``-escaped (``repr``, JSON) and as the Basic ``Authorization`` token of
   ``user:password``. Values shorter than ``MIN_SECRET_CHARS`` are not replaced
   literally (a 2-character password would erase every such pair from a
   log); layers 2 and 3 still mask them where they have a shape.
2. **Credential-like names.** The value after ``password=``, ``token:``,
   ``"secret": "…"``, ``Authorization: Basic …`` and similar (see
   ``CREDENTIAL_NAMES``), quoted or not; an unquoted value runs to white space, a
   quote, or an ``&`` that starts the next ``name=``.
3. **URL user info.** In any ``scheme://…@host`` the text between ``://`` and
   the last ``@`` before white space or a quote: kept is a plain user name,
   the rest is ``***``, so an unencoded ``/ # ? @ :`` in a password cannot
   move part of it out of the masked span.

Over-redaction is the accepted cost: a count equal to a registered
password is masked too. This package imports nothing else of the project,
so every package can use it.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterable

MASK = "***"
MIN_SECRET_CHARS = 4

# Names whose value is a credential: exact names, and any name ending in
# password / passwd / secret / token / signature (sasl_plain_password, access_token).
CREDENTIAL_NAMES = (
    r"[A-Za-z0-9_.\-]*(?:password|passwd|secret|token|signature)"
    r"|pwd|pass|key|apikey|api[_\-]key|access[_\-]key|secret[_\-]key|private[_\-]key"
    r"|routing[_\-]key|sign|sig|auth|authorization|credentials?|x-amz-[a-z\-]+"
)
_STOP = "\\s'\"<>`"
# A name followed by = or : (the name is then checked against CREDENTIAL_NAMES
# whole: one token at a time keeps the scan linear), and the value after it.
_ASSIGNMENT = re.compile(r"(?<![A-Za-z0-9_.\-])(?P<name>[A-Za-z0-9_.\-]+)[\"']?\s*[=:]\s*")
_CREDENTIAL = re.compile(CREDENTIAL_NAMES, re.IGNORECASE)
# Every credential name contains one of these: texts without any skip the scan.
_HINT = re.compile(r"pass|pwd|secret|token|key|sig|auth|cred|amz", re.IGNORECASE)
_VALUE = re.compile(
    r"(?P<scheme>(?:Basic|Bearer|Digest|Negotiate|Token)\s+)[^\s'\"<>`,;]+"
    r"|\"(?:[^\"\\]|\\.)*\""
    r"|'(?:[^'\\]|\\.)*'"
    rf"|(?:[^{_STOP}&]|&(?![A-Za-z0-9_.\-]+=))+",
    re.IGNORECASE,
)
_USERINFO = re.compile(
    # Greedy: the match ends at the LAST @ of the run, wherever the password's own @ are.
    rf"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<info>[^{_STOP}]*)@"
)
_PLAIN_USER = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


def _char_forms(char: str) -> str:
    """A pattern for one character of a secret in any of its printed encodings."""
    forms = [re.escape(char)]
    encoded = char.encode()
    forms.append("".join(f"%(?i:{byte:02x})" for byte in encoded))
    if char == " ":
        forms.append(r"\+")
    if char in "\"'\\/":
        forms.append(re.escape("\\" + char))
    if not char.isascii() and ord(char) <= 0xFFFF:
        forms.append(rf"\\(?i:u{ord(char):04x})")
    return forms[0] if len(forms) == 1 else "(?:" + "|".join(forms) + ")"


def _value_pattern(secret: str) -> str:
    return "".join(_char_forms(char) for char in secret)


class Redactor:
    """The three layers, with the process's known secrets (thread-safe to add to)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._patterns: dict[str, str] = {}
        self._known: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None, *, user: str | None = None) -> None:
        """Register a secret value; with ``user``, also its Basic authorization token."""
        if not secret:
            return
        values = [secret]
        if user is not None:
            values.append(base64.b64encode(f"{user}:{secret}".encode()).decode())
        with self._lock:
            for value in values:
                if len(value) >= MIN_SECRET_CHARS and value not in self._patterns:
                    self._patterns[value] = _value_pattern(value)
            if self._patterns:
                ordered = sorted(self._patterns, key=len, reverse=True)
                self._known = re.compile("|".join(self._patterns[v] for v in ordered))

    def __call__(self, text: str) -> str:
        """``text`` with every secret the three layers recognise replaced by ``***``."""
        known = self._known
        if known is not None:
            text = known.sub(MASK, text)
        text = _mask_named(text)
        return _USERINFO.sub(_mask_userinfo, text)


def _mask_named(text: str) -> str:
    if _HINT.search(text) is None:
        return text
    parts: list[str] = []
    done = 0
    for match in _ASSIGNMENT.finditer(text):
        if match.start() < done or not _CREDENTIAL.fullmatch(match.group("name")):
            continue
        value = _VALUE.match(text, match.end())
        if value is None:
            continue
        parts.append(text[done : match.end()])
        if value.group("scheme") is not None:
            parts.append(value.group("scheme") + MASK)
        elif value.group()[0] in "\"'":
            parts.append(value.group()[0] + MASK + value.group()[0])
        else:
            parts.append(MASK)
        done = value.end()
    parts.append(text[done:])
    return "".join(parts)


def _mask_userinfo(match: re.Match[str]) -> str:
    user, colon, _ = match.group("info").partition(":")
    kept = f"{user}:{MASK}" if colon and _PLAIN_USER.fullmatch(user) else MASK
    return f"{match.group('scheme')}{kept}@"


# The process's redactor: settings and receivers register what they know.
KNOWN = Redactor()


def add_secret(secret: str | None, *, user: str | None = None) -> None:
    """Make ``secret`` (and, with ``user``, its Basic token) unprintable in this process."""
    KNOWN.add(secret, user=user)


def redact(text: str) -> str:
    """A URL, an error text or a log line, safe to print."""
    return KNOWN(text)


def describe_error(exc: BaseException, limit: int = 300) -> str:
    """``Type: first line of the message``, redacted: how commands report a client's error.

    Redacted before it is cut, so a secret straddling the limit is still whole when matched.
    """
    lines = redact(str(exc)).splitlines()
    first = lines[0][:limit] if lines else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
