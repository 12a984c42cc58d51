"""``annotel receivers test NAME`` against the fake platforms on 127.0.0.1.

The command runs as a process, as an operator runs it, with the webhook URL
and the signing secret in its environment; the platform checks the
signatures and records what arrived. Its output must show each attempt and
the platform's answer, with no token or secret in it even where the
platform's reply echoes them.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.platforms import Platforms, serve

FEISHU_SECRET = "fs-cmd-SIGNING-5ecret-77"
TOKEN = "cmd-TOKEN-4f1e2d3c-b0a9-8877-6655"

RULES = """\
version: 1
rules:
  - name: r
    metric: audit_pass_rate
    window: 5m
    op: "<"
    threshold: 0.8
    receivers: [zh-feishu]
receivers:
  zh-feishu:
    type: feishu
    url_env: ANNOTEL_T_FEISHU_URL
    secret_env: ANNOTEL_T_FEISHU_SECRET
    keyword: 告警
    language: zh
    timezone: Asia/Shanghai
    mentions: {warning: [ou_oncall]}
"""


@pytest.fixture
async def platforms() -> AsyncIterator[Platforms]:
    async with serve() as server:
        yield server


async def run(rules: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "annotel",
        "receivers",
        "test",
        *args,
        "--rules",
        str(rules),
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES, encoding="utf-8")
    return path


async def test_sends_a_signed_firing_and_resolve_and_prints_the_answers(
    platforms: Platforms, tmp_path: Path
) -> None:
    url = platforms.robot(
        "feishu", TOKEN, secret=FEISHU_SECRET, keyword="告警", script=["500", "ok"]
    )
    env = {"ANNOTEL_T_FEISHU_URL": url, "ANNOTEL_T_FEISHU_SECRET": FEISHU_SECRET}
    code, out, err = await run(rules_file(tmp_path), env, "zh-feishu")
    assert code == 0, out + err
    hits = platforms.at("feishu", TOKEN)
    assert [h.answer for h in hits] == ["500", "ok", "ok"]  # retried, then both delivered
    firing, resolved = (h.json["card"] for h in hits[1:])
    assert firing["header"]["template"] == "orange"  # the sample is a warning
    assert "annotation-telemetry 测试通知" in firing["elements"][0]["text"]["content"]
    assert "<at id=ou_oncall></at>" in str(firing["elements"])  # mentions as configured
    assert resolved["header"]["template"] == "green"
    lines = out.splitlines()
    assert lines[0] == f"receiver zh-feishu (feishu -> 127.0.0.1:{platforms.port})"
    assert "  firing, 1 alert(s), attempt 1: HTTP 500 -> retry" in lines
    assert "  firing, 1 alert(s), attempt 2: HTTP 200 -> delivered" in lines
    assert "  resolved, 1 alert(s), attempt 1: HTTP 200 -> delivered" in lines
    assert "    answer: internal error for ***" in lines  # the echoed token is masked
    assert '    answer: {"code": 0, "msg": "success", "errmsg": "success"}' in lines
    assert lines[-1] == "zh-feishu: 2 of 2 alert(s) sent in 2 message(s), delivered"
    assert TOKEN not in out + err and FEISHU_SECRET not in out + err


async def test_a_refused_signature_exits_1_with_the_platforms_code(
    platforms: Platforms, tmp_path: Path
) -> None:
    url = platforms.robot("feishu", TOKEN, secret=FEISHU_SECRET, keyword="告警")
    env = {"ANNOTEL_T_FEISHU_URL": url, "ANNOTEL_T_FEISHU_SECRET": "wrong-" + FEISHU_SECRET}
    code, out, err = await run(rules_file(tmp_path), env, "zh-feishu")
    assert code == 1, out + err
    assert (
        "  firing, 1 alert(s), attempt 1: HTTP 200 code 19021 "
        "(signature refused: check secret_env and the clock) -> rejected"
    ) in out.splitlines()
    assert "sign (token ***)" in out  # the platform's words, its echo of the token masked
    assert out.splitlines()[-1].endswith("not delivered")
    assert TOKEN not in out + err and FEISHU_SECRET not in out + err


async def test_a_receiver_that_cannot_be_built_exits_2(tmp_path: Path) -> None:
    rules = rules_file(tmp_path)
    code, out, err = await run(rules, {}, "zh-feishu")
    assert code == 2 and not out
    assert "receiver 'zh-feishu': environment variable ANNOTEL_T_FEISHU_URL is not set" in err
    code, out, err = await run(rules, {}, "nope")
    assert code == 2
    assert "has no receiver 'nope' (receivers: zh-feishu)" in err


DIGEST_RULES = """\
version: 1
rules:
  - name: r
    metric: audit_pass_rate
    window: 5m
    op: "<"
    threshold: 0.8
    receivers: [cm]
receivers:
  cm:
    type: {kind}
    url_env: ANNOTEL_T_CM_URL
    secret_env: ANNOTEL_T_CM_SECRET
    keyword: 告警
    language: zh
    timezone: Asia/Shanghai
    digest: {{at: "09:00", timezone: Asia/Shanghai}}
"""


@pytest.mark.parametrize("kind", ["feishu", "dingtalk"])
async def test_a_digest_receiver_gets_one_signed_message_with_its_keyword(
    platforms: Platforms, tmp_path: Path, kind: str
) -> None:
    """The platform checks the signature and the keyword, as for any alert."""
    secret = {"feishu": FEISHU_SECRET, "dingtalk": "SEC" + FEISHU_SECRET}[kind]
    url = platforms.robot(kind, TOKEN, secret=secret, keyword="告警")
    rules = tmp_path / "rules.yaml"
    rules.write_text(DIGEST_RULES.format(kind=kind), encoding="utf-8")
    env = {"ANNOTEL_T_CM_URL": url, "ANNOTEL_T_CM_SECRET": secret}
    code, out, err = await run(rules, env, "cm")
    assert code == 0, out + err
    (hit,) = platforms.at(kind, TOKEN)
    text = str(hit.json)
    assert "告警 · cm 摘要：新触发 1，仍在触发 0，已恢复 1" in text
    assert "Asia/Shanghai" in text and "新触发" in text and "已恢复" in text
    assert text.count("annotel_receiver_test") == 2  # one line per listed alert
    assert "  digest, 2 alert(s), attempt 1: HTTP 200 -> delivered" in out.splitlines()
    assert out.splitlines()[-1] == "cm: 2 of 2 alert(s) sent in 1 message(s), delivered"
    assert TOKEN not in out + err and FEISHU_SECRET not in out + err
