"""The one redactor: every shape a secret has reached a terminal or a log in."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote, quote_plus

import pytest

from schemas.redact import MASK, Redactor, add_secret, describe_error, redact

PASSWORD = "Qzx1/Vwk2#Jyp3?Hmf4@Bqr5:Kzt6"
FRAGMENTS = ("Qzx1", "Vwk2", "Jyp3", "Hmf4", "Bqr5", "Kzt6")


def _clean(text: str) -> bool:
    return not any(fragment in text for fragment in FRAGMENTS)


# (text, what the structural and named layers alone must make of it): no secret registered.
SHAPES = [
    # issue 19, finding 6: reserved characters left unencoded in the password
    ("https://writer:pa/Qzx1@h:8443/db", "https://writer:***@h:8443/db"),
    ("https://writer:pa#Qzx1@h:8443/db", "https://writer:***@h:8443/db"),
    ("https://writer:pa?Qzx1@h:8443/db", "https://writer:***@h:8443/db"),
    ("https://writer:pa@Qzx1@h:8443/db", "https://writer:***@h:8443/db"),
    ("https://writer:pa:Qzx1@h:8443/db", "https://writer:***@h:8443/db"),
    (f"https://writer:{PASSWORD}@127.0.0.1:9/db", "https://writer:***@127.0.0.1:9/db"),
    (f"http://writer:{quote(PASSWORD, safe='')}@h/db", "http://writer:***@h/db"),
    # a password in the query, as ClickHouse's HTTP interface takes it
    ("https://h:8443/db?password=Qzx1", "https://h:8443/db?password=***"),
    (f"https://h/db?user=w&password={PASSWORD}", "https://h/db?user=w&password=***"),
    ("https://h/db?user=w&password=Qzx1&compress=1", "https://h/db?user=w&password=***&compress=1"),
    ("https://h/db?password=ab&Qzx1&compress=1", "https://h/db?password=***&compress=1"),
    # token-like query parameters
    ("https://h/?token=Qzx1", "https://h/?token=***"),
    ("https://h/?access_token=Qzx1&x=1", "https://h/?access_token=***&x=1"),
    ("https://h/?api_key=Qzx1", "https://h/?api_key=***"),
    ("https://h/?key=Qzx1", "https://h/?key=***"),
    ("https://h/?secret=Qzx1", "https://h/?secret=***"),
    ("https://h/?client_secret=Qzx1", "https://h/?client_secret=***"),
    ("https://h/?sign=Qzx1&ts=1", "https://h/?sign=***&ts=1"),
    ("https://s3/x?X-Amz-Signature=Qzx1", "https://s3/x?X-Amz-Signature=***"),
    ("https://h/?routing_key=Qzx1", "https://h/?routing_key=***"),
    # a user info of a URL inside a longer text (an exception's message)
    (
        "Error connecting to https://bob:Qzx1@db.example:8443/x: refused",
        "Error connecting to https://bob:***@db.example:8443/x: refused",
    ),
    ("failed: 'https://Qzx1@git.example/r'", "failed: 'https://***@git.example/r'"),
    (
        "kafka://u:Qzx1@broker:9093 and http://ok:8123",
        "kafka://u:***@broker:9093 and http://ok:8123",
    ),
    # credential-like names in free text, quoted or not
    ("sasl_plain_password='Qzx1 Vwk2' retry", "sasl_plain_password='***' retry"),
    ('{"password": "Qzx1\\"Vwk2", "rows": 3}', '{"password": "***", "rows": 3}'),
    ("Authorization: Basic Qzx1Vwk2==", "Authorization: Basic ***"),
    ("authorization=Bearer Qzx1.Vwk2", "authorization=Bearer ***"),
    ("token: Qzx1", "token: ***"),
]


@pytest.mark.parametrize(("text", "expected"), SHAPES)
def test_shapes_are_masked_without_knowing_the_value(text: str, expected: str) -> None:
    assert Redactor()(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "chdb:///home/me/.annotel/clickhouse",
        "http://127.0.0.1:8123/annotel",
        "https://ch.example:8443/db?compress=false",
        "KeyError: 'project_id'",
        "audit pass rate 95.3 % over 120 tasks, key window 2026-11-23T08:00Z",
        "tokens=5 passes=3 keys=2 signal=15",
        "Code: 62. DB::Exception: Syntax error: failed at position 7",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert Redactor(["Zzzz9999"])(text) == text


ENCODINGS = [
    PASSWORD,
    quote(PASSWORD, safe=""),
    re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quote(PASSWORD, safe="")),
    quote(PASSWORD),  # '/' left as is
    quote_plus(PASSWORD + " x")[:-2],
    json.dumps(PASSWORD)[1:-1],
    repr(PASSWORD + "'\\")[1:-1],
    base64.b64encode(f"writer:{PASSWORD}".encode()).decode(),
]


@pytest.mark.parametrize("form", ENCODINGS)
def test_a_known_secret_is_masked_in_any_encoding_anywhere(form: str) -> None:
    redactor = Redactor()
    redactor.add(PASSWORD, user="writer")
    redactor.add("kafka-sasl-pw")
    for text in (form, f"x{form}y", f"DB::Exception: wrong password {form} for user writer"):
        out = redactor(text)
        assert _clean(out), out
        assert MASK in out
    assert redactor("SASL auth failed with kafka-sasl-pw") == "SASL auth failed with ***"


def test_a_non_ascii_secret_is_masked_raw_escaped_and_encoded() -> None:
    secret = "密码Qzx1é"
    redactor = Redactor([secret])
    for form in (secret, json.dumps(secret)[1:-1], quote(secret)):
        assert redactor(f"<{form}>") == "<***>"


def test_short_values_are_not_replaced_literally() -> None:
    redactor = Redactor(["ab1"])
    assert redactor("rows=ab1 tables=2") == "rows=ab1 tables=2"
    assert redactor("https://u:ab1@h/") == "https://u:***@h/"


def test_describe_error_and_the_process_redactor() -> None:
    add_secret("Tq8-registered-secret", user="svc")
    exc = RuntimeError("auth failed for Tq8-registered-secret\nsecond line")
    assert describe_error(exc) == "RuntimeError: auth failed for ***"
    assert describe_error(ValueError()) == "ValueError"
    # A secret across the length limit is masked whole, not cut to a visible prefix.
    long = RuntimeError("x" * 290 + " Tq8-registered-secret and more")
    assert "Tq8" not in describe_error(long)
    assert "Tq8" not in redact(base64.b64encode(b"svc:Tq8-registered-secret").decode())
