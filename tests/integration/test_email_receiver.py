"""The email receiver against a real SMTP server on 127.0.0.1 (aiosmtpd).

STARTTLS and implicit TLS with a test CA (trustme) that the receiver trusts
through ``ca_file``; AUTH required over TLS; the login from the environment.
Proves the envelope, the threading headers (one incident, one thread), the
text and HTML parts, that 4xx is retried and 5xx is not, that an untrusted
certificate is refused, and that the password reaches no log.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from alerts.dispatch import Dispatcher, RetryPolicy
from alerts.receivers.email import EmailReceiver
from tests.alert_events import event
from tests.integration.test_receivers import free_port

USER = "alerts@example.com"
PASSWORD = "smtp-PASSWORD-s3cret-42"
RETRY = RetryPolicy(max_attempts=3, base_s=0.05, max_backoff_s=0.1)


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    user: str | None

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Inbox:
    """The server's handler: records each message; answers from a script (default 250)."""

    received: list[Received] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        answer = self.answers.pop(0) if self.answers else "250 Message accepted for delivery"
        if answer.startswith("250"):
            content = envelope.original_content or b""
            self.received.append(
                Received(
                    mail_from=envelope.mail_from or "",
                    rcpt_tos=list(envelope.rcpt_tos),
                    content=content,
                    # STARTTLS sets session.ssl; implicit TLS shows on the transport
                    tls=session.ssl is not None
                    or (
                        server.transport is not None
                        and server.transport.get_extra_info("ssl_object") is not None
                    ),
                    user=session.auth_data,
                )
            )
        return answer

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        ok = data.login.decode() == USER and data.password.decode() == PASSWORD
        self.logins.append((data.login.decode(), ok))
        # handled=False: the server answers 235 or 535 itself
        return AuthResult(success=ok, handled=False, auth_data=data.login.decode() if ok else None)

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} messages"
            time.sleep(0.01)
        return self.received


@dataclass(frozen=True)
class Tls:
    server: ssl.SSLContext
    ca_file: Path


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    path = tmp_path_factory.mktemp("smtp-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return Tls(context, path)


def smtp_server(inbox: Inbox, tls: Tls, *, implicit: bool) -> Controller:
    port = free_port()
    kwargs: dict[str, Any] = {
        "hostname": "127.0.0.1",
        "port": port,
        "authenticator": inbox.authenticate,
        "auth_require_tls": True,
    }
    if implicit:
        # aiosmtpd's auth_require_tls knows only STARTTLS; here the whole connection is TLS.
        kwargs["auth_require_tls"] = False
        return Controller(inbox, ssl_context=tls.server, **kwargs)
    return Controller(inbox, tls_context=tls.server, require_starttls=True, **kwargs)


@pytest.fixture
def starttls_server(tls: Tls) -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = smtp_server(inbox, tls, implicit=False)
    controller.start()
    yield inbox, controller.port
    controller.stop()


def config(port: int, tls: Tls | None, mode: str = "starttls", **extra: Any) -> EmailReceiver:
    settings: dict[str, Any] = {
        "type": "email",
        "smarthost": f"127.0.0.1:{port}",
        "from": f"Annotel 告警 <{USER}>",
        "to": ["oncall@example.com", "质检组 <qa@example.cn>"],
        "username_env": "SMTP_USER",
        "password_env": "SMTP_PASSWORD",
        "tls": mode,
        "group_wait": "0s",
        "timezone": "Asia/Shanghai",
        "language": "zh",
        "timeout_s": 5,
    }
    if tls is not None:
        settings["ca_file"] = str(tls.ca_file)
    settings.update(extra)
    return EmailReceiver.model_validate(settings)


ENV = {"SMTP_USER": USER, "SMTP_PASSWORD": PASSWORD}


async def in_thread_wait(inbox: Inbox, count: int) -> list[Received]:
    return await asyncio.to_thread(inbox.wait_for, count)


async def settle(dispatcher: Dispatcher, timeout_s: float = 20.0) -> None:
    """Until the receiver has nothing queued or in flight (delivered or given up)."""
    deadline = time.monotonic() + timeout_s
    while any(s.queue_depth or s.in_flight for s in dispatcher.stats().values()):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)


