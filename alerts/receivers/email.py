"""Email over SMTP: one message per group, text and HTML, one thread per incident.

``smarthost`` (``host:port``) is reached with STARTTLS (the default),
implicit TLS or, to a loopback relay only, no TLS; certificates are verified
(against ``ca_file`` if given). ``username_env`` / ``password_env`` name the
variables holding the login, never the rules file. The message is
``multipart/alternative``: plain text, and HTML in which every value is
HTML-escaped. ``send_resolved: false`` leaves resolves out (they still close
the incident's thread).

Threading: the subject is the same for every message of a group (mail
clients thread on it), and an incident (from the first alert of a group
firing until all of its alerts resolved) is one thread: its first message's
``Message-ID`` is derived from the receiver, the group and the incident's
start, and every later message has ``In-Reply-To`` and ``References`` set to
it. Each message's own ``Message-ID`` is derived from its events, so a
resend after a timeout is one message to clients that fold duplicates. The
open incidents are kept in memory; after a restart the same derivation
finds the same thread for the alerts that were already open.
"""

from __future__ import annotations

import hashlib
import html
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from ipaddress import ip_address
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import orjson
from pydantic import ConfigDict, Field

from alerts.digest import Digest
from alerts.digest_text import digest_body, digest_title, in_house_name
from alerts.model import AlertEvent
from alerts.receivers.base import Outcome, Request, SmtpSend, SmtpTls, Verdict
from alerts.receivers.chat import (
    WORDS,
    AlertText,
    Language,
    Presentation,
    alert_text,
    footer,
    title,
    tone,
    zone,
)
from alerts.receivers.settings import ReceiverConfigError, Secret, env_secret, group_wait_s
from schemas.display import visible

THREADS_MAX = 10_000  # open incidents remembered for threading (the oldest forgotten first)
SUBJECT_MAX = 150
_HEAD_COLOUR = {"red": "#cf222e", "orange": "#bc4c00", "blue": "#0969da", "green": "#1a7f37"}


class EmailReceiver(Presentation):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    type: Literal["email"]
    smarthost: str  # host:port
    sender: str = Field(alias="from")
    to: tuple[str, ...]
    username_env: str | None = None
    password_env: str | None = None
    tls: SmtpTls = "starttls"
    ca_file: str | None = None  # PEM bundle to verify the server with; default: the system's
    send_resolved: bool = True


def _address(text: str) -> str | None:
    """The bare address of ``text`` (``Name <a@b>`` or ``a@b``), or None if it is not one."""
    if any(char in text for char in "\r\n"):
        return None
    _, address = parseaddr(text)
    local, at, domain = address.rpartition("@")
    return address if at and local and domain and " " not in address else None


def _smarthost(name: str, text: str) -> tuple[str, int]:
    host, colon, port = text.rpartition(":")
    host = host.strip("[]")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ReceiverConfigError(f"receiver {name!r}: smarthost must be host:port")
    return host, int(port)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def _checked(name: str, config: EmailReceiver) -> tuple[str, int, ZoneInfo]:
    group_wait_s(name, config)
    tz = zone(name, config)
    host, port = _smarthost(name, config.smarthost)
    if _address(config.sender) is None:
        raise ReceiverConfigError(f"receiver {name!r}: from is not an email address")
    if not config.to:
        raise ReceiverConfigError(f"receiver {name!r}: to lists no address")
    for position, address in enumerate(config.to):
        if _address(address) is None:
            raise ReceiverConfigError(f"receiver {name!r}: to[{position}] is not an email address")
    if (config.username_env is None) != (config.password_env is None):
        raise ReceiverConfigError(
            f"receiver {name!r}: set both username_env and password_env, or neither"
        )
    if config.tls == "none" and config.password_env is not None and not _loopback(host):
        raise ReceiverConfigError(
            f"receiver {name!r}: a password is sent over tls: none only to a loopback smarthost"
        )
    if config.ca_file is not None and not Path(config.ca_file).is_file():
        raise ReceiverConfigError(f"receiver {name!r}: ca_file is not a readable file")
    return host, port, tz


@dataclass
class _Thread:
    root: str  # the Message-ID every message of the incident refers to
    open: set[str] = field(default_factory=set)  # fingerprints still firing


