"""The report as data: every figure, table and sentence, computed; no rendering here.

``build_report`` reads ClickHouse (``reports.queries``) and the alert rules
and returns a ``Report``; ``reports.html`` and ``reports.markdown`` only lay
it out. Rates always come from summed numerators and denominators through
``schemas.metrics`` (``RATES``, ``throughput_rate``), never from averages.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from alerts.rules import THROUGHPUT, TURNAROUND_MAX, AnomalyRule, RuleSet, ThresholdRule, compare
from reports import fmt
from reports import queries as q
from reports.queries import Period
from schemas.metrics import (
    AGGREGATE_FIELDS,
    KEY_DIMENSIONS,
    MAX_FIELDS,
    RATES,
    WINDOW_SECONDS,
    throughput_rate,
)

# -- metrics shown ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricInfo:
    name: str
    label: str
    unit: str  # for axes
    higher_is_better: bool
    samples: str  # the field that says how much evidence a value rests on
    is_share: bool  # a 0-1 rate, shown in %

    def show(self, value: float | None) -> str:
        if self.is_share:
            return fmt.pct(value)
        if self.name == "aht_s":
            return fmt.seconds(value)
        if value is None:
            return fmt.NA
        return fmt.num(value, 1 if value < 100 else 0) + " tasks/h"


METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo(
            THROUGHPUT, "Throughput", "tasks submitted per hour", True, "tasks_submitted", False
        ),
        MetricInfo(
            "aht_s", "Average handle time (AHT)", "seconds", False, "tasks_submitted", False
        ),
        MetricInfo(
            "audit_pass_rate", "Audit pass rate", "% of audits approved", True, "audits", True
        ),
        MetricInfo(
            "gold_accuracy",
            "Gold accuracy",
            "% of gold tasks correct",
            True,
            "gold_submitted",
            True,
        ),
    )
}
TREND_METRICS = tuple(METRICS)
SHARES = frozenset(
    ("audit_pass_rate", "audit_reject_rate", "gold_accuracy", "rework_rate", "skip_rate")
)


def show_value(metric: str, value: float | None) -> str:
    """Any rule or report metric, in its unit."""
    if metric in METRICS:
        return METRICS[metric].show(value)
    if metric in SHARES:
        return fmt.pct(value)
    if metric in ("turnaround_avg_s", TURNAROUND_MAX):
        return fmt.seconds(value)
    return fmt.num(value, 2)


# Least evidence for a trend point (a bucket) and for a "what changed" comparison.
MIN_POINT_SAMPLES = 10
TARGET_POINT_SAMPLES = 50
MIN_CHANGE_SAMPLES = {THROUGHPUT: 30, "aht_s": 30, "audit_pass_rate": 30, "gold_accuracy": 20}
# A change is material from: 2 percentage points (and |z| >= 2) for shares, 10 % for AHT,
# 15 % for throughput. Movers are ranked by how many times their change exceeds that floor.
MATERIAL = {THROUGHPUT: 0.15, "aht_s": 0.10, "audit_pass_rate": 0.02, "gold_accuracy": 0.02}
MIN_Z = 2.0

BUCKETS_S = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
MAX_POINTS = 30


def choose_bucket(seconds: float) -> int:
    """The smallest usual bucket that draws the period in at most ``MAX_POINTS`` points."""
    for bucket in BUCKETS_S:
        if seconds / bucket <= MAX_POINTS:
            return bucket
    return BUCKETS_S[-1]


# -- figures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """The summed aggregate fields of a group over ``seconds`` of the period."""

    sums: Mapping[str, float]
    seconds: float

    def rate(self, metric: str) -> float | None:
        if metric == THROUGHPUT:
            if self.seconds <= 0:
                return None
            return throughput_rate(self.seconds).value(self.sums)
        return RATES[metric].value(self.sums)

    def n(self, name: str) -> int:
        return int(self.sums.get(name, 0))

    def samples(self, metric: str) -> int:
        return self.n(METRICS[metric].samples)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sums": dict(self.sums),
            "seconds": self.seconds,
            "rates": {name: self.rate(name) for name in (THROUGHPUT, *RATES)},
        }


def combine(rows: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Sum aggregate fields over rows (maxima for the max fields)."""
    total: dict[str, float] = dict.fromkeys(AGGREGATE_FIELDS, 0.0)
    for row in rows:
        for name in AGGREGATE_FIELDS:
            value = float(row.get(name) or 0)
            total[name] = max(total[name], value) if name in MAX_FIELDS else total[name] + value
    return total


def _vendor_key(row: Mapping[str, Any]) -> str:
    return fmt.vendor(str(row.get("vendor_id") or ""), row.get("source") == q.MACHINE_SOURCE)


