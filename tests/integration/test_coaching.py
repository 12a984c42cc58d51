"""``annotel roster``, ``annotel coach`` and ``annotel squad`` on the demo's data.

The demo's simulated organisation (``annotel demo``'s seed and knobs) is written
through the production path without Kafka (``streams.testing``: decoder, partition
state, rows, writer), its roster file is written by the demo's own code
(``annotel.demo.roster``) and loaded with ``annotel roster load``. The pages are
then checked against the simulator's ground truth (the standout, the injected
low-quality annotators) and against figures recomputed from the raw event
tables, with an independent Wilson interval (``tests.wilson``).

Everything that opens chDB runs in a child process (see tests/integration/test_report.py).
"""

from __future__ import annotations

import csv
import html.parser
import http.server
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas.stats import wilson_sql
from tests.wilson import score_interval

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 23, 1, tzinfo=UTC)  # the demo's phase: 09:00 in Beijing
MIN_AUDITS, MIN_GOLD, MIN_TASKS = 10, 8, 20  # the commands' defaults
TARGET_PASS, TARGET_GOLD = 0.85, 0.80
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-proxy-server",
)
PACKET_CHARTS = {"coach-volume", "coach-aht", "coach-pass-rate", "coach-gold-accuracy"}
SQUAD_CHARTS = {
    "squad-ranking",
    "squad-volume",
    "squad-aht",
    "squad-pass-rate",
    "squad-gold-accuracy",
    "squad-errors",
}


def _cli(argv: list[str]) -> dict[str, Any]:
    from annotel.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    started = time.monotonic()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        code = main(argv)
    return {
        "argv": argv,
        "rc": code,
        "stdout": stdout.getvalue(),
        "stderr": stderr.getvalue(),
        "seconds": round(time.monotonic() - started, 3),
    }


RAW_SQL = {
    # Straight from the versions that count (the _current views over the accepted
    # events), not from the minute aggregates the pages read: a rework's audit
    # replaces the audit that sent the work back.
    "tasks": """SELECT annotator_id, any(vendor_id) AS vendor_id,
        countIf(status = 'submitted') AS submitted,
        countIf(status = 'submitted' AND is_gold) AS gold,
        countIf(status = 'submitted' AND is_gold AND gold_correct) AS gold_correct
        FROM task_events_current WHERE source != 'machine' GROUP BY annotator_id""",
    "audits": """SELECT annotator_id, count() AS audits, countIf(verdict = 'approve') AS approved,
        countIf(verdict = 'reject') AS rejects
        FROM audit_events_current WHERE source != 'machine' GROUP BY annotator_id""",
    "fixed_or_rejected": """SELECT annotator_id, task_id, verdict, error_categories, auditor_id
        FROM audit_events_current WHERE source != 'machine' AND verdict IN ('fix', 'reject')""",
    "weekly": """SELECT week, annotator_id, squad, audits, audits_approved, audit_pass_rate_lower,
        audit_pass_rate_upper, gold_submitted, gold_correct, gold_accuracy_lower
        FROM annotator_weekly""",
    "squad_daily": """SELECT day, squad, members, tasks_submitted, audits, audits_approved,
        audit_pass_rate_lower FROM squad_daily""",
    "scorecard": """SELECT audits, audit_pass_rate, audit_pass_rate_lower, audit_pass_rate_upper
        FROM annotator_scorecard_daily""",
}


