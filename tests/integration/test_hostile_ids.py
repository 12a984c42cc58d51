"""Hostile ids already stored in ClickHouse, through ``annotel report`` (HTML and Markdown),
``annotel coach`` and ``annotel squad`` (HTML and Markdown), ``annotel top`` and
``annotel alerts list`` (text and JSON).

Events go in through the production path (``streams.testing``) under plain ids;
their rows are then copied under hostile ids with SQL, the way rows written by
an older version or another writer could hold them, whatever today's contract
accepts: markup (``<script>``, ``<img onerror>``, ``javascript:`` links, pipes,
backticks, Slack mentions) and characters that act on a terminal or reorder
text (``ESC ]0;`` title, ``ESC [2J``, C1 CSI, bidi overrides, zero-width).
The alert row carries the same ids in its scope; a roster row (written
with SQL, as ``annotel roster check`` would refuse it) gives the hostile
annotator a hostile display name and squad. Every output is then checked
as its reader gets it: Markdown rendered by GitHub's renderer with raw HTML
allowed, terminal text for control characters, JSON for exact values.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import unicodedata
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cmarkgfm  # type: ignore[import-untyped]
import pytest
from cmarkgfm.cmark import Options  # type: ignore[import-untyped]

from schemas.display import UNSAFE_CATEGORIES
from streams.rows import alert_row

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 23, 8, tzinfo=UTC)
HOSTILE = {
    "project_id": "<script>alert(1)</script>\x1b]0;pwned\x07",
    "queue_id": "q|x|y\u202efdp.exe",
    "vendor_id": "[click](javascript:alert(1))\u200b",
    "annotator_id": '<img src=x onerror="alert(1)">\x1b[2J',
}
CATEGORY = "@here <!channel> `x`\x9b31m"
SQUAD = "squad|<b>x</b>[y](javascript:z)\u202e"
DISPLAY = "<svg onload=alert(1)>\x1b[31m名字"
PLAIN = {"project_id": "P", "queue_id": "Q", "vendor_id": "V", "annotator_id": "A"}


def _lines() -> list[bytes]:
    lines = []
    for i in range(6):
        at = START + timedelta(seconds=20 * i)
        common = {
            "schema_version": 1,
            **PLAIN,
            "task_id": f"t{i}",
            "locale": "en-US",
            "source": "human",
        }
        lines.append(
            {
                **common,
                "event_type": "task_completed",
                "event_id": f"tc{i}",
                "occurred_at": at.isoformat(),
                "task_type": "bbox",
                "status": "submitted",
                "handle_time_s": 30.0,
                "task_created_at": (at - timedelta(minutes=5)).isoformat(),
                "attempt": 1,
            }
        )
        lines.append(
            {
                **common,
                "event_type": "task_audited",
                "event_id": f"ta{i}",
                "occurred_at": (at + timedelta(seconds=5)).isoformat(),
                "auditor_id": "qa",
                "verdict": "reject" if i % 2 else "approve",
                "error_categories": ["E"] if i % 2 else [],
                "score": 0.5,
                "audit_kind": "spot",
                "audit_time_s": 5.0,
            }
        )
    return [json.dumps(line).encode() for line in lines]


def _cli(argv: list[str]) -> dict[str, Any]:
    from annotel.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        code = main(argv)
    return {"rc": code, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}


def child(data_dir: str, out_dir: str) -> None:
    """Store the hostile rows, run every command; chDB stays in this child process."""
    from alerts.model import AlertEvent, fingerprint
    from sinks.client import connect
    from sinks.migrate import migrate
    from sinks.writer import ClickHouseWriter
    from streams.testing import write

    client = connect("chdb://" + str(Path(data_dir) / "clickhouse"))
    migrate(client)
    writer = ClickHouseWriter(lambda: client)
    write(writer, _lines())
    params = {**HOSTILE, "category": CATEGORY}
    replace = ", ".join(f"{{{k}:String}} AS {k}" for k in HOSTILE)
    client.command(
        # The subquery filters on the stored id: REPLACE's aliases would shadow it in a WHERE.
        f"INSERT INTO metrics_1m SELECT * REPLACE ({replace}) "
        "FROM (SELECT * FROM metrics_1m WHERE project_id = 'P')",
        parameters=params,
    )
    client.command(
        f"INSERT INTO audit_errors_1m SELECT * REPLACE ({replace}, {{category:String}} AS "
        "error_category) FROM (SELECT * FROM audit_errors_1m WHERE project_id = 'P')",
        parameters=params,
    )
    scope = {k: HOSTILE[k] for k in ("project_id", "queue_id", "vendor_id")}
    event = AlertEvent(
        fingerprint=fingerprint("vendor_quality_low", scope),
        rule="vendor_quality_low",
        status="firing",
        severity="critical",
        scope=scope,
        labels={"alertname": "vendor_quality_low", "severity": "critical", **scope},
        annotations={"summary": f"pass rate 50% for {HOSTILE['vendor_id']} {CATEGORY}"},
        metric="audit_pass_rate",
        value=0.5,
        threshold=0.8,
        window_start=START,
        window_end=START + timedelta(minutes=15),
        starts_at=START,
    )
    writer.write({"alerts": [alert_row(event, emitted_at=event.window_end)]})
    client.insert(
        "roster",
        [
            [
                HOSTILE["annotator_id"],
                DISPLAY,
                SQUAD,
                DISPLAY,
                "",
                None,
                "L1",
                [CATEGORY],
                1,
                0,
                START,
            ]
        ],
        column_names=[
            "annotator_id",
            "display_name",
            "squad",
            "manager",
            "vendor_id",
            "start_date",
            "level",
            "tags",
            "version",
            "is_deleted",
            "loaded_at",
        ],
    )
    client.close()
    source = ["--data-dir", data_dir]
    out = Path(out_dir)
    small = ["--min-tasks", "1", "--min-audits", "1", "--min-gold", "0"]
    runs = {
        "md": _cli(["report", *source, *small, "--format", "md", "--out", str(out / "r.md")]),
        "html": _cli(["report", *source, *small, "--out", str(out / "r.html")]),
        "top": _cli(["top", *source]),
        "top_json": _cli(["top", *source, "--json"]),
        "alerts": _cli(["alerts", "list", *source]),
        "alerts_json": _cli(["alerts", "list", *source, "--json"]),
    }
    judge = ["--min-tasks", "1", "--min-audits", "1", "--min-gold", "1"]
    for name, argv in {
        "coach": ["coach", HOSTILE["annotator_id"]],
        "squad": ["squad", SQUAD],
    }.items():
        runs[f"{name}_md"] = _cli(
            [*argv, *source, *judge, "--format", "md", "--out", str(out / f"{name}.md")]
        )
        runs[f"{name}_html"] = _cli([*argv, *source, *judge, "--out", str(out / f"{name}.html")])
    (out / "result.json").write_text(json.dumps(runs, ensure_ascii=True))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("hostile")
    out = base / "out"
    out.mkdir()
    code = "import sys; from tests.integration.test_hostile_ids import child; child(*sys.argv[1:])"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(base / "data"), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"child failed:\n{proc.stdout}\n{proc.stderr}"
    runs: dict[str, Any] = json.loads((out / "result.json").read_text())
    for name, run in runs.items():
        assert run["rc"] == 0, (name, run)
    runs["md_text"] = (out / "r.md").read_text(encoding="utf-8")
    runs["html_text"] = (out / "r.html").read_text(encoding="utf-8")
    for name in ("coach", "squad"):
        runs[f"{name}_md_text"] = (out / f"{name}.md").read_text(encoding="utf-8")
        runs[f"{name}_html_text"] = (out / f"{name}.html").read_text(encoding="utf-8")
    return runs


def unsafe_in(text: str) -> list[str]:
    return [
        f"U+{ord(c):04X}"
        for c in text
        if c != "\n" and unicodedata.category(c) in UNSAFE_CATEGORIES
    ]


def test_no_output_carries_a_control_bidi_or_zero_width_character(world: dict[str, Any]) -> None:
    for name in ("top", "top_json", "alerts", "alerts_json", *COACHING_RUNS):
        assert unsafe_in(world[name]["stdout"] + world[name]["stderr"]) == [], name
    for name in ("md_text", "html_text", *(f"{run}_text" for run in COACHING_RUNS)):
        assert unsafe_in(world[name]) == [], name


def test_terminal_outputs_show_the_ids_as_escapes(world: dict[str, Any]) -> None:
    top = world["top"]["stdout"]
    assert "<script>alert(1)</script>\\u001b]0;pwned\\u0007" in top
    alerts = world["alerts"]["stdout"]
    assert "q|x|y\\u202efdp.exe" in alerts and "\\u200b" in alerts


def test_json_outputs_hold_the_exact_stored_values(world: dict[str, Any]) -> None:
    projects = {p["project_id"] for p in json.loads(world["top_json"]["stdout"])["projects"]}
    assert HOSTILE["project_id"] in projects
    [alert] = json.loads(world["alerts_json"]["stdout"])
    assert alert["scope"] == {k: HOSTILE[k] for k in ("project_id", "queue_id", "vendor_id")}


def _rendered(text: str) -> str:
    """Markdown as GitHub renders it, raw HTML allowed; no markup of the data in it, and
    every table row with its header's number of cells (no pipe from the data split one)."""
    html: str = cmarkgfm.markdown_to_html_with_extensions(
        text, options=Options.CMARK_OPT_UNSAFE, extensions=["table", "autolink", "strikethrough"]
    )
    for forbidden in ("<script", "<img", "<svg", "<b>", "<a ", 'javascript:alert(1)"', 'onerror="'):
        assert forbidden not in html, forbidden
    tables = [t.split("</table>")[0] for t in html.split("<table>")[1:]]
    for table in tables:
        head, _, body = table.partition("</thead>")
        columns = len(re.findall(r"<th[ >]", head))
        for row in body.split("<tr>")[1:]:
            assert len(re.findall(r"<td[ >]", row)) == columns, row
    return html


