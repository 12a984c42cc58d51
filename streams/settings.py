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
        "127.0.0.1:9092", description="Comma-separated `host:port` list of the Kafka brokers."
    )
    kafka_flavor: Literal["auto", "kafka", "tansu"] = Field(
        "auto",
        description="`tansu` applies the client settings measured for the embedded broker; "
        "`auto` detects it from the cluster id.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How the Kafka clients connect to the brokers."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism (with `SASL_PLAINTEXT` or `SASL_SSL`)."
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(
        None,
        description="SASL password; never printed or logged (see [redaction]"
        "(docs/clickhouse.md#connecting-to-a-server-tls-and-what-is-never-printed)).",
    )
    kafka_ssl_cafile: Path | None = Field(
        None, description="PEM file of the CA that signed the brokers' certificates."
    )
    kafka_ssl_certfile: Path | None = Field(
        None, description="Client certificate (PEM) for TLS client authentication."
    )
    kafka_ssl_keyfile: Path | None = Field(
        None, description="Private key (PEM) of `ANNOTEL_KAFKA_SSL_CERTFILE`."
    )
    kafka_partitions: int = Field(
        4, ge=1, le=1024, description="Partitions of the topics the tools create."
    )

    # Topics
    topic_task_completed: str = Field(
        "annotation.task-completed", description="Input topic of `task_completed` events."
    )
    topic_task_audited: str = Field(
        "annotation.task-audited", description="Input topic of `task_audited` events."
    )
    topic_alerts: str = Field(
        "annotation.alerts",
        description="Every alert transition, published before any receiver is called.",
    )
    topic_dlq: str = Field(
        "annotation.dlq", description="Dead letters: each refused message with its reason."
    )
    topic_state: str = Field(
        "annotation-telemetry.state", description="Internal: the worker's checkpoint log."
    )
    topic_windows: str = Field(
        "annotation-telemetry.windows",
        description="Internal, one partition: closed minutes handed to alert evaluation.",
    )
    topic_alert_state: str = Field(
        "annotation-telemetry.alert-state",
        description="Internal, one partition: snapshots of the alert stage.",
    )

    # Storage
    data_dir: Path = Field(
        Path("./.annotel"),
        description="Local data (relative to the working directory): the embedded "
        "ClickHouse in `<data dir>/clickhouse`.",
    )
    clickhouse_url: SecretStr | None = Field(
        None,
        description="Unset: `chdb://<data dir>/clickhouse`, the embedded engine. Or "
        "`http(s)://user:password@host[:port]/database` for a server: `https://` is TLS with "
        "the certificate verified on any port (default 8443; `http://` 8123); percent-encode "
        "`/ ? # @ : %` in the password; options in [ClickHouse]"
        "(docs/clickhouse.md#connecting-to-a-server-tls-and-what-is-never-printed).",
    )
    clickhouse_ca_file: FilePath | None = Field(
        None,
        description="PEM file of the CA that signed the ClickHouse server's certificate "
        "(`https://` only; unset: the system's trusted CAs).",
    )
    clickhouse_cert_file: FilePath | None = Field(
        None,
        description="Client certificate (PEM) for mutual TLS (`https://` only); sent beside the "
        "URL's password, or authenticating the user by itself when the URL has none.",
    )
    clickhouse_key_file: FilePath | None = Field(
        None,
        description="Private key (PEM) of `ANNOTEL_CLICKHOUSE_CERT_FILE`, when that file "
        "does not hold it.",
    )
    chdb_process: bool = Field(
        True,
        description="The worker runs embedded ClickHouse (`chdb://`) in a child process of its "
        "own, as a server would be; `false` loads the engine into the worker.",
    )
    clickhouse_cluster: str | None = Field(
        None, description="Cluster name: DDL uses `ON CLUSTER` and Replicated engines."
    )

    # Stream semantics
    allowed_lateness: Duration = Field(120.0, description="Watermark = latest event time − this.")
    retention: Duration = Field(
        48 * 3600.0,
        description="Corrections are accepted this far behind the watermark; older ones are "
        "dead letters (`too_late`).",
    )
    idle_timeout: Duration = Field(
        30.0,
        description="An idle live partition's watermark follows the wall clock after this.",
    )
    max_future_skew: Duration = Field(
        24 * 3600.0,
        description="Events further ahead of the clock are dead letters (`future_timestamp`).",
    )
    max_event_bytes: int = Field(
        65536,
        ge=256,
        le=8 * 1024 * 1024,
        description="Larger messages are dead letters (`too_large`).",
    )
    commit_interval: Duration = Field(1.0, description="Checkpoint period of the worker.")
    batch_size: int = Field(10_000, ge=1, le=1_000_000, description="Events per processing batch.")
    snapshot_every: int = Field(
        200, ge=1, description="Checkpoints between full state snapshots (bounds recovery time)."
    )

    # Alerts
    rules_file: Path | None = Field(None, description="Alert rules (YAML); unset: no alerting.")
    # Coaching
    roster_file: Path | None = Field(
        None,
        description="The roster (CSV or YAML: annotator, squad, manager, vendor, start date, "
        "level, tags) that `annotel roster check` and `annotel roster load` read when no "
        "FILE is given.",
    )
    # Delivery forecast (docs/metrics.md, "Delivery")
    plans_file: Path | None = Field(
        None,
        description="Delivery plans (YAML: per project and queue due_at, target_total, "
        "daily_target, utilization, hours_per_day); they take precedence over a snapshot's "
        "values. Checked by `annotel plans check`.",
    )
    forecast_window: Duration = Field(
        7200.0,
        gt=0,
        description="Trailing window of the delivery forecast's throughput and active annotators.",
    )
    # Self-monitoring meta-alerts (go to every receiver of the rules file).
    selfmon_enabled: bool = Field(
        True,
        description="Self-monitoring meta-alerts, sent to every receiver of the rules file "
        "except digest receivers (see [alerts](docs/alerts.md#self-monitoring-meta-alerts)).",
    )
    selfmon_lag_limit: int = Field(
        100_000,
        ge=1,
        description="`annotel_consumer_lag_high` fires when a partition's consumer lag "
        "exceeds this many messages.",
    )
    selfmon_dead_letter_share: float = Field(
        0.05,
        gt=0,
        le=1,
        description="`annotel_dead_letter_share_high` fires when dead letters exceed this share "
        "of the messages read over 5 minutes (judged from 200 messages up).",
    )
    selfmon_clickhouse_failing: Duration = Field(
        60.0,
        description="`annotel_clickhouse_failing` fires when ClickHouse inserts have failed for "
        "longer than this (consumption is paused meanwhile).",
    )
    selfmon_watermark_stall: Duration = Field(
        600.0,
        description="`annotel_watermark_stalled` fires when events keep arriving on a partition "
        "but its watermark has not moved for this long.",
    )
    selfmon_receiver_failures: int = Field(
        3,
        ge=1,
        description="`annotel_receiver_failing` fires when a receiver failed this many "
        "deliveries in a row.",
    )

    # Web
    web_bind: str = Field("127.0.0.1", description="Address of the health and metrics server.")
    web_port: int = Field(
        6066, ge=0, le=65535, description="Port of the health and metrics server."
    )

    # HTTP gateway (annotel gateway)
    gateway_bind: str = Field(
        "127.0.0.1",
        description="Address `annotel gateway` listens on; put a TLS-terminating proxy in "
        "front of it before exposing it beyond this host ([gateway](docs/gateway.md)).",
    )
    gateway_port: int = Field(8088, ge=0, le=65535, description="Port of `annotel gateway`.")
    gateway_token: SecretStr | None = Field(
        None,
        description="Client token of `POST /v1/events` (`Authorization: Bearer <token>`); "
        "more clients and the platforms' secrets come from the connectors file. Never printed.",
    )
    connectors_file: Path | None = Field(
        None,
        description="The gateway's connectors file (YAML: sources, mappings, clients; "
        "`annotel connectors check FILE`); unset: only `POST /v1/events`.",
    )
    gateway_max_body_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Larger request bodies are refused with `413`.",
    )
    gateway_max_items: int = Field(
        1000,
        ge=1,
        le=100_000,
        description="Events per request (array items or NDJSON lines); more is `413`.",
    )
    gateway_rate_limit: float = Field(
        50.0,
        gt=0,
        description="Requests per second each client or source may send (a token bucket); "
        "beyond it `429` with `Retry-After`.",
    )
    gateway_rate_burst: int = Field(
        100, ge=1, description="Requests a client may send at once before the rate applies."
    )
    gateway_publish_timeout: Duration = Field(
        10.0,
        ge=2.0,
        description="How long a request waits for the broker to store every event of it "
        "(`acks=all`); after that `503` with `Retry-After`.",
    )
    gateway_retry_after: Duration = Field(
        30.0, ge=1.0, description="The `Retry-After` of a `503` (the broker did not store)."
    )
    gateway_signature_tolerance: Duration = Field(
        300.0,
        ge=1.0,
        description="How far a signed webhook's timestamp (Argilla, Toloka) may be from the "
        "clock; older or newer deliveries are `401` (replays).",
    )

    # Logging
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO",
        description="Log level; logs are JSON lines when not on a terminal (the worker's too, "
        "after Faust starts).",
    )

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
        if self.gateway_token is not None:
            add_secret(self.gateway_token.get_secret_value())


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
