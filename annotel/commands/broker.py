"""``annotel broker``: the embedded Kafka-compatible broker in the foreground, for a laptop.

It prints the bootstrap address to export, then waits for Ctrl-C or SIGTERM
and stops the broker; a broker that dies on its own ends the command with 1.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from embedded.broker import BrokerError, EmbeddedBroker
from streams.kafka_config import EMBEDDED_CLUSTER_ID


def cmd_broker(args: argparse.Namespace) -> int:
    broker = EmbeddedBroker(args.port, cluster_id=EMBEDDED_CLUSTER_ID)
    try:
        bootstrap = broker.start()
    except BrokerError as exc:
        print(f"annotel broker: {exc}", file=sys.stderr)
        return 1
    print(f"embedded broker listening on {bootstrap} (in memory; stop with Ctrl-C)")
    print(f"export ANNOTEL_KAFKA_BOOTSTRAP_SERVERS={bootstrap}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.is_set():
            if broker.process is None or broker.process.poll() is not None:
                print("annotel broker: the broker process exited", file=sys.stderr)
                return 1
            stop.wait(0.5)
    finally:
        broker.stop()
    print("broker stopped")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    broker = sub.add_parser("broker", help="run the embedded Kafka-compatible broker")
    broker.add_argument("--port", type=int, default=9092)
    broker.set_defaults(func=cmd_broker)