# -- sections --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    min_tasks: int = 20  # a contributor needs this many submitted tasks to be ranked ...
    min_audits: int = 5  # ... and this many audits
    min_gold: int = 5  # gold accuracy counts toward coaching from this many gold tasks
    top_n: int = 10
    coaching_n: int = 10
    incidents_n: int = 40
    errors_n: int = 10


@dataclass
class ProjectRow:
    project_id: str
    figures: Figures
    queues: int
    firing_at_end: int = 0


@dataclass
class SlaRule:
    name: str
    metric: str
    op: str
    threshold: float
    window_s: int
    scope: tuple[str, ...]
    min_samples: int
    severity: str

    @property
    def target(self) -> str:
        """The SLA as people say it: ``audit pass rate >= 85 %`` (the good side)."""
        good = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}[self.op]
        if self.metric in SHARES:
            shown = fmt.pct(self.threshold, 0)
        elif self.metric in ("aht_s", TURNAROUND_MAX):
            shown = fmt.seconds(self.threshold)
        else:
            shown = fmt.num(self.threshold, 2).rstrip("0").rstrip(".")
            if self.metric == THROUGHPUT:
                shown += " tasks/h"
        return f"{self.metric} {good} {shown}"


@dataclass
class WorstScope:
    scope: dict[str, str]
    windows: int
    met: int
    worst_value: float | None
    worst_window: datetime | None


@dataclass
class SlaCell:
    rule: str
    project_id: str | None  # None: the rule's scope has no project_id (all projects together)
    windows: int = 0  # rule windows with enough samples
    met: int = 0
    no_data: int = 0  # rule windows below min_samples
    scopes: int = 0
    scopes_breached: int = 0
    worst: WorstScope | None = None

    @property
    def attainment(self) -> float | None:
        return self.met / self.windows if self.windows else None


@dataclass
class SlaSection:
    rules: list[SlaRule]
    cells: list[SlaCell]
    skipped: list[tuple[str, str]]  # (rule, why it has no attainment)

    def cell(self, rule: str, project_id: str | None) -> SlaCell | None:
        for cell in self.cells:
            if cell.rule == rule and cell.project_id == project_id:
                return cell
        return None

    def project_attainment(self, project_id: str) -> tuple[int, int]:
        """(met, windows) over every rule scoped by project."""
        cells = [c for c in self.cells if c.project_id == project_id]
        return sum(c.met for c in cells), sum(c.windows for c in cells)


@dataclass
class Point:
    at: datetime
    value: float | None
    samples: int


@dataclass
class Series:
    name: str
    points: list[Point]


@dataclass
class Trends:
    buckets: dict[str, int]  # metric -> bucket length (s)
    series: dict[str, list[Series]]  # metric -> one series per project
    thresholds: dict[str, list[tuple[float, str]]]  # metric -> (value, label)


@dataclass
class Incident:
    fingerprint: str
    rule: str
    severity: str
    metric: str
    scope: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    fired_at: datetime | None
    duration_s: float  # to the resolve, or to the end of the data for ongoing ones
    ongoing: bool
    worst_value: float | None
    threshold: float | None
    summary: str
    before_period: bool


@dataclass
class RuleIncidents:
    rule: str
    severity: str
    episodes: int
    ongoing: int
    total_s: float
    longest_s: float


@dataclass
class VendorRow:
    vendor: str  # display name: the vendor id, (in-house) or (machine labels)
    figures: Figures
    contributors: int
    share: float | None  # of all submitted tasks
    top_error: str | None


@dataclass
class AnnotatorRow:
    annotator_id: str
    vendor: str
    projects: list[str]
    figures: Figures
    reasons: list[str] = field(default_factory=list)


@dataclass
class Leaderboard:
    min_tasks: int
    min_audits: int
    min_gold: int
    active: int
    ranked: int
    top: list[AnnotatorRow]
    coaching: list[AnnotatorRow]
    coaching_total: int
    thresholds: dict[str, tuple[float, str]]  # metric -> (threshold, where it comes from)


@dataclass
class ErrorRow:
    category: str
    errors: int
    share_of_audits: float | None
    share_of_flags: float | None
    top_project: str
    top_project_errors: int


@dataclass
class Mover:
    kind: Literal["project", "vendor", "queue"]
    project_id: str
    name: str  # the vendor or queue; the project for kind project
    metric: str
    before: float
    after: float
    before_samples: int
    after_samples: int
    change: float  # percentage points for shares, relative for the others
    score: float
    better: bool
    sentence: str


@dataclass
class Changes:
    basis: Literal["halves", "previous"]
    before: Period
    after: Period
    overall: dict[str, tuple[float | None, float | None]]
    movers: list[Mover]
    basis_text: str


