"""A free port on the loopback interface, for a server about to be started there.

Why here: the worker (its web page with ``--web-port 0``), the embedded
brokers, the demo, the tests and the benchmarks all need one, and
``schemas`` is the one package every one of them may import (it imports
nothing of ours). Servers of this project bind 127.0.0.1 only, so the port is
probed there.
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port the kernel just chose as free, released for the caller's server to bind.

    Another process could take it in between; for the laptop stack, the tests
    and the benchmarks that is rare enough, and the server's start then fails
    loudly (the broker says so) rather than quietly sharing a port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
