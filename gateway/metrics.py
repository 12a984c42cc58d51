"""The gateway's ``/metrics``: requests, published events, refusals and publish latency.

Prometheus text exposition, written by hand like the worker's (no client
library): counters keyed by their labels, and one histogram of the time the
broker took to acknowledge a request's records.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# Seconds: a healthy local broker acknowledges in milliseconds; the top buckets
# show requests that ran into the publish timeout.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    inner = ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True))
    return "{" + inner + "}" if inner else ""


@dataclass
class Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    total: int = 0
    sum: float = 0.0

    def observe(self, seconds: float) -> None:
        self.total += 1
        self.sum += seconds
        for index, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.counts[index] += 1


@dataclass
class GatewayMetrics:
    # route, source, status
    requests: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    published: Counter[tuple[str, str]] = field(default_factory=Counter)  # route, source
    rejected: Counter[tuple[str, str]] = field(default_factory=Counter)  # source, reason
    ignored: Counter[str] = field(default_factory=Counter)  # source
    auth_failures: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    publish_failures: Counter[str] = field(default_factory=Counter)  # source
    latency: Histogram = field(default_factory=Histogram)

    def text(self) -> str:
        lines: list[str] = []

        def family(
            name: str, kind: str, help_text: str, names: tuple[str, ...], counter: Counter[Any]
        ) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            for key, value in sorted(counter.items()):
                values = key if isinstance(key, tuple) else (key,)
                lines.append(f"{name}{_labels(names, values)} {value}")

        family(
            "annotel_gateway_requests_total",
            "counter",
            "HTTP requests by route, source (or client) and status",
            ("route", "source", "status"),
            self.requests,
        )
        family(
            "annotel_gateway_events_published_total",
            "counter",
            "events the broker acknowledged, by route and source",
            ("route", "source"),
            self.published,
        )
        family(
            "annotel_gateway_rejected_total",
            "counter",
            "items published as dead letters, by source and reason",
            ("source", "reason"),
            self.rejected,
        )
        family(
            "annotel_gateway_ignored_total",
            "counter",
            "parts of webhooks that are no work to count (drafts, pings), by source",
            ("source",),
            self.ignored,
        )
        family(
            "annotel_gateway_auth_failures_total",
            "counter",
            "requests refused with 401 (nothing published), by route, source and reason",
            ("route", "source", "reason"),
            self.auth_failures,
        )
        family(
            "annotel_gateway_publish_failures_total",
            "counter",
            "requests answered 503 because the broker did not acknowledge every record",
            ("source",),
            self.publish_failures,
        )
        name = "annotel_gateway_publish_seconds"
        lines.append(f"# HELP {name} time until the broker acknowledged a request's records")
        lines.append(f"# TYPE {name} histogram")
        for bound, count in zip(BUCKETS, self.latency.counts, strict=True):
            lines.append(f'{name}_bucket{{le="{bound}"}} {count}')
        lines.append(f'{name}_bucket{{le="+Inf"}} {self.latency.total}')
        lines.append(f"{name}_sum {self.latency.sum}")
        lines.append(f"{name}_count {self.latency.total}")
        return "\n".join(lines) + "\n"
