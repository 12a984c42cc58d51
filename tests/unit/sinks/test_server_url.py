"""Server URLs are read by us: the scheme decides TLS, the client is left nothing to infer."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from sinks.server_url import ServerUrlError, TlsFiles, client_arguments, parse_server_url

PASSWORD = "Qzx1/Vwk2#Jyp3?Hmf4@Bqr5:Kzt6"
FRAGMENTS = ("Qzx1", "Vwk2", "Jyp3", "Hmf4", "Bqr5", "Kzt6")


@pytest.mark.parametrize(
    ("url", "secure", "port"),
    [
        ("https://h", True, 8443),
        ("https://h/db", True, 8443),
        ("https://h:9000/db", True, 9000),
        ("https://h:8123/db", True, 8123),
        ("HTTPS://h:443", True, 443),
        ("http://h", False, 8123),
        ("http://h:8443/db", False, 8443),  # the scheme, not the port, decides
        ("http://h:443", False, 443),
    ],
)
def test_the_scheme_decides_tls_on_any_port(url: str, secure: bool, port: int) -> None:
    arguments = client_arguments(parse_server_url(url))
    assert arguments["secure"] is secure
    assert arguments["interface"] == ("https" if secure else "http")
    assert arguments["port"] == port
    assert arguments["host"] == "h"
    if secure:
        assert arguments["verify"] is True
    assert "dsn" not in arguments


def test_user_password_database_and_options() -> None:
    url = parse_server_url(
        f"https://writer:{quote(PASSWORD, safe='')}@[::1]:9440/annotel"
        "?compress=false&connect_timeout=5&ch_max_execution_time=30&server_host_name=ch.internal"
    )
    assert (url.host, url.port, url.username, url.password, url.database) == (
        "::1",
        9440,
        "writer",
        PASSWORD,
        "annotel",
    )
    assert url.options == {
        "compress": False,
        "connect_timeout": 5,
        "server_host_name": "ch.internal",
    }
    assert url.settings == {"max_execution_time": "30"}
    assert PASSWORD not in repr(url)


def test_credentials_in_the_query_as_clickhouse_takes_them() -> None:
    url = parse_server_url(f"https://h/?user=reader&password={quote(PASSWORD)}&database=bi")
    assert (url.username, url.password, url.database) == ("reader", PASSWORD, "bi")
    assert client_arguments(url)["password"] == PASSWORD


def test_unencoded_colon_and_at_in_the_password_are_read_rfc_style() -> None:
    url = parse_server_url("https://writer:pa:ss@w@h:8443/db")
    assert (url.username, url.password, url.host, url.port) == ("writer", "pa:ss@w", "h", 8443)


@pytest.mark.parametrize(
    "url",
    [
        f"https://writer:{PASSWORD}@127.0.0.1:9/db",  # '/' ends the host early
        "https://writer:12/ab@h:8443/db",  # would have been host 'writer', port 12
        "https://writer:pa?Qzx1@h/db",
        "https://writer:pa#Qzx1@h/db",
        f"https://h/db?password={PASSWORD}",  # '#' starts a fragment
        "https://writer:Qzx1@h:Vwk2/db",
        "https://h/db?password=Qzx1&Vwk2",  # an unencoded '&'
        "https://h/db?Qzx1=1",  # an unknown option is not echoed
        "https://h/db?verify=false",
        "https://h/db?secure=false",
        "https://h/db?ca_cert=/x.pem",
        "https://h/a/b",
        "https://h/db?connect_timeout=Qzx1",
        "ftp://h",
        "h:8123",
    ],
)
def test_refused_urls_never_quote_the_url(url: str) -> None:
    with pytest.raises(ServerUrlError) as info:
        parse_server_url(url)
    message = str(info.value)
    assert not any(fragment in message for fragment in FRAGMENTS), message
    assert "://h" not in message and "127.0.0.1" not in message


def test_tls_files_go_to_the_client_and_only_with_https(tmp_path: Path) -> None:
    ca, cert, key = tmp_path / "ca.pem", tmp_path / "c.pem", tmp_path / "k.pem"
    arguments = client_arguments(parse_server_url("https://w:pw@h:9440/"), TlsFiles(ca, cert, key))
    assert arguments["ca_cert"] == str(ca)
    assert arguments["client_cert"] == str(cert)
    assert arguments["client_cert_key"] == str(key)
    assert arguments["tls_mode"] == "strict"  # certificate and password both sent
    without_password = client_arguments(parse_server_url("https://w@h/"), TlsFiles(cert_file=cert))
    assert without_password["tls_mode"] == "mutual"  # the certificate authenticates the user
    with pytest.raises(ServerUrlError, match="https://"):
        client_arguments(parse_server_url("http://h:8443/"), TlsFiles(ca_file=ca))
    with pytest.raises(ServerUrlError, match="certificate"):
        client_arguments(parse_server_url("https://h/"), TlsFiles(key_file=key))
