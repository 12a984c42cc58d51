"""Projects: figures per project, queues, alerts still firing at the end."""

from __future__ import annotations

from datetime import timedelta

from reports.sections.projects import project_rows
from reports.types import Incident
from tests.unit.reports.rows import DRIVING, MEDICAL, SPEECH, at, sums


def episode(project: str, ongoing: bool) -> Incident:
    start = at("2026-12-07 01:15")
    return Incident(
        fingerprint=f"fp-{project}-{ongoing}",
        rule="vendor_quality_low",
        severity="critical",
        metric="audit_pass_rate",
        scope={"project_id": project, "vendor_id": "华数标注"},
        starts_at=start,
        ends_at=None if ongoing else start + timedelta(minutes=30),
        fired_at=start + timedelta(minutes=15),
        duration_s=1800.0,
        ongoing=ongoing,
        worst_value=0.6,
        threshold=0.85,
        summary="",
        before_period=False,
    )


def test_projects_sum_their_queues_busiest_first() -> None:
    rows = [
        sums(
            project_id=MEDICAL,
            queue_id="病灶框选",
            tasks_submitted=120,
            audits=20,
            audits_approved=18,
        ),
        sums(
            project_id=MEDICAL,
            queue_id="图像分割",
            tasks_submitted=80,
            audits=10,
            audits_approved=6,
        ),
        sums(project_id=DRIVING, queue_id="lidar-boxes", tasks_submitted=300),
        sums(project_id=SPEECH, queue_id="客服录音转写", tasks_submitted=200),
    ]
    projects = project_rows(rows, [], seconds=3600)
    # 300 > 200 = 200: the tie is broken by name (ASCII before CJK in code points).
    assert [p.project_id for p in projects] == [DRIVING, MEDICAL, SPEECH]
    medical = projects[1]
    assert medical.queues == 2
    assert medical.figures.n("tasks_submitted") == 200
    assert medical.figures.rate("audit_pass_rate") == 24 / 30
    assert medical.figures.rate("throughput_per_hour") == 200.0
    assert [p.firing_at_end for p in projects] == [0, 0, 0]


def test_only_episodes_still_firing_count_against_their_project() -> None:
    rows = [sums(project_id=MEDICAL, queue_id="病灶框选", tasks_submitted=1)]
    incidents = [episode(MEDICAL, True), episode(MEDICAL, True), episode(MEDICAL, False)]
    incidents.append(episode(DRIVING, True))  # no activity in the period: not a row
    [medical] = project_rows(rows, incidents, seconds=60)
    assert medical.firing_at_end == 2


def test_no_rows_no_projects() -> None:
    assert project_rows([], [episode(MEDICAL, True)], seconds=60) == []
