"""The narrative sentences, from a hand-built report."""

from __future__ import annotations

from datetime import timedelta

from reports.figures import Figures, combine
from reports.period import Period
from reports.sections.summary import notice, summary_sentences
from reports.types import (
    Changes,
    ErrorRow,
    Incident,
    Options,
    ProjectRow,
    Report,
    SlaCell,
    SlaSection,
)
from tests.unit.reports.rows import DRIVING, HUASHU, MEDICAL, at, sums

PERIOD = Period(at("2026-12-07 01:00"), at("2026-12-07 03:00"))
TOTALS = Figures(
    combine(
        [
            sums(
                tasks_submitted=1200,
                handle_time_sum_s=54_000.0,
                audits=400,
                audits_approved=380,
                gold_submitted=100,
                gold_correct=88,
            )
        ]
    ),
    PERIOD.seconds,
)


def report(**sections: object) -> Report:
    built = Report(
        period=PERIOD,
        generated_at=at("2030-01-01 00:00"),
        source="chdb:///data/clickhouse",
        rules_file="rules.yaml",
        data_first=PERIOD.start,
        data_last=PERIOD.end - timedelta(minutes=1),
        options=Options(),
        totals=TOTALS,
        projects=[ProjectRow(MEDICAL, TOTALS, 2), ProjectRow(DRIVING, TOTALS, 1)],
    )
    for name, value in sections.items():
        setattr(built, name, value)
    return built


def incident(
    rule: str, severity: str, minutes: int, ongoing: bool, scope: dict[str, str]
) -> Incident:
    start = at("2026-12-07 01:30")
    return Incident(
        fingerprint=f"fp-{rule}-{minutes}",
        rule=rule,
        severity=severity,
        metric="audit_pass_rate",
        scope=scope,
        starts_at=start,
        ends_at=None if ongoing else start + timedelta(minutes=minutes),
        fired_at=start,
        duration_s=minutes * 60.0,
        ongoing=ongoing,
        worst_value=0.5,
        threshold=0.75,
        summary="",
        before_period=False,
    )


def test_every_part_of_the_narrative() -> None:
    changes = Changes(
        "halves",
        Period(PERIOD.start, at("2026-12-07 02:00")),
        Period(at("2026-12-07 02:00"), PERIOD.end),
        {
            "throughput_per_hour": (700.0, 500.0),
            "aht_s": (40.0, 50.0),
            "audit_pass_rate": (0.93, 0.97),
            "gold_accuracy": (None, 0.88),  # no gold in the first half: left out
        },
        [],
        "the two halves",
    )
    incidents = [
        incident(
            "vendor_quality_low",
            "critical",
            30,
            False,
            {"project_id": MEDICAL, "vendor_id": HUASHU},
        ),
        incident(
            "annotator_quality_low",
            "warning",
            188,
            True,
            {"project_id": MEDICAL, "vendor_id": HUASHU, "annotator_id": "华数-0033"},
        ),
        incident("aht_high", "warning", 15, False, {}),
    ]
    sla = SlaSection(
        [],
        [
            SlaCell("vendor_quality_low", MEDICAL, windows=10, met=9),
            SlaCell("annotator_quality_low", MEDICAL, windows=35, met=31),
            SlaCell("queue_stalled", None),  # nothing judged: not a candidate
        ],
        [],
    )
    errors = [ErrorRow("意图错误", 50, 0.016, 0.5, "assistant-intents", 41)]
    built = report(changes=changes, incidents=incidents, sla=sla, errors=errors)
    assert summary_sentences(built) == [
        # 1,200 tasks in 2 h; 380/400 audits; 88/100 gold; 54,000 s / 1,200 tasks.
        "1,200 tasks were submitted (600 per hour) across 2 projects; audit pass rate 95.0% "
        "over 400 audits, gold accuracy 88.0% over 100 gold tasks, AHT 45.0s.",
        "Compared: the two halves. Overall: throughput 700 tasks/h → 500 tasks/h (-29%); "
        "average handle time 40.0s → 50.0s (+25%); audit pass rate 93.0% → 97.0% (+4.0 pp).",
        "No project, vendor or queue moved materially between the two.",
        "3 alert episodes (1 critical, 2 warning); 1 still firing at the end of the period. "
        "Longest: annotator_quality_low for 医疗影像标注, 华数标注, 华数-0033 (≥ 3h 08m).",
        "Lowest SLA attainment: annotator_quality_low on 医疗影像标注, 88.6% of 35 rule "
        "windows met.",
        "Most frequent error category: 意图错误 (1.6% of audits, mostly on assistant-intents).",
    ]


def test_a_quiet_period() -> None:
    changes = Changes(
        "previous",
        Period(at("2026-12-06 23:00"), PERIOD.start),
        PERIOD,
        {
            "throughput_per_hour": (0.0, 600.0),  # from nothing: no relative change
            "aht_s": (None, 45.0),
            "audit_pass_rate": (None, 0.95),
            "gold_accuracy": (None, 0.88),
        },
        [],
        "the previous period",
    )
    sla = SlaSection(
        [],
        [SlaCell("aht_high", None, windows=8, met=8), SlaCell("x", DRIVING, windows=4, met=4)],
        [],
    )
    sentences = summary_sentences(report(changes=changes, sla=sla))
    assert sentences[1:] == [
        "No project, vendor or queue moved materially between the two.",
        "No alert fired in the period.",
        "Every SLA was met: all 12 judged rule windows.",
    ]


def test_the_lowest_attainment_of_a_rule_over_all_projects() -> None:
    # 3 of 4 and 6 of 8 are both 75 %: the one judged on more windows is named.
    cells = [
        SlaCell("vendor_quality_low", MEDICAL, windows=4, met=3),
        SlaCell("aht_high", None, windows=8, met=6),
    ]
    sla = SlaSection([], cells, [])
    sentences = summary_sentences(report(sla=sla))
    assert (
        sentences[-1]
        == "Lowest SLA attainment: aht_high on all projects, 75.0% of 8 rule windows met."
    )
    assert len(sentences) == 3  # totals, no alert, SLA: no comparison, no error categories


def test_the_notice_of_a_period_without_data() -> None:
    assert notice(None) == "The database has no metrics yet."
    assert notice((at("2026-12-07 01:00"), at("2026-12-07 01:47"))) == (
        "No annotation activity in this period. The data covers 2026-12-07 01:00–01:48 UTC."
    )
