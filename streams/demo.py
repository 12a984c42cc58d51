"""``annotel demo``: the product on the embedded stack, bounded, in one command."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from streams.broker import EmbeddedBroker

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sample-events.jsonl"
RULES = Path(__file__).resolve().parent.parent / "alerts" / "examples" / "rules.yaml"


def _parse_drained(text: str) -> dict[str, int]:
    lines = [line for line in text.splitlines() if "drained: " in line]
    if not lines:
        return {}
    body = lines[-1].split("drained: ", 1)[1].strip()
    return {k: int(v) for k, v in (part.split("=") for part in body.split(", "))}


def _tables(dsn: str) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Row counts per table, and alert transitions per rule and status."""
    from sinks.clickhouse import connect

    client = connect(dsn)
    try:
        counts = {
            table: int(client.query(f"SELECT count() FROM {table} FINAL").result_rows[0][0])
            for table in (
                "metrics_1m",
                "audit_errors_1m",
                "task_events",
                "audit_events",
                "dlq_events",
                "alerts",
            )
        }
        per_rule: dict[str, dict[str, int]] = {}
        for rule, status, n in client.query(
            "SELECT rule, status, count() FROM alerts FINAL GROUP BY rule, status ORDER BY rule"
        ).result_rows:
            per_rule.setdefault(rule, {})[status] = int(n)
        return counts, per_rule
    finally:
        client.close()


def cmd_demo(args: argparse.Namespace) -> int:
    started = time.monotonic()
    source = Path(args.input) if args.input else SAMPLE
    data_dir = Path(args.data_dir).resolve()
    broker = EmbeddedBroker()
    bootstrap = broker.start()
    print(f"embedded broker on {bootstrap}; data in {data_dir}", file=sys.stderr)
    env = {
        **os.environ,
        "ANNOTEL_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "ANNOTEL_DATA_DIR": str(data_dir),
        # The shipped sample is history: judge its timestamps by their own clock.
        "ANNOTEL_MAX_FUTURE_SKEW": os.environ.get("ANNOTEL_MAX_FUTURE_SKEW", "3650d"),
        "ANNOTEL_RULES_FILE": str(Path(args.rules).resolve()),
    }
    try:
        out = subprocess.run(
            [sys.executable, "-m", "streams.cli", "ingest", str(source), "--json"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        ingested = json.loads(out.stdout)
        print(
            f"ingested {source.name}: {ingested['published']} published, "
            f"{ingested['dead_lettered']} dead-lettered; running the worker...",
            file=sys.stderr,
        )
        worker = subprocess.run(
            [sys.executable, "-m", "streams.cli", "worker", "--until-drained", "--web-port", "0"],
            env=env,
            capture_output=True,
            text=True,
        )
        if worker.returncode != 0:
            sys.stderr.write(worker.stderr[-4000:])
            print(f"annotel demo: the worker exited with {worker.returncode}", file=sys.stderr)
            return 1
    finally:
        broker.stop()
    totals = _parse_drained(worker.stderr)
    dsn = "chdb://" + str(data_dir / "clickhouse")
    tables, per_rule = _tables(dsn)
    dead: Counter[str] = Counter(ingested["by_reason"])
    for key, value in totals.items():
        if key.startswith("dead_"):
            dead[key[5:]] += value
    summary = {
        "events_in": ingested["published"] + ingested["dead_lettered"],
        "accepted": totals.get("accepted", 0),
        "duplicates": totals.get("duplicates", 0),
        "late": totals.get("late", 0),
        "dead_lettered": dict(sorted(dead.items())),
        "windows": tables["metrics_1m"],
        "alerts_fired": sum(v.get("firing", 0) for v in per_rule.values()),
        "alerts_resolved": sum(v.get("resolved", 0) for v in per_rule.values()),
        "alerts_by_rule": per_rule,
        "tables": tables,
        "data_dir": str(data_dir),
        "elapsed_s": round(time.monotonic() - started, 2),
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    print()
    print("  annotation-telemetry demo")
    for label, key in (
        ("events in", "events_in"),
        ("accepted", "accepted"),
        ("duplicates", "duplicates"),
        ("late (corrections)", "late"),
        ("windows written", "windows"),
    ):
        print(f"  {label:<22} {summary[key]:>8}")
    for reason, count in summary["dead_lettered"].items():
        print(f"  dead letter: {reason:<9} {count:>8}")
    print(f"  {'alerts fired':<22} {summary['alerts_fired']:>8}")
    print(f"  {'alerts resolved':<22} {summary['alerts_resolved']:>8}")
    for rule, statuses in per_rule.items():
        print(
            f"    {rule:<28} fired {statuses.get('firing', 0):>3}  "
            f"resolved {statuses.get('resolved', 0):>3}"
        )
    print(f"  ClickHouse (chDB):     {dsn}")
    print(f"  elapsed                {summary['elapsed_s']:>8}s")
    print(
        '  query it: python -c "from sinks.clickhouse import connect; '
        f"print(connect('{dsn}').query('SELECT * FROM metrics_hourly LIMIT 5').result_rows)\""
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="run the product on the embedded stack")
    demo.add_argument("--input", help="JSON-lines file to replay (default: shipped sample)")
    demo.add_argument("--data-dir", default=".annotel", help="where chDB keeps its data")
    demo.add_argument("--rules", default=str(RULES), help="alert rules file (default: shipped)")
    demo.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    demo.set_defaults(func=cmd_demo)
