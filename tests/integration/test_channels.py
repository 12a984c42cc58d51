"""Feishu, DingTalk, WeCom and Teams receivers against a fake platform on 127.0.0.1.

The platform (``tests.platforms``) checks signatures, keywords and sizes as
the real ones do and answers like them. Proves the payload shapes field by
field, the platforms' answers (success; the rate-limit code in a 200 body,
with its back-off shared by every receiver posting to the robot; 429 with
``Retry-After``; 500; a timeout; a refused signature), that nothing is sent
twice, that a split group arrives whole, and that no webhook token or
signing secret reaches a log, a stat or an error.

Back-offs of minutes run on a simulated clock shared by the dispatcher and
the platform (``SimTime``): the dispatcher sleeps by advancing it, and the
platform records it, so "waited 600 s" is exact and takes milliseconds.
HTTP itself is real, and so is the client's timeout.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from alerts.dispatch import Dispatcher, RetryPolicy
from alerts.limits import DestinationLimit
from alerts.model import AlertEvent
from alerts.receivers.dingtalk import DingTalkReceiver
from alerts.receivers.feishu import FeishuReceiver
from alerts.receivers.msteams import TeamsReceiver
from alerts.receivers.registry import ReceiverConfig
from alerts.receivers.wecom import WeComReceiver
from tests.alert_events import event
from tests.integration.test_receivers import free_port
from tests.platforms import RETRY_AFTER_S, Hit, Platforms, serve

FEISHU_SECRET = "fs-test-SIGNING-5ecret"
DINGTALK_SECRET = "SECtest-SIGNING-0123456789"
TOKENS = {p: f"{p}-TOKEN-0a1b2c3d" for p in ("feishu", "dingtalk", "wecom", "msteams")}
GROUP = {"rule": "vendor_quality_low", "project_id": "医疗影像"}
RETRY = RetryPolicy(max_attempts=4, base_s=0.05, max_backoff_s=0.2)
PLATFORMS = ("feishu", "dingtalk", "wecom", "msteams")


class SimTime:
    """The dispatcher's clock and sleep, shared with the platform's records."""

    def __init__(self) -> None:
        self.now = 10_000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


@pytest.fixture
def sim() -> SimTime:
    return SimTime()


@pytest.fixture
async def platforms(sim: SimTime) -> AsyncIterator[Platforms]:
    async with serve(sim.clock) as server:
        yield server


def config(platform: str, url_env: str, **extra: Any) -> ReceiverConfig:
    common: dict[str, Any] = {"url_env": url_env, "group_wait": "0s", "max_per_second": 100}
    common.update(extra)
    if platform == "feishu":
        return FeishuReceiver(type="feishu", **common)
    if platform == "dingtalk":
        return DingTalkReceiver(type="dingtalk", **common)
    if platform == "wecom":
        return WeComReceiver(type="wecom", **common)
    return TeamsReceiver(type="msteams", **common)


def robot(platforms: Platforms, platform: str, *script: str, token: str = "") -> str:
    token = token or TOKENS[platform]
    secret = {"feishu": FEISHU_SECRET, "dingtalk": DINGTALK_SECRET}.get(platform)
    keyword = "告警" if platform in ("feishu", "dingtalk") else None
    return platforms.robot(platform, token, secret=secret, keyword=keyword, script=list(script))


def receiver_config(platform: str, url_env: str = "URL", **extra: Any) -> ReceiverConfig:
    settings: dict[str, Any] = {"language": "zh", "timezone": "Asia/Shanghai"}
    if platform in ("feishu", "dingtalk"):
        settings.update(secret_env="SECRET", keyword="告警")
    settings.update(extra)
    return config(platform, url_env, **settings)


def env_for(platform: str, url: str) -> dict[str, str]:
    env = {"URL": url}
    if platform == "feishu":
        env["SECRET"] = FEISHU_SECRET
    if platform == "dingtalk":
        env["SECRET"] = DINGTALK_SECRET
    return env


def text_of(hit: Hit) -> str:
    """Everything people read in a message, whatever the platform."""
    return orjson.dumps(hit.json).decode()


def unsigned(hit: Hit) -> Any:
    body = dict(hit.json)
    body.pop("timestamp", None)
    body.pop("sign", None)
    return body


async def deliver(
    platforms: Platforms,
    sim: SimTime,
    platform: str,
    events: list[AlertEvent],
    *script: str,
    count: int = 1,
    **extra: Any,
) -> tuple[Dispatcher, list[Hit]]:
    url = robot(platforms, platform, *script)
    receiver = receiver_config(platform, **extra)
    dispatcher = Dispatcher(
        {"r": receiver}, env_for(platform, url), retry=RETRY, clock=sim.clock, sleep=sim.sleep
    )
    await dispatcher.start()
    for e in events:
        dispatcher.submit(e)
    hits = await platforms.wait_for(platform, TOKENS[platform], count)
    await dispatcher.close(5)
    return dispatcher, hits


# -- payload shapes, field by field --------------------------------------------------------------

MENTIONS = {"critical": ("13800138000", "ou_7d8a6e6d", "lead@example.com")}


async def test_feishu_card(platforms: Platforms, sim: SimTime) -> None:
    events = [event(vendor="供应商甲"), event(vendor="供应商乙")]
    _, [hit] = await deliver(platforms, sim, "feishu", events, mentions=MENTIONS)
    assert hit.delivered  # the platform verified the signature and found the keyword
    body = hit.json
    assert list(body)[:2] == ["timestamp", "sign"] and body["timestamp"].isdigit()
    assert body["msg_type"] == "interactive"
    card = body["card"]
    assert card["config"] == {"wide_screen_mode": True}
    assert card["header"]["template"] == "red"
    assert card["header"]["title"] == {
        "tag": "plain_text",
        "content": "告警 · 🔴 2 条告警：vendor_quality_low",
    }
    tags = [e["tag"] for e in card["elements"]]
    assert tags == ["div", "action", "hr", "div", "action", "div", "note"]
    first = card["elements"][0]["text"]
    assert first["tag"] == "lark_md"
    assert first["content"].split("\n") == [
        "**vendor_quality_low** · 严重 · 告警",
        "审核通过率 82%：供应商甲 / 医疗影像",
        "**当前值**: audit_pass_rate 82.0%（阈值 85.0%）",
        "**范围**: project_id=医疗影像 · vendor_id=供应商甲",
        "**窗口**: 2026-11-23 16:00–16:15 UTC+08:00 (15m)",
        "**开始时间**: 2026-11-23 16:00 UTC+08:00",
    ]
    [button] = card["elements"][1]["actions"]
    assert button == {
        "tag": "button",
        "text": {"tag": "plain_text", "content": "处理手册"},
        "url": "https://wiki.example/runbooks/vendor-quality",
        "type": "primary",
    }
    assert card["elements"][5]["text"]["content"] == (
        "<at id=13800138000></at> <at id=ou_7d8a6e6d></at> <at email=lead@example.com></at>"
    )
    assert card["elements"][6]["elements"] == [
        {"tag": "plain_text", "content": "annotation-telemetry · 时间为 Asia/Shanghai"}
    ]


async def test_feishu_resolved_card_is_green(platforms: Platforms, sim: SimTime) -> None:
    _, [hit] = await deliver(platforms, sim, "feishu", [event(status="resolved", minute=30)])
    card = hit.json["card"]
    assert card["header"]["template"] == "green"
    assert card["header"]["title"]["content"] == "告警 · ✅ 1 条已恢复：vendor_quality_low"
    assert "**恢复时间**: 2026-11-23 16:30 UTC+08:00" in card["elements"][0]["text"]["content"]
    assert [e["tag"] for e in card["elements"]] == ["div", "action", "note"]  # nobody mentioned


async def test_dingtalk_markdown(platforms: Platforms, sim: SimTime) -> None:
    events = [event(vendor="供应商甲"), event(vendor="供应商乙", severity="warning")]
    mentions = {"critical": ("13800138000",), "warning": ("manager01",), "*": ("all",)}
    _, [hit] = await deliver(platforms, sim, "dingtalk", events, mentions=mentions)
    assert hit.delivered
    assert hit.query["access_token"] == TOKENS["dingtalk"]
    assert hit.query["timestamp"].isdigit() and len(hit.query["timestamp"]) == 13  # ms
    body = hit.json
    assert set(body) == {"msgtype", "markdown", "at"} and body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "告警 · 🔴 2 条告警：vendor_quality_low"
    assert body["at"] == {
        "atMobiles": ["13800138000"],
        "atUserIds": ["manager01"],
        "isAtAll": True,
    }
    text = body["markdown"]["text"]
    assert text.startswith("#### 告警 · 🔴 2 条告警：vendor_quality_low\n\n---\n\n")
    assert "@13800138000 @所有人 @manager01" in text  # the mobile in the text, as DingTalk needs
    assert '**vendor_quality_low** · <font color="#D93026">严重 · 告警</font>' in text
    assert "- **窗口**: 2026-11-23 16:00–16:15 UTC+08:00 (15m)" in text
    assert "[处理手册](https://wiki.example/runbooks/vendor-quality)" in text
    assert text.endswith("###### annotation-telemetry · 时间为 Asia/Shanghai")


async def test_dingtalk_action_card(platforms: Platforms, sim: SimTime) -> None:
    _, [hit] = await deliver(platforms, sim, "dingtalk", [event()], msgtype="actionCard")
    body = hit.json
    assert body["msgtype"] == "actionCard" and "at" not in body
    card = body["actionCard"]
    assert card["title"] == "告警 · 🔴 1 条告警：vendor_quality_low"
    assert card["singleTitle"] == "处理手册"
    assert card["singleURL"] == "https://wiki.example/runbooks/vendor-quality"
    assert "[处理手册]" not in card["text"]  # the button is the link


async def test_wecom_markdown_and_mention(platforms: Platforms, sim: SimTime) -> None:
    mentions = {"critical": ("13800138000", "zhangsan", "all")}
    _, hits = await deliver(platforms, sim, "wecom", [event()], count=2, mentions=mentions)
    markdown, mention = (h.json for h in hits)
    assert set(markdown) == {"msgtype", "markdown"} and markdown["msgtype"] == "markdown"
    content = markdown["markdown"]["content"]
    assert set(markdown["markdown"]) == {"content"}
    assert content.split("\n\n")[0] == "## 🔴 1 条告警：vendor_quality_low"
    assert '**vendor_quality_low** · <font color="warning">严重 · 告警</font>' in content
    assert "[处理手册](https://wiki.example/runbooks/vendor-quality)" in content
    assert content.endswith(
        '<font color="comment">annotation-telemetry · 时间为 Asia/Shanghai</font>'
    )
    assert mention == {
        "msgtype": "text",
        "text": {
            "content": "请关注：🔴 1 条告警：vendor_quality_low",
            "mentioned_list": ["zhangsan", "@all"],
            "mentioned_mobile_list": ["13800138000"],
        },
    }


async def test_teams_adaptive_card(platforms: Platforms, sim: SimTime) -> None:
    _, [hit] = await deliver(
        platforms, sim, "msteams", [event()], mentions=MENTIONS, language="en", timezone="UTC"
    )
    assert hit.status == 202
    body = hit.json
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    heading, container, mention, footer = card["body"]
    assert heading == {
        "type": "TextBlock",
        "text": "🔴 1 firing: vendor_quality_low",
        "weight": "Bolder",
        "size": "Medium",
        "wrap": True,
        "style": "heading",
        "color": "Attention",
    }
    items = container["items"]
    assert [i["type"] for i in items] == ["TextBlock", "TextBlock", "FactSet", "ActionSet"]
    assert items[0]["text"] == "**vendor_quality_low** · critical · FIRING"
    assert items[1]["text"] == "审核通过率 82%：供应商甲 / 医疗影像"
    assert items[2]["facts"] == [
        {"title": "Value", "value": "audit_pass_rate 82.0% (threshold 85.0%)"},
        {"title": "Scope", "value": "project_id=医疗影像 · vendor_id=供应商甲"},
        {"title": "Window", "value": "2026-11-23 08:00–08:15 UTC (15m)"},
        {"title": "Since", "value": "2026-11-23 08:00 UTC"},
    ]
    assert items[3]["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "Runbook",
            "url": "https://wiki.example/runbooks/vendor-quality",
        }
    ]
    assert mention["text"] == "<at>lead@example.com</at>"  # Teams mentions sign-in names only
    assert card["msteams"] == {
        "width": "Full",
        "entities": [
            {
                "type": "mention",
                "text": "<at>lead@example.com</at>",
                "mentioned": {"id": "lead@example.com", "name": "lead@example.com"},
            }
        ],
    }
    assert footer["text"] == "annotation-telemetry · times in UTC"


# -- what the platforms answer ---------------------------------------------------------------------

THROTTLE = {"feishu": ("9499", 60.0), "dingtalk": ("130101", 600.0), "wecom": ("45009", 60.0)}


@pytest.mark.parametrize("platform", sorted(THROTTLE))
async def test_rate_limit_code_in_a_200_body_backs_off_and_retries(
    platforms: Platforms, sim: SimTime, platform: str
) -> None:
    dispatcher, hits = await deliver(platforms, sim, platform, [event()], "throttle", "ok", count=2)
    first, second = hits
    code, pause = THROTTLE[platform]
    assert first.status == 200 and first.answer == "throttle" and second.delivered
    assert second.at - first.at >= pause  # the platform's back-off, not the retry policy's
    assert unsigned(first) == unsigned(second)
    stats = dispatcher.stats()["r"]
    assert (stats.sent, stats.messages, stats.retries, stats.failed) == (1, 1, 1, 0)
    assert stats.last_error_reason is not None
    assert stats.last_error_reason.startswith(f"HTTP 200 code {code} (")


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_429_waits_retry_after(platforms: Platforms, sim: SimTime, platform: str) -> None:
    dispatcher, hits = await deliver(platforms, sim, platform, [event()], "429", "ok", count=2)
    first, second = hits
    assert first.status == 429 and second.delivered
    assert second.at - first.at >= RETRY_AFTER_S
    stats = dispatcher.stats()["r"]
    assert (stats.sent, stats.retries, stats.failed) == (1, 1, 0)


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_500_is_retried(platforms: Platforms, sim: SimTime, platform: str) -> None:
    dispatcher, hits = await deliver(platforms, sim, platform, [event()], "500", "ok", count=2)
    assert [h.status for h in hits] == [500, 202 if platform == "msteams" else 200]
    assert unsigned(hits[0]) == unsigned(hits[1])
    assert dispatcher.stats()["r"].sent == 1 and dispatcher.stats()["r"].failed == 0


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_a_timeout_is_retried(platforms: Platforms, sim: SimTime, platform: str) -> None:
    dispatcher, hits = await deliver(
        platforms, sim, platform, [event()], "hang", "ok", count=2, timeout_s=0.3
    )
    assert [h.answer for h in hits] == ["hang", "ok"]
    stats = dispatcher.stats()["r"]
    assert (stats.sent, stats.retries, stats.failed) == (1, 1, 0)


@pytest.mark.parametrize("platform", ["feishu", "dingtalk"])
async def test_a_wrong_signing_secret_is_refused_not_retried(
    platforms: Platforms, sim: SimTime, platform: str
) -> None:
    url = robot(platforms, platform)
    env = {**env_for(platform, url), "SECRET": "SECwrong-secret-000000"}
    dispatcher = Dispatcher(
        {"r": receiver_config(platform)}, env, retry=RETRY, clock=sim.clock, sleep=sim.sleep
    )
    await dispatcher.start()
    dispatcher.submit(event())
    [hit] = await platforms.wait_for(platform, TOKENS[platform], 1)
    await dispatcher.close(5)
    assert hit.answer == "sign" and hit.status == 200
    stats = dispatcher.stats()["r"]
    assert (stats.sent, stats.failed, stats.retries) == (0, 1, 0)
    code = "19021" if platform == "feishu" else "310000"
    assert stats.last_error_reason is not None and f"code {code}" in stats.last_error_reason
    assert len(platforms.at(platform, TOKENS[platform])) == 1


# -- limits per destination ------------------------------------------------------------------------


async def test_receivers_posting_to_one_robot_share_its_limits(
    platforms: Platforms, sim: SimTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two receivers (zh and en) on one DingTalk robot: 20 a minute together, and the
    10-minute back-off after 130101 holds both."""
    sent_at: list[float] = []  # when the dispatcher let each request go
    take = DestinationLimit.take

    def recording_take(self: DestinationLimit, now: float) -> None:
        sent_at.append(now)
        take(self, now)

    monkeypatch.setattr(DestinationLimit, "take", recording_take)
    url = robot(platforms, "dingtalk", "throttle", "ok")
    receivers: dict[str, ReceiverConfig] = {
        "zh": receiver_config("dingtalk"),
        "en": receiver_config("dingtalk", language="en"),
    }
    dispatcher = Dispatcher(
        receivers, env_for("dingtalk", url), retry=RETRY, clock=sim.clock, sleep=sim.sleep
    )
    await dispatcher.start()
    for i in range(25):
        dispatcher.submit(event(project=f"项目{i}", receivers=["zh", "en"]))
    hits = await platforms.wait_for("dingtalk", TOKENS["dingtalk"], 51)
    await dispatcher.close(5)
    throttled = hits[0]
    assert throttled.answer == "throttle" and all(h.delivered for h in hits[1:])
    # Once the platform said 130101, neither receiver sent for 10 minutes.
    assert not [t for t in sent_at if throttled.at < t < throttled.at + 600]
    assert max(sent_at) >= throttled.at + 600
    assert len(sent_at) == 51
    busiest = max(sum(1 for t in sent_at if s <= t < s + 60) for s in sent_at)
    assert busiest == 20
    stats = dispatcher.stats()
    assert stats["zh"].sent == stats["en"].sent == 25
    assert stats["zh"].failed == stats["en"].failed == 0
    assert stats["zh"].retries + stats["en"].retries == 1


