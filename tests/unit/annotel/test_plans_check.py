"""``annotel plans check``: located problems (exit 1), a summary (exit 0), the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotel.cli import main
from streams.plans_file import PlansError, parse_plans

GOOD = """version: 1
plans:
  - project_id: 医疗影像标注
    queue_id: 队列-分割
    due_at: 2026-12-11T18:00:00+08:00
    target_total: 50000
    daily_target: 10000
  - project_id: 医疗影像标注
    queue_id: lidar-boxes
    utilization: 0.6
    hours_per_day: 10
"""


def test_a_good_file_is_summarised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "plans.yaml"
    path.write_text(GOOD, encoding="utf-8")
    assert main(["plans", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert out == f"{path}: valid: 2 plans, 1 with a deadline (the last 2026-12-11T10:00:00Z)\n"
    plans = parse_plans(GOOD).plans
    assert plans[1].due_at is None and plans[1].utilization == 0.6
    assert plans[0].hours_per_day == 8 and plans[0].utilization == 0.75  # the defaults


def test_every_problem_is_listed_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plans.yaml"
    text = GOOD.replace("+08:00", "").replace("0.6", "1.5").replace("daily_target", "daily")
    path.write_text(text, encoding="utf-8")
    assert main(["plans", "check", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"{path}: line 5: plans[0].due_at: timestamp must carry a UTC offset",
        f"{path}: line 7: plans[0].daily: Extra inputs are not permitted",
        f"{path}: line 10: plans[1].utilization: Input should be less than or equal to 1",
    ]
    assert captured.err == f"{path}: invalid (3 problems)\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD + "  - {project_id: 医疗影像标注, queue_id: 队列-分割}\n", "two plans for project"),
        ("version: 1\nplans: [\n", "YAML refused"),
        ("version: 2\nplans: []\n", "line 1: version: Input should be less than or equal to 1"),
        ("- a\n", "the file must be a mapping"),
        ("version: 1\nversion: 1\n", "line 2: top level: duplicate key 'version'"),
    ],
)
def test_what_the_worker_refuses(text: str, expected: str) -> None:
    with pytest.raises(PlansError) as caught:
        parse_plans(text)
    assert expected in str(caught.value)


def test_the_setting_is_the_default_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ANNOTEL_PLANS_FILE", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env
    assert main(["plans", "check"]) == 2
    assert "give FILE or set ANNOTEL_PLANS_FILE" in capsys.readouterr().err
    path = tmp_path / "plans.yaml"
    path.write_text(GOOD, encoding="utf-8")
    monkeypatch.setenv("ANNOTEL_PLANS_FILE", str(path))
    assert main(["plans", "check"]) == 0