class Email:
    """An SMTP smarthost and a list of recipients; the login from the environment."""

    one_event_per_message = False
    uses_http = False

    def __init__(
        self,
        name: str,
        config: EmailReceiver,
        destination: SmtpSend,
        wait_s: float,
        tz: ZoneInfo,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.name = name
        self.kind = config.type
        self.target = f"{destination.host}:{destination.port}"
        self.group_by = config.group_by
        self.group_wait_s = wait_s
        self.max_per_second = config.max_per_second
        self.timeout_s = config.timeout_s
        self._config = config
        self._destination = destination
        self._tz = tz
        self._clock = clock
        self._domain = destination.sender.rpartition("@")[2] or "annotel.invalid"
        self._threads: OrderedDict[str, _Thread] = OrderedDict()

    @classmethod
    def check(cls, name: str, config: EmailReceiver, env: Mapping[str, str] | None) -> None:
        _checked(name, config)
        if env is not None and config.username_env and config.password_env:
            env_secret(env, config.username_env, name)
            env_secret(env, config.password_env, name)

    @classmethod
    def from_config(
        cls, name: str, config: EmailReceiver, env: Mapping[str, str], external_url: str
    ) -> Email:
        host, port, tz = _checked(name, config)
        username: Secret | None = None
        password: Secret | None = None
        if config.username_env and config.password_env:
            username = env_secret(env, config.username_env, name)
            password = env_secret(env, config.password_env, name)
        sender = _address(config.sender)
        assert sender is not None
        destination = SmtpSend(
            host=host,
            port=port,
            tls=config.tls,
            sender=sender,
            recipients=tuple(a for a in (_address(t) for t in config.to) if a is not None),
            username=username,
            password=password,
            ca_file=config.ca_file,
        )
        return cls(name, config, destination, group_wait_s(name, config), tz)

    # -- threading -----------------------------------------------------------------------------

    def _id(self, *parts: str) -> str:
        digest = hashlib.sha256("\x00".join((self.name, *parts)).encode()).hexdigest()[:32]
        return f"<annotel.{digest}@{self._domain}>"

    def _thread(self, key: str, events: Sequence[AlertEvent]) -> tuple[str, bool]:
        """The incident's root Message-ID, and whether this message opens the incident."""
        thread = self._threads.pop(key, None)
        opens = thread is None
        if thread is None:
            start = min(e.starts_at for e in events).astimezone(UTC).isoformat()
            thread = _Thread(self._id(key, "incident", start))
        for event in events:
            if event.status == "firing":
                thread.open.add(event.fingerprint)
            else:
                thread.open.discard(event.fingerprint)
        if thread.open:  # still open: remembered (most recent last)
            self._threads[key] = thread
            while len(self._threads) > THREADS_MAX:
                self._threads.popitem(last=False)
        return thread.root, opens and any(e.status == "firing" for e in events)

    def requests(
        self, events: Sequence[AlertEvent], group_labels: Mapping[str, str]
    ) -> list[Request]:
        key = orjson.dumps(sorted(group_labels.items())).decode()
        root, opens = self._thread(key, events)
        shown = [e for e in events if e.status == "firing" or self._config.send_resolved]
        if not shown:
            return []
        message_id = root if opens else self._id(key, *sorted(e.event_id for e in shown))
        message = self.message(shown, group_labels, message_id, None if opens else root)
        return [Request(self._destination, message.as_bytes(), tuple(shown))]

    # -- the message ---------------------------------------------------------------------------

    def message(
        self,
        events: Sequence[AlertEvent],
        group_labels: Mapping[str, str],
        message_id: str,
        reply_to: str | None,
    ) -> EmailMessage:
        language = self._config.language
        texts = [alert_text(e, language, self._tz, None, self._config.in_house) for e in events]
        message = EmailMessage(policy=SMTP)
        message["Subject"] = subject(events, group_labels)
        message["From"] = self._config.sender
        message["To"] = ", ".join(self._config.to)
        message["Date"] = format_datetime(self._clock().astimezone(UTC))
        message["Message-ID"] = message_id
        if reply_to is not None:
            message["In-Reply-To"] = reply_to
            message["References"] = reply_to
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to alerts
        message.set_content(email_text(texts, language, self._tz), cte="base64")
        message.add_alternative(email_html(texts, language, self._tz), subtype="html", cte="base64")
        return message

    def digest_requests(self, digest: Digest) -> list[Request]:
        """One plain-text message, its own thread (a period is not an incident)."""
        language = self._config.language
        message = EmailMessage(policy=SMTP)
        message["Subject"] = digest_title(digest, language, self._tz)[:SUBJECT_MAX]
        message["From"] = self._config.sender
        message["To"] = ", ".join(self._config.to)
        message["Date"] = format_datetime(self._clock().astimezone(UTC))
        message["Message-ID"] = self._id("digest", digest.digest_id)
        message["Auto-Submitted"] = "auto-generated"
        body = digest_body(digest, language, in_house_name(self._config.in_house, language))
        message.set_content(body + "\n", cte="base64")
        return [Request(self._destination, message.as_bytes(), digest.events)]

    def classify(self, status: int, body: bytes) -> Outcome | Verdict:
        """SMTP: 2xx accepted, 4xx transient (retried), 5xx permanent."""
        if 200 <= status < 300:
            return Outcome.DELIVERED
        if 400 <= status < 500:
            return Outcome.RETRY
        return Outcome.REJECTED


def subject(events: Sequence[AlertEvent], group_labels: Mapping[str, str]) -> str:
    """The same for every message of a group, so clients thread them: no status, no counts."""
    rules = list(dict.fromkeys(e.rule for e in events))
    values = [v for k, v in group_labels.items() if k not in ("rule", "alertname")]
    if "rule" not in group_labels and "alertname" not in group_labels:
        values = [", ".join(rules), *values]
    else:
        values = [group_labels.get("rule") or group_labels["alertname"], *values]
    text = visible("[annotel] " + " · ".join(values))
    return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 1] + "…"


