from __future__ import annotations

from pathlib import Path

import pytest

from schemas.durations import format_duration, parse_duration
from schemas.redact import redact
from sinks.server_url import TlsFiles
from streams.settings import Settings, SettingsError, load_settings


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("2m", 120),
        ("48h", 172800),
        ("1d", 86400),
        ("15", 15),
        (30, 30),
        ("1.5m", 90),
        ("250ms", 0.25),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["2 weeks", "-5s", "", "m", True, None])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_format_duration() -> None:
    assert [format_duration(s) for s in (120, 172800, 90, 0.5)] == ["2m", "2d", "90s", "0.5s"]


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(_env_file=None)
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.topic_dlq == "annotation.dlq"
    assert settings.allowed_lateness == 120
    assert settings.retention == 48 * 3600
    assert settings.web_bind == "127.0.0.1"
    assert settings.clickhouse_dsn() == "chdb://" + str(tmp_path / ".annotel" / "clickhouse")


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANNOTEL_ALLOWED_LATENESS", "5m")
    monkeypatch.setenv("ANNOTEL_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1, 127.0.0.1:2")
    monkeypatch.setenv("ANNOTEL_TOPIC_DLQ", "死信")
    settings = load_settings(_env_file=None)
    assert settings.allowed_lateness == 300
    assert settings.bootstrap_servers == ["127.0.0.1:1", "127.0.0.1:2"]
    assert settings.topic_dlq == "死信"


def test_dotenv_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ANNOTEL_RETENTION=2h\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_settings().retention == 7200


def test_errors_name_the_variable_and_hide_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANNOTEL_RETENTION", "forever")
    monkeypatch.setenv("ANNOTEL_CLICKHOUSE_URL", "ftp://bob:hunter2@example")
    with pytest.raises(SettingsError) as info:
        load_settings(_env_file=None)
    text = str(info.value)
    assert "ANNOTEL_RETENTION" in text and "ANNOTEL_CLICKHOUSE_URL" in text
    assert "hunter2" not in text


def test_server_url_is_redacted_for_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANNOTEL_CLICKHOUSE_URL", "https://writer:s3cr3t@127.0.0.1:8443/annotel")
    settings = load_settings(_env_file=None)
    assert settings.clickhouse_dsn().endswith("/annotel")
    assert settings.clickhouse_display() == "https://writer:***@127.0.0.1:8443/annotel"
    assert "s3cr3t" not in repr(settings)
    assert Settings(
        _env_file=None, clickhouse_url="http://127.0.0.1:8123"
    ).clickhouse_display() == ("http://127.0.0.1:8123")


def test_loaded_settings_make_their_secrets_unprintable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "ANNOTEL_CLICKHOUSE_URL", "https://127.0.0.1/db?user=w&password=Lp9%2Fsecret"
    )
    monkeypatch.setenv("ANNOTEL_KAFKA_SASL_PASSWORD", "Kf7-sasl-secret")
    load_settings(_env_file=None)
    text = "server said: bad password Lp9/secret (Lp9%2Fsecret); broker: Kf7-sasl-secret"
    assert redact(text) == "server said: bad password *** (***); broker: ***"


@pytest.mark.parametrize(
    "url",
    [
        "https://writer:Lp9/secret@127.0.0.1:8443/db",
        "https://127.0.0.1/db?password=Lp9#secret",
        "https://127.0.0.1/db?verify=false",
    ],
)
def test_an_unreadable_server_url_is_refused_without_echo(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("ANNOTEL_CLICKHOUSE_URL", url)
    with pytest.raises(SettingsError) as info:
        load_settings(_env_file=None)
    assert "ANNOTEL_CLICKHOUSE_URL" in str(info.value)
    assert "Lp9" not in str(info.value) and "secret" not in str(info.value)


def test_tls_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("ANNOTEL_CLICKHOUSE_URL", "https://h:9440/")
    monkeypatch.setenv("ANNOTEL_CLICKHOUSE_CA_FILE", str(ca))
    assert load_settings(_env_file=None).clickhouse_tls() == TlsFiles(ca_file=ca)
    # A CA file beside an http:// URL would only look like TLS.
    monkeypatch.setenv("ANNOTEL_CLICKHOUSE_URL", "http://h:8443/")
    with pytest.raises(SettingsError, match=r"ANNOTEL_CLICKHOUSE_CA_FILE: .*https://"):
        load_settings(_env_file=None)
    monkeypatch.setenv("ANNOTEL_CLICKHOUSE_URL", "https://h/")
    monkeypatch.setenv("ANNOTEL_CLICKHOUSE_CA_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(SettingsError, match="ANNOTEL_CLICKHOUSE_CA_FILE"):
        load_settings(_env_file=None)
    monkeypatch.delenv("ANNOTEL_CLICKHOUSE_CA_FILE")
    monkeypatch.setenv("ANNOTEL_CLICKHOUSE_KEY_FILE", str(ca))
    with pytest.raises(SettingsError, match=r"ANNOTEL_CLICKHOUSE_KEY_FILE: .*CERT_FILE"):
        load_settings(_env_file=None)
