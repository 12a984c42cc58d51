"""Coaching trends from bucket rows, and the pages rendered: charts, Chinese, escaping."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from reports.coaching_types import (
    AuditedTask,
    CoachingOptions,
    Header,
    Packet,
    SquadPage,
)
from reports.figures import Figures, combine
from reports.html_packet import render_packet_html
from reports.html_squad import render_squad_html
from reports.markdown_coaching import render_packet_markdown, render_squad_markdown
from reports.period import Period
from reports.sections.coach_trends import bucket_starts, coaching_bucket, trend_charts
from reports.sections.coaching import category_rows, needs_coaching
from reports.sections.packet import metric_lines, packet_summary
from reports.sections.people import everyone
from reports.sections.squad import coaching_order, member_rows, squad_summary
from tests.unit.reports.coaching_rows import DAY, SQUAD, by_id, people, row, work
from tests.unit.reports.rows import sums

OPTIONS = CoachingOptions()
START = datetime(2026, 11, 23, 1, tzinfo=UTC)
PERIOD = Period(START, START + timedelta(hours=4))
HOSTILE = "<script>alert(1)</script>\u202e"  # markup and a bidi override in a display name


def bucket_row(hour: int, annotator: str, **fields: object) -> dict[str, object]:
    return sums(bucket=START + timedelta(hours=hour), annotator_id=annotator, **fields)


ROWS = [
    bucket_row(0, "a", tasks_submitted=30, handle_time_sum_s=600.0, audits=6, audits_approved=6),
    bucket_row(0, "b", tasks_submitted=10, handle_time_sum_s=400.0, audits=2, audits_approved=1),
    bucket_row(1, "a", tasks_submitted=20, handle_time_sum_s=400.0, audits=3, audits_approved=3),
    bucket_row(3, "b", tasks_submitted=12, handle_time_sum_s=480.0, audits=5, audits_approved=4),
]


def test_buckets_follow_the_period() -> None:
    assert coaching_bucket(14 * DAY) == 86400
    assert coaching_bucket(4 * 3600) == 3600
    assert coaching_bucket(3600) == 120  # the report's finest usual bucket for an hour
    assert bucket_starts(PERIOD, 3600) == [START + timedelta(hours=h) for h in range(4)]
    late = Period(START + timedelta(minutes=30), START + timedelta(hours=2))
    assert bucket_starts(late, 3600) == [START, START + timedelta(hours=1)]


def test_trend_lines_for_a_person_and_per_member_of_a_squad() -> None:
    charts = trend_charts(
        PERIOD,
        3600,
        ROWS,
        [("a", {"a"}, "total"), ("squad", {"a", "b"}, "per_member")],
        OPTIONS.targets,
    )
    by_metric = {c.metric: c for c in charts}
    assert list(by_metric) == ["tasks_submitted", "aht_s", "audit_pass_rate", "gold_accuracy"]
    person, squad = by_metric["tasks_submitted"].lines
    assert [p.value for p in person.points] == [30.0, 20.0, 0.0, 0.0]
    assert [p.value for p in squad.points] == [20.0, 20.0, None, 12.0]  # per active member
    # A rate needs 5 samples in its bucket: hour 0 pools 8 audits for the squad, 6 for a.
    person, squad = by_metric["audit_pass_rate"].lines
    assert [p.value for p in person.points] == [1.0, None, None, None]
    assert [p.value for p in squad.points] == [7 / 8, None, None, 4 / 5]
    assert by_metric["audit_pass_rate"].target == 0.85
    assert by_metric["tasks_submitted"].target is None
    aht = by_metric["aht_s"].lines[0]
    assert [p.value for p in aht.points] == [20.0, 20.0, None, None]
    assert not by_metric["gold_accuracy"].drawable


def _header(period: Period = PERIOD) -> Header:
    return Header(
        period=period,
        days=14,
        generated_at=period.end,
        source="chdb:///data",
        data_first=period.start,
        data_last=period.end - timedelta(minutes=1),
        basis="the first half of the period vs. the second half",
        roster_loaded=True,
        options=OPTIONS,
    )


def _packet() -> Packet:
    everybody = people()
    squad = [p for p in everybody if p.squad == SQUAD]
    person = by_id(everybody)["华数-0003"]
    person.display_name = HOSTILE
    packet = Packet(header=_header(), person=person, squad_members=len(squad))
    packet.lines = metric_lines(person, squad, squad, None, {"tasks_submitted"}, OPTIONS)
    packet.coaching = needs_coaching(person, OPTIONS)
    packet.categories = category_rows(
        [{"category": "漏标|[x](y)", "audits": 4, "fixes": 1, "rejects": 3}], 3
    )
    packet.focus = "漏标: on 3 of the 3 rejected audits (100%)."
    packet.tasks = [
        AuditedTask(
            START, "医疗影像标注", "病灶框选", "t-<1>", "reject", ["漏标"], "审核员-03", 0.2
        )
    ]
    packet.tasks_total = 7
    packet.trends = trend_charts(
        PERIOD,
        3600,
        [{**r, "annotator_id": "华数-0003"} for r in ROWS],
        [("me", {"华数-0003"}, "total"), ("squad", {"华数-0003"}, "per_member")],
        OPTIONS.targets,
    )
    packet.summary = packet_summary(packet)
    return packet


def test_the_packet_html_escapes_and_draws() -> None:
    page = render_packet_html(_packet())
    assert page.startswith("<!doctype html>")
    assert "<script>" not in page and "\u202e" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\u202e" in page
    assert "t-&lt;1&gt;" in page and "医疗影像标注" in page and "审核员-03" in page
    charts = set(re.findall(r'data-chart="([^"]+)"', page))
    # Gold has no bucket with 5 gold tasks: said instead of drawn.
    assert charts == {"coach-volume", "coach-aht", "coach-pass-rate", "coach-errors"}
    assert "No hour with enough samples to draw" in page
    assert 'id="coaching"' in page and "22.7 pp below the 85.0% target" in page
    assert "The newest 1 of 7" in page
    assert 'id="judgement"' in page and "Wilson" in page
    for forbidden in ("<script", "<link", "<img", " src=", " href="):
        assert forbidden not in page.lower()


def test_the_packet_markdown_escapes() -> None:
    text = render_packet_markdown(_packet())
    # Markup as entities; the bidi override shown as its escape (its backslash escaped too).
    assert text.splitlines()[0] == "# 1:1 packet: &lt;script&gt;alert(1)&lt;/script&gt;\\\\u202e"
    assert "<script>" not in text and "\u202e" not in text
    assert "漏标\\|\\[x\\](y)" in text  # no table cell, no link
    for line in text.splitlines():
        if line.startswith("|"):
            assert line.endswith("|"), line


def _squad() -> SquadPage:
    everybody = people()
    squad = [p for p in everybody if p.squad == SQUAD]
    page = SquadPage(header=_header(), squad=SQUAD, managers=["华数-组长-1"], weeks_covered=1)
    page.members = member_rows(squad, {}, OPTIONS)
    page.coaching = coaching_order(page.members)
    page.totals = Figures(combine([p.figures.sums for p in squad]), PERIOD.seconds)
    page.trends = trend_charts(
        PERIOD,
        3600,
        [{**r, "annotator_id": "华数-0001"} for r in ROWS],
        [("squad", {"华数-0001"}, "per_member"), ("all", None, "per_member")],
        OPTIONS.targets,
    )
    page.summary = squad_summary(page)
    return page


def test_the_squad_page_ranks_and_draws() -> None:
    page = render_squad_html(_squad())
    charts = set(re.findall(r'data-chart="([^"]+)"', page))
    assert {"squad-ranking", "squad-volume", "squad-aht", "squad-pass-rate"} <= charts
    # The ranking chart lists the ranked members by their lower bound, best first.
    ranking = page[page.index('data-chart="squad-ranking"') :]
    order = [
        ranking.index(name) for name in ("标注员 1 号", "标注员 2 号", "标注员 5 号", "标注员 3 号")
    ]
    assert order == sorted(order)
    assert 'id="fair-ranking"' in page and "Wilson score interval" in page
    assert "too few samples to rank" in page and "no activity in the period" in page
    text = render_squad_markdown(_squad())
    assert "## Members, ranked fairly" in text and "标注员 1 号 (华数-0001)" in text


def test_an_unlisted_stranger_renders_with_the_id() -> None:
    stranger = everyone([row("apx-0031", squad=None, **work(30, 10, 10))], [], DAY, 0.95)[0]
    packet = Packet(header=_header(), person=stranger, squad_members=1)
    packet.lines = metric_lines(stranger, [stranger], [stranger], None, set(), OPTIONS)
    packet.summary = packet_summary(packet)
    page = render_packet_html(packet)
    assert "1:1 packet: apx-0031" in page and "squad unassigned" in page
    assert "started – (–)" in page  # no start date, no tenure


def test_a_roster_member_without_activity_gets_a_notice() -> None:
    idle = by_id(people())["华数-0006"]
    packet = Packet(header=_header(), person=idle, squad_members=6)
    packet.notice = (
        "标注员 6 号 (华数-0006) is on the roster (squad 华数-一组) but has no activity."
    )
    page = render_packet_html(packet)
    assert 'id="notice"' in page and "has no activity" in page
    assert "data-chart" not in page and 'id="judgement"' in page
    text = render_packet_markdown(packet)
    assert "> 标注员 6 号 (华数-0006) is on the roster" in text and "## Summary" not in text
