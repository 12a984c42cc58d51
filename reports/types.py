"""The report as data: the dataclasses every section returns and the renderers lay out.

``reports.model.build_report`` fills a ``Report``; ``reports.html`` and
``reports.markdown`` only read it. Nothing here queries or computes a section.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime
from typing import Any, Literal

from reports.figures import Figures
from reports.period import Period
from reports.sections.delivery import DeliverySection
from schemas import units
from schemas.stats import DEFAULT_CONFIDENCE, Bounded


@dataclass(frozen=True)
class Options:
    min_tasks: int = 20  # a contributor needs this many submitted tasks to be ranked ...
    min_audits: int = 5  # ... and this many audits
    min_gold: int = 5  # gold accuracy counts toward coaching from this many gold tasks
    top_n: int = 10
    coaching_n: int = 10
    incidents_n: int = 40
    errors_n: int = 10
    confidence: float = DEFAULT_CONFIDENCE  # of the Wilson bounds contributors are ranked by


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
        """The SLA as people say it: ``audit_pass_rate >= 85.0%`` (the good side)."""
        good = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}[self.op]
        return f"{self.metric} {good} {units.metric_value(self.metric, self.threshold)}"


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
    bounds: dict[str, Bounded] = field(default_factory=dict)  # metric -> Wilson interval


@dataclass
class Leaderboard:
    confidence: float
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
    delivery: DeliverySection | None = None  # reports.sections.delivery

    @property
    def empty(self) -> bool:
        return self.notice is not None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (for tests and tools)."""
        out: dict[str, Any] = _plain(self)
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return units.rfc3339(value)
    if isinstance(value, Figures):
        return value.to_dict()
    if isinstance(value, Period):
        return {"start": units.rfc3339(value.start), "end": units.rfc3339(value.end)}
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
