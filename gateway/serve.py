"""Serve the gateway's application until SIGINT or SIGTERM, then stop taking requests and close.

A stop lets requests in flight finish (their records are awaited, so a
client that got no answer retries, one that got ``200`` is stored), then
closes the producer.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable

from aiohttp import web

SHUTDOWN_TIMEOUT_S = 15.0


async def serve(
    app: web.Application, bind: str, port: int, on_ready: Callable[[int], None]
) -> None:
    """Listen on ``bind:port`` (0: a free port, told to ``on_ready``) until a stop signal."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    site = web.TCPSite(runner, bind, port)
    await site.start()
    bound = site.port  # the bound one, when 0 asked for a free port
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    on_ready(bound)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
