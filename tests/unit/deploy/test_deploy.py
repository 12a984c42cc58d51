"""The deployment files, checked without a Docker engine.

- docker-compose.yml validates against the Compose Specification JSON Schema
  (vendored in tests/data/compose-spec.json; source in tests/data/README.md);
- every service runs a pinned image or a build whose Dockerfile exists;
- every ANNOTEL_* variable a service or the Dockerfile sets is a field of
  streams.settings.Settings, and the values the services get are valid settings;
- workers can scale, long-running services have health checks, host ports
  listen on 127.0.0.1 only, passwords line up between the services;
- the Grafana provisioning files and dashboards parse and point at what exists;
- the init service's topic plan keeps the checkpoint log forever.

tests/integration/test_dashboards.py runs every dashboard query on chDB.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shlex
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from annotel.cli import build_parser
from embedded.apache_kafka import BROKER_SETTINGS, KAFKA_VERSION
from schemas.stats import wilson_sql
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA_FILE = ROOT / "tests" / "data" / "compose-spec.json"
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD_FILES = sorted((GRAFANA / "dashboards").glob("*.json"))
USERS_XML = ROOT / "deploy" / "clickhouse" / "users.d" / "annotel.xml"
DATASOURCE_UID = "annotel-clickhouse"

# Services that are not expected to answer a health check, and why.
NO_HEALTHCHECK = {
    "init": "one-shot: its health is its exit status (workers wait for it to complete)",
    "simulate": "a producer with no server to probe: its health is its exit status",
}

_VAR = re.compile(r"\$\{(\w+)(?:(:?[-?+])([^}]*))?\}")


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return data


def services() -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose()["services"]
    return result


def interpolate(value: str) -> str:
    """Compose's ${VAR:-default} with nothing set in the environment: the defaults."""

    def default(match: re.Match[str]) -> str:
        op, text = match.group(2), match.group(3) or ""
        if op in (":-", "-"):
            return text
        raise AssertionError(f"{match.group(0)} has no default: the stack must start as is")

    return _VAR.sub(default, value.replace("$$", "\0")).replace("\0", "$")


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: interpolate(str(v)) for k, v in env.items()}


def settings_env_names() -> set[str]:
    prefix = Settings.model_config.get("env_prefix", "")
    return {(prefix + name).upper() for name in Settings.model_fields}


# -- the Compose file ----------------------------------------------------------------------------


