"""Signature checks shared by the connectors: HMACs over the raw body, compared in constant time.

A signature is verified on the bytes received, never on a re-serialized body
(a platform's JSON spelling is not ours to reproduce). Each connector says
which header carries what; the outcome is one of ``Verdict``, whose name the
gateway counts in ``/metrics`` for every refused request.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

Verdict = Literal["ok", "missing", "malformed", "mismatch", "stale"]


def hmac_hex(key: bytes, message: bytes, digest: str = "sha256") -> str:
    return hmac.new(key, message, getattr(hashlib, digest)).hexdigest()


def same(expected: str | bytes, given: str | bytes) -> bool:
    """Constant-time equality (a timing difference must not reveal how much matched)."""
    left = expected.encode() if isinstance(expected, str) else expected
    right = given.encode() if isinstance(given, str) else given
    return hmac.compare_digest(left, right)


def hex_signature(
    key: bytes, body: bytes, header: str | None, *, digest: str, prefix: str
) -> Verdict:
    """``[prefix]hex(HMAC(key, body))``; the prefix is optional (CVAT's docs omit it)."""
    if header is None or not header.strip():
        return "missing"
    value = header.strip()
    if value.lower().startswith(prefix):
        value = value[len(prefix) :]
    try:
        bytes.fromhex(value)
    except ValueError:
        return "malformed"
    return "ok" if same(hmac_hex(key, body, digest), value.lower()) else "mismatch"
