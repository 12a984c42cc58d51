"""Hostile ids in every text output: terminal tables, the live view, logs, Markdown, Slack,
PagerDuty, the stdout receiver.

Each output kind has one helper (``schemas.display.visible``, ``reports.markdown.md``,
``alerts.receivers.slack.slack_text``); these tests feed each hostile value through the
real renderers and assert what a reader (or a terminal) would get. They span every
package that prints, so they live beside the packages rather than in one of them; the
helper's own tests are ``tests/unit/schemas/test_display.py``, and the hostile values
are ``tests/hostile.py``.
"""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cmarkgfm  # type: ignore[import-untyped]
import orjson
import pytest
from cmarkgfm.cmark import Options  # type: ignore[import-untyped]

from alerts.dispatch import Dispatcher
from alerts.model import AlertEvent, fingerprint
from alerts.receivers.pagerduty import pagerduty_event
from alerts.receivers.slack import slack_message, slack_text
from alerts.receivers.stdout import StdoutReceiver
from alerts.silences import add_silence
from annotel.cli import build_parser
from annotel.live_view import AlertNote, FeedProgress, ViewState, render
from reports import fmt
from reports.markdown import Md, md
from streams.logs import JsonFormatter, TextFormatter
from tests.hostile import (
    CLEAR,
    CSI_C1,
    MARKUP_VALUES,
    RLO,
    TITLE,
    UNSAFE_VALUES,
    ZERO_WIDTH,
    unsafe_in,
)


def test_terminal_table_shows_escapes_and_stays_aligned() -> None:
    rows = [[TITLE, "1"], [RLO, "22"], ["医疗", "3"]]
    lines = fmt.table(["project", "n"], rows, right={1}).splitlines()
    assert unsafe_in("\n".join(lines), keep="\n") == []
    assert lines[2].startswith("\\u001b]0;pwned\\u0007")
    widths = {fmt.text_width(line) for line in lines[2:]}
    assert len(widths) == 1, lines  # right-aligned numbers end in the same column


def test_live_view_frame_has_no_unsafe_character() -> None:
    notes = [
        AlertNote(
            "firing",
            "r" + TITLE,
            {"project_id": RLO, "vendor_id": CLEAR},
            "x",
            1.0,
            datetime(2026, 11, 23, 2, 0, tzinfo=UTC),
        )
    ]
    state = ViewState(
        title="demo", elapsed_s=1, feed=FeedProgress("feed", 10), worker=None, rate=None
    )
    state.alerts = notes
    state.notes = [ZERO_WIDTH + CSI_C1]
    frame = "\n".join(render(state, width=200))
    assert unsafe_in(frame, keep="\n") == []
    assert "\\u001b]0;pwned" in frame and "\\u202e" in frame