@dataclass
class Report:
    period: Period
    generated_at: datetime
    source: str
    rules_file: str
    data_first: datetime | None
    data_last: datetime | None
    options: Options
    totals: Figures
    notice: str | None = None
    projects: list[ProjectRow] = field(default_factory=list)
    sla: SlaSection | None = None
    trends: Trends | None = None
    incidents: list[Incident] = field(default_factory=list)
    incidents_by_rule: list[RuleIncidents] = field(default_factory=list)
    vendors: list[VendorRow] = field(default_factory=list)
    vendor_matrix: dict[str, dict[str, Figures]] = field(default_factory=dict)
    leaderboard: Leaderboard | None = None
    errors: list[ErrorRow] = field(default_factory=list)
    changes: Changes | None = None
    summary: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.notice is not None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (for tests and tools)."""
        out: dict[str, Any] = _plain(self)
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return fmt.iso(value)
    if isinstance(value, Figures):
        return value.to_dict()
    if isinstance(value, Period):
        return {"start": fmt.iso(value.start), "end": fmt.iso(value.end)}
    if is_dataclass(value) and not isinstance(value, type):
        out = {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, SlaCell):
            out["attainment"] = value.attainment
        return out
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# -- SLA attainment ----------------------------------------------------------------------------


def _measure(rule: ThresholdRule, sums: Mapping[str, float]) -> tuple[float | None, int]:
    """A rule window's value and samples, as ``alerts.evaluator`` measures them."""
    if rule.metric == THROUGHPUT:
        samples = sum(int(sums[n]) for n in ("tasks_submitted", "tasks_skipped", "tasks_expired"))
        return throughput_rate(rule.window).value(sums), samples
    if rule.metric == TURNAROUND_MAX:
        samples = int(sums["turnaround_count"])
        return (float(sums["turnaround_max_s"]) if samples else None), samples
    rate = RATES[rule.metric]
    return rate.value(sums), int(rate.denominator(sums))


def _scope_label(scope: Mapping[str, str], drop: Iterable[str] = ("project_id",)) -> dict[str, str]:
    dropped = set(drop)
    return {k: v for k, v in scope.items() if k not in dropped}


