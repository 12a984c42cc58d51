"""The one-line progress display of ``annotel ingest`` and ``annotel simulate`` on a terminal.

Given to ``streams.ingest.ingest`` as its ``progress`` callback only when
stderr is a terminal and the output is not JSON: redrawn in place at most five
times a second, finished with a newline.
"""

from __future__ import annotations

import sys
import time

from streams.ingest import IngestResult


class TerminalProgress:
    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self, result: IngestResult, final: bool) -> None:
        now = time.monotonic()
        if not final and now - self.last < 0.2:
            return
        self.last = now
        sys.stderr.write(
            f"\r  published {result.published:>10,}  dead-lettered {result.dead_lettered:>8,}"
        )
        if final:
            sys.stderr.write("\n")
        sys.stderr.flush()


def terminal_progress(json_output: bool) -> TerminalProgress | None:
    """A display when a person watches stderr, else nothing (pipes, CI, ``--json``)."""
    return TerminalProgress() if sys.stderr.isatty() and not json_output else None