def _lines(alert: AlertText, language: Language) -> list[tuple[str, str]]:
    words = WORDS[language]
    scope = " · ".join(f"{k}={v}" for k, v in alert.scope) or words["scope_all"]
    rows = [
        (words["value"], f"{alert.metric} {alert.value}"),
        (words["scope"], scope),
        (words["window"], alert.window),
        (words["since"], alert.since),
    ]
    if alert.until is not None:
        rows.append((words["until"], alert.until))
    return rows


def email_text(alerts: Sequence[AlertText], language: Language, tz: ZoneInfo) -> str:
    """The plain-text part: what a terminal mail reader or a notification preview shows."""
    words = WORDS[language]
    out = [title(alerts, language), ""]
    for alert in alerts:
        out.append(f"{alert.rule} · {alert.severity_word} · {alert.state}")
        out.append(alert.summary)
        out.extend(f"  {line}" for line in alert.details)
        out.extend(f"{label}{words['colon']}{value}" for label, value in _lines(alert, language))
        if alert.runbook:
            out.append(f"{words['runbook']}{words['colon']}{alert.runbook}")
        out.append("")
    out.append("-- ")
    out.append(footer(language, tz))
    return "\n".join(out) + "\n"


def email_html(alerts: Sequence[AlertText], language: Language, tz: ZoneInfo) -> str:
    """The HTML part: inline styles only (mail clients drop style sheets); every value escaped."""
    words = WORDS[language]
    esc = html.escape
    head = _HEAD_COLOUR[tone(alerts)]
    rows = []
    for alert in alerts:
        colour = _HEAD_COLOUR["green" if alert.status == "resolved" else tone([alert])]
        facts = "".join(
            f'<tr><th align="left" style="padding:2px 16px 2px 0;color:#59636e;'
            f'font-weight:500;white-space:nowrap;vertical-align:top">{esc(label)}</th>'
            f'<td style="padding:2px 0">{esc(value)}</td></tr>'
            for label, value in _lines(alert, language)
        )
        details = "<br>".join(esc(line) for line in alert.details)
        button = ""
        if alert.runbook:
            button = (
                f'<p style="margin:12px 0 0"><a href="{esc(alert.runbook)}" style="display:'
                f"inline-block;padding:6px 14px;border-radius:6px;background:{colour};color:#fff;"
                f'text-decoration:none;font-weight:600">{esc(words["runbook"])}</a></p>'
            )
        rows.append(
            '<tr><td style="padding:14px 18px;border-top:1px solid #d0d7de">'
            f'<div style="font-weight:600">{esc(alert.rule)} · <span style="color:{colour}">'
            f"{esc(alert.severity_word)} · {esc(alert.state)}</span></div>"
            f'<div style="margin:6px 0;font-size:15px">{esc(alert.summary)}</div>'
            + (f'<div style="color:#59636e;margin:0 0 6px">{details}</div>' if details else "")
            + f'<table role="presentation" style="font-size:14px;border-collapse:collapse">{facts}'
            f"</table>{button}</td></tr>"
        )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{esc(title(alerts, language))}</title></head>"
        '<body style="margin:0;padding:16px;background:#f6f8fa;color:#1f2328;font-family:'
        "-apple-system,'Segoe UI','PingFang SC','Microsoft YaHei','Noto Sans CJK SC',sans-serif\">"
        '<table role="presentation" width="100%" style="max-width:720px;margin:0 auto;'
        'background:#ffffff;border:1px solid #d0d7de;border-radius:6px;border-collapse:separate">'
        f'<tr><td style="background:{head};color:#ffffff;padding:12px 18px;font-size:18px;'
        f'font-weight:600;border-radius:6px 6px 0 0">{esc(title(alerts, language))}</td></tr>'
        + "".join(rows)
        + '<tr><td style="padding:10px 18px;border-top:1px solid #d0d7de;color:#59636e;'
        f'font-size:12px">{esc(footer(language, tz))}</td></tr>'
        "</table></body></html>"
    )
