"""Email: settings checks, the message's parts and one thread per incident."""

from __future__ import annotations

import dataclasses
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from alerts.model import AlertEvent
from alerts.receivers.base import Request, SmtpSend
from alerts.receivers.email import Email, EmailReceiver
from alerts.receivers.settings import ReceiverConfigError
from tests.alert_events import event

GROUP = {"rule": "vendor_quality_low", "project_id": "医疗影像"}
BASE: dict[str, Any] = {
    "type": "email",
    "smarthost": "smtp.example.com:587",
    "from": "Annotel <alerts@example.com>",
    "to": ["oncall@example.com", "质检 <qa@example.cn>"],
    "timezone": "Asia/Shanghai",
    "language": "zh",
}


def config(**changes: Any) -> EmailReceiver:
    return EmailReceiver.model_validate({**BASE, **changes})


def receiver(**changes: Any) -> Email:
    return Email.from_config("mail", config(**changes), {"U": "user", "P": "pa55word"}, "")


def parsed(request: Request) -> EmailMessage:
    message = message_from_bytes(request.body, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def send(email: Email, *events: AlertEvent) -> EmailMessage | None:
    requests = email.requests(list(events), GROUP)
    if not requests:
        return None
    [request] = requests
    return parsed(request)


def test_destination_and_envelope() -> None:
    email = receiver(username_env="U", password_env="P")
    [request] = email.requests([event()], GROUP)
    destination = request.destination
    assert isinstance(destination, SmtpSend)
    assert (destination.host, destination.port, destination.tls) == (
        "smtp.example.com",
        587,
        "starttls",
    )
    assert destination.sender == "alerts@example.com"
    assert destination.recipients == ("oncall@example.com", "qa@example.cn")
    assert destination.username is not None and destination.username.reveal() == "user"
    assert destination.password is not None and destination.password.reveal() == "pa55word"
    assert "pa55word" not in repr(destination) and email.target == "smtp.example.com:587"


def test_text_and_html_parts_with_escaped_values() -> None:
    hostile = dataclasses.replace(
        event(vendor="<script>alert(1)</script>"),
        annotations={
            "summary": "审核通过率 82% <b>&</b>",
            "description": "第一行\n第二行",
            "runbook_url": "https://wiki.example/runbooks/vendor-quality?a=1&b=2",
        },
    )
    message = send(receiver(), hostile)
    assert message is not None
    assert message.get_content_type() == "multipart/alternative"
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    assert text_part is not None and html_part is not None
    text = text_part.get_content()
    html = html_part.get_content()
    assert "审核通过率 82% <b>&</b>" in text and "第二行" in text
    assert "vendor_id=<script>alert(1)</script>" in text  # plain text is plain
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "82% &lt;b&gt;&amp;&lt;/b&gt;" in html
    assert 'href="https://wiki.example/runbooks/vendor-quality?a=1&amp;b=2"' in html
    assert "2026-11-23 16:00–16:15 UTC+08:00 (15m)" in text and "处理手册" in html
    assert message["Subject"] == "[annotel] vendor_quality_low · 医疗影像"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["To"].addresses[1].addr_spec == "qa@example.cn"


def test_one_incident_is_one_thread() -> None:
    email = receiver()
    first = send(email, event())
    repeat = send(email, dataclasses.replace(event(minute=60), repeat=True))
    second_alert = send(email, event(vendor="供应商乙", minute=15))
    resolve_one = send(email, event(status="resolved", minute=90))
    resolve_all = send(email, event(vendor="供应商乙", status="resolved", minute=90))
    assert first is not None and repeat is not None and second_alert is not None
    assert resolve_one is not None and resolve_all is not None
    root = first["Message-ID"]
    assert first["In-Reply-To"] is None and first["References"] is None
    later = [repeat, second_alert, resolve_one, resolve_all]
    for message in later:
        assert message["In-Reply-To"] == root and message["References"] == root
        assert message["Subject"] == first["Subject"]  # clients thread on it too
    ids = [m["Message-ID"] for m in [first, *later]]
    assert len(set(ids)) == 5 and all(i.endswith("@example.com>") for i in ids)
    # Every alert of the group resolved: the incident is over, the next one is a new thread.
    again = send(
        email, dataclasses.replace(event(minute=240), starts_at=event(minute=240).window_start)
    )
    assert again is not None and again["In-Reply-To"] is None
    assert again["Message-ID"] not in ids


def test_message_ids_are_derived_not_random() -> None:
    """A resend is the same message, and a restarted worker finds the same thread."""
    first = send(receiver(), event())
    assert first is not None
    assert send(receiver(), event())["Message-ID"] == first["Message-ID"]  # type: ignore[index]
    restarted = receiver()
    resolve = send(restarted, event(status="resolved", minute=30))
    assert resolve is not None and resolve["In-Reply-To"] == first["Message-ID"]
    other_group = receiver().requests([event()], {"rule": "vendor_quality_low", "project_id": "x"})
    assert parsed(other_group[0])["Message-ID"] != first["Message-ID"]


def test_send_resolved_false_leaves_resolves_out_but_closes_the_thread() -> None:
    email = receiver(send_resolved=False)
    first = send(email, event())
    assert first is not None
    assert send(email, event(status="resolved", minute=30)) is None
    mixed = email.requests([event(vendor="乙", minute=60), event(status="resolved")], GROUP)
    assert [e.status for e in mixed[0].events] == ["firing"]
    assert parsed(mixed[0])["In-Reply-To"] is None  # the first incident had ended


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"smarthost": "smtp.example.com"}, "smarthost must be host:port"),
        ({"smarthost": "smtp.example.com:99999"}, "smarthost must be host:port"),
        ({"from": "not an address"}, "from is not an email address"),
        ({"to": []}, "to lists no address"),
        ({"to": ["ok@example.com", "bad\r\nBcc: x@evil.example"]}, r"to\[1\] is not an email"),
        ({"username_env": "U"}, "set both username_env and password_env"),
        (
            {"tls": "none", "username_env": "U", "password_env": "P"},
            "only to a loopback smarthost",
        ),
        ({"ca_file": "/nonexistent/ca.pem"}, "ca_file is not a readable file"),
        ({"timezone": "Mars/Base"}, "not a known IANA time zone"),
    ],
)
def test_settings_are_checked(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ReceiverConfigError, match=message):
        Email.check("mail", config(**changes), None)


def test_plain_smtp_with_a_password_is_allowed_to_loopback(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("placeholder")
    Email.check(
        "mail",
        config(smarthost="127.0.0.1:2525", tls="none", username_env="U", password_env="P"),
        None,
    )
    Email.check("mail", config(smarthost="[::1]:25", ca_file=str(ca)), None)
    with pytest.raises(ReceiverConfigError, match="P is not set"):
        Email.check("mail", config(username_env="U", password_env="P"), {"U": "user"})
