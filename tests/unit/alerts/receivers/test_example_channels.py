"""The shipped example rules: the channel receivers, commented out, are valid once uncommented.

The demo runs the file as shipped, with no variable set: it must name only
receivers that need none. Uncommented, the examples for Feishu, DingTalk,
WeCom, Teams and email pass every check the worker runs, and build with
their variables set.
"""

from __future__ import annotations

from alerts.dispatch import Dispatcher
from alerts.receiver_config import env_variables, receiver_problems
from alerts.rules import parse_rules
from annotel.resources import shipped_rules

START, END = "  # >>> channels", "  # <<< channels"


def uncommented() -> str:
    lines = shipped_rules().read_text(encoding="utf-8").splitlines()
    start, end = lines.index(START), lines.index(END)
    block = [line.replace("  # ", "  ", 1) for line in lines[start + 1 : end]]
    return "\n".join([*lines[: start + 1], *block, *lines[end:]]) + "\n"


def test_the_demo_needs_no_variable() -> None:
    ruleset = parse_rules(shipped_rules().read_text(encoding="utf-8"))
    assert {name: config.type for name, config in ruleset.receivers.items()} == {
        "log": "stdout",
        "managers": "stdout",
    }
    assert env_variables(ruleset.receivers) == []


def test_the_channel_examples_are_valid() -> None:
    ruleset = parse_rules(uncommented())
    kinds = {name: config.type for name, config in ruleset.receivers.items()}
    assert kinds == {
        "log": "stdout",
        "managers": "stdout",
        "zh-feishu": "feishu",
        "zh-dingtalk": "dingtalk",
        "zh-wecom": "wecom",
        "ops-teams": "msteams",
        "zh-mail": "email",
    }
    assert receiver_problems(ruleset.receivers, None) == []
    for name, config in ruleset.receivers.items():
        if name.startswith("zh-"):
            assert getattr(config, "timezone", None) == "Asia/Shanghai"
            assert getattr(config, "language", None) == "zh"
    env = {variable: "" for variable, _, _ in env_variables(ruleset.receivers)}
    env.update(
        ANNOTEL_FEISHU_WEBHOOK="https://open.feishu.cn/open-apis/bot/v2/hook/0f9e8d7c-6b5a-4321",
        ANNOTEL_FEISHU_SECRET="feishu-signing-secret",
        ANNOTEL_DINGTALK_WEBHOOK="https://oapi.dingtalk.com/robot/send?access_token=0a1b2c3d4e5f",
        ANNOTEL_DINGTALK_SECRET="SEC0123456789abcdef",
        ANNOTEL_WECOM_WEBHOOK="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=0a1b2c3d",
        ANNOTEL_TEAMS_WEBHOOK="https://prod.example.logic.azure.com/workflows/abc/triggers/x",
        ANNOTEL_SMTP_USER="alerts@example.com",
        ANNOTEL_SMTP_PASSWORD="smtp-password",
    )
    assert receiver_problems(ruleset.receivers, env) == []
    Dispatcher(ruleset.receivers, env)  # builds: every check passed
