"""Every panel query of every provisioned Grafana dashboard runs on the embedded ClickHouse.

The data is written by the production code path without Kafka: the shipped
sample events are decoded by ``schemas.decode.ContractDecoder``, applied by
``streams.partition.PartitionState`` exactly as the worker applies messages, turned
into rows by ``streams.rows`` and written by ``sinks.writer.ClickHouseWriter``
into a chDB database migrated by ``sinks.migrate.migrate``. One alert row
is added, since no alert rule runs here.

Queries are expanded the way Grafana and the ClickHouse data source plugin
expand them before ClickHouse sees the SQL: ``$__conditionalAll`` and template
variables in the browser, then the backend macros. The macro spellings follow
grafana/clickhouse-datasource ``pkg/macros/macros.go`` (read at commit
005050e232de38201aa0ff74bb583abbe66be1e5; plugin versions >= 4.0.3 expand
``$__timeFilter`` with ``toDateTime(<unix seconds>)``).

Each query runs twice: every variable on "All", and every variable on its
first value (variables are resolved in order, each query seeing the values
chosen before it, as Grafana's chained variables do).
"""

from __future__ import annotations

import contextlib
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
SAMPLE = ROOT / "examples" / "sample-events.jsonl"
ALL = "$__all"


# -- the expander ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime
    interval_s: int = 60


def _macro_args(sql: str, open_paren: int) -> tuple[list[str], int]:
    """Arguments of the macro whose '(' is at ``open_paren``; returns (args, index after ')').

    Counts parentheses only, like the plugin's getMacroArgs (quotes are not special).
    """
    depth = 0
    args: list[str] = []
    start = open_paren + 1
    for i in range(open_paren, len(sql)):
        char = sql[i]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                args.append(sql[start:i])
                return args, i + 1
        elif char == "," and depth == 1:
            args.append(sql[start:i])
            start = i + 1
    raise ValueError(f"unbalanced macro call at {open_paren}: {sql[open_paren:][:80]!r}")


def _conditional_all(sql: str, variables: dict[str, list[str]]) -> str:
    macro = "$__conditionalAll("
    index = sql.rfind(macro)
    while index != -1:
        args, end = _macro_args(sql, index + len(macro) - 1)
        if len(args) != 2:
            raise ValueError(f"$__conditionalAll takes 2 arguments, got {args}")
        name = re.search(r"(?<=\$\{)\w+(?=\})|(?<=\$)\w+", args[1].strip())
        if name is None or name.group(0) not in variables:
            raise ValueError(f"$__conditionalAll names an unknown variable: {args[1]!r}")
        value = variables[name.group(0)]
        phrase = "1=1" if value == [ALL] or value == [""] else args[0]
        sql = sql[:index] + phrase + sql[end:]
        index = sql.rfind(macro)
    return sql


def _interpolate(sql: str, variables: dict[str, list[str]], options: dict[str, list[str]]) -> str:
    """Grafana's variable syntax: ``${name:singlequote}``, ``${name}``, ``$name``."""

    def values(name: str) -> list[str]:
        if name not in variables:
            raise ValueError(f"unknown template variable ${name}")
        chosen = variables[name]
        return options[name] if chosen == [ALL] else chosen

    def braced(match: re.Match[str]) -> str:
        name, fmt = match.group(1), match.group(2)
        if fmt == "singlequote":
            return ",".join("'" + v.replace("'", "\\'") + "'" for v in values(name))
        if fmt is None:
            return ",".join(values(name))
        raise ValueError(f"unsupported variable format {fmt!r}")

    sql = re.sub(r"\$\{(\w+)(?::(\w+))?\}", braced, sql)
    return re.sub(r"\$(?!__)(\w+)", lambda m: ",".join(values(m.group(1))), sql)