def test_compose_file_validates_against_the_compose_specification() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator = jsonschema.Draft201909Validator(schema)
    errors = sorted(validator.iter_errors(compose()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
    )


def test_the_schema_check_is_not_vacuous() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    broken = compose()
    broken["services"]["worker"]["depends_on"] = {"init": {"condition": "when_ready"}}
    broken["services"]["kafka"]["healthcheck"]["intervall"] = "5s"
    errors = list(jsonschema.Draft201909Validator(schema).iter_errors(broken))
    assert len(errors) >= 2


@pytest.mark.parametrize("name", sorted(services()))
def test_service_uses_a_pinned_image_or_an_existing_build(name: str) -> None:
    service = services()[name]
    assert "image" in service or "build" in service, f"{name}: neither image nor build"
    if "image" in service:
        image = service["image"]
        _repo, sep, tag = image.rpartition(":")
        assert sep and "/" not in tag and tag, f"{name}: {image} has no tag"
        assert tag != "latest" and "latest" not in tag, f"{name}: {image} is not pinned"
    if "build" in service:
        build = service["build"]
        context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
        dockerfile = (
            "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        )
        assert (context / dockerfile).is_file(), f"{name}: {context / dockerfile} is missing"


def mounted(service: dict[str, Any], target: str) -> Path | None:
    """The repository file a bind mount puts at ``target`` in the container."""
    for volume in service.get("volumes", []):
        parts = volume.split(":") if isinstance(volume, str) else []
        if len(parts) >= 2 and parts[1] == target and parts[0].startswith("."):
            return ROOT / parts[0]
    return None


def receiver_env_names(path: Path) -> set[str]:
    """Variables a rules file's receivers read their secrets from (``*_env`` keys)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {
        str(value)
        for receiver in (data.get("receivers") or {}).values()
        for key, value in receiver.items()
        if key.endswith("_env")
    }


@pytest.mark.parametrize("name", sorted(services()))
def test_annotel_variables_are_settings(name: str) -> None:
    service = services()[name]
    env = environment(service)
    known = settings_env_names()
    if "ANNOTEL_RULES_FILE" in env:
        rules = mounted(service, env["ANNOTEL_RULES_FILE"])
        assert rules is not None and rules.is_file(), f"{name}: the rules file is not mounted"
        known |= receiver_env_names(rules)  # receiver secrets, read by name at send time
    unknown = {k for k in env if k.startswith("ANNOTEL_")} - known
    assert not unknown, f"{name} sets variables streams.settings.Settings does not know: {unknown}"


def test_mounted_rules_file_is_valid() -> None:
    from alerts.rules import check_file

    worker = services()["worker"]
    rules = mounted(worker, environment(worker)["ANNOTEL_RULES_FILE"])
    assert rules is not None
    assert check_file(rules) == []


def test_dockerfile_annotel_variables_are_settings() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    names = set(re.findall(r"\b(ANNOTEL_[A-Z0-9_]+)\b", text))
    assert names, "the Dockerfile mentions no ANNOTEL_ variable at all?"
    assert names <= settings_env_names(), names - settings_env_names()


@pytest.mark.parametrize("name", ["init", "worker", "simulate"])
def test_service_environment_makes_valid_settings(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for key, value in environment(services()[name]).items():
        if key.startswith("ANNOTEL_"):
            monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)  # raises on any invalid value
    assert settings.kafka_flavor == "kafka"
    assert settings.clickhouse_dsn().startswith("http://")


def test_worker_can_scale() -> None:
    worker = services()["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["depends_on"]["init"]["condition"] == "service_completed_successfully"


def test_init_waits_for_kafka_and_clickhouse() -> None:
    init = services()["init"]
    for dependency in ("kafka", "clickhouse"):
        assert init["depends_on"][dependency]["condition"] == "service_healthy"
    assert init.get("restart") == "no"


@pytest.mark.parametrize("name", sorted(services()))
def test_long_running_services_have_health_checks(name: str) -> None:
    check = services()[name].get("healthcheck")
    if name in NO_HEALTHCHECK:
        return
    assert check and not check.get("disable"), f"{name}: no health check"
    assert check.get("test"), f"{name}: health check without a test"


def test_dependencies_on_health_have_health_checks() -> None:
    for name, service in services().items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            if spec.get("condition") == "service_healthy":
                assert services()[dependency].get("healthcheck"), f"{name} -> {dependency}"


def _host_ips(port: Any) -> str | None:
    if isinstance(port, dict):
        return str(port.get("host_ip")) if "published" in port else None
    text = str(port)
    parts = text.rsplit("/", 1)[0].split(":")
    if len(parts) <= 2:
        return ""  # CONTAINER or HOST:CONTAINER: published on every interface
    return ":".join(parts[:-2]).strip("[]")


@pytest.mark.parametrize("name", sorted(services()))
def test_host_ports_are_bound_to_loopback(name: str) -> None:
    for port in services()[name].get("ports", []):
        assert _host_ips(port) == "127.0.0.1", f"{name}: {port} is not bound to 127.0.0.1"


def test_bind_mounts_exist() -> None:
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source")
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"


def test_kafka_listeners_match_the_bootstrap_setting() -> None:
    kafka = environment(services()["kafka"])
    advertised = kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")
    bootstrap = environment(services()["worker"])["ANNOTEL_KAFKA_BOOTSTRAP_SERVERS"]
    assert f"PLAINTEXT://{bootstrap}" in advertised
    # The host listener matches the default of ANNOTEL_KAFKA_BOOTSTRAP_SERVERS.
    host_default = Settings.model_fields["kafka_bootstrap_servers"].default
    assert f"PLAINTEXT_HOST://{host_default}" in advertised


def test_compose_runs_the_kafka_version_the_suite_tests() -> None:
    """The compose broker, its page in docs/deploy.md and the suite's broker are one version."""
    image = services()["kafka"]["image"]
    assert image == f"apache/kafka:{KAFKA_VERSION}"
    assert f"`{image}`" in (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    kafka = environment(services()["kafka"])
    # The suite's broker settings that change what a worker sees (a group's first
    # join, one node's replication); the rest only speed up a test broker's start.
    for name in (
        "group.initial.rebalance.delay.ms",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
    ):
        variable = "KAFKA_" + name.upper().replace(".", "_")
        assert kafka.get(variable) == BROKER_SETTINGS[name], variable


def test_passwords_line_up_between_services() -> None:
    svc = services()
    clickhouse = environment(svc["clickhouse"])
    url = environment(svc["worker"])["ANNOTEL_CLICKHOUSE_URL"]
    user_password = re.match(r"http://([^:]+):([^@]+)@clickhouse:8123/", url)
    assert user_password, url
    user, password = user_password.groups()
    assert password == clickhouse["CLICKHOUSE_WRITER_PASSWORD"]
    assert (
        environment(svc["grafana"])["CLICKHOUSE_BI_PASSWORD"]
        == clickhouse["CLICKHOUSE_BI_PASSWORD"]
    )
    users = ET.parse(USERS_XML).getroot().find("users")
    assert users is not None
    writer = users.find(user)
    assert writer is not None, f"the DSN user {user} is not defined in {USERS_XML.name}"
    password_env = writer.find("password")
    assert password_env is not None
    assert password_env.get("from_env") == "CLICKHOUSE_WRITER_PASSWORD"


def test_bi_reader_is_read_only() -> None:
    root = ET.parse(USERS_XML).getroot()
    reader = root.find("users/bi_reader")
    assert reader is not None
    password = reader.find("password")
    assert password is not None and password.get("from_env") == "CLICKHOUSE_BI_PASSWORD"
    profile = root.find(f"profiles/{reader.findtext('profile')}")
    assert profile is not None and profile.findtext("readonly") == "1"
    grants = [q.text or "" for q in reader.findall("grants/query")]
    assert grants and all(g.strip().startswith("GRANT SELECT ON") for g in grants)
    # Grafana's plugin sets max_execution_time: allowed under readonly=1 only with the
    # constraint below, which needs settings_constraints_replace_previous (config.d).
    assert profile.find("constraints/max_execution_time/changeable_in_readonly") is not None
    config = ET.parse(ROOT / "deploy" / "clickhouse" / "config.d" / "annotel.xml").getroot()
    replace = config.findtext("access_control_improvements/settings_constraints_replace_previous")
    assert replace == "true"


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _annotel_argv(service: dict[str, Any]) -> list[str] | None:
    """The annotel arguments a service runs (entrypoint annotel, or `annotel ...` in sh -c)."""
    command = service.get("command")
    if service.get("entrypoint") is None:
        return list(command) if isinstance(command, list) else shlex.split(command or "worker")
    script = " ".join(command) if isinstance(command, list) else str(command or "")
    words = shlex.split(script.replace("&&", " && "))
    if "annotel" not in words:
        return None
    argv = words[words.index("annotel") + 1 :]
    return argv[: argv.index("&&")] if "&&" in argv else argv


@pytest.mark.parametrize("name", ["init", "worker", "simulate"])
def test_service_runs_a_real_annotel_command(name: str) -> None:
    argv = _annotel_argv(services()[name])
    assert argv, f"{name}: runs no annotel command"
    commands = _subcommands()
    if argv[0] not in commands and name not in ("init", "worker"):
        pytest.skip(f"`annotel {argv[0]}` is not registered in annotel.cli yet")
    assert argv[0] in commands, f"{name}: `annotel {argv[0]}` does not exist"
    build_parser().parse_args(argv)  # exits (SystemExit) on an unknown flag


# -- the Dockerfile --------------------------------------------------------------------------------


def test_dockerfile_is_multi_stage_slim_non_root() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base.group(1)), "pinned slim 3.11"
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\w+))?", text, re.M)
    assert len(stages) == 2 and stages[0][1] == "builder"
    final = text[text.rindex("\nFROM ") :]
    assert "apt-get" not in final and "gcc" not in final and "build-essential" not in final
    users = re.findall(r"^USER\s+(\S+)", final, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r'^ENTRYPOINT \["annotel"\]$', final, re.M)
    assert re.search(r'^CMD \["worker"\]$', final, re.M)
    assert "HEALTHCHECK" in final and "/health" in final


