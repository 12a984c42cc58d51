"""Regenerates the receiver previews in docs/img/ from the receivers' own payloads.

    PYTHONPATH=. python docs/img/previews.py --adaptivecards-js PATH/adaptivecards.min.js

Each preview starts from the body a receiver kind builds for the same sample
group (two vendors under their SLA on one project, Asia/Shanghai, zh; Teams
in English and UTC), so what is drawn is what is sent. Feishu's card is drawn
element by element as Feishu lays out an ``interactive`` card (coloured
header, ``lark_md`` blocks, buttons, rules, the note); DingTalk's and WeCom's
markdown through cmark-gfm, as a chat bubble; the Teams card by the Adaptive
Cards JavaScript renderer (the npm package ``adaptivecards``, whose path is
given: it is not a dependency of the project) with a Teams-like host
config; email is its own HTML part. Headless Chromium (Debian's, with CJK
and emoji fonts) takes the screenshots, each as tall as its page.
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import re
import subprocess
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import cmarkgfm
import orjson
from cmarkgfm.cmark import Options

from alerts.model import AlertEvent, fingerprint
from alerts.receivers.dingtalk import DingTalk, DingTalkReceiver
from alerts.receivers.email import Email, EmailReceiver
from alerts.receivers.feishu import Feishu, FeishuReceiver
from alerts.receivers.msteams import Teams, TeamsReceiver
from alerts.receivers.wecom import WeCom, WeComReceiver

HERE = Path(__file__).parent
CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
GROUP = {"rule": "vendor_quality_low", "project_id": "医疗影像"}
ENV = {"URL": "https://robot.example/hook/0f9e8d7c6b5a43210f9e8d7c6b5a4321"}
FONTS = "'PingFang SC','Microsoft YaHei','WenQuanYi Micro Hei','Noto Color Emoji',sans-serif"


def sample() -> list[AlertEvent]:
    """The group every preview shows: two vendors below the audit pass-rate SLA."""
    events = []
    for vendor, rate, audits in (("供应商甲", 0.82, 140), ("供应商乙", 0.79, 96)):
        scope = {"project_id": "医疗影像", "vendor_id": vendor}
        events.append(
            AlertEvent(
                fingerprint=fingerprint("vendor_quality_low", scope),
                rule="vendor_quality_low",
                status="firing",
                severity="critical",
                scope=scope,
                labels={"alertname": "vendor_quality_low", "severity": "critical", **scope},
                annotations={
                    "summary": f"供应商 {vendor} 在项目 医疗影像 的审核通过率为 {rate:.0%}"
                    "（SLA 85%）",
                    "description": f"Audit pass rate {rate:.1%} over {audits} audits in 15m "
                    "(SLA 85%).",
                    "runbook_url": "https://wiki.example/runbooks/vendor-quality",
                },
                metric="audit_pass_rate",
                value=rate,
                threshold=0.85,
                window_start=T0,
                window_end=T0 + timedelta(minutes=15),
                starts_at=T0,
                extra={"op": "<"},
            )
        )
    return events


def bodies(receiver: Any, events: Sequence[AlertEvent]) -> list[Any]:
    return [orjson.loads(r.body) for r in receiver.requests(list(events), GROUP)]


# -- Feishu: the interactive card, element by element ------------------------------------------

_FEISHU_HEADER = {"red": "#f54a45", "orange": "#ff8800", "green": "#34c724", "blue": "#3370ff"}


def _lark_md(text: str) -> str:
    """lark_md as Feishu shows it: entities decoded, **bold**, mentions as @names."""
    shown = html.escape(html.unescape(text), quote=False)
    shown = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", shown)
    shown = re.sub(
        r"&lt;at (?:id|email)=([^&]+)&gt;&lt;/at&gt;",
        lambda m: f'<span class="at">@{"所有人" if m.group(1) == "all" else m.group(1)}</span>',
        shown,
    )
    return shown.replace("\n", "<br>")


def feishu_page(body: dict[str, Any]) -> str:
    card = body["card"]
    parts = []
    for element in card["elements"]:
        tag = element["tag"]
        if tag == "div":
            parts.append(f'<div class="md">{_lark_md(element["text"]["content"])}</div>')
        elif tag == "hr":
            parts.append("<hr>")
        elif tag == "action":
            buttons = "".join(
                f'<a class="btn {b["type"]}">{html.escape(b["text"]["content"])}</a>'
                for b in element["actions"]
            )
            parts.append(f'<div class="actions">{buttons}</div>')
        elif tag == "note":
            notes = " ".join(html.escape(e["content"]) for e in element["elements"])
            parts.append(f'<div class="note">{notes}</div>')
    colour = _FEISHU_HEADER[card["header"]["template"]]
    title = html.escape(card["header"]["title"]["content"])
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body {{ margin: 0; padding: 20px; background: #f2f3f5; font: 14px/1.6 {FONTS}; color: #1f2329; }}
.card {{ width: 560px; background: #fff; border-radius: 8px; overflow: hidden;
        box-shadow: 0 1px 3px rgba(31,35,41,.12); }}
.head {{ background: {colour}; color: #fff; padding: 12px 16px; font-size: 16px;
         font-weight: 600; }}
.content {{ padding: 12px 16px 14px; }}
.md {{ margin: 4px 0 8px; }}
.actions {{ margin: 4px 0 10px; }}
.btn {{ display: inline-block; padding: 4px 14px; border-radius: 6px; font-size: 14px;
       border: 1px solid #d0d3d6; color: #1f2329; }}
.btn.primary {{ background: #3370ff; border-color: #3370ff; color: #fff; }}
hr {{ border: 0; border-top: 1px solid #dee0e3; margin: 10px 0; }}
.note {{ color: #8f959e; font-size: 12px; margin-top: 6px; }}
.at {{ color: #3370ff; }}
</style></head><body><div class="card"><div class="head">{title}</div>
<div class="content">{"".join(parts)}</div></div></body></html>"""


