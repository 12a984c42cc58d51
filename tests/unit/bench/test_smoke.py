"""The benchmark's own logic, fast and without a broker (no timing assertions)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench.baseline_app import FIELDS, aggregate_all, parse
from bench.latency import breach_rule, percentile
from bench.profile import classify, summarize
from bench.stack import AUDITS_TOPIC, TASKS_TOPIC, drained_totals, route
from tests.oracle import generate, oracle


def test_baseline_aggregates_equal_the_oracle() -> None:
    stream = generate(seed=5, count=600)
    parsed = [parse(orjson.dumps(event)) for event in stream.valid]
    assert all(p is not None for p in parsed)
    actual = {
        (datetime.fromtimestamp(key[0], UTC).replace(tzinfo=None), *key[1:]): dict(
            zip(FIELDS, values, strict=True)
        )
        for key, values in aggregate_all(stream.valid).items()
    }
    expected, _errors = oracle(stream.valid)
    assert set(actual) == set(expected)
    # The baseline sums floats, as a straightforward app does: equal up to rounding.
    for key, row in expected.items():
        for name in FIELDS:
            assert math.isclose(actual[key][name], row[name], rel_tol=1e-9, abs_tol=1e-6), (
                key,
                name,
            )


def test_baseline_skips_what_it_cannot_use() -> None:
    assert parse(b"{not json") is None
    assert parse(b"[1, 2]") is None
    assert parse(orjson.dumps({"event_type": "task_started"})) is None
    stream = generate(seed=6, count=20)
    event = dict(stream.valid[0], occurred_at="2026年11月23日")
    assert parse(orjson.dumps(event)) is None


def test_route_like_ingest() -> None:
    audited = orjson.dumps({"event_type": "task_audited", "project_id": "语音转写"})
    assert route(audited) == (AUDITS_TOPIC, "语音转写".encode(), audited)
    assert route(b"{broken") == (TASKS_TOPIC, None, b"{broken")
    assert route(b"[]")[0] == TASKS_TOPIC


def test_percentile_nearest_rank() -> None:
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) is None


def test_drained_line() -> None:
    text = "noise\n[...] drained: accepted=5, events_in=7, windows_closed=2\n"
    assert drained_totals(text) == {"accepted": 5, "events_in": 7, "windows_closed": 2}
    assert drained_totals("nothing") == {}


def test_profile_summary(tmp_path: Path) -> None:
    assert classify(["run (asyncio/base_events.py:1)", "decode (schemas/decode.py:9)"]) == (
        "decode: orjson + checks (schemas/decode.py)"
    )
    assert classify(["x (faust/streams.py:1)", "create_task (asyncio/base_events.py:4)"]) == (
        "Faust / mode (streams, consumer, timers)"
    )
    collapsed = tmp_path / "profile.txt"
    collapsed.write_text(
        "thread (1): MainThread;run (asyncio/base_events.py:1);select (selectors.py:468) 5\n"
        "thread (1): MainThread;run (asyncio/base_events.py:1);f (streams/partition.py:3) 3\n"
        "thread (1): MainThread;run (asyncio/base_events.py:1);g (faust/streams.py:9) 1\n"
    )
    text = summarize(collapsed)
    assert "MainThread" in text
    assert "75.0%  state update" in text


def test_alert_trials_find_the_shipped_turnaround_rule() -> None:
    rule = breach_rule()
    assert rule.threshold_s > 0
    assert rule.window_s % 60 == 0
    assert rule.samples >= 1


def test_best_round_takes_each_measure_from_its_least_disturbed_round() -> None:
    from bench.runner import _best_round

    def one(ceiling: float, baseline: float, wall: float, empty: float) -> dict[str, Any]:
        return {
            "ceiling": {"eps": ceiling},
            "baseline": {"eps": baseline},
            "pipeline": {"wall_s": wall},
            "pipeline_empty": {"wall_s": empty},
        }

    rounds = [
        one(100.0, 20.0, 30.0, 14.0),
        one(90.0, 25.0, 28.0, 15.0),
        one(95.0, 22.0, 29.0, 13.5),
    ]
    best = _best_round(rounds)
    assert best["ceiling"]["eps"] == 100.0
    assert best["baseline"]["eps"] == 25.0
    assert best["pipeline"]["wall_s"] == 28.0
    assert best["pipeline_empty"]["wall_s"] == 13.5


def test_cpu_budget_subtracts_the_empty_run_and_bounds_by_the_cores() -> None:
    from bench.runner import cpu_budget

    run = {"worker_cpu_s": 7.5, "chdb_cpu_s": 2.25, "broker_cpu_s": 0.5}
    empty = {"worker_cpu_s": 1.5, "chdb_cpu_s": 0.75, "broker_cpu_s": 0.75}
    budget = cpu_budget(run, empty, 100_000, 2)
    # 6 s, 1.5 s and nothing (the broker worked less than on empty topics) per 100 000 events.
    assert budget["us_per_event"] == {"worker": 60.0, "chdb": 15.0, "broker": 0.0}
    assert budget["total_us_per_event"] == 75.0
    assert math.isclose(budget["bound_eps"], 2 / 75e-6)
    assert cpu_budget(empty, empty, 10, 2)["bound_eps"] is None


def test_repeat_must_be_positive_and_not_with_scaling(capsys: Any) -> None:
    import pytest

    from bench.__main__ import main

    for argv in (["--repeat", "0"], ["--repeat", "2", "--scaling"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
    assert "--repeat" in capsys.readouterr().err


def test_worker_env_overrides_reach_every_worker_and_bad_ones_are_refused(
    capsys: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    import pytest

    from bench import stack
    from bench.__main__ import main

    assert stack.parse_worker_env(["ANNOTEL_CHDB_PROCESS=false", "ANNOTEL_RETENTION=6h"]) == {
        "ANNOTEL_CHDB_PROCESS": "false",
        "ANNOTEL_RETENTION": "6h",
    }
    for bad in ("PATH=/tmp", "ANNOTEL_CHDB_PROCESS", "=x", "ANNOTEL_=1"):
        with pytest.raises(ValueError, match="ANNOTEL_NAME=value"):
            stack.parse_worker_env([bad])
    monkeypatch.setenv("ANNOTEL_CHDB_PROCESS", "from the caller's shell")
    monkeypatch.setattr(stack, "WORKER_OVERRIDES", {"ANNOTEL_CHDB_PROCESS": "false"})
    env = stack.worker_env("127.0.0.1:1", tmp_path, ANNOTEL_RETENTION="6h")
    assert env["ANNOTEL_CHDB_PROCESS"] == "false"
    assert env["ANNOTEL_RETENTION"] == "6h"
    with pytest.raises(SystemExit) as exited:
        main(["--worker-env", "PATH=/tmp"])
    assert exited.value.code == 2
    assert "--worker-env" in capsys.readouterr().err


def test_the_broker_is_chosen_once_and_an_unavailable_apache_kafka_is_said(
    capsys: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    import pytest

    from bench import stack
    from bench.__main__ import main
    from bench.runner import machine

    monkeypatch.setattr(stack, "BROKER", {"kind": "tansu"})
    monkeypatch.setenv("ANNOTEL_KAFKA_HOME", str(tmp_path / "no-kafka"))
    with pytest.raises(SystemExit) as exited:
        main(["--broker", "apache"])
    assert exited.value.code == 2
    assert "--broker apache: " in capsys.readouterr().err
    assert stack.BROKER["kind"] == "tansu"  # nothing was switched before the refusal
    with pytest.raises(ValueError, match="tansu, apache"):
        stack.use_broker("redpanda")
    stack.use_broker("apache")
    host = machine()
    assert host["broker_kind"] == "apache" and "Apache Kafka 4." in host["broker"]


def test_gateway_run_is_a_run_of_its_own(capsys: Any) -> None:
    from bench.__main__ import main

    for args in (["--gateway", "--scaling"], ["--gateway", "--repeat", "2"]):
        with pytest.raises(SystemExit):
            main(args)
        assert "--gateway is a run of its own" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--gateway", "--clients", "0"])
    assert "--clients must be at least 1" in capsys.readouterr().err


def test_gateway_figures_render_what_was_measured() -> None:
    from bench.gateway import render

    text = render(
        {
            "events": 1000,
            "batch": 500,
            "requests": 2,
            "clients": 1,
            "statuses": [200],
            "accepted": 998,
            "rejected": 2,
            "accounted_for": True,
            "published_per_metrics": 998,
            "seconds": 0.5,
            "events_per_s": 2000,
            "latency_ms": {"p50": 1.0, "p90": 2.0, "p99": 3.0, "max": 4.0},
            "direct_producer_events_per_s": 9000,
        }
    )
    assert "2,000 events/s" in text and "p99 3.0 ms" in text and "rejected 2" in text
