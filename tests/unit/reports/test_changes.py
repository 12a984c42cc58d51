"""What changed: the spans compared, entity figures, material movers."""

from __future__ import annotations

from typing import Any

import pytest

from reports.period import Period
from reports.sections.changes import comparison, entity_figures, two_proportion_z, what_changed
from tests.unit.reports.rows import APEX, DRIVING, HUASHU, IN_HOUSE, MEDICAL, at, sums

HALF = 1800.0
HALVES = comparison(Period(at("2026-12-07 01:00"), at("2026-12-07 02:00")), at("2026-12-07 01:00"))


def vendor(project: str, name: str, source: str = "human", **fields: Any) -> dict[str, Any]:
    return sums(project_id=project, vendor_id=name, source=source, **fields)


def queue(project: str, name: str, **fields: Any) -> dict[str, Any]:
    return sums(project_id=project, queue_id=name, **fields)


def test_the_previous_period_when_the_data_covers_it() -> None:
    period = Period(at("2026-12-07 02:00"), at("2026-12-07 03:00"))
    compared = comparison(period, at("2026-12-07 00:30"))
    assert compared is not None
    assert compared.basis == "previous"
    assert compared.before == Period(at("2026-12-07 01:00"), at("2026-12-07 02:00"))
    assert compared.after == period
    assert compared.text == ("the previous period of the same length (2026-12-07 01:00–02:00 UTC)")


def test_otherwise_the_halves_in_whole_minutes() -> None:
    period = Period(at("2026-12-07 01:00"), at("2026-12-07 01:47:30"))  # 2,850 s
    compared = comparison(period, at("2026-12-07 00:59"))
    assert compared is not None
    assert compared.basis == "halves"
    # 1,425 s rounded down to 23 whole minutes.
    assert compared.before == Period(at("2026-12-07 01:00"), at("2026-12-07 01:23"))
    assert compared.after == Period(at("2026-12-07 01:23"), at("2026-12-07 01:47:30"))
    assert compared.text == (
        "the first half of the period (2026-12-07 01:00–01:23 UTC) "
        "vs. the second half (2026-12-07 01:23–01:47 UTC)"
    )
    assert (
        comparison(
            Period(at("2026-12-07 01:00"), at("2026-12-07 01:01:30")), at("2026-12-07 01:00")
        )
        is None
    )
    two = comparison(Period(at("2026-12-07 01:00"), at("2026-12-07 01:02")), at("2026-12-07 01:00"))
    assert two is not None and two.before.seconds == 60


def test_entity_figures_per_project_vendor_and_queue() -> None:
    figures = entity_figures(
        [
            vendor(MEDICAL, HUASHU, tasks_submitted=30),
            vendor(MEDICAL, HUASHU, source="hybrid", tasks_submitted=10),
            vendor(MEDICAL, IN_HOUSE, tasks_submitted=5),
            vendor(DRIVING, APEX, source="machine", tasks_submitted=7),
        ],
        [
            queue(MEDICAL, "病灶框选", tasks_submitted=45),
            queue(DRIVING, "lidar-boxes", tasks_submitted=7),
        ],
        HALF,
    )
    assert {k: f.n("tasks_submitted") for k, f in figures.items()} == {
        ("project", MEDICAL, MEDICAL): 45,
        ("project", DRIVING, DRIVING): 7,
        ("vendor", MEDICAL, "华数标注"): 40,
        ("vendor", MEDICAL, "(in-house)"): 5,
        ("vendor", DRIVING, "(machine labels)"): 7,
        ("queue", MEDICAL, "病灶框选"): 45,
        ("queue", DRIVING, "lidar-boxes"): 7,
    }
    assert figures[("project", MEDICAL, MEDICAL)].rate("throughput_per_hour") == 90.0