def _backend_macros(sql: str, window: TimeRange) -> str:
    """The plugin backend's macros (pkg/macros/macros.go)."""
    start, end = int(window.start.timestamp()), int(window.end.timestamp())
    start_ms, end_ms = start * 1000, end * 1000
    interval = max(window.interval_s, 1)

    def date(ts: datetime) -> str:
        return f"toDate('{ts.strftime('%Y-%m-%d')}')"

    def one(args: list[str], name: str) -> str:
        if len(args) != 1:
            raise ValueError(f"$__{name} takes 1 argument, got {args}")
        return args[0].strip()

    def expand(name: str, args: list[str] | None) -> str:
        if name == "fromTime":
            return f"toDateTime({start})"
        if name == "toTime":
            return f"toDateTime({end})"
        if name == "fromTime_ms":
            return f"fromUnixTimestamp64Milli({start_ms})"
        if name == "toTime_ms":
            return f"fromUnixTimestamp64Milli({end_ms})"
        if name == "interval_s":
            return str(interval)
        if args is None:
            raise ValueError(f"$__{name} needs arguments")
        if name == "timeFilter":
            col = one(args, name)
            return f"{col} >= toDateTime({start}) AND {col} <= toDateTime({end})"
        if name == "timeFilter_ms":
            col = one(args, name)
            return (
                f"{col} >= fromUnixTimestamp64Milli({start_ms}) AND "
                f"{col} <= fromUnixTimestamp64Milli({end_ms})"
            )
        if name == "dateFilter":
            col = one(args, name)
            return f"{col} >= {date(window.start)} AND {col} <= {date(window.end)}"
        if name == "timeInterval":
            col = one(args, name)
            return f"toStartOfInterval(toDateTime({col}), INTERVAL {interval} second)"
        if name == "timeInterval_ms":
            col = one(args, name)
            return (
                f"toStartOfInterval(toDateTime64({col}, 3), INTERVAL {interval * 1000} millisecond)"
            )
        raise ValueError(f"unsupported macro $__{name}")

    pattern = re.compile(r"\$__(\w+)")
    while (match := pattern.search(sql)) is not None:
        name = match.group(1)
        if match.end() < len(sql) and sql[match.end()] == "(":
            args, end_index = _macro_args(sql, match.end())
            sql = sql[: match.start()] + expand(name, args) + sql[end_index:]
        else:
            sql = sql[: match.start()] + expand(name, None) + sql[match.end() :]
    return sql


def expand(
    sql: str,
    window: TimeRange,
    variables: dict[str, list[str]] | None = None,
    options: dict[str, list[str]] | None = None,
) -> str:
    """A panel's SQL as ClickHouse receives it from Grafana."""
    variables = variables or {}
    options = options or {}
    sql = _conditional_all(sql, variables)
    sql = _interpolate(sql, variables, options)
    sql = _backend_macros(sql, window)
    if "$" in sql:
        raise ValueError(f"unexpanded '$' left in query: {sql}")
    return sql


def test_expander_matches_the_plugin_spelling() -> None:
    window = TimeRange(
        datetime(2026, 11, 23, 0, 0, tzinfo=UTC), datetime(2026, 11, 23, 6, 0, tzinfo=UTC), 60
    )
    sql = (
        "SELECT $__timeInterval(ts) AS time FROM t WHERE $__timeFilter(ts) "
        "AND $__conditionalAll(p IN (${project:singlequote}), $project) AND $__dateFilter(d) "
        "AND x < $__toTime AND y > $__fromTime AND z = $__interval_s"
    )
    one = expand(sql, window, {"project": ["医疗影像", "o'k"]}, {"project": []})
    assert one == (
        "SELECT toStartOfInterval(toDateTime(ts), INTERVAL 60 second) AS time FROM t "
        "WHERE ts >= toDateTime(1795392000) AND ts <= toDateTime(1795413600) "
        "AND p IN ('医疗影像','o\\'k') AND d >= toDate('2026-11-23') AND d <= toDate('2026-11-23') "
        "AND x < toDateTime(1795413600) AND y > toDateTime(1795392000) AND z = 60"
    )
    everything = expand(sql, window, {"project": [ALL]}, {"project": ["a", "b"]})
    assert "1=1" in everything and "p IN" not in everything
    with pytest.raises(ValueError, match="unsupported macro"):
        expand("SELECT $__unknown(x)", window)
    with pytest.raises(ValueError, match="unknown template variable"):
        expand("SELECT ${nope:singlequote}", window)


# -- the data ------------------------------------------------------------------------------------


@dataclass
class Demo:
    client: Any
    window: TimeRange