# -- nothing twice, everything once ----------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_nothing_is_sent_twice(platforms: Platforms, sim: SimTime, platform: str) -> None:
    url = robot(platforms, platform)
    dispatcher = Dispatcher(
        {"r": receiver_config(platform)},
        env_for(platform, url),
        retry=RETRY,
        clock=sim.clock,
        sleep=sim.sleep,
    )
    await dispatcher.start()
    events = [event(vendor=f"供应商{i}号") for i in range(5)]
    for e in events + events:  # replayed while pending
        dispatcher.submit(e)
    await platforms.wait_for(platform, TOKENS[platform], 1)
    for e in events:  # replayed after delivery
        dispatcher.submit(e)
    await dispatcher.close(5)
    hits = platforms.at(platform, TOKENS[platform])
    assert len(hits) == 1 and hits[0].delivered
    assert all(text_of(hits[0]).count(f"供应商{i}号") == 2 for i in range(5))  # summary, scope
    assert dispatcher.stats()["r"].duplicates == 10


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_sixty_chinese_alerts_arrive_split_and_whole(
    platforms: Platforms, sim: SimTime, platform: str
) -> None:
    description = (
        "审核通过率持续低于服务等级协议，请联系供应商质检负责人复核最近提交的医疗影像标注。" * 3
    )
    events = [
        dataclasses.replace(e, annotations={**e.annotations, "description": description})
        for e in (event(vendor=f"供应商{i:02d}号") for i in range(60))
    ]
    url = robot(platforms, platform)
    dispatcher = Dispatcher(
        {"r": receiver_config(platform)},
        env_for(platform, url),
        retry=RETRY,
        clock=sim.clock,
        sleep=sim.sleep,
    )
    await dispatcher.start()
    for e in events:
        dispatcher.submit(e)
    await dispatcher.close(30)
    hits = platforms.at(platform, TOKENS[platform])
    assert len(hits) > 1 and all(h.delivered for h in hits)  # the platform's limits held
    seen: Counter[int] = Counter()
    for number, hit in enumerate(hits, start=1):
        text = text_of(hit)
        assert f"（{number}/{len(hits)}）" in text
        seen.update(i for i in range(60) if f"供应商{i:02d}号" in text)
    assert seen == Counter(range(60))
    assert dispatcher.stats()["r"].sent == 60