def test_silence_list_shows_escapes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "silences.yaml"
    add_silence(path, {"project_id": TITLE}, duration="1h", comment=RLO, created_by=CLEAR)
    args = build_parser().parse_args(["silence", "list", "--file", str(path)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert unsafe_in(out, keep="\n") == []
    assert "project_id=\\u001b]0;pwned\\u0007" in out


def test_log_lines_have_no_unsafe_character() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "alert %s for %s", None, None)
    record.args = (TITLE, RLO)
    record.project = CSI_C1  # an extra field
    text = TextFormatter().format(record)
    assert unsafe_in(text) == [] and "\\u001b]0;pwned" in text
    line = JsonFormatter().format(record)
    assert unsafe_in(line) == []
    data = json.loads(line)
    assert data["msg"] == f"alert {TITLE} for {RLO}" and data["project"] == CSI_C1


# -- Markdown --------------------------------------------------------------------------------


def render_markdown_html(text: str) -> str:
    """GitHub's renderer with raw HTML allowed and no tag filter: nothing hides an injection."""
    html: str = cmarkgfm.markdown_to_html_with_extensions(
        text, options=Options.CMARK_OPT_UNSAFE, extensions=["table", "autolink", "strikethrough"]
    )
    return html


@pytest.mark.parametrize("value", MARKUP_VALUES + UNSAFE_VALUES)
def test_markdown_value_renders_as_its_literal_text(value: str) -> None:
    for template in ("{}", "- {}", "| h | i |\n|---|---|\n| {} | x |", "Period **{}** ok"):
        html = render_markdown_html(template.format(md(value)))
        for forbidden in ("<script", "<img", "<a ", "<code", "<em", "<del", "<h1"):
            assert forbidden not in html, (template, value, html)
        assert html.count("<strong>") == template.count("**") // 2, html  # only the report's own
        assert unsafe_in(html, keep="\n") == []
        if template.startswith("|"):
            assert html.count("<td>") == 2, html  # the value stayed in one cell


def test_markdown_escapes_read_back_as_the_value() -> None:
    html = render_markdown_html(md("<script>alert(1)</script> a|b [x](javascript:y)"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt; a|b [x](javascript:y)" in html
    assert md("vendor_quality_low") == "vendor_quality_low"  # no emphasis possible inside words
    assert md(Md("**still firing**")) == "**still firing**"


# -- Slack and PagerDuty ---------------------------------------------------------------------


def event(scope: dict[str, str], summary: str = "") -> AlertEvent:
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    return AlertEvent(
        fingerprint=fingerprint("r", scope),
        rule="r",
        status="firing",
        severity="critical",
        scope=scope,
        labels={"alertname": "r", "severity": "critical", **scope},
        annotations={"summary": summary} if summary else {},
        metric="audit_pass_rate",
        value=0.5,
        threshold=0.8,
        window_start=start,
        window_end=start + timedelta(minutes=15),
        starts_at=start,
        receivers=("s",),
    )


SLACK_HOSTILE = {
    "project_id": "<!channel> <!here|here> <!everyone>",
    "vendor_id": "@here @channel @everyone <@U123> <https://evil.example|click>",
    "queue_id": "R&D" + TITLE + RLO,
}


def test_slack_text_escapes_and_neutralises_mentions() -> None:
    assert slack_text("<!here> & @channel") == "&lt;!here&gt; &amp; ＠channel"
    assert slack_text("me@here.example") == "me@here.example"  # an e-mail address is no mention
    assert slack_text(TITLE) == "\\u001b]0;pwned\\u0007"


@pytest.mark.parametrize("summary", ["", "审核 {x} <!channel> @here " + RLO])
def test_slack_message_carries_no_markup_from_the_data(summary: str) -> None:
    message = slack_message([event(SLACK_HOSTILE, summary)])
    texts = [message["text"], message["blocks"][0]["text"]["text"]]
    texts += [b["text"]["text"] for b in message["blocks"][1:]]
    for text in texts:
        assert unsafe_in(text, keep="\n") == []
        for mention in ("<!channel>", "<!here", "<!everyone>", "<@U123>", "<https://evil"):
            assert mention not in text
    for text in (message["text"], *texts[2:]):  # mrkdwn: the fallback and the sections
        assert "@here" not in text and "@channel" not in text and "@everyone" not in text
        assert "&lt;!channel&gt;" in text


def test_slack_runbook_link_only_for_http_urls() -> None:
    good = event({"project_id": "p"}, "s")
    good.annotations["runbook_url"] = "https://wiki.example/runbook"
    section = slack_message([good])["blocks"][1]["text"]["text"]
    assert "<https://wiki.example/runbook|Runbook>" in section
    for bad in (
        "javascript:alert(1)",
        "https://x.example/a|b",
        "https://x/<!here>",
        "https://x/\x1b",
    ):
        hostile = event({"project_id": "p"}, "s")
        hostile.annotations["runbook_url"] = bad
        assert "|Runbook>" not in slack_message([hostile])["blocks"][1]["text"]["text"]
        assert "links" not in pagerduty_event(hostile, "key")


def test_pagerduty_display_fields_show_escapes_and_details_keep_the_data() -> None:
    scope = {"project_id": TITLE, "queue_id": RLO}
    body = pagerduty_event(event(scope, "summary " + CLEAR), "key")
    payload = body["payload"]
    for name in ("summary", "source", "group", "component", "class"):
        assert unsafe_in(payload[name]) == [], name
    assert payload["group"] == "\\u001b]0;pwned\\u0007"
    assert payload["custom_details"]["scope"] == scope  # data stays exact (JSON-encoded)
    assert orjson.loads(orjson.dumps(body))["payload"]["custom_details"]["scope"] == scope


async def test_stdout_receiver_lines_decode_to_the_exact_event() -> None:
    out = io.StringIO()
    dispatcher = Dispatcher({"s": StdoutReceiver(type="stdout", group_wait="0s")}, {}, stdout=out)
    await dispatcher.start()
    hostile = event({"project_id": TITLE + RLO + CSI_C1})
    dispatcher.submit(hostile)
    await dispatcher.close(5)
    line = out.getvalue()
    assert unsafe_in(line, keep="\n") == [] and line.count("\n") == 1
    assert json.loads(line)["scope"] == hostile.scope
