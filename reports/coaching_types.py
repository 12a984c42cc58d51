"""The 1:1 packet and the squad page as data: what the sections return, what the renderers read.

``reports.coaching_model`` fills a ``Packet`` (``annotel coach``) or a
``SquadPage`` (``annotel squad``); ``reports.html_coaching`` and
``reports.markdown_coaching`` only lay them out. Nothing here queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from reports import fmt
from reports.figures import Figures
from reports.period import Period
from schemas import units
from schemas.stats import DEFAULT_CONFIDENCE, Bounded

QUALITY = ("audit_pass_rate", "gold_accuracy")


@dataclass(frozen=True)
class CoachingOptions:
    """What the coaching commands judge by; every field is a command-line option.

    A quality target is one number per metric: "needs coaching" when the upper
    bound of the person's rate is below it, "ready for advancement" when the
    lower bound is above it in every recent week.
    """

    days: int = 14
    confidence: float = DEFAULT_CONFIDENCE
    min_tasks: int = 20  # submitted tasks before AHT, rework and skip rates are judged
    min_audits: int = 10  # audits before the audit pass rate is judged (and a person ranked)
    min_gold: int = 8  # gold tasks before gold accuracy is judged
    target_pass_rate: float = 0.85
    target_gold: float = 0.80
    advance_weeks: int = 4  # N: weeks the quality must hold for advancement
    tenure_weeks: int = 12  # M: weeks on the roster before advancement
    gold_warn_below: float = 0.75  # the platforms' convention: below 75 % ...
    gold_warn_after: int = 7  # ... after more than 7 gold tasks
    tasks_shown: int = 100

    @property
    def targets(self) -> dict[str, float]:
        return {"audit_pass_rate": self.target_pass_rate, "gold_accuracy": self.target_gold}

    def min_samples(self, metric: str) -> int:
        return {"audit_pass_rate": self.min_audits, "gold_accuracy": self.min_gold}.get(
            metric, self.min_tasks
        )


@dataclass
class Person:
    """One annotator in a period: the roster's entry (if any) and the sums of their work."""

    annotator_id: str
    squad: str
    listed: bool  # in the roster
    figures: Figures
    bounds: dict[str, Bounded]
    display_name: str = ""
    manager: str = ""
    vendor: str = fmt.IN_HOUSE  # as shown: the events' main vendor, or the roster's
    vendor_id: str = ""  # the events' main vendor ('' for in-house)
    level: str = ""
    start_date: date | None = None
    tags: list[str] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.display_name or self.annotator_id

    @property
    def active(self) -> bool:
        f = self.figures
        return f.n("tasks_submitted") + f.n("tasks_skipped") + f.n("tasks_expired") > 0

    def tenure_weeks(self, on: date) -> float | None:
        return None if self.start_date is None else (on - self.start_date).days / 7


@dataclass
class Reason:
    """Why someone needs coaching: a rate whose upper bound is below its target."""

    metric: str
    label: str
    bounds: Bounded
    target: float
    unit: str  # what the samples are: "audits", "gold tasks"

    @property
    def shortfall(self) -> float:
        """How far below the target the best case is (a share, > 0)."""
        assert self.bounds.high is not None
        return self.target - self.bounds.high

    def text(self, confidence: float) -> str:
        b = self.bounds
        return (
            f"{self.label.lower()} {units.percent(b.rate)} of {units.count(b.trials)} {self.unit}: "
            f"at most {units.percent(b.high)} ({units.percent(confidence, 0)} upper bound), "
            f"{units.points(self.shortfall, signed=False)} below the "
            f"{units.percent(self.target)} target"
        )


@dataclass
class GoldWarning:
    person: Person
    correct: int
    gold: int

    @property
    def rate(self) -> float:
        return self.correct / self.gold


@dataclass
class MetricLine:
    """One row of the packet's table: the person against the squad, the vendor and before."""

    metric: str
    label: str
    value: float | None
    samples: int
    unit: str
    judged: bool  # enough samples to be compared
    bounds: Bounded | None  # shares only
    squad_median: float | None
    squad_peers: int  # members with enough samples behind the median
    vendor_median: float | None
    vendor_peers: int
    previous: float | None  # in the earlier of the two compared spans
    previous_samples: int
    later: float | None  # in the later span (the period itself against the previous period)
    change: float | None  # later - previous (a difference of shares, or relative otherwise)
    better: bool | None  # the change, judged in the metric's direction
    strength: bool = False


@dataclass
class CategoryRow:
    category: str
    audits: int  # audits flagged with it
    fixes: int
    rejects: int
    share_of_rejects: float | None  # of all the rejects in the period


@dataclass
class AuditedTask:
    occurred_at: datetime
    project_id: str
    queue_id: str
    task_id: str
    verdict: str
    categories: list[str]
    auditor_id: str
    score: float | None


@dataclass
class TrendPoint:
    at: datetime
    value: float | None
    samples: int


@dataclass
class TrendLine:
    name: str
    points: list[TrendPoint]


@dataclass
class TrendChart:
    metric: str  # tasks_submitted, aht_s, audit_pass_rate, gold_accuracy
    label: str
    bucket_s: int
    lines: list[TrendLine]
    target: float | None = None

    @property
    def drawable(self) -> bool:
        return any(p.value is not None for line in self.lines for p in line.points)


@dataclass
class WeekCheck:
    """One week of the advancement window."""

    period: Period
    covered: bool  # the data reaches into it
    ok: bool
    notes: list[str] = field(default_factory=list)


@dataclass
class Advancement:
    person: Person
    ready: bool
    weeks: list[WeekCheck]
    volume: int  # tasks submitted over the window
    squad_median_volume: float | None
    tenure_weeks: float | None
    missing: list[str]  # what keeps them from being ready


@dataclass
class Header:
    """What every page says about its period and its data."""

    period: Period
    days: int
    generated_at: datetime
    source: str
    data_first: datetime | None
    data_last: datetime | None
    basis: str | None  # what "previous" is compared with
    roster_loaded: bool
    options: CoachingOptions


@dataclass
class Packet:
    header: Header
    person: Person
    squad_members: int
    lines: list[MetricLine] = field(default_factory=list)
    coaching: list[Reason] = field(default_factory=list)
    gold_warning: GoldWarning | None = None
    strengths: list[str] = field(default_factory=list)
    focus: str | None = None
    categories: list[CategoryRow] = field(default_factory=list)
    tasks: list[AuditedTask] = field(default_factory=list)
    tasks_total: int = 0
    trends: list[TrendChart] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    advancement: Advancement | None = None
    notice: str | None = None


@dataclass
class MemberRow:
    person: Person
    rank: int | None  # None: too few samples to be ranked
    coaching: list[Reason]
    ready: bool
    gold_warning: bool

    @property
    def status(self) -> Literal["coaching", "ready", "ranked", "small", "inactive"]:
        if not self.person.active:
            return "inactive"
        if self.coaching:
            return "coaching"
        if self.ready:
            return "ready"
        return "ranked" if self.rank is not None else "small"


@dataclass
class SquadPage:
    header: Header
    squad: str
    managers: list[str]
    members: list[MemberRow] = field(default_factory=list)
    coaching: list[MemberRow] = field(default_factory=list)
    advancement: list[Advancement] = field(default_factory=list)
    gold_warnings: list[GoldWarning] = field(default_factory=list)
    medians: dict[str, float | None] = field(default_factory=dict)
    totals: Figures | None = None
    categories: list[CategoryRow] = field(default_factory=list)
    trends: list[TrendChart] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    weeks_covered: int = 0
    notice: str | None = None