def _gold_tasks() -> list[bytes]:
    """The sample has no gold tasks: gold copies of its first submitted tasks, 2 of 3 correct."""
    gold: list[bytes] = []
    for line in SAMPLE.read_bytes().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event_type") == "task_completed" and event.get("status") == "submitted":
            n = len(gold)
            event.update(event_id=f"gold-{n}", is_gold=True, gold_correct=n % 3 != 0)
            gold.append(json.dumps(event, ensure_ascii=False).encode())
        if len(gold) == 12:
            break
    return gold


COACHING_SQUAD = "教练-一组"  # a roster squad (a Chinese name, as real rosters have)


def _coaching_sample() -> tuple[list[bytes], list[list[Any]]]:
    """A squad for the Squad dashboard: one member who needs coaching (10 of 30 audits
    approved), one ready for advancement (40 of 40, 20 correct gold tasks, a long tenure, the
    most tasks), one in between; during the sample's twelve minutes. And their roster rows."""
    lines: list[bytes] = []
    people = {
        "coach-low": (30, 30, 10, 0),
        "coach-star": (60, 40, 40, 20),
        "coach-peer": (20, 10, 10, 0),
    }
    for annotator, (tasks, audits, approved, gold) in people.items():
        for i in range(tasks):
            at = f"2026-11-23T01:0{i % 10}:{(i * 7) % 60:02d}Z"
            common = {
                "schema_version": 1,
                "project_id": "autonomous-driving",
                "queue_id": "lidar-boxes",
                "task_id": f"{annotator}-task-{i}",
                "annotator_id": annotator,
                "vendor_id": "vendor-a",
                "locale": "en-US",
            }
            completed = {
                **common,
                "event_type": "task_completed",
                "event_id": f"{annotator}-tc-{i}",
                "occurred_at": at,
                "status": "submitted",
                "handle_time_s": 30.0,
                "task_created_at": "2026-11-23T00:00:00Z",
                "attempt": 1,
            }
            if i < gold:
                completed.update(is_gold=True, gold_correct=True)
            lines.append(json.dumps(completed).encode())
            if i < audits:
                verdict = "approve" if i < approved else "reject"
                audited = {
                    **common,
                    "event_type": "task_audited",
                    "event_id": f"{annotator}-ta-{i}",
                    "occurred_at": at,
                    "auditor_id": "qa-01",
                    "verdict": verdict,
                    "score": 0.9 if verdict == "approve" else 0.2,
                }
                if verdict == "reject":
                    audited["error_categories"] = ["loose_box"]
                lines.append(json.dumps(audited).encode())
    roster = [
        [
            annotator,
            f"Annotator {n}",
            COACHING_SQUAD,
            "教练-组长",
            "vendor-a",
            date(2024, 1, 1),
            "L2",
            [],
        ]
        for n, annotator in enumerate(people, start=1)
    ]
    return lines, roster


def _snapshots(lines: list[bytes]) -> list[bytes]:
    """A queue_status every 5 minutes for every queue of ``lines``, due an hour after them."""
    events = []
    for line in lines:
        with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):  # malformed
            event = json.loads(line)
            if event.get("event_type") == "task_completed" and event.get("schema_version") == 1:
                moment = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))
                events.append((moment, event))
    times = [moment for moment, _event in events]
    first, last = min(times), max(times)
    queues = sorted(
        {(e["project_id"], e["queue_id"]) for _m, e in events if isinstance(e.get("queue_id"), str)}
    )
    out = []
    for index, (project, queue) in enumerate(queues):
        moment, left = first, 400 + 50 * index
        while moment <= last:
            snapshot = {
                "event_type": "queue_status",
                "schema_version": 1,
                "event_id": f"qs-{index}-{moment.timestamp():.0f}",
                "occurred_at": moment.isoformat(),
                "project_id": project,
                "queue_id": queue,
                "open_tasks": left,
                "due_at": (last + timedelta(hours=1)).isoformat(),
            }
            out.append(json.dumps(snapshot, ensure_ascii=False).encode())
            moment, left = moment + timedelta(minutes=5), max(0, left - 10)
    return out