def test_dockerignore_keeps_secrets_and_data_out() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "allow-list: everything is excluded first"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert not {".env", ".venv", ".annotel", "tests"} & allowed
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    packages = re.search(r"include = \[([^\]]*)\]", pyproject)
    assert packages, "pyproject.toml lists its packages"
    for pattern in re.findall(r'"(\w+)\*?"', packages.group(1)):
        assert pattern in allowed, f"package {pattern} is not in the Docker build context"
    assert {"pyproject.toml", "README.md"} <= allowed


# -- Grafana ---------------------------------------------------------------------------------------


def test_grafana_provisioning_points_at_what_is_mounted() -> None:
    grafana = services()["grafana"]
    mounts = dict(
        (v.split(":")[1], v.split(":")[0]) for v in grafana["volumes"] if v.startswith(".")
    )
    providers = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "dashboards.yaml").read_text(encoding="utf-8")
    )["providers"]
    for provider in providers:
        source = mounts.get(provider["options"]["path"])
        assert source, f"{provider['options']['path']} is not mounted into Grafana"
        assert list((ROOT / source).glob("*.json")), f"no dashboards in {source}"
    assert mounts.get("/etc/grafana/provisioning") == "./deploy/grafana/provisioning"
    home = environment(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    home_source = next(
        ROOT / src / home[len(dst) + 1 :] for dst, src in mounts.items() if home.startswith(dst)
    )
    assert home_source.is_file()
    plugins = environment(grafana)["GF_INSTALL_PLUGINS"]
    assert re.fullmatch(r"grafana-clickhouse-datasource \d+\.\d+\.\d+", plugins), "pinned plugin"


def test_grafana_datasource_is_the_read_only_user() -> None:
    config = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "clickhouse.yaml").read_text(encoding="utf-8")
    )
    [source] = config["datasources"]
    assert source["uid"] == DATASOURCE_UID
    assert source["type"] == "grafana-clickhouse-datasource"
    assert source["jsonData"]["username"] == "bi_reader"
    assert source["jsonData"]["host"] in services()
    assert source["secureJsonData"]["password"] == "$CLICKHOUSE_BI_PASSWORD"
    assert "CLICKHOUSE_BI_PASSWORD" in environment(services()["grafana"])


