"""Structured logging: JSON lines when not on a terminal, readable text on one.

Log records carry identifiers and counts, never event payloads, and never a
secret: every record our handler writes, from our code or a library's
(clickhouse-connect, aiokafka, aiohttp put URLs and server replies in
theirs), passes ``RedactingFilter`` first, and an uncaught exception's
traceback is redacted the same way (``schemas.redact``).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import orjson

from schemas.display import visible
from schemas.redact import CREDENTIAL_NAMES, MASK, redact

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}
_SECRET_KEY = re.compile(rf"(?:{CREDENTIAL_NAMES})", re.IGNORECASE)


class RedactingFilter(logging.Filter):
    """Rewrites a record so that no known or credential-shaped secret can leave in it.

    The message is rendered and redacted, an exception is formatted and
    redacted into ``exc_text`` (the formatters print that), and so are extra
    fields: a field named like a credential is masked whole.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: logging reports it later
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key in _RESERVED or key.startswith("_"):
                continue
            if _SECRET_KEY.fullmatch(key) and value is not None:
                setattr(record, key, MASK)
            elif isinstance(value, str):
                setattr(record, key, redact(value))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exc"] = record.exc_text
        # orjson escapes C0 only: C1, bidi and zero-width characters become escapes too.
        return visible(orjson.dumps(data, default=str).decode())


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{k}={v}"
            for k, v in record.__dict__.items()
            if k not in _RESERVED and not k.startswith("_")
        )
        base = f"{datetime.now().strftime('%H:%M:%S')} {record.levelname:<7} {record.getMessage()}"
        text = f"{base}  {extras}" if extras else base
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            text += "\n" + record.exc_text
        return visible(text, keep="\n")


def _redacted_excepthook(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    """An uncaught exception's traceback, as Python prints it, with secrets masked."""
    sys.stderr.write(redact("".join(traceback.format_exception(kind, value, tb))))


def _redacted_thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    sys.stderr.write(f"Exception in thread {name}:\n")
    _redacted_excepthook(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)


def setup_logging(level: str = "INFO", json_logs: bool | None = None) -> None:
    if json_logs is None:
        json_logs = not sys.stderr.isatty()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_logs else TextFormatter())
    handler.addFilter(RedactingFilter())
    sys.excepthook = _redacted_excepthook
    threading.excepthook = _redacted_thread_excepthook
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("kafka", "aiokafka", "faust", "mode", "clickhouse_connect", "chdb"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
