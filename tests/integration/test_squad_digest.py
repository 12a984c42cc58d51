"""``annotel squad-digest`` on the demo's data: one message per squad to a real HTTP receiver.

The demo's organisation is written through the production path without Kafka
and its roster loaded with ``annotel roster load`` (as in
tests/integration/test_coaching.py); a webhook receiver on 127.0.0.1 records
every POST. The messages are checked against the squad changes built directly
(``build_squad_changes``) and against the simulator's ground truth (the
standout is newly ready in its squad). Everything that opens chDB runs in a
child process (see tests/integration/test_report.py).
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.integration.test_coaching import ROOT, START, _cli

pytestmark = pytest.mark.integration


# The rules file needs a rule; the squad digest uses only its receivers.
RULE = {
    "name": "quality_low",
    "metric": "audit_pass_rate",
    "window": "10m",
    "op": "<",
    "threshold": 0.85,
    "receivers": ["manager-0"],
}


class _Recorder(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict[str, Any]]] = []
    paths: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        type(self).paths.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def child(data_dir: str, out_dir: str) -> None:
    from annotel.demo.plan import (
        DEFAULT_ANNOTATORS,
        DEFAULT_EVENTS,
        DEFAULT_PROJECTS,
        DEFAULT_SEED,
        DEFAULT_TASKS_PER_SECOND,
        DEFAULT_VENDORS,
    )
    from annotel.demo.roster import write_roster_file
    from reports.coaching_model import build_squad_changes
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
    client = connect("chdb://" + str(Path(data_dir) / "clickhouse"))
    migrate(client)
    sim = Simulator(DEFAULT_SEED, START, None, **knobs)
    write(ClickHouseWriter(lambda: client), list(sim.events(n=DEFAULT_EVENTS)))
    client.close()
    truth = sim.manifest["world"]["roster"]
    roster_file = write_roster_file(DEFAULT_SEED, knobs, START, out / "roster.csv")
    squads = sorted(truth["squads"])
    runs: dict[str, Any] = {"load": _cli(["roster", "load", str(roster_file), *source])}

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    rules = out / "rules.yaml"
    receivers = {
        f"manager-{i}": {"type": "webhook", "url": f"{base}/m{i}"} for i in range(len(squads))
    }
    receivers["pager"] = {"type": "pagerduty", "routing_key_env": "NO_SUCH_KEY"}
    rules.write_text(
        json.dumps({"version": 1, "rules": [RULE], "receivers": receivers}), encoding="utf-8"
    )
    routes = [f"--receiver={s}=manager-{i}" for i, s in enumerate(squads)]
    send = ["squad-digest", "--send", "--rules", str(rules), *source]
    runs["print"] = _cli(["squad-digest", *source])
    runs["send"] = _cli([*send, *routes])
    sent = list(_Recorder.bodies)
    paths = list(_Recorder.paths)
    runs["again"] = _cli([*send, *routes])
    again = _Recorder.bodies[len(sent) :]
    before_errors = len(_Recorder.bodies)
    runs["missing"] = _cli([*send, *routes[1:]])
    runs["unknown"] = _cli([*send, *routes[1:], f"--receiver={squads[0]}=nobody"])
    runs["wrong_kind"] = _cli([*send, *routes[1:], f"--receiver={squads[0]}=pager"])
    posted_on_errors = len(_Recorder.bodies) - before_errors
    server.shutdown()

    client = connect("chdb://" + str(Path(data_dir) / "clickhouse"), read_only=True)
    expected = {}
    for squad in squads:
        changes = build_squad_changes(client, squad)
        expected[squad] = {
            "newly_coaching": changes.newly_coaching,
            "no_longer_coaching": changes.no_longer_coaching,
            "newly_ready": changes.newly_ready,
            "no_longer_ready": changes.no_longer_ready,
            "managers": changes.managers,
        }
    client.close()
    result = {
        "squads": squads,
        "truth": truth,
        "runs": runs,
        "sent": sent,
        "paths": paths,
        "again": again,
        "posted_on_errors": posted_on_errors,
        "expected": expected,
        "roster": (out / "roster.csv").read_text(encoding="utf-8"),
    }
    (out / "result.json").write_text(json.dumps(result, ensure_ascii=False, default=str))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("squad-digest")
    out = base / "out"
    out.mkdir()
    code = "import sys; from tests.integration.test_squad_digest import child; child(*sys.argv[1:])"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(base / "data"), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"child failed:\n{proc.stdout}\n{proc.stderr}"
    result: dict[str, Any] = json.loads((out / "result.json").read_text())
    return result


def test_one_message_per_squad_with_its_changes(world: dict[str, Any]) -> None:
    runs, squads = world["runs"], world["squads"]
    assert runs["load"]["rc"] == 0, runs["load"]
    assert runs["send"]["rc"] == 0, runs["send"]
    assert len(squads) >= 2
    notes = [body["note"] for body in world["sent"]]
    assert sorted(n["squad"] for n in notes) == squads  # exactly one per squad
    for note, path in zip(notes, world["paths"], strict=True):
        squad = note["squad"]
        assert path == f"/m{squads.index(squad)}"  # to the receiver its route names
        expected = world["expected"][squad]
        for key, value in expected.items():
            assert note[key] == value, (squad, key)
        assert note["text"].startswith(f"Squad {squad}: changes since last week")
        for name in expected["newly_coaching"] + expected["newly_ready"]:
            assert name in note["text"]
    assert any(n["newly_ready"] or n["newly_coaching"] for n in notes)


def test_the_standout_is_newly_ready_in_its_squad(world: dict[str, Any]) -> None:
    """A week before the demo's data there was nothing: whoever is ready now is new."""
    standout = world["truth"]["standout"]
    squad = next(n for n, s in world["truth"]["squads"].items() if standout in s["members"])
    note = next(b["note"] for b in world["sent"] if b["note"]["squad"] == squad)
    line = next(row for row in world["roster"].splitlines() if row.startswith(standout + ","))
    shown = line.split(",")[1] or standout  # display_name is the second column
    assert shown in note["newly_ready"]
    assert "ready for advancement now: " in note["text"]


def test_the_same_week_sends_the_same_note_ids(world: dict[str, Any]) -> None:
    assert world["runs"]["again"]["rc"] == 0
    first = {b["note"]["squad"]: b["note"]["note_id"] for b in world["sent"]}
    second = {b["note"]["squad"]: b["note"]["note_id"] for b in world["again"]}
    assert first == second
    assert len(set(first.values())) == len(first)


def test_printing_sends_nothing_and_shows_every_squad(world: dict[str, Any]) -> None:
    printed = world["runs"]["print"]
    assert printed["rc"] == 0
    for squad in world["squads"]:
        assert f"Squad {squad}: changes since last week" in printed["stdout"]


def test_a_squad_without_a_usable_receiver_is_a_clear_error(world: dict[str, Any]) -> None:
    first = world["squads"][0]
    runs = world["runs"]
    assert runs["missing"]["rc"] == 2
    assert f"squad {first!r} has no receiver" in runs["missing"]["stderr"]
    assert runs["unknown"]["rc"] == 2
    assert "has no receiver 'nobody'" in runs["unknown"]["stderr"]
    assert runs["wrong_kind"]["rc"] == 2
    assert (
        "is of type pagerduty, which does not take squad digests" in (runs["wrong_kind"]["stderr"])
    )
    assert world["posted_on_errors"] == 0  # nothing is sent when any squad cannot be
