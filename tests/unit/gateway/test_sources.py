"""The connectors file: every problem with its line, like the rules file; the secrets it names."""

from __future__ import annotations

import base64
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gateway.auth import Credentials, CredentialsError, bearer, client_of
from gateway.connectors.base import PayloadPath, User
from gateway.sources import ConnectorsError, env_problems, load_connectors, parse_text

GOOD = textwrap.dedent(
    """\
    version: 1
    clients:
      nightly-etl: {token_env: ETL_TOKEN, rate_limit: 5}
    sources:
      ls-medical:
        type: label_studio
        token_env: LS_TOKEN
        map:
          project_id: 医疗影像标注
          queue_id: {path: task.data.queue}
          locale: {path: task.data.locale, default: zh-CN}
          tags: [夜班]
        users:
          17: {annotator_id: 标注员-017, vendor_id: apex-labeling}
          "18": {annotator_id: 标注员-018, vendor_id: null}
          ann19: {annotator_id: 标注员-019}
      argilla-web:
        type: argilla
        secret_env: ARGILLA_SECRET
        rate_limit: 2.5
    """
)


def test_a_valid_file_and_what_it_holds() -> None:
    connectors, problems = parse_text(GOOD)
    assert problems == [] and connectors is not None
    source = connectors.sources["ls-medical"]
    assert (source.type, source.token_env, source.secret_env) == ("label_studio", "LS_TOKEN", None)
    assert source.mapping.fields == {
        "project_id": "医疗影像标注",
        "queue_id": PayloadPath(("task", "data", "queue")),
        "locale": PayloadPath(("task", "data", "locale"), "zh-CN"),
        "tags": ["夜班"],
    }
    assert source.mapping.users == {
        "17": User("标注员-017", "apex-labeling", True),  # an integer key is the text "17"
        "18": User("标注员-018", None, True),  # in-house, said so
        "ann19": User("标注员-019", None, False),  # the mapping's vendor applies
    }
    assert connectors.sources["argilla-web"].rate_limit == 2.5
    assert connectors.clients["nightly-etl"].rate_limit == 5
    assert connectors.env_variables() == [
        ("ETL_TOKEN", "clients.nightly-etl.token_env"),
        ("LS_TOKEN", "sources.ls-medical.token_env"),
        ("ARGILLA_SECRET", "sources.argilla-web.secret_env"),
    ]


BAD = textwrap.dedent(
    """\
    version: 1
    sources:
      ls:
        type: label_studio
        secret_env: LS_SECRET
        map:
          vendor: apex
          handle_time_s: -3
          queue_id: {path: "task..queue"}
          locale: {path: task.data.locale, default: 7}
          gold_correct: "yes"
      cvat main:
        type: cvat
      lb:
        type: labelbox
        token_env: 1abc
        users:
          ann@example.com: {annotator: x}
      tk:
        type: toloka
        secret_env: TK
        type: toloka
      sc:
        type: scale
    """
)


def test_every_problem_is_reported_with_its_line_and_path(tmp_path: Path) -> None:
    path = tmp_path / "connectors.yaml"
    path.write_text(BAD, encoding="utf-8")
    with pytest.raises(ConnectorsError) as info:
        load_connectors(path)
    problems = info.value.problems
    expected = [
        "line 5: sources.ls.secret_env: label_studio signs nothing: use token_env",
        "line 7: sources.ls.map.vendor: not a mapped field; allowed: project_id, queue_id, "
        "vendor_id, annotator_id, auditor_id, locale, task_type, tags, handle_time_s, "
        "gold_correct",
        "line 8: sources.ls.map.handle_time_s: expected seconds, 0-86400",
        "line 9: sources.ls.map.queue_id.path: String should match pattern",
        "line 10: sources.ls.map.locale.default: expected text",
        "line 11: sources.ls.map.gold_correct: expected true or false",
        "line 12: sources.cvat main: a source name is 1-64 letters, digits, '.', '_' or '-' "
        "(it is a URL)",
        "line 12: sources.cvat main: secret_env (the platform's signing secret) or token_env "
        "is required",
        "line 16: sources.lb.token_env: String should match pattern",
        "line 18: sources.lb.users.ann@example.com.annotator: unknown field",
        "line 22: sources.tk: duplicate key 'type'",
        "line 24: sources.sc.type: Input should be",
    ]
    assert len(problems) >= len(expected), problems
    for want in expected:
        assert any(p.startswith(want) for p in problems), (want, problems)
    assert any(p.startswith("line 3: sources.ls: label_studio signs nothing") for p in problems)
    assert str(path) in str(info.value)


def test_syntax_errors_and_wrong_shapes() -> None:
    assert parse_text("version: 1\nsources: [1\n")[1][0].startswith("line 3: YAML syntax error")
    assert parse_text("- 1\n")[1] == ["line 1: expected a mapping with `version: 1` and `sources:`"]
    problems = parse_text("version: 2\nsources: {}\n")[1]
    assert problems and problems[0].startswith("line 1: version:")


def test_the_secrets_come_from_the_environment_and_are_checked() -> None:
    connectors, _ = parse_text(GOOD)
    assert connectors is not None
    assert env_problems(connectors, {}) == [
        "clients.nightly-etl.token_env: ETL_TOKEN is not set",
        "sources.ls-medical.token_env: LS_TOKEN is not set",
        "sources.argilla-web.secret_env: ARGILLA_SECRET is not set",
    ]
    env = {"ETL_TOKEN": "etl-token", "LS_TOKEN": "ls-token", "ARGILLA_SECRET": "whsec_!!"}
    [problem] = env_problems(connectors, env)
    assert problem.startswith("sources.argilla-web.secret_env: ARGILLA_SECRET: not a Standard")
    with pytest.raises(CredentialsError):
        Credentials.load(connectors, env, None)
    env["ARGILLA_SECRET"] = "whsec_" + base64.b64encode(b"key bytes").decode()
    credentials = Credentials.load(connectors, env, "gateway-token")
    assert credentials.clients == {"nightly-etl": b"etl-token", "default": b"gateway-token"}
    assert credentials.source_tokens == {"ls-medical": b"ls-token"}
    assert credentials.source_keys == {"argilla-web": b"key bytes"}


def test_bearer_tokens_and_clients() -> None:
    clients = {"a": b"token-a", "b": b"token-b"}
    assert client_of(bearer({"authorization": "Bearer token-b"}), clients) == "b"
    assert client_of(bearer({"authorization": "bearer  token-a "}), clients) == "a"
    assert client_of(bearer({"authorization": "Bearer token-c"}), clients) is None
    assert client_of(bearer({"authorization": "Basic token-a"}), clients) is None
    assert client_of(bearer({}), clients) is None
    assert client_of(b"", {"empty": b""}) is None  # an empty token never matches


def test_annotel_connectors_check(tmp_path: Path) -> None:
    path = tmp_path / "connectors.yaml"
    path.write_text(GOOD, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "annotel", "connectors", "check", str(path), "--no-env"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "valid: 2 source(s) (1 argilla, 1 label_studio), 1 client(s)" in run.stdout
    assert "LS_TOKEN" in run.stdout and "not checked" in run.stdout
    run = subprocess.run(
        [sys.executable, "-m", "annotel", "connectors", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
    )
    assert run.returncode == 1
    assert "ETL_TOKEN is not set" in run.stdout and "NOT SET" in run.stdout
    path.write_text(BAD, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "annotel", "connectors", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert f"{path}: line 7: sources.ls.map.vendor: not a mapped field" in run.stdout
    assert "problems)" in run.stderr
