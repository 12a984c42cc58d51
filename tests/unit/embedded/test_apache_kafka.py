"""The Apache Kafka lane's set-up: one pinned version, loopback only, skip or fail as told."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from pathlib import Path

import _pytest.outcomes
import pytest

from embedded import apache_kafka
from embedded.apache_kafka import (
    KAFKA_VERSION,
    kafka_home,
    random_cluster_id,
    server_properties,
    unavailable_reason,
)
from tests.brokers import skip_or_fail

ROOT = Path(__file__).resolve().parents[3]
POM = "{http://maven.apache.org/POM/4.0.0}"


def test_the_maven_project_pins_the_version_the_broker_module_expects() -> None:
    project = ET.parse(ROOT / "deploy" / "kafka" / "pom.xml").getroot()
    assert project.findtext(f"{POM}properties/{POM}kafka.version") == KAFKA_VERSION
    artifacts = {
        d.findtext(f"{POM}artifactId"): d.findtext(f"{POM}version")
        for d in project.iter(f"{POM}dependency")
    }
    assert artifacts["kafka_2.13"] == "${kafka.version}"
    # The Makefile reads the version from the pom, for the install folder's name.
    assert "<kafka.version>" in (ROOT / "Makefile").read_text()


def test_the_broker_listens_on_loopback_only(tmp_path: Path) -> None:
    text = server_properties(tmp_path / "data", 19092, 19093)
    settings = dict(line.split("=", 1) for line in text.splitlines())
    assert settings["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert settings["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert settings["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert settings["process.roles"] == "broker,controller"
    assert settings["group.initial.rebalance.delay.ms"] == "0"
    assert settings["log.dirs"] == str(tmp_path / "data")
    assert "0.0.0.0" not in text


def test_cluster_ids_are_random_16_byte_ids_in_kafkas_text_form() -> None:
    ids = {random_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for text in ids:
        assert len(text) == 22 and not text.startswith("-")
        assert len(base64.urlsafe_b64decode(text + "==")) == 16


def test_the_install_folder_follows_the_cache_rules(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ANNOTEL_KAFKA_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert kafka_home() == tmp_path / "cache" / "annotel" / f"kafka-{KAFKA_VERSION}"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert kafka_home() == tmp_path / "home" / ".cache" / "annotel" / f"kafka-{KAFKA_VERSION}"
    monkeypatch.setenv("ANNOTEL_KAFKA_HOME", str(tmp_path / "elsewhere"))
    assert kafka_home() == tmp_path / "elsewhere"


def _fake_java(tmp_path: Path, name: str, version_line: str) -> Path:
    """A stand-in ``java`` that only answers ``-version`` (on stderr, as java does)."""
    java = tmp_path / name
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(0o755)
    return java


def test_missing_or_old_java_or_missing_jars_are_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ANNOTEL_KAFKA_HOME", str(tmp_path))
    monkeypatch.setattr(apache_kafka, "java_binary", lambda: None)
    assert "no java" in (unavailable_reason() or "")
    old = _fake_java(tmp_path, "java11", 'openjdk version "11.0.22" 2024-01-16')
    monkeypatch.setattr(apache_kafka, "java_binary", lambda: old)
    assert "needs Java 17 or newer" in (unavailable_reason() or "")
    assert "is Java 11" in (unavailable_reason() or "")
    ancient = _fake_java(tmp_path, "java8", 'java version "1.8.0_392"')
    assert apache_kafka.java_major(ancient) == 8
    current = _fake_java(tmp_path, "java17", 'openjdk version "17.0.15" 2025-04-15')
    monkeypatch.setattr(apache_kafka, "java_binary", lambda: current)
    assert "make kafka-broker" in (unavailable_reason() or "")
    (tmp_path / ".installed").touch()
    assert unavailable_reason() is None


def test_a_missing_broker_skips_unless_the_lane_is_required(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ANNOTEL_REQUIRE_APACHE", raising=False)
    with pytest.raises(_pytest.outcomes.Skipped, match="no java"):
        skip_or_fail("no java")
    assert "apache kafka lane skipped: no java" in capsys.readouterr().out
    monkeypatch.setenv("ANNOTEL_REQUIRE_APACHE", "1")
    with pytest.raises(_pytest.outcomes.Failed, match="ANNOTEL_REQUIRE_APACHE=1 but no java"):
        skip_or_fail("no java")