async def test_starttls_auth_one_thread_per_incident_text_and_html(
    starttls_server: tuple[Inbox, int], tls: Tls
) -> None:
    inbox, port = starttls_server
    dispatcher = Dispatcher({"mail": config(port, tls)}, ENV, retry=RETRY)
    await dispatcher.start()
    dispatcher.submit(event(receivers=["mail"]))
    await in_thread_wait(inbox, 1)
    dispatcher.submit(event(vendor="<b>供应商乙</b>", minute=15, receivers=["mail"]))
    await in_thread_wait(inbox, 2)
    dispatcher.submit(event(receivers=["mail"]))  # a replay: accepted once, never mailed again
    dispatcher.submit(event(status="resolved", minute=30, receivers=["mail"]))
    dispatcher.submit(
        event(vendor="<b>供应商乙</b>", status="resolved", minute=30, receivers=["mail"])
    )
    await in_thread_wait(inbox, 3)
    await settle(dispatcher)
    await dispatcher.close(5)

    first = inbox.received[0]
    assert len(inbox.received) == 3  # the two resolves, one group, one message
    assert all(r.tls for r in inbox.received)  # STARTTLS, verified against the test CA
    assert all(r.user == USER for r in inbox.received)  # authenticated
    assert first.mail_from == USER
    assert first.rcpt_tos == ["oncall@example.com", "qa@example.cn"]
    one, two, three = (r.message for r in inbox.received)
    assert one["Subject"] == "[annotel] vendor_quality_low · 医疗影像"
    assert one["From"].addresses[0].display_name == "Annotel 告警"
    assert two["Subject"] == three["Subject"] == one["Subject"]
    root = one["Message-ID"]
    assert one["In-Reply-To"] is None
    for reply in (two, three):
        assert reply["In-Reply-To"] == root and reply["References"] == root
    assert len({one["Message-ID"], two["Message-ID"], three["Message-ID"]}) == 3
    assert one["Date"].datetime.utcoffset().total_seconds() == 0  # machine fields in UTC
    assert one.get_content_type() == "multipart/alternative"
    text_part, html_part = one.get_body(("plain",)), one.get_body(("html",))
    assert text_part is not None and html_part is not None
    text = text_part.get_content().replace("\r\n", "\n")  # CRLF: text/plain's canonical form
    html = html_part.get_content()
    assert text.startswith("🔴 1 条告警：vendor_quality_low\n")
    assert "窗口：2026-11-23 16:00–16:15 UTC+08:00 (15m)" in text
    assert "处理手册：https://wiki.example/runbooks/vendor-quality" in text
    assert "审核通过率 82%：供应商甲 / 医疗影像" in html
    assert 'href="https://wiki.example/runbooks/vendor-quality"' in html
    second_html = two.get_body(("html",))
    assert second_html is not None
    assert "&lt;b&gt;供应商乙&lt;/b&gt;" in second_html.get_content()
    assert "<b>供应商乙" not in second_html.get_content()
    three_text = three.get_body(("plain",))
    assert three_text is not None and "✅ 2 条已恢复" in three_text.get_content()
    assert "[annotel]" not in text  # the subject's tag is not repeated in the body
    stats = dispatcher.stats()["mail"]
    assert (stats.type, stats.target) == ("email", f"127.0.0.1:{port}")
    assert (stats.sent, stats.messages, stats.failed, stats.retries) == (4, 3, 0, 0)
    assert stats.duplicates == 1 and len(inbox.received) == 3


async def test_implicit_tls(tls: Tls) -> None:
    inbox = Inbox()
    controller = smtp_server(inbox, tls, implicit=True)
    controller.start()
    try:
        dispatcher = Dispatcher(
            {"mail": config(controller.port, tls, mode="implicit")}, ENV, retry=RETRY
        )
        await dispatcher.start()
        dispatcher.submit(event(receivers=["mail"]))
        [received] = await in_thread_wait(inbox, 1)
        await dispatcher.close(5)
    finally:
        controller.stop()
    assert received.tls and received.user == USER
    assert dispatcher.stats()["mail"].sent == 1


