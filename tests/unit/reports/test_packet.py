"""The packet's comparisons and narrative, and the squad page's ranking, on hand-built rows."""

from __future__ import annotations

from datetime import UTC, datetime

from reports.coaching_types import CoachingOptions, Header, Packet, SquadPage
from reports.figures import Figures, combine
from reports.period import Period
from reports.sections.coaching import gold_warning, needs_coaching
from reports.sections.packet import audited_tasks, change_text, metric_lines, packet_summary
from reports.sections.people import everyone
from reports.sections.squad import coaching_order, member_rows, squad_summary
from tests.unit.reports.coaching_rows import DAY, SQUAD, by_id, people, row, work

OPTIONS = CoachingOptions()
PERIOD = Period(datetime(2026, 11, 9, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC))


def header() -> Header:
    return Header(
        period=PERIOD,
        days=14,
        generated_at=datetime(2026, 11, 23, 6, tzinfo=UTC),
        source="chdb:///data",
        data_first=datetime(2026, 10, 1, tzinfo=UTC),
        data_last=datetime(2026, 11, 22, 23, 59, tzinfo=UTC),
        basis="the previous period of the same length (2026-10-26 – 2026-11-09)",
        roster_loaded=True,
        options=OPTIONS,
    )


def test_metric_lines_against_the_squad_the_vendor_and_before() -> None:
    everybody = people()
    found = by_id(everybody)
    squad = [p for p in everybody if p.squad == SQUAD]
    earlier = everyone([row("华数-0003", **work(250, 50, 40, 20, 18))], [], 14 * DAY, 0.95)[0]
    lines = metric_lines(
        found["华数-0003"],
        squad,
        squad,
        (earlier, found["华数-0003"]),
        {"tasks_submitted"},
        OPTIONS,
    )
    by_metric = {line.metric: line for line in lines}
    assert list(by_metric) == [
        "tasks_submitted",
        "aht_s",
        "audit_pass_rate",
        "gold_accuracy",
        "rework_rate",
        "skip_rate",
    ]
    volume = by_metric["tasks_submitted"]
    assert (volume.value, volume.squad_median, volume.squad_peers, volume.strength) == (
        300.0,
        200.0,
        5,
        True,
    )
    assert (volume.previous, volume.later, round(volume.change or 0, 3), volume.better) == (
        250.0,
        300.0,
        0.2,
        True,
    )
    assert change_text(volume) == "+20%"
    passing = by_metric["audit_pass_rate"]
    assert (passing.value, passing.samples, passing.previous, passing.judged) == (
        0.5,
        60,
        0.8,
        True,
    )
    assert passing.bounds is not None and passing.bounds.trials == 60
    assert round(passing.change or 0, 3) == -0.3 and passing.better is False
    assert change_text(passing) == "-30.0 pp"
    # Lower is better: a falling AHT is better (30s both times here: no change, no verdict).
    assert by_metric["aht_s"].change == 0.0 and by_metric["aht_s"].better is None
    # Without an earlier span there is nothing to compare.
    alone = metric_lines(found["华数-0003"], squad, squad, None, set(), OPTIONS)
    assert all(line.change is None and line.previous is None for line in alone)
    assert change_text(alone[0]) == "no data"
    # Too few samples earlier: no comparison for that metric.
    thin = everyone([row("华数-0003", **work(250, 5, 5))], [], 14 * DAY, 0.95)[0]
    lines = metric_lines(
        found["华数-0003"], squad, squad, (thin, found["华数-0003"]), set(), OPTIONS
    )
    assert {line.metric: line.change is None for line in lines}["audit_pass_rate"]


def test_audited_tasks_from_rows() -> None:
    rows = [
        {
            "occurred_at": datetime(2026, 11, 20, 3, 4, 5),  # naive UTC, as the client returns it
            "project_id": "医疗影像标注",
            "queue_id": "病灶框选",
            "task_id": "t-1",
            "verdict": "reject",
            "error_categories": ["漏标", "边界不准"],
            "auditor_id": "审核员-03",
            "score": 0.2,
        }
    ]
    (task,) = audited_tasks(rows)
    assert task.occurred_at == datetime(2026, 11, 20, 3, 4, 5, tzinfo=UTC)
    assert (task.categories, task.score, task.auditor_id) == (
        ["漏标", "边界不准"],
        0.2,
        "审核员-03",
    )