def test_movers_are_material_one_per_metric_and_project() -> None:
    assert HALVES is not None
    before = entity_figures(
        [
            vendor(MEDICAL, HUASHU, tasks_submitted=300, audits=200, audits_approved=120),
            vendor(MEDICAL, IN_HOUSE, tasks_submitted=100, audits=100, audits_approved=95),
            vendor(
                DRIVING,
                APEX,
                tasks_submitted=600,
                handle_time_sum_s=30_000.0,
                audits=50,
                audits_approved=45,
            ),
        ],
        [
            queue(MEDICAL, "病灶框选", tasks_submitted=400, audits=300, audits_approved=215),
            queue(
                DRIVING,
                "lidar-boxes",
                tasks_submitted=600,
                handle_time_sum_s=30_000.0,
                audits=50,
                audits_approved=45,
            ),
        ],
        HALF,
    )
    after = entity_figures(
        [
            vendor(MEDICAL, HUASHU, tasks_submitted=300, audits=200, audits_approved=190),
            vendor(MEDICAL, IN_HOUSE, tasks_submitted=100, audits=100, audits_approved=95),
            vendor(
                DRIVING,
                APEX,
                tasks_submitted=300,
                handle_time_sum_s=15_000.0,
                audits=50,
                audits_approved=44,
            ),
        ],
        [
            queue(MEDICAL, "病灶框选", tasks_submitted=400, audits=300, audits_approved=285),
            queue(
                DRIVING,
                "lidar-boxes",
                tasks_submitted=300,
                handle_time_sum_s=15_000.0,
                audits=50,
                audits_approved=44,
            ),
        ],
        HALF,
    )
    changes = what_changed(HALVES, before, after)
    assert changes.basis == "halves" and changes.basis_text == HALVES.text
    # Pass rate on 医疗影像标注: project and queue 215/300 -> 285/300 (+23.3 pp, 11.7x the
    # 2 pp floor), 华数标注 120/200 -> 190/200 (+35 pp, 17.5x): the vendor holds the slot.
    # Throughput on autonomous-driving halves (-50 %, 3.3x the 15 % floor) for the project,
    # the vendor and the queue alike: the first seen (the project) holds it. Its pass rate
    # 45/50 -> 44/50 (|z| 0.3) and its unchanged AHT are not movers.
    assert [(m.kind, m.name, m.metric) for m in changes.movers] == [
        ("vendor", "华数标注", "audit_pass_rate"),
        ("project", DRIVING, "throughput_per_hour"),
    ]
    quality, throughput = changes.movers
    assert (quality.before, quality.after) == (0.6, 0.95)
    assert quality.change == pytest.approx(0.35)
    assert quality.score == pytest.approx(17.5)
    assert (quality.before_samples, quality.after_samples) == (200, 200)
    assert quality.better
    assert quality.sentence == (
        "Audit pass rate of vendor 华数标注 on 医疗影像标注 rose from 60.0% to 95.0% (+35.0 pp)."
    )
    assert (throughput.before, throughput.after, throughput.change) == (1200.0, 600.0, -0.5)
    assert throughput.score == pytest.approx(0.5 / 0.15)
    assert not throughput.better
    assert throughput.sentence == (
        "Throughput of project autonomous-driving fell from 1,200 tasks/h to 600 tasks/h (-50%)."
    )
    # Overall, from the projects: 260/350 -> 329/350 audits, 1,000 -> 700 tasks in 30 minutes.
    assert changes.overall["audit_pass_rate"] == pytest.approx((260 / 350, 329 / 350))
    assert changes.overall["throughput_per_hour"] == (2000.0, 1400.0)
    assert changes.overall["aht_s"] == (30.0, 15_000 / 700)
    assert changes.overall["gold_accuracy"] == (None, None)
    assert len(what_changed(HALVES, before, after, limit=1).movers) == 1


def test_in_house_staff_and_vanished_machine_labels() -> None:
    assert HALVES is not None
    before = entity_figures(
        [
            vendor(MEDICAL, HUASHU, tasks_submitted=100, handle_time_sum_s=5000.0),
            vendor(MEDICAL, IN_HOUSE, tasks_submitted=100, handle_time_sum_s=5000.0),
            vendor(DRIVING, APEX, tasks_submitted=300),
            vendor(DRIVING, APEX, source="machine", tasks_submitted=90),
        ],
        [],
        HALF,
    )
    after = entity_figures(
        [
            vendor(MEDICAL, HUASHU, tasks_submitted=100, handle_time_sum_s=5000.0),
            vendor(MEDICAL, IN_HOUSE, tasks_submitted=100, handle_time_sum_s=8000.0),
            vendor(DRIVING, APEX, tasks_submitted=300),
        ],
        [],
        HALF,
    )
    # AHT of the project 50 -> 65 s (+30 %), of in-house staff 50 -> 80 s (+60 %).
    # Throughput of machine labels 180/h -> none in the second half (-100 %); the project's
    # 780 -> 600 (-23 %) is smaller. A throughput change needs evidence before only.
    sentences = [m.sentence for m in what_changed(HALVES, before, after).movers]
    assert sentences == [
        "Throughput of machine labels on autonomous-driving fell from 180 tasks/h to "
        "0.0 tasks/h (-100%).",
        "Average handle time (AHT) of in-house staff on 医疗影像标注 rose from 50.0s to "
        "1m 20s (+60%).",
    ]


def test_small_or_thin_changes_are_not_movers() -> None:
    assert HALVES is not None
    # 9,000/10,000 -> 9,100/10,000: |z| 2.4 but 1 pp, under the 2 pp floor.
    # 20/29 -> 29/29: a big change on fewer than 30 audits.
    before = entity_figures(
        [
            vendor(MEDICAL, HUASHU, audits=10_000, audits_approved=9_000),
            vendor(DRIVING, APEX, audits=29, audits_approved=20),
        ],
        [],
        HALF,
    )
    after = entity_figures(
        [
            vendor(MEDICAL, HUASHU, audits=10_000, audits_approved=9_100),
            vendor(DRIVING, APEX, audits=29, audits_approved=29),
        ],
        [],
        HALF,
    )
    assert what_changed(HALVES, before, after).movers == []


def test_two_proportion_z() -> None:
    # pooled 310/400 = 0.775; se = sqrt(0.775 * 0.225 * (1/200 + 1/200)) = 0.0417582
    assert two_proportion_z(0.6, 200, 0.95, 200) == pytest.approx(0.35 / 0.0417582, rel=1e-5)
    assert two_proportion_z(1.0, 50, 1.0, 80) == 0.0  # no variance
