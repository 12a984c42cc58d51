"""``annotel rules check`` runs the worker's own receiver checks and lists the variables needed.

Each receiver setting the worker refuses at start must fail the check (same
environment), with the same message; a file that passes starts the worker's
dispatcher. ``--no-env`` skips only the checks of environment values.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from alerts.dispatch import Dispatcher, ReceiverConfigError
from alerts.receiver_config import env_variables, receiver_problems
from alerts.rules import parse_rules
from annotel.cli import build_parser

SECRET = "https://hooks.example/T000/B000/SECRETSECRET"

RULES = """\
version: 1
rules:
  - name: r
    metric: audit_pass_rate
    window: 5m
    op: "<"
    threshold: 0.8
    receivers: [{name}]
receivers:
  {name}: {receiver}
"""

# (receiver YAML, environment, the worker's message, with --no-env too?)
REFUSED = [
    ("{type: slack, webhook_url_env: ANNOTEL_T_SLACK}", {}, "ANNOTEL_T_SLACK is not set", False),
    (
        "{type: slack, webhook_url_env: ANNOTEL_T_SLACK}",
        {"ANNOTEL_T_SLACK": "   "},
        "ANNOTEL_T_SLACK is not set (or empty)",
        False,
    ),
    (
        "{type: slack, webhook_url_env: ANNOTEL_T_SLACK}",
        {"ANNOTEL_T_SLACK": "hooks.example/no-scheme"},
        "the value of ANNOTEL_T_SLACK is not an http(s) URL",
        False,
    ),
    ("{type: pagerduty, routing_key_env: ANNOTEL_T_PD}", {}, "ANNOTEL_T_PD is not set", False),
    (
        "{type: pagerduty, routing_key_env: ANNOTEL_T_PD, url: 'ftp://events.example/'}",
        {"ANNOTEL_T_PD": "key"},
        "url is not an http(s) URL",
        True,
    ),
    ("{type: webhook, url_env: ANNOTEL_T_HOOK}", {}, "ANNOTEL_T_HOOK is not set", False),
    (
        "{type: webhook, url_env: ANNOTEL_T_HOOK}",
        {"ANNOTEL_T_HOOK": "ftp://x/" + SECRET},
        "the value of ANNOTEL_T_HOOK is not an http(s) URL",
        False,
    ),
    ("{type: webhook, url: 'http://127.0.0.1:99999/'}", {}, "url is not an http(s) URL", True),
    ("{type: webhook, url: 'javascript:alert(1)'}", {}, "url is not an http(s) URL", True),
    ("{type: webhook, url: '/relative/path'}", {}, "url is not an http(s) URL", True),
    # digests: a schedule that cannot be followed, or a kind that cannot carry one message
    ("{type: stdout, digest: {at: '9am'}}", {}, "digest.at '9am' is not a time of day", True),
    (
        "{type: stdout, digest: {at: '09:00', timezone: Mars/Olympus}}",
        {},
        "digest.timezone 'Mars/Olympus' is not a known IANA time zone",
        True,
    ),
    ("{type: stdout, digest: {}}", {}, "digest: set exactly one of at and every", True),
    (
        "{type: stdout, digest: {at: '09:00', every: 24h}}",
        {},
        "digest: set exactly one of at and every",
        True,
    ),
    ("{type: stdout, digest: {every: 90s}}", {}, "digest.every must be a whole number", True),
    ("{type: stdout, digest: {every: soon}}", {}, "receiver 'out': digest.every:", True),
    (
        "{type: pagerduty, routing_key_env: ANNOTEL_T_PD, digest: {every: 24h}}",
        {"ANNOTEL_T_PD": "key"},
        "PagerDuty takes one event per request, so it cannot receive a digest",
        True,
    ),
]


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("ANNOTEL_T_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(("receiver", "env", "message", "without_env"), REFUSED)
def test_what_the_worker_refuses_fails_the_check(
    receiver: str,
    env: dict[str, str],
    message: str,
    without_env: bool,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    clean_env: None,
) -> None:
    text = RULES.format(name="out", receiver=receiver)
    ruleset = parse_rules(text)  # the file itself is valid: only the receiver check refuses it
    with pytest.raises(ReceiverConfigError, match="receiver 'out'") as refused:
        Dispatcher(ruleset.receivers, env)
    assert message in str(refused.value)
    assert receiver_problems(ruleset.receivers, env) == [str(refused.value)]

    path = tmp_path / "rules.yaml"
    path.write_text(text)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert run(["rules", "check", str(path)]) == 1
    captured = capsys.readouterr()
    assert f"{path}: {refused.value}\n" in captured.out
    assert captured.err == f"{path}: invalid (1 problem)\n"
    assert SECRET not in captured.out + captured.err

    assert run(["rules", "check", "--no-env", str(path)]) == (1 if without_env else 0)
    capsys.readouterr()


def test_a_file_that_passes_starts_the_dispatcher(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    clean_env: None,
) -> None:
    text = (
        RULES.format(name="slack", receiver="{type: slack, webhook_url_env: ANNOTEL_T_SLACK}")
        + "  pd: {type: pagerduty, routing_key_env: ANNOTEL_T_PD}\n"
        + "  hook: {type: webhook, url_env: ANNOTEL_T_HOOK}\n"
        + "  am: {type: webhook, url: 'http://127.0.0.1:9093/api/v2/alerts'}\n"
        + "  log: {type: stdout}\n"
    )
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    monkeypatch.setenv("ANNOTEL_T_SLACK", SECRET)
    monkeypatch.setenv("ANNOTEL_T_HOOK", "https://hooks.example/x")
    assert run(["rules", "check", str(path)]) == 1  # the PagerDuty key is missing
    out = capsys.readouterr().out
    assert out.splitlines() == [
        f"{path}: receiver 'pd': environment variable ANNOTEL_T_PD is not set (or empty)",
        "environment variables the receivers read at start:",
        "  ANNOTEL_T_SLACK  set          slack.webhook_url_env",
        "  ANNOTEL_T_PD     NOT SET      pd.routing_key_env",
        "  ANNOTEL_T_HOOK   set          hook.url_env",
    ]
    monkeypatch.setenv("ANNOTEL_T_PD", "routing-key")
    assert run(["rules", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "  ANNOTEL_T_PD     set          pd.routing_key_env" in out
    assert out.endswith(f"{path}: valid: 1 rule (1 threshold), 5 receivers, 0 inhibit rules\n")
    assert SECRET not in out
    Dispatcher(parse_rules(text).receivers, dict(os.environ))  # and the worker's own accepts it

    assert run(["rules", "check", "--no-env", str(path)]) == 0
    out = capsys.readouterr().out
    assert "  ANNOTEL_T_PD     not checked  pd.routing_key_env" in out


def test_env_variables_are_found_by_setting_name() -> None:
    ruleset = parse_rules(
        RULES.format(name="a", receiver="{type: webhook, url_env: HOOK}")
        + "  b: {type: pagerduty, routing_key_env: PD}\n"
        + "  c: {type: webhook, url: 'http://127.0.0.1/'}\n"
    )
    assert env_variables(ruleset.receivers) == [
        ("HOOK", "a", "url_env"),
        ("PD", "b", "routing_key_env"),
    ]


def test_the_worker_refuses_the_same_file_before_touching_the_broker(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        RULES.format(name="pd", receiver="{type: pagerduty, routing_key_env: ANNOTEL_T_PD}")
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANNOTEL_")}
    env.update(
        ANNOTEL_RULES_FILE=str(path),
        ANNOTEL_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9",  # nothing listens: never reached
        ANNOTEL_DATA_DIR=str(tmp_path / "data"),
    )
    done = subprocess.run(
        [sys.executable, "-m", "annotel", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "receivers cannot be used, not starting" in done.stderr
    assert "receiver 'pd': environment variable ANNOTEL_T_PD is not set (or empty)" in done.stderr
    assert not (tmp_path / "data").exists()


def test_the_checks_load_no_network_client() -> None:
    """``annotel rules check`` loads every receiver kind to check a file: none may bring in
    a network client (start-up time of the check), whatever kinds are added."""
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, alerts.receiver_config, alerts.rules\n"
            "print(sorted(m for m in ('aiohttp', 'asyncio', 'aiokafka', 'faust', "
            "'clickhouse_connect', 'smtplib', 'aiosmtplib', 'http.client') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"
