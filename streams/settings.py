"""The one settings model, read from ``ANNOTEL_*`` environment variables and ``.env``.

Only the composition root (the CLI and the worker) builds it; every other
package receives plain values as arguments, so it can be tested without an
environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    Field,
    FilePath,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.durations import parse_duration
from schemas.redact import add_secret, redact
from sinks.server_url import ServerUrlError, TlsFiles, parse_server_url

Duration = Annotated[float, BeforeValidator(parse_duration)]


class SettingsError(Exception):
    """Raised with one line per invalid variable, named as the user spells it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ANNOTEL_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    # Kafka
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Comma-separated host:port list."
    )
    kafka_flavor: Literal["auto", "kafka", "tansu"] = Field(
        "auto",
        description="'tansu' applies the client settings measured for the embedded broker; "
        "'auto' detects it from the cluster id.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_partitions: int = Field(4, ge=1, le=1024, description="Partitions of created topics.")

    # Topics
    topic_task_completed: str = "annotation.task-completed"
    topic_task_audited: str = "annotation.task-audited"
    topic_alerts: str = "annotation.alerts"
    topic_dlq: str = "annotation.dlq"
    topic_state: str = "annotation-telemetry.state"
    topic_windows: str = Field(
        "annotation-telemetry.windows",
        description="Internal, one partition: closed minutes handed to alert evaluation.",
    )
    topic_alert_state: str = Field(
        "annotation-telemetry.alert-state",
        description="Internal, one partition: snapshots of the alert evaluator.",
    )

    # Storage
    data_dir: Path = Path("./.annotel")
    clickhouse_url: SecretStr | None = Field(
        None,
        description="chdb:///abs/path (embedded, default under the data dir) or "
        "http(s)://user:password@host:port/database for a server; https:// is TLS with "
        "the server's certificate verified, on any port (default 8443; http:// 8123). "
        "Percent-encode reserved characters in the password.",
    )
    clickhouse_ca_file: FilePath | None = Field(
        None,
        description="PEM file of the CA that signed the ClickHouse server's certificate "
        "(https:// only; default: the system's trusted CAs).",
    )
    clickhouse_cert_file: FilePath | None = Field(
        None,
        description="Client certificate (PEM) for mutual TLS (https:// only); sent beside the "
        "URL's password, or authenticating the user by itself when the URL has none.",
    )
    clickhouse_key_file: FilePath | None = Field(
        None,
        description="Private key (PEM) of ANNOTEL_CLICKHOUSE_CERT_FILE, when that file "
        "does not hold it.",
    )
    chdb_process: bool = Field(
        True,
        description="Run embedded ClickHouse (chdb:// URLs) in a child process of the worker, "
        "as a server would be, instead of loading its engine into the worker.",
    )
    clickhouse_cluster: str | None = Field(
        None, description="Cluster name: DDL uses ON CLUSTER and Replicated engines."
    )

    # Stream semantics
    allowed_lateness: Duration = 120.0
    retention: Duration = 48 * 3600.0
    idle_timeout: Duration = 30.0
    max_future_skew: Duration = 24 * 3600.0
    max_event_bytes: int = Field(65536, ge=256, le=8 * 1024 * 1024)
    commit_interval: Duration = Field(1.0, description="Checkpoint period of the worker.")
    batch_size: int = Field(10_000, ge=1, le=1_000_000)
    snapshot_every: int = Field(
        200, ge=1, description="Checkpoints between full state snapshots (bounds recovery)."
    )

    # Alerts
    rules_file: Path | None = None
    # Coaching
    roster_file: Path | None = Field(
        None,
        description="The roster (CSV or YAML: annotator, squad, manager, vendor, start date, "
        "level, tags) that `annotel roster check` and `annotel roster load` read when no "
        "FILE is given.",
    )
    # Self-monitoring meta-alerts (go to every receiver of the rules file).
    selfmon_enabled: bool = True
    selfmon_lag_limit: int = Field(100_000, ge=1, description="Consumer lag per partition.")
    selfmon_dead_letter_share: float = Field(0.05, gt=0, le=1)
    selfmon_clickhouse_failing: Duration = 60.0
    selfmon_watermark_stall: Duration = 600.0
    selfmon_receiver_failures: int = Field(3, ge=1)

    # Web
    web_bind: str = "127.0.0.1"
    web_port: int = Field(6066, ge=0, le=65535)

    # Logging
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap(cls, value: str) -> str:
        servers = [part.strip() for part in value.split(",") if part.strip()]
        if not servers:
            raise ValueError("at least one host:port is required")
        for server in servers:
            host, sep, port = server.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"{server!r} is not host:port")
        return ",".join(servers)

    @field_validator("clickhouse_url")
    @classmethod
    def _clickhouse_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        url = value.get_secret_value()
        scheme = url.partition("://")[0].lower()
        if scheme not in ("chdb", "http", "https"):
            raise ValueError("must start with chdb://, http:// or https://")
        if scheme != "chdb":
            try:
                parse_server_url(url)
            except ServerUrlError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("clickhouse_ca_file", "clickhouse_cert_file", "clickhouse_key_file")
    @classmethod
    def _tls_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        # A CA file beside an http:// URL would leave the reader believing TLS is on.
        if "clickhouse_url" not in info.data:
            return value  # the URL itself is invalid and reported
        url = info.data["clickhouse_url"]
        if value is not None and (
            url is None or not url.get_secret_value().lower().startswith("https://")
        ):
            raise ValueError("needs an https:// ANNOTEL_CLICKHOUSE_URL")
        if (
            value is not None
            and info.field_name == "clickhouse_key_file"
            and info.data.get("clickhouse_cert_file") is None
        ):
            raise ValueError("needs ANNOTEL_CLICKHOUSE_CERT_FILE")
        return value

    @property
    def bootstrap_servers(self) -> list[str]:
        return self.kafka_bootstrap_servers.split(",")

    @property
    def input_topics(self) -> tuple[str, str]:
        return (self.topic_task_completed, self.topic_task_audited)

    def clickhouse_dsn(self) -> str:
        """The effective DSN; the embedded default lives under the data dir."""
        if self.clickhouse_url is not None:
            return self.clickhouse_url.get_secret_value()
        return "chdb://" + str((self.data_dir / "clickhouse").resolve())

    def clickhouse_display(self) -> str:
        """The DSN with any password replaced, safe for logs and summaries."""
        return redact(self.clickhouse_dsn())

    def clickhouse_tls(self) -> TlsFiles:
        return TlsFiles(
            self.clickhouse_ca_file, self.clickhouse_cert_file, self.clickhouse_key_file
        )

    def register_secrets(self) -> None:
        """Make the secrets these settings hold unprintable in this process (``schemas.redact``)."""
        dsn = self.clickhouse_dsn()
        if not dsn.startswith("chdb://"):
            server = parse_server_url(dsn)
            add_secret(server.password, user=server.username or "default")
        if self.kafka_sasl_password is not None:
            add_secret(self.kafka_sasl_password.get_secret_value(), user=self.kafka_sasl_username)


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning pydantic's error into one line per variable.

    The settings' secrets are registered with the redactor, so no log line,
    printed error or URL of this process can show them.
    """
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False):
            name = "ANNOTEL_" + "_".join(str(p) for p in error["loc"]).upper()
            lines.append(f"{name}: {error['msg']}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None
    settings.register_secrets()
    return settings
