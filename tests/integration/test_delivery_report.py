"""The report's Delivery section in headless Chromium: a burn-down per queue, with the
deadline and the ETA visible, from a simulated stream through the real aggregation
into chDB and ``annotel report``."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.integration.test_report import CHROMIUM, _chromium, _console

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 23, 1, tzinfo=UTC)


def populate(data_dir: str) -> None:
    """Simulated queues with delivery plans (a stall included), aggregated and written."""
    from simulator import Simulator
    from sinks.client import connect
    from sinks.migrate import migrate
    from sinks.writer import ClickHouseWriter
    from streams.delivery_rows import delivery_batch
    from streams.rows import rows_for_checkpoint
    from streams.testing import aggregate

    client = connect("chdb://" + str(Path(data_dir) / "clickhouse"))
    migrate(client)
    writer = ClickHouseWriter(lambda: client)
    sim = Simulator(3, START, ["queue_stall"], projects=1, tasks_per_second=1.0, delivery=True)
    state = aggregate(list(sim.events(n=12_000)))
    rows = rows_for_checkpoint([state], 1_800_000_000_000_000)
    rows["delivery_1m"] = delivery_batch([state], 1_800_000_000_000)  # type: ignore[list-item]
    writer.write(rows)
    expected = client.query(
        "SELECT queue_id, toUnixTimestamp64Milli(eta), toUnixTimestamp64Milli(due_at), "
        "open_tasks FROM delivery_current ORDER BY queue_id"
    ).result_rows
    client.close()
    (Path(data_dir) / "expected.json").write_text(json.dumps(expected, ensure_ascii=False))


def _label(millis: int | None) -> str | None:
    if millis is None:
        return None
    return datetime.fromtimestamp(millis // 1000, UTC).strftime("%a %d %b %H:%M UTC")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The populated data directory (in a child: chDB stays out of the test process)."""
    data = tmp_path_factory.mktemp("delivery") / "data"
    data.mkdir()
    code = f"from tests.integration.test_delivery_report import populate; populate({str(data)!r})"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=300)
    return data


def test_top_lists_open_tasks_eta_and_slack_per_queue(data: Path) -> None:
    expected = json.loads((data / "expected.json").read_text())
    argv = [sys.executable, "-m", "annotel", "top", "--data-dir", str(data)]
    shown = json.loads(
        subprocess.run([*argv, "--json"], check=True, cwd=ROOT, capture_output=True).stdout
    )["delivery"]
    assert sorted((r["queue_id"], r["open_tasks"]) for r in shown) == [
        (queue, open_tasks) for queue, _eta, _due, open_tasks in expected
    ]
    assert sorted(r["eta_us"] // 1000 for r in shown if r["eta_us"]) == sorted(
        eta for _q, eta, _due, _open in expected if eta
    )
    text = subprocess.run(argv, check=True, cwd=ROOT, capture_output=True, text=True).stdout
    assert "delivery: open tasks, ETA and slack per queue (UTC)" in text
    for queue, _eta, _due, open_tasks in expected:
        line = next(ln for ln in text.splitlines() if f"/ {queue}" in ln)
        assert f"{open_tasks:,}" in line


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_the_burn_down_shows_the_deadline_and_the_eta(data: Path, tmp_path: Path) -> None:
    expected = json.loads((data / "expected.json").read_text())
    assert len(expected) >= 2
    html = tmp_path / "report.html"
    subprocess.run(
        [sys.executable, "-m", "annotel", "report", "--data-dir", str(data), "--out", str(html)],
        check=True,
        cwd=ROOT,
        timeout=300,
        capture_output=True,
    )
    dom = _chromium(tmp_path, "--dump-dom", html.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert not _console(dom.stderr), _console(dom.stderr)
    page = dom.stdout
    # The Delivery section comes first, one burn-down per queue.
    assert page.index('id="delivery"') < page.index('id="summary"')
    assert page.count('data-chart="burn-down"') == len(expected)
    deadlines = re.findall(r'data-mark="deadline-label"[^>]*>deadline ([^<]+)<', page)
    etas = re.findall(r'data-mark="eta-label"[^>]*>ETA ([^<]+)<', page)
    assert sorted(deadlines) == sorted(_label(due) for _q, _eta, due, _open in expected)
    assert sorted(etas) == sorted(_label(eta) for _q, eta, _due, _open in expected if eta)
    assert page.count('data-mark="open-tasks"') == len(expected)

    shot = tmp_path / "delivery.png"
    run = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1800", html.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (1280, 1800)
    assert shot.stat().st_size > 50_000


def test_the_markdown_report_opens_with_the_delivery_table(data: Path, tmp_path: Path) -> None:
    expected = json.loads((data / "expected.json").read_text())
    out = tmp_path / "report.md"
    argv = [sys.executable, "-m", "annotel", "report", "--data-dir", str(data)]
    subprocess.run(
        [*argv, "--format", "md", "--out", str(out)],
        check=True,
        cwd=ROOT,
        timeout=300,
        capture_output=True,
    )
    text = out.read_text(encoding="utf-8")
    assert text.index("## Delivery") < text.index("## Summary")
    section = text[text.index("## Delivery") : text.index("## Summary")]
    rows = [ln for ln in section.splitlines() if ln.startswith("| ") and "---" not in ln][1:]
    assert len(rows) == len(expected)
    for queue, eta, due, open_tasks in expected:
        row = next(r for r in rows if f" {queue}" in r.split("|")[1])
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert cells[2] == f"{open_tasks:,}"
        assert cells[4] == (_label(eta) if eta else "stalled")
        assert cells[5] == _label(due)
    # Each queue's forecast in words and its burn-down as a text sparkline.
    assert section.count("open tasks over the period: ") == len(expected)
