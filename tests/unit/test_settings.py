from __future__ import annotations

from pathlib import Path

import pytest

from schemas.durations import format_duration, parse_duration
from streams.settings import Settings, SettingsError, load_settings, redact_url


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
    assert "s3cr3t" not in settings.clickhouse_display()
    assert "s3cr3t" not in repr(settings)
    assert redact_url("http://127.0.0.1:8123") == "http://127.0.0.1:8123"
