"""The pure alert evaluator: closed 1-minute windows in, alert transitions out.

No I/O and no wall clock: everything is decided in event time, so a replay of
the same minutes gives the same events, in the same order, with the same ids.
The only wall-clock input is the ``now`` given to ``advance``, used for
nothing but silence expiry.

Choices where the spec is silent (docs/alerts.md explains them to users):

- samples: the rate's denominator; ``turnaround_count`` for
  ``turnaround_max_s``; task outcomes (submitted + skipped + expired) for
  ``throughput_per_hour``.
- absence: an absent scope evaluates to throughput 0 with data, whatever
  ``min_samples`` says; otherwise a stalled queue could never fire.
- anomaly: sample standard deviation (n - 1) of the previous
  ``baseline_windows`` values with data, floored at ``min_std`` and at
  ``min_std_ratio`` (default 5 %) of |mean|, so a flat or nearly flat baseline
  cannot fire on noise; when the floored value is still 0 (flat at 0, no
  ``min_std``) the window cannot breach. Breaching windows join the baseline,
  so a lasting level shift becomes the new normal and resolves.
- a resolve is never muted when the firing it closes was sent; a firing that
  was muted is sent (as a repeat) at the first evaluation after the mute lifts.
- memory: series that are not firing are forgotten after
  ``max(24 h, (lookback + 1) windows)`` without data, pending ones included.
- no data: a firing alert resolves (``resolved_reason: no_data``) after
  ``no_data_for`` evaluations without data, unless ``no_data: keep``; a
  throughput window without events is a value there, never no data.

Where each part lives, in the order a closed minute meets them:
``evaluator`` (the ``Evaluator``: admits minutes, evaluates due rule windows
in time order), ``partials`` (minutes summed into the rules' open windows and
their breakdowns), ``trailing`` (running sums of a trailing window),
``explain`` (a firing alert's largest contributors), ``series`` (one alert's
lifecycle and memory), ``verdict`` (a window's value and whether it
breaches), ``event`` (the ``AlertEvent`` of a transition), ``muting``
(inhibit rules and silences), ``snapshot`` (the state as JSON and back).
Other packages import ``Evaluator`` and ``WindowKey`` from here.
"""

from alerts.evaluator.evaluator import Evaluator
from alerts.evaluator.partials import WindowKey

__all__ = ["Evaluator", "WindowKey"]