def _populate(client: Any) -> TimeRange:
    from alerts.model import fingerprint
    from schemas.deadletter import DeadLetter
    from schemas.decode import ContractDecoder
    from schemas.queue_status import QueueStatus
    from sinks.roster import replace_roster
    from sinks.writer import ClickHouseWriter
    from streams.delivery_partition import DeliveryPartitionState
    from streams.delivery_rows import delivery_batch
    from streams.rows import dlq_row, rows_for_checkpoint
    from streams.settings import Settings

    settings = Settings(_env_file=None)  # a developer's .env must not leak in
    decoder = ContractDecoder(settings.max_event_bytes, max_future_skew_s=3650 * 86400.0)
    topic_of = {
        b'"task_completed"': settings.topic_task_completed,
        b'"task_audited"': settings.topic_task_audited,
    }
    # Two input partitions, keyed by project (Kafka hashes the key; crc32 stands in).
    states = {
        p: DeliveryPartitionState(
            p, int(settings.allowed_lateness * 1e6), int(settings.retention * 1e6)
        )
        for p in (0, 1)
    }
    offsets: dict[tuple[str, int], int] = {}
    now = datetime.now(UTC)
    occurred: list[datetime] = []
    coaching, roster = _coaching_sample()
    sample = [*SAMPLE.read_bytes().splitlines(), *_gold_tasks(), *coaching]
    for line in [*sample, *_snapshots(sample)]:
        if not line.strip():
            continue
        decoded = decoder.decode(line, now)
        topic = next(
            (t for marker, t in topic_of.items() if marker in line), settings.topic_task_completed
        )
        project = getattr(decoded, "project_id", None) or ""
        partition = zlib.crc32(project.encode()) % 2
        offset = offsets.get((topic, partition), 0)
        offsets[(topic, partition)] = offset + 1
        if type(decoded) is QueueStatus:
            states[partition].process_snapshot(decoded, line, topic, offset)
        else:
            states[partition].process(decoded, line, topic, offset)  # type: ignore[arg-type]
        if hasattr(decoded, "occurred_at"):
            occurred.append(decoded.occurred_at)
    for state in states.values():
        state.advance(close_all=True)
    batches = rows_for_checkpoint(list(states.values()), int(now.timestamp() * 1e6))
    batches["delivery_1m"] = delivery_batch(list(states.values()), int(now.timestamp() * 1e3))
    letters = [
        dlq_row(letter, 0, i)
        for i, letter in enumerate(d for s in states.values() for d in s.dead_letters)
    ]
    late = DeadLetter.build(
        b'{"event_type":"task_completed"}',
        "too_late",
        "occurred_at: older than the retention horizon",
        field="occurred_at",
        topic=settings.topic_task_completed,
        partition=1,
        offset=10_000,
    )
    letters.append(dlq_row(late, 0, len(letters)))

    first, last = min(occurred).astimezone(UTC), max(occurred).astimezone(UTC)
    writer = ClickHouseWriter(lambda: client)
    writer.write(batches)
    writer.write({"dlq_events": letters})
    replace_roster(client, roster)

    # Alerts: the busiest project (the first value of the dashboards' project variable)
    # is firing; every other project fired and resolved.
    ranking = client.query(
        "SELECT project_id FROM metrics_1m FINAL GROUP BY project_id "
        "ORDER BY sum(tasks_submitted + tasks_skipped + tasks_expired + audits) DESC, project_id"
    ).result_rows
    opened = first.replace(second=0, microsecond=0)
    alerts = []
    for rank, (project,) in enumerate(ranking):
        scope = {"project_id": project}
        fired = [
            fingerprint("audit_pass_rate_low", scope),
            "audit_pass_rate_low",
            "firing",
            "warning",
            {"alertname": "audit_pass_rate_low", "severity": "warning", **scope},
            {"summary": f"audit pass rate below 90% in {project}"},
            "audit_pass_rate",
            0.5,
            0.9,
            opened,
            opened + timedelta(minutes=15),
            opened,
            None,
            opened + timedelta(minutes=15, seconds=5),
            None,  # muted_by
            False,  # repeat
            None,  # resolved_reason (a recovery)
            "[]",  # explanation
        ]
        alerts.append(fired)
        if rank > 0:
            resolved = list(fired)
            resolved[2] = "resolved"
            resolved[7] = 0.95
            resolved[9:14] = [
                opened + timedelta(minutes=15),
                opened + timedelta(minutes=30),
                opened,
                opened + timedelta(minutes=15),
                opened + timedelta(minutes=30, seconds=5),
            ]
            alerts.append(resolved)
    writer.write({"alerts": alerts})
    assert batches["metrics_1m"] and batches["task_events"] and batches["audit_events"]
    assert batches["delivery_1m"]
    assert len(letters) >= 2

    # The range Grafana would show: the sample's event times through now (ingested_at,
    # received_at), with an hour of margin on both sides.
    start = first.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    end = max(now, last) + timedelta(hours=1)
    return TimeRange(start, end.replace(microsecond=0), 60)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    from sinks.client import connect
    from sinks.migrate import migrate

    # One chDB client for the whole module: chDB allows one per process per directory.
    client = connect("chdb://" + str(tmp_path_factory.mktemp("dashboards") / "clickhouse"))
    try:
        migrate(client)
        window = _populate(client)
        yield Demo(client, window)
    finally:
        client.close()