def test_markdown_renders_no_markup_from_the_data(world: dict[str, Any]) -> None:
    html = _rendered(world["md_text"])
    tables = [t.split("</table>")[0] for t in html.split("<table>")[1:]]
    assert sum("<td" in t for t in tables) >= 5  # projects, incidents, vendors, annotators, ...
    # The ids are there, as text.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\u001b]0;pwned\\u0007" in html
    assert "[click](javascript:alert(1))\\u200b" in html
    assert "@here &lt;!channel&gt; `x`\\u009b31m" in html


def test_html_report_escapes_every_id(world: dict[str, Any]) -> None:
    page = world["html_text"]
    for forbidden in ("<script", "<img", " href=", 'onerror="'):
        assert forbidden not in page, forbidden
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\u001b]0;pwned\\u0007" in page


COACHING_RUNS = ("coach_md", "coach_html", "squad_md", "squad_html")


def test_coaching_pages_show_hostile_names_as_text(world: dict[str, Any]) -> None:
    for name in ("coach_md_text", "squad_md_text"):
        html = _rendered(world[name])
        assert "&lt;svg onload=alert(1)&gt;\\u001b[31m名字" in html, name
        assert "squad|&lt;b&gt;x&lt;/b&gt;[y](javascript:z)\\u202e" in html, name
    for name in ("coach_html_text", "squad_html_text"):
        page = world[name]
        for forbidden in ("<script", "<img", "<svg onload", "<b>x", " href=", 'onerror="'):
            assert forbidden not in page, (name, forbidden)
        assert "&lt;svg onload=alert(1)&gt;\\u001b[31m名字" in page, name
    # The error category from the aggregates is escaped in the coaching pages too.
    assert "@here &lt;!channel&gt; `x`\\u009b31m" in world["coach_html_text"]
