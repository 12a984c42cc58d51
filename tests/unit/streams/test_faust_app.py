"""The Faust app's pieces that need no broker: the credentials it hands Faust."""

from __future__ import annotations

from pathlib import Path

import faust
import trustme
from pydantic import SecretStr

from streams.faust_app import faust_credentials
from streams.settings import Settings


def test_plaintext_has_no_credentials() -> None:
    assert faust_credentials(Settings(_env_file=None)) is None


def test_sasl_credentials_carry_the_tls_context(tmp_path: Path) -> None:
    cafile = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(cafile))
    settings = Settings(
        _env_file=None,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="annotel",
        kafka_sasl_password=SecretStr("s3cret"),
        kafka_ssl_cafile=cafile,
    )
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.username, credentials.password) == ("annotel", "s3cret")
    assert str(credentials.mechanism.value) == "SCRAM-SHA-512"
    assert len(credentials.ssl_context.get_ca_certs()) == 1


def test_tls_alone_is_ssl_credentials(tmp_path: Path) -> None:
    cafile = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(cafile))
    settings = Settings(_env_file=None, kafka_security_protocol="SSL", kafka_ssl_cafile=cafile)
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SSLCredentials)
    assert len(credentials.context.get_ca_certs()) == 1
