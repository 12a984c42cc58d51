"""Who is calling: client tokens for ``/v1/events``, a token and/or a signature per source.

Secrets come from the environment (``ANNOTEL_GATEWAY_TOKEN``, and the
variables the connectors file names), are registered with the redactor so
no log line can show them, and are compared in constant time: a token is
compared with every client's token, whichever matches, so the time taken
says nothing about which one came close.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from gateway.connectors import VERIFIERS, secret_key
from gateway.sources import Connectors, Source, env_problems
from schemas.redact import add_secret

DEFAULT_CLIENT = "default"  # the client of ANNOTEL_GATEWAY_TOKEN


class CredentialsError(ValueError):
    """A secret the configuration names is missing or malformed; one line per problem."""


@dataclass(frozen=True)
class Credentials:
    clients: Mapping[str, bytes] = field(default_factory=dict)  # /v1/events: name -> token
    source_tokens: Mapping[str, bytes] = field(default_factory=dict)
    source_keys: Mapping[str, bytes] = field(default_factory=dict)  # HMAC keys

    @classmethod
    def load(
        cls, connectors: Connectors, env: Mapping[str, str], gateway_token: str | None
    ) -> Credentials:
        problems = env_problems(connectors, env)
        if problems:
            raise CredentialsError("\n".join(problems))
        clients = {name: env[c.token_env].strip() for name, c in connectors.clients.items()}
        if gateway_token:
            clients[DEFAULT_CLIENT] = gateway_token
        tokens = {
            s.name: env[s.token_env].strip() for s in connectors.sources.values() if s.token_env
        }
        secrets = {
            s.name: env[s.secret_env].strip() for s in connectors.sources.values() if s.secret_env
        }
        for value in (*clients.values(), *tokens.values(), *secrets.values()):
            add_secret(value)
        keys = {
            name: secret_key(connectors.sources[name].type, value)
            for name, value in secrets.items()
        }
        return cls(
            {name: value.encode() for name, value in clients.items()},
            {name: value.encode() for name, value in tokens.items()},
            keys,
        )


def bearer(headers: Mapping[str, str]) -> bytes | None:
    """The token of ``Authorization: Bearer <token>``, or None."""
    value = headers.get("authorization", "")
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip().encode("utf-8", "surrogateescape")


def client_of(token: bytes | None, clients: Mapping[str, bytes]) -> str | None:
    """The client whose token this is, comparing with every token (constant time each)."""
    found = None
    for name, expected in clients.items():
        if hmac.compare_digest(expected, token or b"") and token:
            found = name
    return found


def check_source(
    source: Source,
    credentials: Credentials,
    body: bytes,
    headers: Mapping[str, str],
    now: datetime,
    tolerance_s: float,
) -> str:
    """``ok``, or why the request is not the source's: a token or signature problem."""
    expected = credentials.source_tokens.get(source.name)
    if expected is not None:
        token = bearer(headers)
        if token is None:
            return "missing_token"
        if not hmac.compare_digest(expected, token):
            return "bad_token"
    key = credentials.source_keys.get(source.name)
    if key is not None:
        verdict = VERIFIERS[source.type](key, body, headers, now, tolerance_s)
        if verdict != "ok":
            return f"signature_{verdict}"
    return "ok"
