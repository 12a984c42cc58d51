"""The delivery forecast: every formula of it, in one place (docs/metrics.md, "Delivery").

Will the queue be delivered by its deadline, and if not, how many more
annotators would close the gap? The inputs are sums the stream keeps exactly
(integers: tasks, microseconds) and the latest snapshot of the queue's
remaining work; the outputs are computed here and nowhere else, so the
worker's ``delivery_1m`` rows, the oracle test's recomputation and the texts
of the alerts and the report agree by construction.

Times are integer epoch microseconds, so the ETA is exact to the microsecond
(floor division) and independent of float rounding; the rates are floats
computed once from the integers.

Pure and dependency-free, like the rest of ``schemas``.
"""

from __future__ import annotations

from dataclasses import dataclass

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
DEFAULT_UTILIZATION = 0.75  # share of paid time spent on tasks
DEFAULT_HOURS_PER_DAY = 8.0  # working hours per calendar day


@dataclass(frozen=True, slots=True)
class ForecastInput:
    """What the forecast of one queue at one instant is computed from.

    ``now_us``: the end of the minute that just closed. ``submitted`` and
    ``annotators_active`` cover the trailing ``window_us`` (ending at
    ``now_us``; ``ANNOTEL_FORECAST_WINDOW``, or less when the queue's first
    submission of the day is more recent); ``submitted_24h`` and
    ``handle_time_24h_us`` the trailing day (AHT "at today's pace").
    ``due_us``: the plan's deadline, else the snapshot's, else none.
    """

    now_us: int
    open_tasks: int
    due_us: int | None
    window_us: int
    submitted: int
    submitted_24h: int
    handle_time_24h_us: int
    annotators_active: int
    utilization: float = DEFAULT_UTILIZATION
    hours_per_day: float = DEFAULT_HOURS_PER_DAY


@dataclass(frozen=True, slots=True)
class Forecast:
    """The forecast; ``None`` is "cannot be said" (stalled, no deadline, no AHT yet)."""

    throughput_per_hour: float
    throughput_24h_per_hour: float
    eta_us: int | None  # None: stalled (open work, no throughput)
    slack_h: float | None  # hours from the ETA to the deadline; negative: late
    required_per_hour: float | None  # None: no deadline, or the deadline has passed
    aht_s: float | None
    annotators_needed: float | None
    annotators_gap: float | None  # needed - active

    @property
    def stalled(self) -> bool:
        return self.eta_us is None


def working_hours_left(now_us: int, due_us: int, hours_per_day: float) -> float:
    """Working hours between now and the deadline: calendar hours x hours_per_day / 24."""
    return (due_us - now_us) / HOUR_US * hours_per_day / 24


def forecast(given: ForecastInput) -> Forecast:
    """The formulas of docs/metrics.md ("Delivery"), in its order.

    * throughput = submitted in the trailing window / window hours (and the same
      over 24 h);
    * eta = now + open / throughput, exactly: ``now + open x window // submitted``
      in microseconds; open 0 is done now; no throughput with work open is
      stalled (no ETA);
    * slack_h = (due - eta) in hours;
    * required_per_hour = open / working hours left until due;
    * aht_s = handle time / submitted over the trailing 24 h;
    * annotators_needed = required_per_hour x aht_s / 3600 / utilization;
    * annotators_gap = annotators_needed - annotators_active.
    """
    window_h = given.window_us / HOUR_US
    throughput = given.submitted / window_h
    throughput_24h = given.submitted_24h / 24
    if given.open_tasks == 0:
        eta_us: int | None = given.now_us
    elif given.submitted > 0:
        eta_us = given.now_us + given.open_tasks * given.window_us // given.submitted
    else:
        eta_us = None
    due_us = given.due_us
    slack_h = None if due_us is None or eta_us is None else (due_us - eta_us) / HOUR_US
    required: float | None = None
    if due_us is not None and due_us > given.now_us:
        hours = working_hours_left(given.now_us, due_us, given.hours_per_day)
        required = given.open_tasks / hours if hours > 0 else None
    aht_s = (
        given.handle_time_24h_us / 1_000_000 / given.submitted_24h
        if given.submitted_24h > 0
        else None
    )
    needed = (
        required * aht_s / 3600 / given.utilization
        if required is not None and aht_s is not None and given.utilization > 0
        else None
    )
    gap = None if needed is None else needed - given.annotators_active
    return Forecast(
        throughput_per_hour=throughput,
        throughput_24h_per_hour=throughput_24h,
        eta_us=eta_us,
        slack_h=slack_h,
        required_per_hour=required,
        aht_s=aht_s,
        annotators_needed=needed,
        annotators_gap=gap,
    )