# -- secrets ---------------------------------------------------------------------------------------


async def test_secrets_never_reach_logs_stats_or_errors(
    platforms: Platforms, sim: SimTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    env = {
        "FEISHU_URL": robot(platforms, "feishu", "429", "500", "throttle", "ok"),
        "FEISHU_SECRET": FEISHU_SECRET,
        "DINGTALK_URL": robot(platforms, "dingtalk", "hang", "ok"),
        "DINGTALK_SECRET": DINGTALK_SECRET,
        # a second robot, whose secret is wrong: refused, and the reply echoes the token
        "REFUSED_URL": robot(platforms, "dingtalk", token="REFUSED-TOKEN-7c6b"),
        "REFUSED_SECRET": "SECwrong-" + DINGTALK_SECRET,
        "WECOM_URL": robot(platforms, "wecom", "500", "throttle", "ok"),
        "TEAMS_URL": robot(platforms, "msteams", "reject"),
        "DOWN_URL": f"http://127.0.0.1:{free_port()}/cgi-bin/webhook/send?key=DOWN-TOKEN-9f8e",
    }
    receivers: dict[str, ReceiverConfig] = {
        "feishu": receiver_config("feishu", "FEISHU_URL", secret_env="FEISHU_SECRET"),
        "dingtalk": receiver_config(
            "dingtalk", "DINGTALK_URL", secret_env="DINGTALK_SECRET", timeout_s=0.3
        ),
        "refused": receiver_config("dingtalk", "REFUSED_URL", secret_env="REFUSED_SECRET"),
        "wecom": receiver_config("wecom", "WECOM_URL"),
        "teams": receiver_config("msteams", "TEAMS_URL"),
        "down": receiver_config("wecom", "DOWN_URL"),
    }
    dispatcher = Dispatcher(receivers, env, retry=RETRY, clock=sim.clock, sleep=sim.sleep)
    await dispatcher.start()
    dispatcher.submit(event(receivers=list(receivers)))
    await platforms.wait_for("feishu", TOKENS["feishu"], 4)
    await platforms.wait_for("wecom", TOKENS["wecom"], 3)
    await platforms.wait_for("dingtalk", TOKENS["dingtalk"], 2)
    left = await dispatcher.close(5)
    stats = dispatcher.stats()
    assert stats["feishu"].sent == 1 and stats["wecom"].sent == 1
    assert stats["teams"].failed == 1 and stats["down"].failed == 1
    assert stats["dingtalk"].sent == 1 and stats["refused"].failed == 1
    texts = [repr(dispatcher), repr(stats), repr(left)]
    for record in caplog.records:
        texts += [record.getMessage(), str(record.args), record.exc_text or ""]
    logged = "\n".join(texts)
    assert "HTTP 429" in logged and "HTTP 400" in logged and "code 9499" in logged
    assert "connection error" in logged and "timeout after 0.3s" in logged
    assert "code 310000" in logged
    secrets = [
        *TOKENS.values(),
        "REFUSED-TOKEN-7c6b",
        "DOWN-TOKEN-9f8e",
        FEISHU_SECRET,
        DINGTALK_SECRET,
    ]
    for secret in secrets:
        assert secret not in logged, secret
