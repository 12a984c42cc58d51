"""``annotel gateway``: the HTTP gateway on ``ANNOTEL_GATEWAY_BIND:ANNOTEL_GATEWAY_PORT``.

The composition root of the gateway: it reads the settings and the
connectors file once, resolves the secrets from the environment (refusing to
start, with every problem, when one is missing or malformed), creates the
topics like ``annotel ingest`` does, and hands plain values to
``gateway.server.Gateway``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from annotel import config
from gateway.auth import Credentials, CredentialsError
from gateway.publisher import Publisher
from gateway.serve import serve
from gateway.server import Gateway, Limits
from gateway.sources import Connectors, ConnectorsError, load_connectors
from schemas.display import visible
from schemas.redact import describe_error
from streams.kafka_config import ensure_topics, producer
from streams.logs import setup_logging
from streams.publishing import Publication, request_deadlines


def cmd_gateway(args: argparse.Namespace) -> int:
    settings = config.settings()
    setup_logging(settings.log_level)
    connectors = Connectors()
    if settings.connectors_file is not None:
        try:
            connectors = load_connectors(settings.connectors_file)
        except ConnectorsError as exc:
            print(visible(f"annotel gateway: {exc}", keep="\n"), file=sys.stderr)
            return 2
    token = settings.gateway_token.get_secret_value() if settings.gateway_token else None
    try:
        credentials = Credentials.load(connectors, os.environ, token)
    except CredentialsError as exc:
        print(f"annotel gateway: missing or invalid secrets:\n  {exc}", file=sys.stderr)
        return 2
    if not credentials.clients:
        print(
            "annotel gateway: no client token (ANNOTEL_GATEWAY_TOKEN or clients: in the "
            "connectors file): every POST /v1/events will be 401",
            file=sys.stderr,
        )
    try:
        ensure_topics(settings, [*settings.input_topics, settings.topic_dlq])
        kafka_producer = producer(settings, **request_deadlines(settings.gateway_publish_timeout))
    except Exception as exc:
        print(f"annotel gateway: cannot reach the broker: {describe_error(exc)}", file=sys.stderr)
        return 1
    publisher = Publisher(kafka_producer, settings.gateway_publish_timeout)
    gateway = Gateway(
        Publication.from_settings(settings, "gateway"),
        connectors,
        credentials,
        publisher,
        Limits(
            max_body_bytes=settings.gateway_max_body_bytes,
            max_items=settings.gateway_max_items,
            rate_limit=settings.gateway_rate_limit,
            rate_burst=settings.gateway_rate_burst,
            retry_after_s=settings.gateway_retry_after,
            signature_tolerance_s=settings.gateway_signature_tolerance,
        ),
    )
    bind = settings.gateway_bind
    port = settings.gateway_port if args.port is None else args.port

    def ready(bound: int) -> None:
        sources = ", ".join(sorted(connectors.sources)) or "none"
        print(
            f"annotel gateway: listening on http://{bind}:{bound} (sources: {sources})", flush=True
        )

    try:
        asyncio.run(serve(gateway.app(), bind, port, ready))
    finally:
        publisher.close()
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gateway = sub.add_parser(
        "gateway",
        help="run the HTTP gateway (platform webhooks and the contract over HTTP)",
        description="Serves POST /v1/events and POST /v1/hooks/{source} (the sources of "
        "ANNOTEL_CONNECTORS_FILE), /health, /metrics and /openapi.json; see docs/gateway.md.",
    )
    gateway.add_argument("--port", type=int, default=None, help="override ANNOTEL_GATEWAY_PORT")
    gateway.set_defaults(func=cmd_gateway)
