"""Splitting by UTF-8 bytes: every message within its platform's limit, every alert in one.

A group of 60 alerts with Chinese annotations (3 bytes a character) goes to
each platform; the messages are measured as the platform measures them
(signed body, or WeCom's markdown content), each alert must be in exactly
one message, whole, messages are numbered k/N, and no message has a broken
markup element or a broken escape.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from alerts.model import AlertEvent
from alerts.receivers.base import HttpPost, Request
from alerts.receivers.chat import AlertText, alert_text
from alerts.receivers.dingtalk import DINGTALK_BODY_MAX, DingTalk, DingTalkReceiver
from alerts.receivers.feishu import FEISHU_BODY_MAX, Feishu, FeishuReceiver
from alerts.receivers.msteams import TEAMS_BODY_MAX, Teams, TeamsReceiver
from alerts.receivers.split import split
from alerts.receivers.wecom import WECOM_MARKDOWN_MAX, WeCom, WeComReceiver
from tests.alert_events import event

URL = "https://robot.example/hook/tok"
ENV = {"URL": URL, "SECRET": "SECsplit0123456789"}
DESCRIPTION = (
    "供应商在过去十五分钟内的审核通过率低于服务等级协议，请联系供应商质检负责人复核最近提交的标注。\n"
    "重点检查：医疗影像分割边界、器官标签是否遗漏，以及返工任务是否按时重新提交。"
)


def group(count: int = 60, description: str = DESCRIPTION) -> list[AlertEvent]:
    events = []
    for i in range(count):
        e = event(vendor=f"供应商{i:02d}号")
        events.append(
            dataclasses.replace(e, annotations={**e.annotations, "description": description})
        )
    return events


def vendor_of(i: int) -> str:
    return f"供应商{i:02d}号"


def sent_body(request: Request) -> bytes:
    """The body as it leaves, signed (the signature is part of what Feishu measures)."""
    destination = request.destination
    assert isinstance(destination, HttpPost)
    if destination.signer is None:
        return request.body
    return destination.signer(destination.url.reveal(), request.body, 1764000000.0)[1]


def balanced_markdown(text: str) -> None:
    assert text.count("**") % 2 == 0, text
    assert text.count("<font") == text.count("</font>"), text
    assert len(re.findall(r"\[[^\]\n]*\]\(https://[^)\s]+\)", text)) == text.count("["), text


def feishu_texts(body: dict[str, Any]) -> tuple[str, list[str]]:
    card = body["card"]
    contents = [e["text"]["content"] for e in card["elements"] if e["tag"] == "div"]
    return card["header"]["title"]["content"], contents


def check_feishu(body: dict[str, Any]) -> tuple[str, str]:
    heading, contents = feishu_texts(body)
    for content in contents:
        assert content.count("**") % 2 == 0
        # every & starts a whole entity (data & < > * ~ [ ] ` are written as &#N;)
        assert "&" not in re.sub(r"&#\d+;", "", content), content
    return heading, "\n".join(contents)


def check_dingtalk(body: dict[str, Any]) -> tuple[str, str]:
    markdown = body["markdown"]
    balanced_markdown(markdown["text"])
    return markdown["title"], markdown["text"]


def check_wecom(body: dict[str, Any]) -> tuple[str, str]:
    content: str = body["markdown"]["content"]
    balanced_markdown(content)
    return content.split("\n", 1)[0], content


def check_teams(body: dict[str, Any]) -> tuple[str, str]:
    content = body["attachments"][0]["content"]
    blocks = [content["body"][0]]
    for container in content["body"][1:]:
        blocks.extend(container.get("items", [container]))
    texts = [b["text"] for b in blocks if b.get("type") == "TextBlock"]
    for text in texts:
        assert text.count("**") % 2 == 0
    facts = [f["value"] for b in blocks if b.get("type") == "FactSet" for f in b["facts"]]
    return texts[0], "\n".join(texts + facts)


KINDS: dict[str, tuple[Callable[[], Any], int, Callable[[Request], int], Callable[..., Any]]] = {
    "feishu": (
        lambda: Feishu.from_config(
            "f",
            FeishuReceiver(
                type="feishu", url_env="URL", secret_env="SECRET", keyword="告警", language="zh"
            ),
            ENV,
            "",
        ),
        FEISHU_BODY_MAX,
        lambda r: len(sent_body(r)),
        check_feishu,
    ),
    "dingtalk": (
        lambda: DingTalk.from_config(
            "d",
            DingTalkReceiver(
                type="dingtalk",
                url_env="URL",
                secret_env="SECRET",
                keyword="告警",
                language="zh",
                mentions={"critical": ("13800138000",)},
            ),
            ENV,
            "",
        ),
        DINGTALK_BODY_MAX,
        lambda r: len(sent_body(r)),
        check_dingtalk,
    ),
    "wecom": (
        lambda: WeCom.from_config(
            "w", WeComReceiver(type="wecom", url_env="URL", language="zh"), ENV, ""
        ),
        WECOM_MARKDOWN_MAX,
        lambda r: len(orjson.loads(r.body)["markdown"]["content"].encode()),
        check_wecom,
    ),
    "msteams": (
        lambda: Teams.from_config(
            "t", TeamsReceiver(type="msteams", url_env="URL", language="zh"), ENV, ""
        ),
        TEAMS_BODY_MAX,
        lambda r: len(sent_body(r)),
        check_teams,
    ),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_sixty_chinese_alerts_split_within_the_limit_each_alert_once(kind: str) -> None:
    build, limit, size, check = KINDS[kind]
    events = group()
    requests = build().requests(events, {"rule": "vendor_quality_low", "project_id": "医疗影像"})
    total = len(requests)
    assert total >= 2, "the group must not fit one message, or nothing is tested"
    carried: Counter[str] = Counter()
    for number, request in enumerate(requests, start=1):
        assert size(request) <= limit, (kind, number, size(request))
        body = sent_body(request).decode("utf-8")  # strict: no character cut in half
        heading, text = check(orjson.loads(body))
        assert f"（{number}/{total}）" in heading
        shown = [i for i in range(len(events)) if vendor_of(i) in text]
        assert shown == [events.index(e) for e in request.events]  # the text has its alerts
        assert text.count(DESCRIPTION.split("\n")[1]) == len(shown)  # whole, not cut
        carried.update(e.event_id for e in request.events)
    assert carried == Counter(e.event_id for e in events)  # each alert in exactly one message


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_group_that_fits_is_one_message_without_a_number(kind: str) -> None:
    build, limit, size, check = KINDS[kind]
    events = group(2)
    [request] = build().requests(events, {})
    heading, _ = check(orjson.loads(sent_body(request)))
    assert "/" not in heading and size(request) <= limit
    assert request.events == tuple(events)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_an_alert_too_large_alone_is_cut_between_elements(kind: str) -> None:
    """Its data text is cut (…) before escaping: markup and escapes stay whole, and it fits."""
    build, limit, size, check = KINDS[kind]
    huge = "审核**说明**<at id=all></at>[链接](https://x.example)`码`" * 1200
    events = [*group(1), *group(1, description=huge)[:1]]
    events[1] = dataclasses.replace(events[1], fingerprint="f" * 16, scope={"vendor_id": "大"})
    requests = build().requests(events, {})
    assert [len(r.events) for r in requests] == [1, 1]
    big = requests[1]
    assert size(big) <= limit
    _, text = check(orjson.loads(sent_body(big)))
    assert "…" in text
    assert size(big) > limit * 0.8  # cut as little as needed, not to nothing


def test_packing_is_linear_and_checked_when_a_message_grows_by_more_than_its_alerts() -> None:
    """Each message is rendered and checked: a part whose set-dependent overhead (a
    line of mentions) outgrows the estimate gives its last alerts to the next part."""
    texts = [
        dataclasses.replace(alert_text(e, "zh", ZoneInfo("UTC")), people=(f"person{i}",))
        for i, e in enumerate(group(300))
    ]
    rendered = 0  # alerts rendered, over all calls: the work

    def render(alerts: Sequence[AlertText], part: str) -> tuple[bytes, int]:
        nonlocal rendered
        rendered += len(alerts)
        body = orjson.dumps({"part": part, "alerts": [a.summary for a in alerts]})
        people = {p for a in alerts for p in a.people}
        # A line of mentions that needs a second line past 8 people: more than the alerts add.
        return body, len(body) + 30 * len(people) + (400 if len(people) > 8 else 0)

    messages = split(texts, render, 4000, lambda i, n: f" ({i}/{n})" if n > 1 else "")
    work = rendered
    sizes = [render([texts[i] for i in indices], "")[1] for indices, _ in messages]
    assert max(sizes) <= 4000
    assert [i for indices, _ in messages for i in indices] == list(range(300))
    assert len(messages) > 5
    # A few renders per alert and a few of each message, not a render of the growing
    # message per alert (24 alerts rendered per alert here, growing with the messages).
    assert work <= 12 * len(texts)