def test_dashboards_parse_and_use_the_provisioned_datasource() -> None:
    assert len(DASHBOARD_FILES) >= 6
    uids = set()
    for path in DASHBOARD_FILES:
        board = json.loads(path.read_text(encoding="utf-8"))
        assert board["uid"] not in uids, f"duplicate uid {board['uid']}"
        uids.add(board["uid"])
        assert board.get("id") is None, f"{path.name}: provisioned dashboards carry no id"
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for var in board["templating"]["list"]:
            assert var["datasource"]["uid"] == DATASOURCE_UID
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == DATASOURCE_UID, f"{path.name}: {panel['title']}"
            for target in panel["targets"]:
                sql = target["rawSql"]
                assert target["datasource"]["uid"] == DATASOURCE_UID
                # Rates come from summed numerators and denominators, never averages.
                assert not re.search(r"\bavg\w*\(", sql, re.I), f"{panel['title']}: avg()"
                assert "FROM metrics_1m " not in sql + " ", f"{panel['title']}: use the views"


# -- the init service's topics ---------------------------------------------------------------------


def _create_topics(monkeypatch: pytest.MonkeyPatch) -> Any:
    path = ROOT / "deploy" / "init" / "create_topics.py"
    spec = importlib.util.spec_from_file_location("annotel_create_topics", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_topic_plan_matches_the_worker_and_keeps_state_forever(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    create_topics = _create_topics(monkeypatch)
    settings = Settings(_env_file=None, kafka_partitions=6)
    plan = {spec.name: spec for spec in create_topics.topic_plan(settings)}
    topic_fields = {name for name in Settings.model_fields if name.startswith("topic_")}
    assert set(plan) == {getattr(settings, name) for name in topic_fields}, "a topic is missing"
    for name in (settings.topic_task_completed, settings.topic_task_audited, settings.topic_state):
        assert plan[name].partitions == 6
    # Alert evaluation is global: one partition (as streams.worker.prepare creates them).
    assert plan[settings.topic_windows].partitions == 1
    assert plan[settings.topic_alert_state].partitions == 1
    for name in (settings.topic_state, settings.topic_alert_state):
        assert plan[name].configs["retention.ms"] == "-1", name
        assert plan[name].configs["cleanup.policy"] == "delete", name  # keyless: never compact
    # The checkpoint log follows the input topics when those already exist.
    later = create_topics.topic_plan(settings, input_partitions=12)
    assert later[-1].name == settings.topic_state and later[-1].partitions == 12


def test_alertmanager_config_routes_to_a_defined_receiver() -> None:
    config = yaml.safe_load(
        (ROOT / "deploy" / "alertmanager" / "alertmanager.yml").read_text(encoding="utf-8")
    )
    names = {receiver["name"] for receiver in config["receivers"]}
    assert config["route"]["receiver"] in names
    assert services()["alertmanager"]["profiles"] == ["alertmanager"]


def test_the_squad_dashboard_spells_the_bounds_of_schemas_stats() -> None:
    """The dashboard's Wilson bounds are schemas.stats' own SQL, not a copy that can drift
    (regenerate the expression with wilson_sql when the formula changes)."""
    board = json.loads((GRAFANA / "dashboards" / "squad.json").read_text(encoding="utf-8"))
    sql = {p["title"]: p["targets"][0]["rawSql"] for p in board["panels"]}
    members = sql["Members, ranked fairly"]
    for side in ("lower", "upper"):
        assert f"{wilson_sql('approved', 'audited', side)} AS audit_pass_rate_{side}" in members
    assert f"{wilson_sql('gold_ok', 'gold', 'lower')} AS gold_accuracy_lower" in members
    coaching = sql["Needs coaching"]
    assert f"{wilson_sql('approved', 'audited', 'upper')} AS pass_upper" in coaching
    assert f"{wilson_sql('gold_ok', 'gold', 'upper')} AS gold_upper" in coaching
    # Every other bound comes from the views, which schemas.stats spells too.
    assert "audit_pass_rate_lower >= 0.85" in sql["Ready for advancement"]
