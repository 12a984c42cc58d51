"""The demo's worker: ``annotel worker`` as a supervised child process, and the signals.

The worker runs in its own session with its output in a log file; it is
restarted after a crash (its checkpoints make a restart exact) a few times at
most. It reports its exact final counters on one stderr line, ``drained:
k=v, ...`` (``streams.worker``), which ``parse_drained`` reads back from the
log. Ctrl-C and SIGTERM reach the demo only: they raise ``Interrupted`` in its
main thread, and the demo stops what it started in order.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

from annotel.demo.plan import DemoError

MAX_RESTARTS = 2  # a crashed worker is restarted this often before the demo gives up


class Interrupted(Exception):
    """Ctrl-C or SIGTERM reached the demo."""


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise Interrupted


@contextlib.contextmanager
def interrupts_raise() -> Iterator[None]:
    """Ctrl-C and SIGTERM raise ``Interrupted`` inside the block; the old handlers after it."""
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def without_sigint(start: Callable[[], str]) -> str:
    """``start()`` a child process that ignores the terminal's Ctrl-C until it is stopped.

    The terminal's Ctrl-C goes to the whole process group, and the broker
    would quit at once, under the feed and the worker. Started with SIGINT
    blocked (the mask is inherited), it stays up until the demo stops it last
    with SIGTERM; a Ctrl-C meanwhile waits and reaches the demo.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        return start()
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _death_signal() -> Callable[[], None] | None:
    """A preexec_fn that makes Linux kill the worker if the demo dies (even by SIGKILL).

    libc is loaded here, in the parent: between fork and exec the child (which
    may be forked while the feed thread runs) only makes the one prctl call.
    """
    try:
        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None  # not Linux: the demo's own shutdown still stops the worker

    def set_death_signal() -> None:
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    return set_death_signal


class WorkerProcess:
    """``annotel worker`` as a child in its own session, its output in a log file.

    Its own session, so the terminal's Ctrl-C reaches only the demo, which then
    stops the worker with SIGTERM (a clean Faust shutdown) in the right order.
    """

    def __init__(self, env: dict[str, str], port: int, until_drained: bool, log: Path) -> None:
        self.env = env
        self.port = port
        self.until_drained = until_drained
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self.restarts = 0  # after a crash, as opposed to resuming a worker that drained early

    def start(self) -> None:
        args = [sys.executable, "-m", "annotel", "worker", "--web-port", str(self.port)]
        if self.until_drained:
            args.append("--until-drained")
        with self.log.open("ab") as handle:
            handle.write(f"--- annotel demo: worker run {self.runs + 1}\n".encode())
            handle.flush()
            self.process = subprocess.Popen(
                args,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_death_signal(),
            )
        self.runs += 1

    def poll(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self, timeout: float = 20.0, force: Callable[[], bool] = lambda: False) -> None:
        """SIGTERM (Faust's clean shutdown), SIGKILL after ``timeout`` or when ``force()``."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            deadline = time.monotonic() + timeout
            while process.poll() is None and time.monotonic() < deadline and not force():
                time.sleep(0.1)
            if process.poll() is None:
                process.kill()
                process.wait(10)
        self.process = None

    def restart_after_crash(self, code: int, say: Callable[[str], None]) -> None:
        """Restart a crashed worker, a few times: its checkpoints make a restart exact.

        Seen in practice: an intermittent KeyError inside aiokafka's fetcher
        (Faust's consumer thread) kills the worker about once in ten demo runs.
        The restart is announced and counted in the summary, never hidden.
        """
        if self.restarts >= MAX_RESTARTS:
            raise DemoError(
                f"the worker exited with status {code} ({self.restarts} restart(s) already); "
                f"the end of its log ({self.log}):\n{self.tail()}"
            )
        self.restarts += 1
        say(
            f"the worker exited with status {code} (see {self.log}); restarting it "
            f"({self.restarts}/{MAX_RESTARTS}): it resumes from its checkpoints"
        )
        self.start()

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def drained_totals(self) -> dict[str, int]:
        """The worker's last ``drained: k=v, ...`` line (its exact final counters)."""
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return {}
        return parse_drained(text)


def parse_drained(text: str) -> dict[str, int]:
    lines = [line for line in text.splitlines() if "drained: " in line]
    if not lines:
        return {}
    body = lines[-1].split("drained: ", 1)[1].strip()
    totals: dict[str, int] = {}
    for part in body.split(", "):
        key, _, value = part.partition("=")
        with contextlib.suppress(ValueError):
            totals[key.strip()] = int(value)
    return totals
