"""The text model the chat kinds and email share: language, time zone, mentions, escaping."""

from __future__ import annotations

import dataclasses
from zoneinfo import ZoneInfo

import pytest

from alerts.receivers.chat import (
    ChatSettings,
    alert_text,
    check_chat,
    check_mentions,
    md_literal,
    people_for,
    title,
    window_text,
)
from alerts.receivers.feishu import lark_literal
from alerts.receivers.settings import ReceiverConfigError
from tests.alert_events import event

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC_ZONE = ZoneInfo("UTC")


def test_times_in_the_receivers_zone() -> None:
    e = event()  # window 08:00-08:15 UTC
    assert window_text(e, UTC_ZONE) == "2026-11-23 08:00–08:15 UTC (15m)"
    assert window_text(e, SHANGHAI) == "2026-11-23 16:00–16:15 UTC+08:00 (15m)"
    late = event(minute=15 * 63)  # 23:45 UTC: the window ends the next day in Shanghai
    assert window_text(late, SHANGHAI) == "2026-11-24 07:45–08:00 UTC+08:00 (15m)"
    text = alert_text(e, "zh", SHANGHAI)
    assert text.since == "2026-11-23 16:00 UTC+08:00"
    resolved = alert_text(event(status="resolved", minute=30), "en", ZoneInfo("America/New_York"))
    assert resolved.until == "2026-11-23 03:30 UTC-05:00"


def test_fixed_words_in_the_receivers_language_annotations_as_written() -> None:
    e = dataclasses.replace(
        event(),
        annotations={
            "summary": "审核通过率 82%：供应商甲 / 医疗影像",
            "description": "Audit pass rate 82.0%.\n\nSecond line.",
            "owner": "质检组",
            "runbook_url": "https://wiki.example/runbooks/vendor-quality",
        },
    )
    zh = alert_text(e, "zh", SHANGHAI)
    en = alert_text(e, "en", SHANGHAI)
    assert zh.summary == en.summary == "审核通过率 82%：供应商甲 / 医疗影像"
    assert zh.details == en.details == ("Audit pass rate 82.0%.", "Second line.", "owner: 质检组")
    assert (zh.state, zh.severity_word) == ("告警", "严重")
    assert (en.state, en.severity_word) == ("FIRING", "critical")
    assert zh.value == "82.0%（阈值 85.0%）" and en.value == "82.0% (threshold 85.0%)"
    assert title([zh], "zh", "（1/3）") == "🔴 1 条告警：vendor_quality_low（1/3）"
    assert title([en, alert_text(event(status="resolved"), "en", SHANGHAI)], "en") == (
        "🔴 1 firing, 1 resolved: vendor_quality_low"
    )
    assert title([alert_text(event(status="resolved"), "zh", SHANGHAI)], "zh").startswith("✅")
    assert alert_text(event(severity="warning"), "en", UTC_ZONE).runbook.startswith("https://")
    unsafe = dataclasses.replace(e, annotations={"runbook_url": "javascript:alert(1)"})
    assert alert_text(unsafe, "en", UTC_ZONE).runbook == ""


def test_mentions_by_severity_scope_everyone_and_rule_label() -> None:
    mentions = {
        "critical": ("13800138000",),
        "warning": ("ou_warn",),
        "project_id=医疗影像": ("ou_project", "13800138000"),
        "*": ("all",),
    }
    assert people_for(event(), mentions) == ("13800138000", "ou_project", "all")
    assert people_for(event(severity="warning", project="客服"), mentions) == ("ou_warn", "all")
    labelled = dataclasses.replace(
        event(severity="info"), labels={**event().labels, "mentions": "ou_a, 13900139000 <bad>"}
    )
    assert people_for(labelled, {}) == ("ou_a", "13900139000")  # "<bad>" is not a person
    assert people_for(event(status="resolved"), mentions) == ()  # a resolve pings nobody


@pytest.mark.parametrize(
    ("mentions", "message"),
    [
        ({"fatal": ("x",)}, "is not a severity"),
        ({"=value": ("x",)}, "is not a severity"),
        ({"critical": ("<at id=all>",)}, "is not a user id"),
        ({"critical": ("two words",)}, "is not a user id"),
    ],
)
def test_mentions_map_is_checked(mentions: dict[str, tuple[str, ...]], message: str) -> None:
    with pytest.raises(ReceiverConfigError, match=message):
        check_mentions("zh-ding", mentions)


def test_unknown_time_zone_is_a_configuration_error() -> None:
    config = ChatSettings(url_env="URL", timezone="Asia/Shanhai")
    with pytest.raises(ReceiverConfigError, match="'Asia/Shanhai' is not a known IANA time zone"):
        check_chat("zh-ding", config, None)
    assert check_chat("zh-ding", ChatSettings(url_env="URL", timezone="Asia/Shanghai"), None)


@pytest.mark.parametrize(
    ("data", "absent"),
    [
        ("<@zhangsan> 请处理", "<@"),  # a WeCom markdown mention
        ("[点这里](https://evil.example)", "]("),  # a link
        ("**加粗** `code`", "**"),
        ('<font color="warning">x</font>', "<font"),
    ],
)
def test_markdown_from_the_data_is_shown_not_obeyed(data: str, absent: str) -> None:
    shown = md_literal(data)
    assert absent not in shown
    assert len(shown) == len(data)  # one character for one: nothing dropped


@pytest.mark.parametrize("line", ["# 标题", "- 列表", "+ 列表", "1. 第一", "| a | b |", "---"])
def test_a_data_line_cannot_open_a_block(line: str) -> None:
    shown = md_literal(line)
    assert shown != line and len(shown) == len(line)  # the marker became its full-width form
    assert any(char in "＃－＋．｜" for char in shown[:3])


def test_ordinary_text_is_untouched() -> None:
    for text in ("82.0% (threshold 85.0%)", "供应商甲 / 医疗影像", "-5% 2026-11-23", "a_b_c"):
        assert md_literal(text) == text
    assert md_literal("ok\u202eevil") == "ok\\u202eevil"  # bidi overrides are shown as escapes


def test_lark_md_gets_entities_for_markup() -> None:
    shown = lark_literal("<at id=all></at> [x](https://evil.example) **b** ~~s~~")
    assert "<" not in shown and "[" not in shown and "*" not in shown and "~" not in shown
    assert shown.startswith("&#60;at id=all&#62;")
    assert lark_literal("# 标题").startswith("&#35;")
    assert lark_literal("供应商甲 82.0%") == "供应商甲 82.0%"


def test_a_mobile_written_without_quotes_is_a_person() -> None:
    """YAML reads 13800138000 as a number; it is the mobile number all the same."""
    config = ChatSettings.model_validate({"url_env": "U", "mentions": {"critical": [13800138000]}})
    assert config.mentions == {"critical": ("13800138000",)}
    check_mentions("zh-ding", config.mentions)
