"""The 1:1 packet and the squad page: read the rows (``reports.coaching_queries``), then
compute every piece with the pure sections.

The period is the last ``days`` days up to ``end`` (default: the end of the
newest minute with data), starting no earlier than the first data. It is
compared with the previous period of the same length when the data covers
that, otherwise its first half with its second (``sections.changes.comparison``,
as the report does), and the pages say which.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from reports import coaching_queries as cq
from reports import queries as q
from reports.coaching_types import (
    Advancement,
    CoachingOptions,
    Header,
    Packet,
    Person,
    SquadPage,
)
from reports.figures import Figures, combine
from reports.period import NoData, Period, PeriodError
from reports.roster import UNASSIGNED
from reports.sections.advancement import advancement, advancement_weeks, window_sums
from reports.sections.changes import Comparison, comparison
from reports.sections.coach_trends import LineSpec, coaching_bucket, trend_charts
from reports.sections.coaching import (
    category_rows,
    focus,
    gold_warning,
    needs_coaching,
    strengths,
)
from reports.sections.packet import audited_tasks, metric_lines, packet_summary
from reports.sections.people import COACH_METRICS, everyone, median, peer_values
from reports.sections.squad import coaching_order, member_rows, squad_summary
from reports.sections.squad_changes import SquadChanges, squad_changes
from schemas.metrics import WINDOW_SECONDS


class NotFound(LookupError):
    """No such annotator or squad in the data or the roster; the message says what exists."""


def _period(
    client: Any, options: CoachingOptions, end: datetime | None
) -> tuple[Period, Comparison | None, tuple[datetime, datetime]]:
    q.check_schema(client)
    bounds = q.data_bounds(client)
    if bounds is None:
        raise NoData("the database has no metrics yet")
    data_end = bounds[1] + timedelta(seconds=WINDOW_SECONDS)
    stop = (end or data_end).astimezone(UTC)
    start = max(stop - timedelta(days=options.days), bounds[0])
    if start >= stop:
        raise PeriodError(f"the data starts at {bounds[0]:%Y-%m-%d %H:%M} UTC, after --to")
    period = Period(start, stop)
    return period, comparison(period, bounds[0]), bounds


def _header(
    client: Any,
    period: Period,
    compared: Comparison | None,
    bounds: tuple[datetime, datetime],
    options: CoachingOptions,
    source: str,
    now: datetime | None,
) -> Header:
    return Header(
        period=period,
        days=options.days,
        generated_at=now or datetime.now(UTC),
        source=source,
        data_first=bounds[0],
        data_last=bounds[1],
        basis=compared.text if compared is not None else None,
        roster_loaded=bool(cq.roster_rows(client)),
        options=options,
    )


def _people(client: Any, period: Period, options: CoachingOptions) -> list[Person]:
    return everyone(
        cq.people(client, period), cq.roster_rows(client), period.seconds, options.confidence
    )


def _advancement(
    client: Any,
    members: Sequence[Person],
    period: Period,
    bounds: tuple[datetime, datetime],
    options: CoachingOptions,
) -> tuple[dict[str, Advancement], int]:
    """Each member's verdict, and how many weeks of the window the data covers."""
    weeks = advancement_weeks(
        period.end,
        options.advance_weeks,
        bounds[0],
        bounds[1] + timedelta(seconds=WINDOW_SECONDS),
    )
    ids = [p.annotator_id for p in members]
    sums = window_sums(cq.weekly(client, period.end, options.advance_weeks, ids))
    volumes = [
        float(sum(f.n("tasks_submitted") for f in by_week.values()))
        for by_week in sums.values()
        if any(f.n("tasks_submitted") for f in by_week.values())
    ]
    middle = median(volumes)
    verdicts = {
        p.annotator_id: advancement(
            p, weeks, sums.get(p.annotator_id, {}), middle, period.end.date(), options
        )
        for p in members
    }
    return verdicts, sum(1 for _span, covered in weeks if covered)