def test_the_packet_opens_with_sentences_from_its_numbers() -> None:
    everybody = people()
    found = by_id(everybody)
    squad = [p for p in everybody if p.squad == SQUAD]
    weak = found["华数-0003"]
    packet = Packet(header=header(), person=weak, squad_members=len(squad))
    packet.lines = metric_lines(weak, squad, squad, None, {"tasks_submitted"}, OPTIONS)
    packet.coaching = needs_coaching(weak, OPTIONS)
    packet.gold_warning = gold_warning(weak, OPTIONS)
    packet.focus = "漏标: on 16 of the 30 rejected audits (53.3%). Go through those tasks first."
    text = packet_summary(packet)
    assert text[0] == (
        "标注员 3 号 (华数-0003; squad 华数-一组, level L2, 98 weeks since joining) submitted 300 "
        "tasks (squad median 200), AHT 30.0s, audit pass rate 50.0% of 60 audits (95% "
        "interval 37.7%–62.3%), gold accuracy 50.0% of 30 gold tasks (95% interval "
        "33.2%–66.8%)."
    )
    assert text[1].startswith("Needs coaching: audit pass rate 50.0% of 60 audits: at most")
    assert "gold accuracy 50.0% of 30 gold tasks" in text[1]
    assert text[2] == "Gold warning: 50.0% of 30 gold tasks, below 75.0% after more than 7."
    assert "Strengths (the squad's top quarter): volume (tasks submitted)." in text
    assert text[-1].startswith("Suggested focus: 漏标")
    good = found["华数-0002"]
    calm = Packet(header=header(), person=good, squad_members=len(squad))
    calm.lines = metric_lines(good, squad, squad, None, set(), OPTIONS)
    lines = packet_summary(calm)
    assert lines[1] == (
        "No quality rate is demonstrably below its target (85.0% audit pass rate, 80.0% gold "
        "accuracy) with 95% confidence."
    )
    assert "No metric in the squad's top quarter this period." in lines


def test_squad_members_ranked_fairly_then_unranked_then_idle() -> None:
    squad = [p for p in people() if p.squad == SQUAD]
    rows = member_rows(squad, {}, OPTIONS)
    assert [(r.person.annotator_id, r.rank, r.status) for r in rows] == [
        ("华数-0001", 1, "ranked"),  # 80/80: lower bound 95.4%
        ("华数-0002", 2, "ranked"),  # 38/40: 83.5%
        ("华数-0005", 3, "ranked"),  # 29/30: 83.3%
        ("华数-0003", 4, "coaching"),  # 30/60: 37.7%
        ("华数-0004", None, "small"),  # 6 audits
        ("华数-0006", None, "inactive"),
    ]
    assert [r.gold_warning for r in rows] == [False, False, False, True, False, False]
    assert [r.person.annotator_id for r in coaching_order(rows)] == ["华数-0003"]


def test_coaching_order_is_the_largest_shortfall_first() -> None:
    many = everyone(
        [
            row("a", **work(200, 100, 80)),  # upper bound 86.7%: not flagged at 85%
            row("b", **work(200, 100, 70)),  # 78.1%
            row("c", **work(200, 100, 50)),  # 59.6%
        ],
        [],
        DAY,
        0.95,
    )
    rows = member_rows(many, {}, OPTIONS)
    assert [r.person.annotator_id for r in coaching_order(rows)] == ["c", "b"]


def test_the_squad_summary_says_who_and_why() -> None:
    squad = [p for p in people() if p.squad == SQUAD]
    page = SquadPage(header=header(), squad=SQUAD, managers=["华数-组长-1"], weeks_covered=2)
    page.members = member_rows(squad, {}, OPTIONS)
    page.coaching = coaching_order(page.members)
    page.gold_warnings = [w for p in squad if (w := gold_warning(p, OPTIONS)) is not None]
    page.totals = Figures(combine([p.figures.sums for p in squad]), PERIOD.seconds)
    assert squad_summary(page) == [
        "Squad 华数-一组 (manager 华数-组长-1): 6 members, 5 active in the period, 4 with enough "
        "samples to be ranked (20 submitted tasks and 10 audits).",
        "Together: 1,290 tasks, AHT 25.3s, audit pass rate 83.3% of 216 audits, gold accuracy "
        "84.1% of 126 gold tasks.",  # 180/216 approved, 106/126 gold
        "Needs coaching (1): 标注员 3 号.",
        "Nobody is ready for advancement yet.",
        "Gold warnings (1): 标注员 3 号 50.0% of 30.",
    ]
