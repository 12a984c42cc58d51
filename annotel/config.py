"""Settings for the commands, read once per invocation.

A command that needs the environment asks here, so a bad ``ANNOTEL_*`` value
ends every command the same way: one line on stderr and exit status 2, never a
traceback (which could carry the value).
"""

from __future__ import annotations

import sys

from streams.settings import Settings, SettingsError, load_settings


def settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        print(f"annotel: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