def build_packet(
    client: Any,
    annotator: str,
    options: CoachingOptions | None = None,
    *,
    end: datetime | None = None,
    source: str = "",
    now: datetime | None = None,
) -> Packet:
    """Everything ``annotel coach`` shows for one annotator."""
    options = options or CoachingOptions()
    period, compared, bounds = _period(client, options, end)
    header = _header(client, period, compared, bounds, options, source, now)
    people = _people(client, period, options)
    person = next((p for p in people if p.annotator_id == annotator), None)
    if person is None:
        raise NotFound(
            f"{annotator} has no activity from {period.start:%Y-%m-%d %H:%M} to "
            f"{period.end:%Y-%m-%d %H:%M} UTC and is not on the roster"
        )
    squad = [p for p in people if p.squad == person.squad]
    vendor = [p for p in people if p.active and p.vendor_id == person.vendor_id]
    packet = Packet(header=header, person=person, squad_members=len(squad))
    if not person.active:
        packet.notice = (
            f"{person.name} ({annotator}) is on the roster (squad {person.squad}) but has no "
            "activity in the period."
        )
        packet.summary = [packet.notice]
        return packet
    spans: tuple[Person | None, Person | None] | None = None
    if compared is not None:
        spans = (
            _find(client, compared.before, annotator, options),
            _find(client, compared.after, annotator, options),
        )
    strong = strengths(person, squad, options)
    packet.strengths = [sentence for _metric, sentence in strong]
    packet.lines = metric_lines(
        person, squad, vendor, spans, {metric for metric, _s in strong}, options
    )
    packet.coaching = needs_coaching(person, options)
    packet.gold_warning = gold_warning(person, options)
    packet.categories = category_rows(
        cq.categories(client, period, [annotator]), person.figures.n("audits_rejected")
    )
    packet.focus = focus(
        packet.categories,
        person.figures.n("audits_rejected"),
        person.figures.n("audits_fixed"),
    )
    rows, packet.tasks_total = cq.audited_tasks(client, period, annotator, options.tasks_shown)
    packet.tasks = audited_tasks(rows)
    bucket = coaching_bucket(period.seconds)
    ids = {p.annotator_id for p in squad}
    lines: list[LineSpec] = [
        (person.name, {annotator}, "total"),
        (f"squad {person.squad}", ids, "per_member"),
    ]
    packet.trends = trend_charts(
        period, bucket, cq.buckets(client, period, bucket, sorted(ids)), lines, options.targets
    )
    verdicts, _covered = _advancement(client, squad, period, bounds, options)
    packet.advancement = verdicts[annotator]
    packet.summary = packet_summary(packet)
    return packet


def _find(client: Any, span: Period, annotator: str, options: CoachingOptions) -> Person | None:
    rows = [r for r in cq.people(client, span) if r["annotator_id"] == annotator]
    found = everyone(rows, [], span.seconds, options.confidence)
    return found[0] if found else None


def build_squad(
    client: Any,
    squad: str,
    options: CoachingOptions | None = None,
    *,
    end: datetime | None = None,
    source: str = "",
    now: datetime | None = None,
) -> SquadPage:
    """Everything ``annotel squad`` shows for one squad (``unassigned``: everyone missing
    from the roster)."""
    options = options or CoachingOptions()
    period, compared, bounds = _period(client, options, end)
    header = _header(client, period, compared, bounds, options, source, now)
    people = _people(client, period, options)
    members = [p for p in people if p.squad == squad]
    if not members:
        known = sorted({p.squad for p in people})
        raise NotFound(
            f"no squad {squad!r} in the roster or the period (squads: {', '.join(known)})"
            if known
            else f"no squad {squad!r}: nobody is active in the period and the roster is empty"
        )
    verdicts, covered = _advancement(client, members, period, bounds, options)
    page = SquadPage(
        header=header,
        squad=squad,
        managers=sorted({p.manager for p in members if p.manager}),
        weeks_covered=covered,
    )
    page.members = member_rows(members, verdicts, options)
    page.coaching = coaching_order(page.members)
    page.advancement = sorted(
        (v for v in verdicts.values() if v.person.active or v.ready),
        key=lambda a: (not a.ready, len(a.missing), a.person.annotator_id),
    )
    page.gold_warnings = sorted(
        (w for p in members if (w := gold_warning(p, options)) is not None),
        key=lambda w: (w.rate, w.person.annotator_id),
    )
    page.medians = {m: median(peer_values(members, m, options)) for m in COACH_METRICS}
    page.totals = Figures(combine([p.figures.sums for p in members]), period.seconds)
    ids = sorted(p.annotator_id for p in members)
    page.categories = category_rows(
        cq.categories(client, period, ids), page.totals.n("audits_rejected")
    )
    bucket = coaching_bucket(period.seconds)
    lines: list[LineSpec] = [
        (f"squad {squad}", set(ids), "per_member"),
        ("all annotators", None, "per_member"),
    ]
    page.trends = trend_charts(
        period, bucket, cq.buckets(client, period, bucket, None), lines, options.targets
    )
    if not any(p.active for p in members):
        page.notice = f"Nobody in squad {squad} was active in the period."
    if squad == UNASSIGNED:
        page.managers = []
    page.summary = squad_summary(page)
    return page


def build_squad_changes(
    client: Any,
    squad: str,
    options: CoachingOptions | None = None,
    *,
    end: datetime | None = None,
) -> SquadChanges:
    """The weekly digest's content for one squad (``sections.squad_changes``): its page at
    ``end`` (default: the end of the data) against its page a week earlier.

    ``annotel squad-digest`` sends it to the squad's contributor manager once a week.
    """
    options = options or CoachingOptions()
    after = build_squad(client, squad, options, end=end)
    try:
        before = build_squad(
            client, squad, options, end=after.header.period.end - timedelta(weeks=1)
        )
    except (PeriodError, NotFound):  # no data a week ago: everything listed now is new
        before = SquadPage(header=after.header, squad=squad, managers=after.managers)
    return squad_changes(before, after)