def _raw(client: Any) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for name, sql in RAW_SQL.items():
        result = client.query(sql)
        out[name] = [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]
    grid = [(s, n) for n in (1, 3, 10, 40, 100) for s in sorted({0, 1, n // 2, n - 1, n})]
    columns = ", ".join(
        f"{wilson_sql(str(s), str(n), side)} AS b{i}_{side}"
        for i, (s, n) in enumerate(grid)
        for side in ("lower", "upper")
    )
    values = client.query(f"SELECT {columns}").result_rows[0]
    out["sql_bounds"] = [
        {"successes": s, "trials": n, "lower": values[2 * i], "upper": values[2 * i + 1]}
        for i, (s, n) in enumerate(grid)
    ]
    return out


def _squad_facts(page: Any) -> dict[str, Any]:
    """What the tests judge of a squad page, as plain values."""
    return {
        "members": [
            {
                "annotator_id": row.person.annotator_id,
                "rank": row.rank,
                "status": row.status,
                "tasks": row.person.figures.n("tasks_submitted"),
                "audits": row.person.bounds["audit_pass_rate"].trials,
                "approved": row.person.bounds["audit_pass_rate"].successes,
                "low": row.person.bounds["audit_pass_rate"].low,
            }
            for row in page.members
        ],
        "coaching": [
            {
                "annotator_id": row.person.annotator_id,
                "reasons": [
                    {"metric": r.metric, "trials": r.bounds.trials, "high": r.bounds.high}
                    for r in row.coaching
                ],
            }
            for row in page.coaching
        ],
        "ready": [
            {
                "annotator_id": a.person.annotator_id,
                "weeks": [
                    {"covered": w.covered, "start": w.period.start.isoformat()} for w in a.weeks
                ],
            }
            for a in page.advancement
            if a.ready
        ],
        "gold_warnings": [w.person.annotator_id for w in page.gold_warnings],
        "weeks_covered": page.weeks_covered,
    }


def child(data_dir: str, out_dir: str) -> None:
    """Populate with the demo's organisation, load its roster, run the commands."""
    from annotel.demo.plan import (
        DEFAULT_ANNOTATORS,
        DEFAULT_EVENTS,
        DEFAULT_PROJECTS,
        DEFAULT_SEED,
        DEFAULT_TASKS_PER_SECOND,
        DEFAULT_VENDORS,
    )
    from annotel.demo.roster import write_roster_file
    from reports.coaching_model import build_packet, build_squad, build_squad_changes
    from reports.sections.squad_changes import digest_text
    from simulator import Simulator
    from sinks.client import connect
    from sinks.migrate import migrate
    from sinks.writer import ClickHouseWriter
    from streams.testing import write

    out = Path(out_dir)
    source = ["--data-dir", data_dir]
    knobs = {
        "projects": DEFAULT_PROJECTS,
        "vendors": DEFAULT_VENDORS,
        "annotators": DEFAULT_ANNOTATORS,
        "tasks_per_second": DEFAULT_TASKS_PER_SECOND,
    }
    started = time.monotonic()
    client = connect("chdb://" + str(Path(data_dir) / "clickhouse"))
    migrate(client)
    sim = Simulator(DEFAULT_SEED, START, None, **knobs)
    write(ClickHouseWriter(lambda: client), list(sim.events(n=DEFAULT_EVENTS)))
    client.close()
    manifest = sim.manifest
    truth = manifest["world"]["roster"]
    roster_file = write_roster_file(DEFAULT_SEED, knobs, START, out / "roster.csv")
    populated_s = time.monotonic() - started

    squad_of = {m: name for name, s in truth["squads"].items() for m in s["members"]}
    standout = truth["standout"]
    weak = truth["low_quality"]
    squads = sorted({squad_of[standout], *(squad_of[w] for w in weak)})
    runs: dict[str, Any] = {
        "check": _cli(["roster", "check", str(roster_file)]),
        "load": _cli(["roster", "load", str(roster_file), *source]),
        "load_again": _cli(["roster", "load", str(roster_file), *source]),
        "coach_html": _cli(["coach", standout, *source, "--out", str(out / "coach.html")]),
        "coach_md": _cli(["coach", standout, *source, "--format", "md", "--out", "-"]),
        "coach_weak": _cli(["coach", weak[0], *source, "--format", "md", "--out", "-"]),
        "coach_squad": _cli(
            ["coach", "--squad", squad_of[standout], *source, "--out", str(out / "packets")]
        ),
        "coach_nobody": _cli(["coach", "nobody-0000", *source, "--out", str(out / "x.html")]),
        "squad_nobody": _cli(["squad", "no-such-squad", *source, "--out", str(out / "x.html")]),
        "unassigned": _cli(["squad", "unassigned", *source, "--format", "md", "--out", "-"]),
    }
    for i, squad in enumerate(squads):
        runs[f"squad_{i}"] = _cli(["squad", squad, *source, "--out", str(out / f"squad-{i}.html")])
    runs["squad_md"] = _cli(["squad", squad_of[standout], *source, "--format", "md", "--out", "-"])

    client = connect("chdb://" + str(Path(data_dir) / "clickhouse"), read_only=True)
    pages = {squad: _squad_facts(build_squad(client, squad)) for squad in squads}
    packet = build_packet(client, standout)
    digest = build_squad_changes(client, squad_of[standout])
    weak_packet = build_packet(client, weak[0])
    raw = _raw(client)
    client.close()

    # The roster changes: the standout moves to another squad, a low-quality annotator leaves.
    moved_to = next(name for name in sorted(truth["squads"]) if name != squad_of[standout])
    rows = list(csv.DictReader(roster_file.read_text(encoding="utf-8").splitlines()))
    for row in rows:
        if row["annotator_id"] == standout:
            row["squad"] = moved_to
    rows = [row for row in rows if row["annotator_id"] != weak[0]]
    changed = out / "roster-changed.csv"
    with changed.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    runs["load_changed"] = _cli(["roster", "load", str(changed), *source])
    client = connect("chdb://" + str(Path(data_dir) / "clickhouse"), read_only=True)
    regrouped = {
        "moved_to": moved_to,
        "new_squad": _squad_facts(build_squad(client, moved_to)),
        "old_squad": _squad_facts(build_squad(client, squad_of[standout])),
        "unassigned": _squad_facts(build_squad(client, "unassigned")),
        "weekly": [
            dict(zip(("annotator_id", "squad"), r, strict=True))
            for r in client.query(
                "SELECT DISTINCT annotator_id, squad FROM annotator_weekly "
                "WHERE annotator_id IN {ids:Array(String)}",
                parameters={"ids": [standout, weak[0]]},
            ).result_rows
        ],
    }
    client.close()
    result = {
        "manifest": {"world": manifest["world"]},
        "squad_of": squad_of,
        "squads": squads,
        "populate_s": round(populated_s, 3),
        "runs": runs,
        "pages": pages,
        "packet": {
            "annotator_id": packet.person.annotator_id,
            "tasks": packet.person.figures.n("tasks_submitted"),
            "lines": {
                line.metric: {"value": line.value, "samples": line.samples} for line in packet.lines
            },
            "task_ids": sorted(t.task_id for t in packet.tasks),
            "tasks_total": packet.tasks_total,
            "ready": packet.advancement.ready if packet.advancement else None,
        },
        "weak_packet": {
            "coaching": [r.metric for r in weak_packet.coaching],
            "focus": weak_packet.focus,
            "categories": [
                {"category": c.category, "rejects": c.rejects} for c in weak_packet.categories
            ],
        },
        "digest": {"newly_ready": digest.newly_ready, "text": digest_text(digest)},
        "raw": raw,
        "regrouped": regrouped,
    }
    (out / "result.json").write_text(json.dumps(result, ensure_ascii=False, default=str))


def _in_child(function: str, data_dir: Path, out_dir: Path) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    code = (
        f"import sys; from tests.integration.test_coaching import {function}; "
        f"{function}(*sys.argv[1:])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(data_dir), str(out_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"child failed:\n{proc.stdout}\n{proc.stderr}"
    result: dict[str, Any] = json.loads((out_dir / "result.json").read_text())
    return result


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("coaching")
    result = _in_child("child", base / "data", base / "out")
    result["out"] = base / "out"
    return result


# -- independent figures ---------------------------------------------------------------------


def _people(world: dict[str, Any]) -> dict[str, dict[str, Any]]:
    people: dict[str, dict[str, Any]] = {}
    for row in world["raw"]["tasks"]:
        people[row["annotator_id"]] = {**row, "audits": 0, "approved": 0, "rejects": 0}
    for row in world["raw"]["audits"]:
        people.setdefault(
            row["annotator_id"], {"submitted": 0, "gold": 0, "gold_correct": 0}
        ).update(row)
    return people


def _interval(successes: int, n: int) -> tuple[float, float]:
    return score_interval(successes, n, 0.95)


# -- tests -----------------------------------------------------------------------------------


def test_commands_succeed_and_the_roster_loads_once(world: dict[str, Any]) -> None:
    runs = world["runs"]
    for name, run in runs.items():
        if name not in ("coach_nobody", "squad_nobody"):
            assert run["rc"] == 0, f"{name}: {run['stderr']}"
    truth = world["manifest"]["world"]["roster"]
    listed = len(world["squad_of"])
    squads = len(truth["squads"])
    assert f"valid: {listed} annotators in {squads} squads" in runs["check"]["stdout"]
    assert f"({listed} added, 0 changed, 0 removed, 0 unchanged)" in runs["load"]["stdout"]
    assert runs["load_again"]["stdout"].endswith("(unchanged)\n")
    assert "(0 added, 1 changed, 1 removed," in runs["load_changed"]["stdout"]
    assert runs["coach_html"]["stdout"].startswith("wrote ")
    nobody = runs["coach_nobody"]
    assert nobody["rc"] == 1 and "nobody-0000 has no activity" in nobody["stderr"]
    assert not (world["out"] / "x.html").exists()
    missing = runs["squad_nobody"]
    assert missing["rc"] == 1 and "no squad 'no-such-squad'" in missing["stderr"]
    assert "华数-一组" in missing["stderr"]  # it names the squads there are


def test_the_standout_is_ready_for_advancement(world: dict[str, Any]) -> None:
    truth = world["manifest"]["world"]["roster"]
    standout = truth["standout"]
    page = world["pages"][world["squad_of"][standout]]
    ready = [r["annotator_id"] for r in page["ready"]]
    assert standout in ready
    assert world["packet"]["ready"] is True
    # The demo covers one week of the four asked: the verdict says it rests on one.
    assert page["weeks_covered"] == 1
    text = world["runs"]["squad_md"]["stdout"]
    assert "Ready for advancement" in text and standout in text


def test_the_injected_low_quality_annotators_need_coaching(world: dict[str, Any]) -> None:
    truth = world["manifest"]["world"]["roster"]
    people = _people(world)
    for weak in truth["low_quality"]:
        page = world["pages"][world["squad_of"][weak]]
        flagged = {c["annotator_id"]: c for c in page["coaching"]}
        assert weak in flagged, weak
        pass_rate = next(r for r in flagged[weak]["reasons"] if r["metric"] == "audit_pass_rate")
        raw = people[weak]
        assert pass_rate["trials"] == raw["audits"]
        assert pass_rate["high"] == pytest.approx(_interval(raw["approved"], raw["audits"])[1])
        assert pass_rate["high"] < TARGET_PASS
    assert "audit_pass_rate" in world["weak_packet"]["coaching"]
    # The standout is not, and nobody ready needs coaching.
    for page in world["pages"].values():
        assert not {c["annotator_id"] for c in page["coaching"]} & {
            r["annotator_id"] for r in page["ready"]
        }


def test_nobody_with_too_few_samples_is_in_either_list(world: dict[str, Any]) -> None:
    people = _people(world)
    for page in world["pages"].values():
        for entry in page["coaching"]:
            raw = people[entry["annotator_id"]]
            for reason in entry["reasons"]:
                # Enough samples, and even the best case (the upper bound) below the target.
                if reason["metric"] == "audit_pass_rate":
                    assert reason["trials"] == raw["audits"] >= MIN_AUDITS
                    assert _interval(raw["approved"], raw["audits"])[1] < TARGET_PASS
                else:
                    assert reason["trials"] == raw["gold"] >= MIN_GOLD
                    assert _interval(raw["gold_correct"], raw["gold"])[1] < TARGET_GOLD
        for entry in page["ready"]:
            raw = people[entry["annotator_id"]]
            # The demo's one covered week is all its data: the raw totals are that week's.
            assert raw["audits"] >= MIN_AUDITS and raw["submitted"] >= MIN_TASKS
            lower = _interval(raw["approved"], raw["audits"])[0]
            assert lower >= TARGET_PASS
            if raw["gold"]:
                assert raw["gold"] >= MIN_GOLD
                assert _interval(raw["gold_correct"], raw["gold"])[0] >= TARGET_GOLD
    # And small samples exist: people the lists would show if samples did not count.
    small_and_low = [
        p for p in people.values() if 0 < p["audits"] < MIN_AUDITS and p["approved"] < p["audits"]
    ]
    assert small_and_low


def test_members_are_ranked_by_an_independent_lower_bound(world: dict[str, Any]) -> None:
    people = _people(world)
    for squad, page in world["pages"].items():
        members = {m["annotator_id"] for m in page["members"]}
        assert members == {a for a, s in world["squad_of"].items() if s == squad}
        eligible = [
            a
            for a in members
            if a in people
            and people[a]["submitted"] >= MIN_TASKS
            and people[a]["audits"] >= MIN_AUDITS
        ]
        expected = sorted(
            eligible,
            key=lambda a: (
                -round(_interval(people[a]["approved"], people[a]["audits"])[0], 9),
                -people[a]["audits"],
                a,
            ),
        )
        ranked = [m["annotator_id"] for m in page["members"] if m["rank"] is not None]
        assert ranked == expected, squad
        for m in page["members"]:
            if m["annotator_id"] in people:
                assert m["audits"] == people[m["annotator_id"]]["audits"]
                assert m["tasks"] == people[m["annotator_id"]]["submitted"]


def test_the_packet_equals_the_raw_events(world: dict[str, Any]) -> None:
    standout = world["packet"]["annotator_id"]
    raw = _people(world)[standout]
    lines = world["packet"]["lines"]
    assert world["packet"]["tasks"] == raw["submitted"]
    assert lines["audit_pass_rate"]["samples"] == raw["audits"]
    assert lines["audit_pass_rate"]["value"] == pytest.approx(raw["approved"] / raw["audits"])
    assert lines["gold_accuracy"]["value"] == pytest.approx(raw["gold_correct"] / raw["gold"])
    audited = sorted(
        r["task_id"] for r in world["raw"]["fixed_or_rejected"] if r["annotator_id"] == standout
    )
    assert world["packet"]["task_ids"] == audited and world["packet"]["tasks_total"] == len(audited)
    # The weak annotator's focus: the category on the most rejects, recounted from the events.
    weak = world["manifest"]["world"]["roster"]["low_quality"][0]
    counts: dict[str, int] = {}
    for r in world["raw"]["fixed_or_rejected"]:
        if r["annotator_id"] == weak and r["verdict"] == "reject":
            for category in set(r["error_categories"]):
                counts[category] = counts.get(category, 0) + 1
    best = min(counts, key=lambda c: (-counts[c], c))
    focus = world["weak_packet"]["focus"]
    assert focus.startswith(f"{best}: on {counts[best]} of the {_people(world)[weak]['rejects']}")
    text = world["runs"]["coach_weak"]["stdout"]
    assert "Needs coaching:" in text and f"**Suggested focus:** {best}" in text


def test_changing_the_roster_regroups_history(world: dict[str, Any]) -> None:
    regrouped = world["regrouped"]
    truth = world["manifest"]["world"]["roster"]
    standout, weak = truth["standout"], truth["low_quality"][0]
    new = {m["annotator_id"]: m for m in regrouped["new_squad"]["members"]}
    old = {m["annotator_id"] for m in regrouped["old_squad"]["members"]}
    assert standout in new and standout not in old
    # All of its history came along, nothing reprocessed.
    assert new[standout]["tasks"] == _people(world)[standout]["submitted"]
    assert weak in {m["annotator_id"] for m in regrouped["unassigned"]["members"]}
    assert {r["annotator_id"]: r["squad"] for r in regrouped["weekly"]} == {
        standout: regrouped["moved_to"],
        weak: "unassigned",
    }


def test_the_views_carry_the_roster_and_the_bounds(world: dict[str, Any]) -> None:
    people = _people(world)
    squad_of = world["squad_of"]
    weekly = world["raw"]["weekly"]
    assert {r["annotator_id"] for r in weekly} == set(people)
    for r in weekly:
        assert r["squad"] == squad_of.get(r["annotator_id"], "unassigned")
        raw = people[r["annotator_id"]]
        assert (r["audits"], r["audits_approved"]) == (raw["audits"], raw["approved"])
        if r["audits"]:
            low, high = _interval(r["audits_approved"], r["audits"])
            assert r["audit_pass_rate_lower"] == pytest.approx(low, abs=1e-9)
            assert r["audit_pass_rate_upper"] == pytest.approx(high, abs=1e-9)
        else:
            assert r["audit_pass_rate_lower"] is None
    daily = {r["squad"]: r for r in world["raw"]["squad_daily"]}
    for squad in set(squad_of.values()) | {"unassigned"}:
        ids = [a for a in people if squad_of.get(a, "unassigned") == squad]
        if not ids:
            continue
        row = daily[squad]
        assert row["members"] == len(ids)
        assert row["tasks_submitted"] == sum(people[a]["submitted"] for a in ids)
        approved, audits = (
            sum(people[a]["approved"] for a in ids),
            sum(people[a]["audits"] for a in ids),
        )
        assert (row["audits"], row["audits_approved"]) == (audits, approved)
        assert row["audit_pass_rate_lower"] == pytest.approx(_interval(approved, audits)[0])
    scorecard = world["raw"]["scorecard"]
    assert any(r["audits"] for r in scorecard)
    for r in scorecard:
        if not r["audits"]:
            assert r["audit_pass_rate_lower"] is None
            continue
        low, high = _interval(round(r["audit_pass_rate"] * r["audits"]), r["audits"])
        assert r["audit_pass_rate_lower"] == pytest.approx(low, abs=1e-9)
        assert r["audit_pass_rate_upper"] == pytest.approx(high, abs=1e-9)
    for b in world["raw"]["sql_bounds"]:
        low, high = _interval(b["successes"], b["trials"])
        assert b["lower"] == pytest.approx(low, abs=1e-9)
        assert b["upper"] == pytest.approx(high, abs=1e-9)


def test_the_markdown_pages(world: dict[str, Any]) -> None:
    for name in ("coach_md", "squad_md", "unassigned", "coach_weak"):
        text = world["runs"][name]["stdout"]
        for line in text.splitlines():
            if line.startswith("|"):
                assert line.endswith("|"), (name, line)
    assert "## Members, ranked fairly" in world["runs"]["squad_md"]["stdout"]
    assert "Wilson score interval" in world["runs"]["coach_md"]["stdout"]
    unassigned = world["runs"]["unassigned"]["stdout"]
    for annotator in world["manifest"]["world"]["roster"]["unlisted"]:
        assert annotator in unassigned
    packets = sorted(p.name for p in (world["out"] / "packets").iterdir())
    squad = world["squad_of"][world["packet"]["annotator_id"]]
    assert len(packets) == sum(1 for s in world["squad_of"].values() if s == squad)


# -- headless Chromium -----------------------------------------------------------------------


class _Charts(html.parser.HTMLParser):
    """Each ``<svg data-chart>`` with the marks drawn inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, dict[str, int]] = {}
        self.current: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "svg" and values.get("data-chart"):
            self.current = str(values["data-chart"])
            self.charts[self.current] = {"path": 0, "circle": 0, "rect": 0, "text": 0}
        elif self.current is not None:
            marks = self.charts[self.current]
            if tag == "path" and len(re.findall(r"[ML]", values.get("d") or "")) >= 2:
                marks["path"] += 1
            elif tag == "rect" and float(values.get("width") or 0) > 0:
                marks["rect"] += 1
            elif tag in ("circle", "text"):
                marks[tag] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.current = None


@pytest.fixture
def served(world: dict[str, Any]) -> Iterator[tuple[str, list[str]]]:
    """The pages on a loopback HTTP server that records every request."""
    requests: list[str] = []
    directory = str(world["out"])

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=directory, **kwargs)

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            requests.append(self.path)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run(
        [
            str(CHROMIUM),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium "
    "fonts-wqy-microhei)",
)
def test_the_packet_and_the_squad_page_render_in_headless_chromium(
    world: dict[str, Any], served: tuple[str, list[str]], tmp_path: Path
) -> None:
    base, requests = served
    squad_page = (
        f"squad-{world['squads'].index(world['squad_of'][world['packet']['annotator_id']])}"
    )
    pages = {
        "coach.html": PACKET_CHARTS | {"coach-errors"},
        f"{squad_page}.html": SQUAD_CHARTS,
    }
    for name, expected in pages.items():
        dom = _chromium(tmp_path, "--dump-dom", f"{base}/{name}")
        assert dom.returncode == 0, dom.stderr[-2000:]
        assert not _console(dom.stderr), _console(dom.stderr)
        parser = _Charts()
        parser.feed(dom.stdout)
        assert set(parser.charts) == expected, name
        for chart, marks in parser.charts.items():
            drawn = marks["path"] + marks["rect"] + marks["circle"]
            assert drawn > 0 and marks["text"] > 3, (name, chart, marks)
        shot = tmp_path / f"{name}.png"
        run = _chromium(
            tmp_path, f"--screenshot={shot}", "--window-size=1280,3000", f"{base}/{name}"
        )
        assert run.returncode == 0 and not _console(run.stderr), run.stderr[-2000:]
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 100_000
        if os.environ.get("ANNOTEL_KEEP_ARTIFACTS") == "1":
            artifacts = ROOT / "tests" / "artifacts"
            artifacts.mkdir(exist_ok=True)
            shutil.copy(shot, artifacts / f"{name}.png")
            shutil.copy(world["out"] / name, artifacts / name)
    # The standout's name is Chinese: it is on the page as text, not as escapes.
    standout_page = (world["out"] / "coach.html").read_text(encoding="utf-8")
    assert "标注员" in standout_page and "\\u" not in standout_page.split("<footer>")[0]
    assert {path for path in requests if path != "/favicon.ico"} == {f"/{name}" for name in pages}


def test_the_weekly_digest_hook_lists_the_changes(world: dict[str, Any]) -> None:
    """Sent by ``annotel squad-digest`` (tests/integration/test_squad_digest.py): a week
    before the demo's data there was nothing, so everyone ready now is new."""
    digest = world["digest"]
    standout = world["manifest"]["world"]["roster"]["standout"]
    squad = world["squad_of"][standout]
    ready = [r["annotator_id"] for r in world["pages"][squad]["ready"]]
    assert len(digest["newly_ready"]) == len(ready) >= 1
    assert digest["text"].startswith(f"Squad {squad}: changes since last week")
    assert "ready for advancement now: " in digest["text"]