# -- the dashboards ------------------------------------------------------------------------------


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows


def _variables(
    demo: Demo, board: dict[str, Any], mode: str
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Resolve the board's query variables in order, as Grafana does on load."""
    chosen: dict[str, list[str]] = {}
    options: dict[str, list[str]] = {}
    for var in board.get("templating", {}).get("list", []):
        assert var["type"] == "query", f"{board['uid']}: unsupported variable type {var['type']}"
        query = var["query"] if isinstance(var["query"], str) else var["query"]["rawSql"]
        sql = expand(query, demo.window, chosen, options)
        values = [str(row[0]) for row in demo.client.query(sql).result_rows]
        assert values, f"{board['uid']}: variable {var['name']} has no values: {sql}"
        options[var["name"]] = values
        chosen[var["name"]] = [ALL] if mode == "all" else values[:1]
    return chosen, options


def _cases() -> list[Any]:
    cases = []
    for path in DASHBOARDS:
        board = _load(path)
        for panel in _panels(board):
            for target in panel.get("targets", []):
                for mode in ("all", "first"):
                    cases.append(
                        pytest.param(
                            path.name,
                            panel["id"],
                            target["refId"],
                            mode,
                            id=f"{path.stem}:{panel['id']}:{panel['title']}:{mode}",
                        )
                    )
    return cases


def test_there_are_dashboards_to_check() -> None:
    names = {p.stem for p in DASHBOARDS}
    assert {
        "program-overview",
        "vendor-comparison",
        "queue-drilldown",
        "annotator-scorecards",
        "alerts-timeline",
        "pipeline-health",
        "squad",
    } <= names


@pytest.mark.parametrize(("dashboard", "panel_id", "ref_id", "mode"), _cases())
def test_panel_query_runs_and_returns_rows(
    demo: Demo, dashboard: str, panel_id: int, ref_id: str, mode: str
) -> None:
    board = _load(ROOT / "deploy" / "grafana" / "dashboards" / dashboard)
    panel = next(p for p in _panels(board) if p["id"] == panel_id)
    target = next(t for t in panel["targets"] if t["refId"] == ref_id)
    chosen, options = _variables(demo, board, mode)
    sql = expand(target["rawSql"], demo.window, chosen, options)
    result = demo.client.query(sql)
    assert result.result_rows, f"no rows for {panel['title']!r} ({mode}):\n{sql}"
    if mode == "all":
        # Something real came back, not only NULLs.
        values = [v for row in result.result_rows for v in row]
        assert any(v not in (None, "", 0) for v in values), f"only empty values:\n{sql}"
    if panel["type"] == "timeseries":
        assert result.column_names[0] == "time", "time series queries return `time` first"


def test_the_squad_dashboard_lists_who_needs_coaching_and_who_is_ready(demo: Demo) -> None:
    """The lists hold the right people, not just some rows: the sample squad's weak member
    for coaching (10 of 30 approved: at most 50.4 %), its best for advancement."""
    board = _load(ROOT / "deploy" / "grafana" / "dashboards" / "squad.json")
    panels = {p["title"]: p for p in _panels(board)}
    chosen = {"squad": [COACHING_SQUAD]}

    def members(title: str) -> list[str]:
        sql = expand(panels[title]["targets"][0]["rawSql"], demo.window, chosen, chosen)
        result = demo.client.query(sql)
        column = result.column_names.index("member")
        return [row[column] for row in result.result_rows]

    assert members("Needs coaching") == ["coach-low"]
    assert members("Ready for advancement") == ["coach-star"]
    assert members("Members, ranked fairly") == ["coach-star", "coach-peer", "coach-low"]
