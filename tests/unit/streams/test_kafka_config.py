"""Kafka client settings: security options pass through; TLS files become one SSL context."""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme
from pydantic import SecretStr

from streams.kafka_config import aiokafka_security, kafka_python_security, ssl_context
from streams.settings import Settings


def test_plaintext_is_only_the_protocol() -> None:
    settings = Settings(_env_file=None)
    assert kafka_python_security(settings) == {"security_protocol": "PLAINTEXT"}
    assert aiokafka_security(settings) == {"security_protocol": "PLAINTEXT"}
    assert ssl_context(settings) is None


def test_sasl_without_tls_passes_the_credentials_and_no_context() -> None:
    settings = Settings(
        _env_file=None,
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="annotel",
        kafka_sasl_password=SecretStr("s3cret"),
    )
    assert aiokafka_security(settings) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "annotel",
        "sasl_plain_password": "s3cret",
    }


def test_tls_files_become_the_context_aiokafka_takes(tmp_path: Path) -> None:
    ca = trustme.CA()
    cafile, certfile = tmp_path / "ca.pem", tmp_path / "client.pem"
    ca.cert_pem.write_to_path(str(cafile))
    ca.issue_cert("annotel-client").private_key_and_cert_chain_pem.write_to_path(str(certfile))
    settings = Settings(
        _env_file=None,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username="annotel",
        kafka_sasl_password=SecretStr("s3cret"),
        kafka_ssl_cafile=cafile,
        kafka_ssl_certfile=certfile,
    )
    python = kafka_python_security(settings)
    assert python["ssl_cafile"] == str(cafile) and python["ssl_certfile"] == str(certfile)
    config = aiokafka_security(settings)
    assert not any(k.startswith("ssl_") and k != "ssl_context" for k in config)
    context = config["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert len(context.get_ca_certs()) == 1  # our CA, not the system's
    assert config["sasl_plain_password"] == "s3cret"