# -- DingTalk and WeCom: markdown in a chat bubble ---------------------------------------------

_WECOM_COLOURS = {"info": "#06ad56", "comment": "#8f959e", "warning": "#ff8800"}


def markdown_page(markdown: str, platform: str, title: str = "") -> str:
    text = markdown
    if platform == "wecom":
        text = re.sub(
            r'<font color="(\w+)">',
            lambda m: f'<font color="{_WECOM_COLOURS.get(m.group(1), "#1f2329")}">',
            text,
        )
    # Both platforms break lines where the text does.
    options = Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_HARDBREAKS
    rendered = cmarkgfm.github_flavored_markdown_to_html(text, options=options)
    rendered = re.sub(r"(@(?:所有人|\d{11}|[\w.]+))", r'<span class="at">\1</span>', rendered)
    name = {"dingtalk": "告警机器人", "wecom": "告警机器人"}[platform]
    accent = {"dingtalk": "#1677ff", "wecom": "#07c160"}[platform]
    heading = f'<div class="title">{html.escape(title)}</div>' if title else ""
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body {{ margin: 0; padding: 20px; background: #f5f6f7; font: 14px/1.6 {FONTS}; color: #1f2329; }}
.row {{ display: flex; gap: 10px; width: 600px; }}
.avatar {{ width: 36px; height: 36px; border-radius: 6px; background: {accent}; flex: none; }}
.who {{ color: #8f959e; font-size: 12px; margin-bottom: 4px; }}
.bubble {{ background: #fff; border-radius: 8px; padding: 10px 14px; width: 520px;
          box-shadow: 0 1px 2px rgba(31,35,41,.08); }}
.bubble h4, .bubble h2 {{ margin: 4px 0 6px; font-size: 16px; }}
.bubble h6 {{ margin: 6px 0 0; font-size: 12px; color: #8f959e; font-weight: 400; }}
.bubble p {{ margin: 4px 0; }} .bubble ul {{ margin: 4px 0; padding-left: 20px; }}
.bubble blockquote {{ margin: 4px 0; padding-left: 8px; border-left: 3px solid #dee0e3;
                     color: #646a73; }}
.bubble hr {{ border: 0; border-top: 1px solid #dee0e3; margin: 10px 0; }}
.bubble a {{ color: {accent}; text-decoration: none; }}
.at {{ color: {accent}; }}
.title {{ font-weight: 600; color: #646a73; font-size: 12px; margin-bottom: 2px; }}
</style></head><body><div class="row"><div class="avatar"></div><div>
<div class="who">{name}</div>{heading}<div class="bubble">{rendered}</div></div></div>
</body></html>"""


# -- Teams: the Adaptive Cards renderer with a Teams-like host config ---------------------------

TEAMS_HOST = {
    "fontFamily": "'Segoe UI','WenQuanYi Micro Hei','Noto Color Emoji',sans-serif",
    "containerStyles": {
        "default": {
            "backgroundColor": "#FFFFFF",
            "foregroundColors": {
                "default": {"default": "#242424", "subtle": "#616161"},
                "accent": {"default": "#5B5FC7", "subtle": "#5B5FC7"},
                "attention": {"default": "#C4314B", "subtle": "#C4314B"},
                "good": {"default": "#237B4B", "subtle": "#237B4B"},
                "warning": {"default": "#C4591F", "subtle": "#C4591F"},
            },
        }
    },
    "fontWeights": {"lighter": 300, "default": 400, "bolder": 700},
    "factSet": {
        "title": {"weight": "Bolder", "color": "Default", "size": "Default", "wrap": True},
        "value": {"weight": "Default", "color": "Default", "size": "Default", "wrap": True},
        "spacing": 10,
    },
    "actions": {"actionsOrientation": "horizontal", "actionAlignment": "left"},
}


def teams_page(body: dict[str, Any], adaptivecards_js: Path) -> str:
    card = body["attachments"][0]["content"]
    script = adaptivecards_js.read_text(encoding="utf-8")
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body {{ margin: 0; padding: 20px; background: #f5f5f5; }}
.card {{ width: 560px; background: #fff; border-radius: 6px; padding: 4px;
        box-shadow: 0 1px 3px rgba(0,0,0,.12); font-family: {FONTS}; }}
.ac-pushButton {{ border: 1px solid #d1d1d1; border-radius: 4px; background: #fff;
                 padding: 4px 12px; font: 600 14px 'Segoe UI',sans-serif; color: #242424; }}
</style><script>{script}</script></head><body><div class="card" id="card"></div><script>
AdaptiveCards.AdaptiveCard.onProcessMarkdown = function (text, result) {{
  var escaped = text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  result.outputHtml = escaped.replace(/\\*\\*(.+?)\\*\\*/g, "<strong>$1</strong>")
    .replace(/&lt;at&gt;(.+?)&lt;\\/at&gt;/g, '<span style="color:#5B5FC7">@$1</span>')
    .replace(/\\n\\n/g, "<br>");
  result.didProcess = true;
}};
var card = new AdaptiveCards.AdaptiveCard();
card.hostConfig = new AdaptiveCards.HostConfig({orjson.dumps(TEAMS_HOST).decode()});
card.parse({orjson.dumps(card).decode()});
document.getElementById("card").appendChild(card.render());
</script></body></html>"""


# -- email: its own HTML part ------------------------------------------------------------------


def email_page(raw: bytes) -> str:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(("html",))
    assert part is not None
    page: str = part.get_content()
    fonts = "<style>body { font-family: " + FONTS + " !important; }</style>"
    return page.replace("</head>", fonts + "</head>")


# -- screenshots ---------------------------------------------------------------------------------


def _chromium(profile: Path, *args: str) -> str:
    done = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def screenshot(page: str, out: Path, width: int, work: Path) -> None:
    """The page at ``width``, as tall as it is (measured in a first, DOM-dumping run)."""
    measured = page.replace(
        "</body>",
        "<script>document.body.setAttribute('data-height',"
        " Math.ceil(document.documentElement.getBoundingClientRect().height));</script></body>",
    )
    source = work / f"{out.stem}.html"
    source.write_text(measured, encoding="utf-8")
    dom = _chromium(work / "profile", f"--window-size={width},800", "--dump-dom", source.as_uri())
    found = re.search(r'data-height="(\d+)"', dom)
    height = int(found.group(1)) if found else 800
    _chromium(
        work / "profile",
        f"--window-size={width},{height}",
        f"--screenshot={out}",
        source.as_uri(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--adaptivecards-js", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    events = sample()
    zh = {"language": "zh", "timezone": "Asia/Shanghai", "group_wait": "0s"}
    feishu = Feishu.from_config(
        "zh-feishu",
        FeishuReceiver(
            type="feishu", url_env="URL", keyword="告警", mentions={"critical": ("all",)}, **zh
        ),
        ENV,
        "",
    )
    dingtalk = DingTalk.from_config(
        "zh-dingtalk",
        DingTalkReceiver(
            type="dingtalk",
            url_env="URL",
            keyword="告警",
            mentions={"critical": ("13800138000",)},
            **zh,
        ),
        ENV,
        "",
    )
    wecom = WeCom.from_config("zh-wecom", WeComReceiver(type="wecom", url_env="URL", **zh), ENV, "")
    teams = Teams.from_config(
        "ops-teams",
        TeamsReceiver(
            type="msteams", url_env="URL", mentions={"critical": ("oncall@example.com",)}
        ),
        ENV,
        "",
    )
    mail_config = EmailReceiver.model_validate(
        {
            "type": "email",
            "smarthost": "smtp.example.com:587",
            "from": "annotel <alerts@example.com>",
            "to": ["zh-ops@example.com"],
            **zh,
        }
    )
    mail = Email.from_config("zh-mail", mail_config, {}, "")
    resolved = dataclasses.replace(
        events[1], status="resolved", ends_at=T0 + timedelta(minutes=45), value=0.91
    )
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        [card] = bodies(feishu, events)
        screenshot(feishu_page(card), args.out / "receiver-feishu.png", 600, work)
        [ding] = bodies(dingtalk, events)
        page = markdown_page(ding["markdown"]["text"], "dingtalk")
        screenshot(page, args.out / "receiver-dingtalk.png", 640, work)
        [markdown] = bodies(wecom, events)
        page = markdown_page(markdown["markdown"]["content"], "wecom")
        screenshot(page, args.out / "receiver-wecom.png", 640, work)
        [message] = bodies(teams, events)
        screenshot(
            teams_page(message, args.adaptivecards_js), args.out / "receiver-msteams.png", 600, work
        )
        [request] = mail.requests([events[0], resolved], GROUP)
        screenshot(email_page(request.body), args.out / "receiver-email.png", 760, work)


if __name__ == "__main__":
    main()