async def test_4xx_is_retried_5xx_is_not(starttls_server: tuple[Inbox, int], tls: Tls) -> None:
    inbox, port = starttls_server
    inbox.answers = ["451 4.3.0 try again later", "250 OK"]
    dispatcher = Dispatcher({"mail": config(port, tls)}, ENV, retry=RETRY)
    await dispatcher.start()
    dispatcher.submit(event(receivers=["mail"]))
    await in_thread_wait(inbox, 1)
    await dispatcher.close(5)
    stats = dispatcher.stats()["mail"]
    assert (stats.sent, stats.retries, stats.failed) == (1, 1, 0)
    assert stats.last_error_reason == "SMTP 451"

    inbox.answers = ["554 5.7.1 rejected"]
    dispatcher = Dispatcher({"mail": config(port, tls)}, ENV, retry=RETRY)
    await dispatcher.start()
    dispatcher.submit(event(receivers=["mail"]))
    await settle(dispatcher)
    await dispatcher.close(5)
    stats = dispatcher.stats()["mail"]
    assert (stats.sent, stats.retries, stats.failed) == (0, 0, 1)
    assert stats.last_error_reason == "SMTP 554" and len(inbox.received) == 1


async def test_a_wrong_password_is_refused_once_and_never_logged(
    starttls_server: tuple[Inbox, int], tls: Tls, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    inbox, port = starttls_server
    wrong = "wrong-PASSWORD-" + PASSWORD
    env = {"SMTP_USER": USER, "SMTP_PASSWORD": wrong}
    dispatcher = Dispatcher({"mail": config(port, tls)}, env, retry=RETRY)
    await dispatcher.start()
    dispatcher.submit(event(receivers=["mail"]))
    await settle(dispatcher)
    await dispatcher.close(5)
    stats = dispatcher.stats()["mail"]
    assert (stats.sent, stats.failed, stats.retries) == (0, 1, 0)
    assert stats.last_error_reason == "SMTP 535"
    # one attempt (aiosmtplib tries PLAIN, then LOGIN, on its connection), nothing accepted
    assert 1 <= len(inbox.logins) <= 2 and not any(ok for _, ok in inbox.logins)
    assert not inbox.received
    texts = [repr(dispatcher), repr(stats)]
    for record in caplog.records:
        texts += [record.getMessage(), str(record.args), record.exc_text or ""]
    logged = "\n".join(texts)
    assert "SMTP 535" in logged
    assert wrong not in logged and PASSWORD not in logged


async def test_an_untrusted_certificate_is_refused(starttls_server: tuple[Inbox, int]) -> None:
    inbox, port = starttls_server
    dispatcher = Dispatcher({"mail": config(port, None)}, ENV, retry=RETRY)  # system CAs only
    await dispatcher.start()
    dispatcher.submit(event(receivers=["mail"]))
    await settle(dispatcher)
    await dispatcher.close(5)
    stats = dispatcher.stats()["mail"]
    assert (stats.sent, stats.failed, stats.retries) == (0, 1, 2)
    assert stats.last_error_reason is not None
    assert stats.last_error_reason.startswith("connection error")
    assert not inbox.logins and not inbox.received  # the password never left


async def test_a_server_that_is_down_is_retried() -> None:
    dispatcher = Dispatcher(
        {"mail": config(free_port(), None, mode="none", username_env=None, password_env=None)},
        {},
        retry=RETRY,
    )
    await dispatcher.start()
    dispatcher.submit(event(receivers=["mail"]))
    await settle(dispatcher)
    await dispatcher.close(5)
    stats = dispatcher.stats()["mail"]
    assert (stats.failed, stats.retries) == (1, 2)
    assert stats.last_error_reason is not None
    assert stats.last_error_reason.startswith("connection error")
