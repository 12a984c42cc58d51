"""A ClickHouse server URL, read by us: the scheme decides TLS, on any port.

clickhouse-connect, given a DSN, takes TLS from ``secure``, ``interface`` or a
443 / 8443 port, never from the scheme: ``https://user:pw@host:9000/db`` went
out as plain HTTP with the password in a Basic header. So the URL is parsed
here and the client gets explicit arguments: ``https://`` means TLS with the
server's certificate and host name verified (default port 8443), ``http://``
means plain HTTP (default port 8123), whatever the port.

The URL is read strictly (RFC 3986): reserved characters in the user or the
password must be percent-encoded. An ``@`` or ``#`` after the host is refused
rather than guessed at, because it usually means an unencoded ``/ ? # @`` in
the password has shifted the URL's parts; connecting anyway would send part
of the password as a host, a path or a query. No error message here quotes
any part of the URL.

Pure: no I/O and no client library; ``sinks.client.connect`` builds the
client from ``client_arguments``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"http": 8123, "https": 8443}

# Query options passed to clickhouse-connect's HTTP client, with their types.
TRANSPORT_OPTIONS: dict[str, type] = {
    "compress": str,  # true / false, or a method: lz4, zstd, br, gzip
    "connect_timeout": int,
    "send_receive_timeout": int,
    "query_limit": int,
    "query_retries": int,
    "client_name": str,
    "session_id": str,
    "server_host_name": str,  # the name the certificate must carry (tunnels, proxies)
}
# Chosen by the scheme and the ANNOTEL_CLICKHOUSE_*_FILE settings, never by the query.
TLS_OPTIONS = frozenset(
    {"secure", "interface", "verify", "ca_cert", "client_cert", "client_cert_key", "tls_mode"}
)
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class ServerUrlError(ValueError):
    """The URL cannot be used; the message names the problem, never a part of the URL."""


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for an ``https://`` server: its CA, and a client certificate and key."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def __bool__(self) -> bool:
        return any((self.ca_file, self.cert_file, self.key_file))


@dataclass(frozen=True)
class ServerUrl:
    secure: bool
    host: str
    port: int
    username: str | None
    password: str = field(repr=False)
    database: str | None
    options: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, str] = field(default_factory=dict)


def parse_server_url(url: str) -> ServerUrl:
    """``http(s)://[user[:password]@]host[:port][/database][?option=value&...]``.

    Query options: ``user`` / ``password`` (as ClickHouse's HTTP interface
    takes them; sent in the Authorization header, never in the request URL),
    ``database``, the ``TRANSPORT_OPTIONS``, and ``ch_<name>`` for a
    ClickHouse setting sent with every query.
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in DEFAULT_PORTS:
        raise ServerUrlError("a server URL must start with http:// or https://")
    authority_end = len(rest)
    for mark in "/?#":
        at = rest.find(mark)
        if at != -1:
            authority_end = min(authority_end, at)
    after = rest[authority_end:]
    if "@" in after or "#" in after:
        raise ServerUrlError(
            "an '@' or '#' after the host: percent-encode reserved characters in the user "
            "and password (/ %2F, ? %3F, # %23, @ %40, : %3A, % %25)"
        )
    try:
        parts = urlsplit(f"{scheme}://{rest}")
        host = parts.hostname
        port = parts.port
    except ValueError:
        raise ServerUrlError(
            "the host or port cannot be read (is a reserved character in the password "
            "not percent-encoded?)"
        ) from None
    if not host:
        raise ServerUrlError("the URL names no host")
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) > 1:
        raise ServerUrlError("the path must be at most one database name")
    database = unquote(segments[0]) if segments else None
    options: dict[str, Any] = {}
    settings: dict[str, str] = {}
    for item in parts.query.split("&") if parts.query else ():
        name, eq, raw = item.partition("=")
        value = unquote(raw.replace("+", " "))
        name = unquote(name)
        if not eq or not name:
            raise ServerUrlError("a query item without name=value (an unencoded '&'?)")
        if name in ("user", "username"):
            if username is not None:
                raise ServerUrlError("the user is given twice")
            username = value
        elif name == "password":
            if password is not None:
                raise ServerUrlError("the password is given twice")
            password = value
        elif name == "database":
            if database is not None:
                raise ServerUrlError("the database is given twice")
            database = value
        elif name.startswith("ch_") and len(name) > 3:
            settings[name[3:]] = value
        elif name in TRANSPORT_OPTIONS:
            options[name] = _option(name, value)
        elif name in TLS_OPTIONS:
            raise ServerUrlError(
                "TLS is chosen by the scheme (https:// verifies the server) and the "
                "ANNOTEL_CLICKHOUSE_CA_FILE / _CERT_FILE / _KEY_FILE settings, not by the query"
            )
        else:
            raise ServerUrlError(
                "an unsupported query option; supported: user, password, database, "
                f"ch_<setting>, {', '.join(TRANSPORT_OPTIONS)}"
            )
    return ServerUrl(
        secure=scheme == "https",
        host=host,
        port=port if port is not None else DEFAULT_PORTS[scheme],
        username=username,
        password=password or "",
        database=database or None,
        options=options,
        settings=settings,
    )


def _option(name: str, value: str) -> Any:
    kind = TRANSPORT_OPTIONS[name]
    if kind is int:
        if not value.isdigit():
            raise ServerUrlError(f"query option {name} must be a whole number")
        return int(value)
    if name == "compress":
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    return value


def client_arguments(url: ServerUrl, tls: TlsFiles | None = None) -> dict[str, Any]:
    """Keyword arguments for ``clickhouse_connect.get_client``: nothing left for it to infer.

    With a client certificate and a password, both are sent (``tls_mode``
    strict); a certificate without a password authenticates the user by
    itself (ClickHouse's ``ssl_certificate`` users).
    """
    tls = tls or TlsFiles()
    if tls and not url.secure:
        raise ServerUrlError("TLS files are set but the URL is http://: use https://")
    if tls.key_file is not None and tls.cert_file is None:
        raise ServerUrlError("a client key needs its client certificate")
    arguments: dict[str, Any] = {
        "interface": "https" if url.secure else "http",
        "secure": url.secure,
        "host": url.host,
        "port": url.port,
        "username": url.username,
        "password": url.password,
        "database": url.database,
        "settings": dict(url.settings),
        **url.options,
    }
    if url.secure:
        arguments["verify"] = True
        if tls.ca_file is not None:
            arguments["ca_cert"] = str(tls.ca_file)
        if tls.cert_file is not None:
            arguments["client_cert"] = str(tls.cert_file)
            arguments["tls_mode"] = "strict" if url.password else "mutual"
        if tls.key_file is not None:
            arguments["client_cert_key"] = str(tls.key_file)
    return arguments