def sla_attainment(client: Any, period: Period, ruleset: RuleSet) -> SlaSection:
    """Per threshold rule and project: the share of rule windows that met the SLA.

    A rule window is judged exactly as the evaluator judges it: tumbling,
    aligned to UTC, fully inside the period, its value from the sums of its
    minutes, "no data" below ``min_samples``; for throughput rules a window
    without events counts as 0 while the scope had events in one of the
    previous ``absent_lookback`` windows (inside the period). Met means "not
    breaching the threshold". Anomaly rules have no fixed target and are listed
    as skipped.
    """
    rules: list[SlaRule] = []
    cells: dict[tuple[str, str | None], SlaCell] = {}
    skipped: list[tuple[str, str]] = []
    start_s = int(period.start.timestamp())
    end_s = int(period.end.timestamp())
    for rule in ruleset.rules:
        if isinstance(rule, AnomalyRule):
            skipped.append((rule.name, "anomaly rule: judged against its own baseline"))
            continue
        w = rule.window
        first = -(-start_s // w) * w
        last_end = end_s // w * w
        rules.append(
            SlaRule(
                rule.name,
                rule.metric,
                rule.op,
                rule.threshold,
                w,
                tuple(rule.scope),
                rule.min_samples,
                rule.severity,
            )
        )
        if last_end <= first:
            skipped.append((rule.name, f"no full {fmt.window(w)} window in the period"))
            continue
        window_period = Period(
            datetime.fromtimestamp(first, UTC), datetime.fromtimestamp(last_end, UTC)
        )
        rows = q.grouped_sums(client, window_period, rule.scope, bucket_s=w)
        by_scope: dict[tuple[str, ...], dict[int, Mapping[str, Any]]] = defaultdict(dict)
        for row in rows:
            key = tuple(str(row[d]) for d in rule.scope)
            by_scope[key][int(row["bucket"].timestamp())] = row
        for key, windows in by_scope.items():
            scope = dict(zip(rule.scope, key, strict=True))
            project = scope.get("project_id") if "project_id" in rule.scope else None
            cell = cells.setdefault((rule.name, project), SlaCell(rule.name, project))
            judged, met, no_data = 0, 0, 0
            worst_value: float | None = None
            worst_window: int | None = None
            last_seen: int | None = None
            for start in range(first, last_end, w):
                window_row = windows.get(start)
                value: float | None
                if window_row is None:
                    absent = (
                        rule.metric == THROUGHPUT
                        and rule.absent_lookback > 0
                        and last_seen is not None
                        and last_seen >= start - rule.absent_lookback * w
                    )
                    if not absent:
                        continue
                    value, has_data = 0.0, True
                else:
                    last_seen = start
                    value, samples = _measure(rule, window_row)
                    has_data = value is not None and samples >= rule.min_samples
                if not has_data or value is None:
                    no_data += 1
                    continue
                judged += 1
                if compare(rule.op, value, rule.threshold):
                    if worst_value is None or abs(value - rule.threshold) > abs(
                        worst_value - rule.threshold
                    ):
                        worst_value, worst_window = value, start
                else:
                    met += 1
            cell.windows += judged
            cell.met += met
            cell.no_data += no_data
            if judged:
                cell.scopes += 1
            if met < judged:
                cell.scopes_breached += 1
                candidate = WorstScope(
                    _scope_label(scope),
                    judged,
                    met,
                    worst_value,
                    datetime.fromtimestamp(worst_window, UTC) if worst_window is not None else None,
                )
                current = cell.worst
                if current is None or (candidate.met / candidate.windows, -candidate.windows) < (
                    current.met / current.windows,
                    -current.windows,
                ):
                    cell.worst = candidate
    return SlaSection(rules, list(cells.values()), skipped)


# -- trends ----------------------------------------------------------------------------------


def trend_bucket(period: Period, samples: int, series: int) -> int:
    """The bucket of a rate's chart: the time bucket, widened until a point rests on
    ``TARGET_POINT_SAMPLES`` samples on average (while at least 4 points remain)."""
    base = choose_bucket(period.seconds)
    chosen = base
    for bucket in BUCKETS_S:
        if bucket < base:
            continue
        points = math.ceil(period.seconds / bucket)
        if points < 4:
            break
        chosen = bucket
        if samples / max(series, 1) / points >= TARGET_POINT_SAMPLES:
            break
    return chosen


def trends(client: Any, period: Period, ruleset: RuleSet, projects: Sequence[ProjectRow]) -> Trends:
    """One series per project and metric, each metric in its own bucket (``trend_bucket``)."""
    buckets: dict[str, int] = {}
    for metric in TREND_METRICS:
        if metric == THROUGHPUT:
            buckets[metric] = choose_bucket(period.seconds)
        else:
            total = sum(p.figures.samples(metric) for p in projects)
            buckets[metric] = trend_bucket(period, total, len(projects))
    start_s, end_s = int(period.start.timestamp()), int(period.end.timestamp())
    series: dict[str, list[Series]] = {metric: [] for metric in TREND_METRICS}
    for bucket in sorted(set(buckets.values())):
        rows = q.grouped_sums(client, period, ["project_id"], bucket_s=bucket)
        by_project: dict[str, dict[int, Mapping[str, Any]]] = defaultdict(dict)
        for row in rows:
            by_project[str(row["project_id"])][int(row["bucket"].timestamp())] = row
        starts = list(range(start_s // bucket * bucket, end_s, bucket))
        for project in projects:
            found = by_project.get(project.project_id, {})
            for metric in TREND_METRICS:
                if buckets[metric] != bucket:
                    continue
                points = []
                for start in starts:
                    covered = min(start + bucket, end_s) - max(start, start_s)
                    bucket_row = found.get(start)
                    figures = Figures(combine([bucket_row] if bucket_row else []), covered)
                    value = figures.rate(metric)
                    samples = figures.samples(metric)
                    if metric != THROUGHPUT and samples < MIN_POINT_SAMPLES:
                        value = None
                    points.append(Point(datetime.fromtimestamp(start, UTC), value, samples))
                series[metric].append(Series(project.project_id, points))
    thresholds: dict[str, list[tuple[float, str]]] = {metric: [] for metric in TREND_METRICS}
    for rule in ruleset.rules:
        if (
            isinstance(rule, ThresholdRule)
            and rule.metric in thresholds
            and rule.metric != THROUGHPUT
        ):
            known = [value for value, _label in thresholds[rule.metric]]
            if rule.threshold not in known:
                thresholds[rule.metric].append((rule.threshold, f"SLA {rule.name}"))
    return Trends(buckets, series, thresholds)


# -- incidents -------------------------------------------------------------------------------


def incidents(
    client: Any, period: Period, horizon: datetime
) -> tuple[list[Incident], list[RuleIncidents]]:
    episodes: list[Incident] = []
    for row in q.alert_episodes(client, period):
        labels: Mapping[str, str] = row["labels"] or {}
        scope = {d: str(labels[d]) for d in KEY_DIMENSIONS if d in labels}
        values = [v for v in row["firing_values"] if v is not None]
        threshold = row["threshold"]
        worst = None
        if values:
            worst = (
                max(values, key=lambda v: abs(v - threshold))
                if threshold is not None
                else values[0]
            )
        ongoing = row["ends_at"] is None
        until = row["ends_at"] if not ongoing else max(horizon, row["starts_at"])
        annotations: Mapping[str, str] = row["annotations"] or {}
        episodes.append(
            Incident(
                fingerprint=row["fingerprint"],
                rule=row["rule"],
                severity=row["severity"],
                metric=row["metric"],
                scope=scope,
                starts_at=row["starts_at"],
                ends_at=row["ends_at"],
                fired_at=row.get("fired_at"),
                duration_s=(until - row["starts_at"]).total_seconds(),
                ongoing=ongoing,
                worst_value=worst,
                threshold=threshold,
                summary=str(annotations.get("summary", "")),
                before_period=row["starts_at"] < period.start,
            )
        )
    per_rule: dict[str, RuleIncidents] = {}
    for episode in episodes:
        item = per_rule.setdefault(
            episode.rule, RuleIncidents(episode.rule, episode.severity, 0, 0, 0.0, 0.0)
        )
        item.episodes += 1
        item.ongoing += episode.ongoing
        item.total_s += episode.duration_s
        item.longest_s = max(item.longest_s, episode.duration_s)
    ranked = sorted(
        per_rule.values(), key=lambda r: (SEVERITY_ORDER.get(r.severity, 9), -r.episodes, r.rule)
    )
    return episodes, ranked


SEVERITY_ORDER = {"critical": 0, "error": 1, "warning": 2, "info": 3}


def incident_order(episode: Incident) -> tuple[Any, ...]:
    """Most important first: severity, still firing, longest."""
    return (SEVERITY_ORDER.get(episode.severity, 9), not episode.ongoing, -episode.duration_s)


# -- vendors, contributors, errors -------------------------------------------------------------


def vendors(
    client: Any, period: Period, total_submitted: int
) -> tuple[list[VendorRow], dict[str, dict[str, Figures]]]:
    rows = q.grouped_sums(client, period, ["project_id", "vendor_id", "source", "annotator_id"])
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    people: dict[str, set[str]] = defaultdict(set)
    matrix_rows: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        key = _vendor_key(row)
        groups[key].append(row)
        people[key].add(str(row["annotator_id"]))
        matrix_rows[(str(row["project_id"]), key)].append(row)
    flagged: dict[tuple[str, str], int] = defaultdict(int)
    for row in q.error_categories_by_vendor(client, period):
        flagged[(_vendor_key(row), str(row["error_category"]))] += int(row["errors"])
    top_error: dict[str, tuple[int, str]] = {}
    for (key, category), errors in sorted(flagged.items()):
        if key not in top_error or errors > top_error[key][0]:
            top_error[key] = (errors, category)
    out = []
    for key, group in groups.items():
        figures = Figures(combine(group), period.seconds)
        submitted = figures.n("tasks_submitted")
        out.append(
            VendorRow(
                key,
                figures,
                len(people[key]),
                submitted / total_submitted if total_submitted else None,
                top_error[key][1] if key in top_error else None,
            )
        )
    out.sort(
        key=lambda r: (
            r.vendor in (fmt.IN_HOUSE, fmt.MACHINE),
            r.vendor == fmt.MACHINE,
            -r.figures.n("tasks_submitted"),
            r.vendor,
        )
    )
    matrix: dict[str, dict[str, Figures]] = defaultdict(dict)
    for (project, key), group in matrix_rows.items():
        matrix[project][key] = Figures(combine(group), period.seconds)
    return out, dict(matrix)


def _coaching_thresholds(ruleset: RuleSet) -> dict[str, tuple[float, str]]:
    """Quality floors for contributors: from the rules, the narrowest scope first."""
    found: dict[str, tuple[int, float, str]] = {}
    for rule in ruleset.rules:
        if not isinstance(rule, ThresholdRule) or rule.op not in ("<", "<="):
            continue
        if rule.metric not in ("audit_pass_rate", "gold_accuracy"):
            continue
        rank = 0 if "annotator_id" in rule.scope else 1
        best = found.get(rule.metric)
        if best is None or rank < best[0]:
            found[rule.metric] = (rank, rule.threshold, f"rule {rule.name}")
    return {metric: (value, origin) for metric, (_rank, value, origin) in found.items()}


def leaderboard(client: Any, period: Period, ruleset: RuleSet, options: Options) -> Leaderboard:
    """Contributors (machine labels excluded) with enough tasks and audits to be judged.

    Ranked by audit pass rate, then audits (more evidence first), then AHT.
    Needs coaching: ranked contributors below a quality floor of the rules
    (audit pass rate; gold accuracy when they have ``min_gold`` gold tasks),
    lowest pass rate first; without such rules, the lowest pass rates.
    """
    rows = q.annotator_sums(client, period)
    everyone = [
        AnnotatorRow(
            str(row["annotator_id"]),
            fmt.vendor(str(row["vendor_id"] or "")),
            list(row["projects"]),
            Figures(combine([row]), period.seconds),
        )
        for row in rows
    ]
    active = [a for a in everyone if a.figures.n("tasks_submitted") + a.figures.n("audits") > 0]
    ranked = [
        a
        for a in active
        if a.figures.n("tasks_submitted") >= options.min_tasks
        and a.figures.n("audits") >= options.min_audits
    ]

    def order(a: AnnotatorRow) -> tuple[float, int, float, str]:
        rate = a.figures.rate("audit_pass_rate")
        aht = a.figures.rate("aht_s")
        return (
            -(rate or 0.0),
            -a.figures.n("audits"),
            aht if aht is not None else math.inf,
            a.annotator_id,
        )

    ranked.sort(key=order)
    thresholds = _coaching_thresholds(ruleset)
    coaching: list[AnnotatorRow] = []
    for a in ranked:
        reasons = []
        for metric, (floor, origin) in thresholds.items():
            value = a.figures.rate(metric)
            if metric == "gold_accuracy" and a.figures.n("gold_submitted") < options.min_gold:
                continue
            if value is not None and value < floor:
                label = METRICS[metric].label.lower()
                reasons.append(f"{label} {fmt.pct(value)} < {fmt.pct(floor, 0)} ({origin})")
        if reasons:
            coaching.append(replace(a, reasons=reasons))
    if not thresholds:
        coaching = [replace(a, reasons=["lowest audit pass rate"]) for a in reversed(ranked)]
    coaching.sort(key=lambda a: (a.figures.rate("audit_pass_rate") or 0.0, a.annotator_id))
    return Leaderboard(
        options.min_tasks,
        options.min_audits,
        options.min_gold,
        len(active),
        len(ranked),
        ranked[: options.top_n],
        coaching[: options.coaching_n],
        len(coaching),
        thresholds,
    )


def error_rows(client: Any, period: Period, audits: int, limit: int) -> list[ErrorRow]:
    rows = q.error_categories(client, period)
    flags = sum(int(r["errors"]) for r in rows)
    return [
        ErrorRow(
            str(r["error_category"]),
            int(r["errors"]),
            int(r["errors"]) / audits if audits else None,
            int(r["errors"]) / flags if flags else None,
            str(r["top_project"]),
            int(r["top_project_errors"]),
        )
        for r in rows[:limit]
    ]


# -- what changed ----------------------------------------------------------------------------


def _entity_text(kind: str, project: str, name: str) -> str:
    if kind == "project":
        return f"project {project}"
    if kind == "vendor" and name == fmt.MACHINE:
        return f"machine labels on {project}"
    if kind == "vendor" and name == fmt.IN_HOUSE:
        return f"in-house staff on {project}"
    if kind == "vendor":
        return f"vendor {name} on {project}"
    return f"queue {name} ({project})"


def _two_proportion_z(a: float, na: int, b: float, nb: int) -> float:
    pooled = (a * na + b * nb) / (na + nb)
    se = math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    return (b - a) / se if se > 0 else 0.0


def _mover(
    kind: Literal["project", "vendor", "queue"],
    project: str,
    name: str,
    metric: str,
    a: Figures,
    b: Figures,
) -> Mover | None:
    info = METRICS[metric]
    na, nb = a.samples(metric), b.samples(metric)
    need = MIN_CHANGE_SAMPLES[metric]
    if na < need or (metric != THROUGHPUT and nb < need):
        return None
    before, after = a.rate(metric), b.rate(metric)
    if before is None or after is None:
        return None
    if info.is_share:
        change = after - before
        if abs(_two_proportion_z(before, na, after, nb)) < MIN_Z:
            return None
        shown = fmt.pp(change)
    else:
        if before == 0:
            return None
        change = after / before - 1
        shown = fmt.signed_pct(change)
    score = abs(change) / MATERIAL[metric]
    if score < 1:
        return None
    better = (change > 0) == info.higher_is_better
    verb = "rose" if change > 0 else "fell"
    sentence = (
        f"{info.label} of {_entity_text(kind, project, name)} {verb} from "
        f"{info.show(before)} to {info.show(after)} ({shown})."
    )
    return Mover(
        kind, project, name, metric, before, after, na, nb, change, score, better, sentence
    )


def _entity_figures(
    client: Any, period: Period
) -> dict[tuple[Literal["project", "vendor", "queue"], str, str], Figures]:
    out: dict[tuple[Literal["project", "vendor", "queue"], str, str], Figures] = {}
    vendor_rows = q.grouped_sums(client, period, ["project_id", "vendor_id", "source"])
    by_project: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    by_vendor: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for row in vendor_rows:
        by_project[str(row["project_id"])].append(row)
        by_vendor[(str(row["project_id"]), _vendor_key(row))].append(row)
    for project, group in by_project.items():
        out[("project", project, project)] = Figures(combine(group), period.seconds)
    for (project, vendor), group in by_vendor.items():
        out[("vendor", project, vendor)] = Figures(combine(group), period.seconds)
    for row in q.grouped_sums(client, period, ["project_id", "queue_id"]):
        key: tuple[Literal["project", "vendor", "queue"], str, str] = (
            "queue",
            str(row["project_id"]),
            str(row["queue_id"]),
        )
        out[key] = Figures(combine([row]), period.seconds)
    return out


def what_changed(
    client: Any, period: Period, data_first: datetime, limit: int = 6
) -> Changes | None:
    """Biggest movers vs. the previous period of the same length (when the data covers it),
    otherwise between the first and the second half of the period."""
    length = period.end - period.start
    basis: Literal["halves", "previous"]
    previous = Period(period.start - length, period.start)
    if data_first <= previous.start:
        before, after, basis = previous, period, "previous"
        basis_text = (
            f"the previous period of the same length ({fmt.when(previous.start)} – "
            f"{fmt.when(previous.end)})"
        )
    else:
        half = timedelta(seconds=length.total_seconds() // 2 // WINDOW_SECONDS * WINDOW_SECONDS)
        if half < timedelta(minutes=1):
            return None
        middle = period.start + half
        before, after, basis = Period(period.start, middle), Period(middle, period.end), "halves"
        basis_text = (
            f"the first half of the period ({fmt.when(before.start)} – {fmt.when(before.end)}) "
            f"vs. the second half ({fmt.when(after.start)} – {fmt.when(after.end)})"
        )
    figures_a = _entity_figures(client, before)
    figures_b = _entity_figures(client, after)
    overall_a = Figures(
        combine([f.sums for k, f in figures_a.items() if k[0] == "project"]), before.seconds
    )
    overall_b = Figures(
        combine([f.sums for k, f in figures_b.items() if k[0] == "project"]), after.seconds
    )
    overall = {m: (overall_a.rate(m), overall_b.rate(m)) for m in TREND_METRICS}
    best: dict[tuple[str, str], Mover] = {}
    for key, a in figures_a.items():
        kind, project, name = key
        b = figures_b.get(key, Figures(combine([]), after.seconds))
        for metric in TREND_METRICS:
            mover = _mover(kind, project, name, metric, a, b)
            if mover is None:
                continue
            slot = (metric, project)
            if slot not in best or mover.score > best[slot].score:
                best[slot] = mover
    movers = sorted(best.values(), key=lambda m: (-m.score, m.metric, m.project_id, m.name))
    return Changes(basis, before, after, overall, movers[:limit], basis_text)


# -- the report ------------------------------------------------------------------------------


class NoData(Exception):
    """The database has no metrics at all: there is nothing to report on."""


class PeriodError(ValueError):
    """``--from`` / ``--to`` leave no time between them."""


def resolve_period(
    bounds: tuple[datetime, datetime] | None, start: datetime | None, end: datetime | None
) -> Period:
    """``--from`` / ``--to``, each defaulting to the edge of the data (end exclusive)."""
    if bounds is None and (start is None or end is None):
        raise NoData("the database has no metrics yet")
    first = bounds[0] if bounds else None
    last_end = bounds[1] + timedelta(seconds=WINDOW_SECONDS) if bounds else None
    chosen_start = start if start is not None else first
    chosen_end = end if end is not None else last_end
    assert chosen_start is not None and chosen_end is not None
    if chosen_end <= chosen_start:
        covers = f"; the data covers {fmt.when(first)} – {fmt.when(last_end)}" if bounds else ""
        raise PeriodError(f"empty period {fmt.when(chosen_start)} – {fmt.when(chosen_end)}{covers}")
    return Period(chosen_start.astimezone(UTC), chosen_end.astimezone(UTC))


def build_report(
    client: Any,
    ruleset: RuleSet,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    options: Options | None = None,
    source: str = "",
    rules_file: str = "",
    now: datetime | None = None,
) -> Report:
    """Everything the report shows. Raises ``NoData`` on a database without metrics
    when the period is not given; an empty period gives a report with a notice."""
    options = options or Options()
    q.check_schema(client)
    bounds = q.data_bounds(client)
    period = resolve_period(bounds, start, end)
    generated = now or datetime.now(UTC)
    totals_rows = q.grouped_sums(client, period)
    totals = Figures(combine(totals_rows), period.seconds)
    report = Report(
        period=period,
        generated_at=generated,
        source=source,
        rules_file=rules_file,
        data_first=bounds[0] if bounds else None,
        data_last=bounds[1] if bounds else None,
        options=options,
        totals=totals,
    )
    horizon = period.end
    if bounds is not None:
        horizon = min(period.end, bounds[1] + timedelta(seconds=WINDOW_SECONDS))
    report.incidents, report.incidents_by_rule = incidents(client, period, horizon)
    if not totals_rows:
        if bounds is None:
            report.notice = "The database has no metrics yet."
        else:
            report.notice = (
                f"No annotation activity in this period. The data covers "
                f"{fmt.when(bounds[0])} – {fmt.when(bounds[1] + timedelta(minutes=1))}."
            )
        report.summary = [report.notice]
        return report

    project_rows = q.grouped_sums(client, period, ["project_id", "queue_id"])
    by_project: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in project_rows:
        by_project[str(row["project_id"])].append(row)
    firing: dict[str, int] = defaultdict(int)
    for episode in report.incidents:
        if episode.ongoing:
            firing[episode.scope.get("project_id", "")] += 1
    report.projects = sorted(
        (
            ProjectRow(p, Figures(combine(rows), period.seconds), len(rows), firing.get(p, 0))
            for p, rows in by_project.items()
        ),
        key=lambda r: (-r.figures.n("tasks_submitted"), r.project_id),
    )
    report.sla = sla_attainment(client, period, ruleset)
    report.trends = trends(client, period, ruleset, report.projects)
    report.vendors, report.vendor_matrix = vendors(client, period, totals.n("tasks_submitted"))
    report.leaderboard = leaderboard(client, period, ruleset, options)
    report.errors = error_rows(client, period, totals.n("audits"), options.errors_n)
    assert bounds is not None
    report.changes = what_changed(client, period, bounds[0])
    report.summary = summary_sentences(report)
    return report


def summary_sentences(report: Report) -> list[str]:
    """The narrative: what happened, then what changed (biggest movers)."""
    t = report.totals
    out = [
        f"{fmt.num(t.n('tasks_submitted'))} tasks were submitted "
        f"({fmt.num(t.rate(THROUGHPUT))} per hour) across {len(report.projects)} projects; "
        f"audit pass rate {fmt.pct(t.rate('audit_pass_rate'))} "
        f"over {fmt.num(t.n('audits'))} audits, "
        f"gold accuracy {fmt.pct(t.rate('gold_accuracy'))} over {fmt.num(t.n('gold_submitted'))} "
        f"gold tasks, AHT {fmt.seconds(t.rate('aht_s'))}."
    ]
    changes = report.changes
    if changes is not None:
        parts = []
        for metric in TREND_METRICS:
            a, b = changes.overall[metric]
            if a is None or b is None:
                continue
            info = METRICS[metric]
            if info.is_share:
                delta = fmt.pp(b - a)
            elif a:
                delta = fmt.signed_pct(b / a - 1)
            else:
                continue
            parts.append(
                f"{info.label.split(' (')[0].lower()} {info.show(a)} → {info.show(b)} ({delta})"
            )
        if parts:
            out.append(f"Compared: {changes.basis_text}. Overall: " + "; ".join(parts) + ".")
        if not changes.movers:
            out.append("No project, vendor or queue moved materially between the two.")
    if report.incidents:
        ongoing = [e for e in report.incidents if e.ongoing]
        by_severity: dict[str, int] = defaultdict(int)
        for e in report.incidents:
            by_severity[e.severity] += 1
        severities = ", ".join(
            f"{n} {s}"
            for s, n in sorted(by_severity.items(), key=lambda x: SEVERITY_ORDER.get(x[0], 9))
        )
        longest = max(report.incidents, key=lambda e: e.duration_s)
        scope = ", ".join(longest.scope.values()) or "everything"
        out.append(
            f"{len(report.incidents)} alert episodes ({severities}); "
            f"{len(ongoing)} still firing at the end of the period. "
            f"Longest: {longest.rule} for {scope} "
            f"({'≥ ' if longest.ongoing else ''}{fmt.duration(longest.duration_s)})."
        )
    else:
        out.append("No alert fired in the period.")
    if report.sla is not None:
        judged = [c for c in report.sla.cells if c.windows]
        if judged:
            worst = min(judged, key=lambda c: (c.attainment or 0.0, -c.windows))
            where = worst.project_id or "all projects"
            if worst.met == worst.windows:
                total = sum(c.windows for c in judged)
                out.append(f"Every SLA was met: all {total} judged rule windows.")
            else:
                out.append(
                    f"Lowest SLA attainment: {worst.rule} on {where}, "
                    f"{fmt.pct(worst.attainment)} of {worst.windows} rule windows met."
                )
    if report.errors:
        top = report.errors[0]
        out.append(
            f"Most frequent error category: {top.category} ({fmt.pct(top.share_of_audits)} of "
            f"audits, mostly on {top.top_project})."
        )
    return out
