"""Email: one SMTP submission per attempt, over STARTTLS, implicit TLS, or (loopback) none.

aiosmtplib rather than the standard library's smtplib in a thread: it is
asyncio-native, so a submission honours the lane's total timeout and is
cancelled at shutdown like an HTTP request (a thread blocked in smtplib can be
neither), it verifies certificates by default, and it is typed. The server's
reply code is what the email kind classifies (4xx transient, 5xx permanent);
a failure without a reply (timeout, refused connection, TLS) is a
``TransportError`` described by type, never by the exception's text.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

import aiosmtplib

from alerts.receivers.base import Destination, SmtpSend
from alerts.transport import RESPONSE_BODY_MAX, Reply, TransportError

log = logging.getLogger(__name__)


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Certificates verified against ``ca_file``, else the system's trust store."""
    return ssl.create_default_context(cafile=ca_file)


class SmtpTransport:
    """A connection per message: alert mail is rare, and nothing stays open between groups."""

    async def send(self, destination: Destination, body: bytes, timeout_s: float) -> Reply:
        assert isinstance(destination, SmtpSend)
        dest = destination
        username = dest.username.reveal() if dest.username is not None else None
        password = dest.password.reveal() if dest.password is not None else None
        try:
            async with asyncio.timeout(timeout_s):
                refused, message = await aiosmtplib.send(
                    body,
                    sender=dest.sender,
                    recipients=list(dest.recipients),
                    hostname=dest.host,
                    port=dest.port,
                    username=username,
                    password=password,
                    timeout=timeout_s,
                    use_tls=dest.tls == "implicit",
                    start_tls=dest.tls == "starttls",
                    tls_context=tls_context(dest.ca_file) if dest.tls != "none" else None,
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            first = exc.recipients[0] if exc.recipients else None
            code = first.code if first is not None else 550
            text = first.message if first is not None else ""
            return Reply(code, f"SMTP {code}", text.encode()[:RESPONSE_BODY_MAX])
        except aiosmtplib.SMTPResponseException as exc:
            body_text = exc.message.encode()[:RESPONSE_BODY_MAX]
            return Reply(exc.code, f"SMTP {exc.code}", body_text)
        except TimeoutError:
            raise TransportError(f"timeout after {timeout_s:g}s") from None
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, OSError) as exc:
            raise TransportError(f"connection error ({type(exc).__name__})") from None
        except aiosmtplib.SMTPException as exc:  # e.g. no STARTTLS or AUTH offered by the server
            raise TransportError(f"SMTP error ({type(exc).__name__})") from None
        if refused:
            log.warning(
                "SMTP server %s:%d refused %d of %d recipients",
                dest.host,
                dest.port,
                len(refused),
                len(dest.recipients),
            )
        return Reply(250, "SMTP 250", message.encode()[:RESPONSE_BODY_MAX])
