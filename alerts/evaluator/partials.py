"""Closed minutes summed into the rules' open windows: the alert stage's per-row cost.

Every key of every closed minute passes through ``PartialWindows.add``, so
the work is shared where rules allow it. Rules are grouped by scope, then by
window length: a closed key is projected once per distinct scope, the keys of
one piece of a minute are summed per scope first, and rules with the same
scope and window length share their partial windows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import add, itemgetter
from typing import Any, cast

from alerts.evaluator.series import RuleState, SeriesKey
from alerts.rules import ERROR_CATEGORY, THROUGHPUT, Rule
from schemas.metrics import AGGREGATE_FIELDS, KEY_DIMENSIONS, MAX_FIELDS

# (window_start epoch s, project_id, queue_id, vendor_id, locale, source, annotator_id)
WindowKey = tuple[int, str, str, str, str, str, str]
Projector = Callable[[Sequence[Any]], SeriesKey]

WIDTH = len(AGGREGATE_FIELDS)
KEY_WIDTH = len(KEY_DIMENSIONS)  # dimensions at the head of a windows-topic row
_MAX_INDEXES = tuple(i for i, name in enumerate(AGGREGATE_FIELDS) if name in MAX_FIELDS)
_DIM_POSITION = {dim: i + 1 for i, dim in enumerate(KEY_DIMENSIONS)}


def _projector(positions: Sequence[int]) -> Projector:
    """``row -> tuple(row[p] for p in positions)``, in C for two or more positions."""
    if not positions:
        return lambda _row: ()
    if len(positions) == 1:
        (position,) = positions
        return lambda row: (row[position],)
    return cast(Projector, itemgetter(*positions))


def _combine(acc: Sequence[int], values: Sequence[int]) -> list[int]:
    """A new vector: ``acc`` and ``values`` summed field by field, maxima kept as maxima."""
    out = list(map(add, acc, values))
    for i in _MAX_INDEXES:
        out[i] = values[i] if values[i] > acc[i] else acc[i]  # max(acc[i], values[i])
    return out


class PartialWindows:
    """Adds closed minutes (or pieces of them) into the partial windows of every rule."""

    def __init__(self, rules: Sequence[Rule], states: Mapping[str, RuleState]) -> None:
        # Per group of rules with one scope: projector of a WindowKey, projector of a
        # windows-topic row (the six dimensions first), (window, rules' states) pairs.
        groups: dict[tuple[int, ...], dict[int, list[RuleState]]] = {}
        for rule in rules:
            positions = tuple(_DIM_POSITION[dim] for dim in rule.scope)
            windows = groups.setdefault(positions, {})
            # A trailing rule's partial windows are its ``every`` buckets.
            windows.setdefault(rule.every, []).append(states[rule.name])
        self._groups = [
            (_projector(positions), _projector([p - 1 for p in positions]), list(windows.items()))
            for positions, windows in groups.items()
        ]
        # Per rule that explains its alerts, per key dimension of its breakdown: the
        # projectors of (*scope, member) and where the sums go.
        # Rules with the same scope, window and breakdown share it (as their buckets).
        # Throughput and trailing rules keep none: nothing explains them yet.
        shared: dict[tuple[tuple[int, ...], int, str], list[RuleState]] = {}
        for rule in rules:
            if rule.trailing or rule.metric == THROUGHPUT:
                continue
            for dim in rule.explain:
                if dim in _DIM_POSITION:
                    positions = (*(_DIM_POSITION[d] for d in rule.scope), _DIM_POSITION[dim])
                    shared.setdefault((positions, rule.window, dim), []).append(states[rule.name])
        self._breakdowns = [
            (_projector(positions), _projector([p - 1 for p in positions]), window, dim, members)
            for (positions, window, dim), members in shared.items()
        ]
        # Per (scope, window) of rules explained by error categories: the projector of
        # (*scope, category) from an error row and where its counts go.
        by_errors: dict[tuple[tuple[int, ...], int], list[RuleState]] = {}
        for rule in rules:
            if not rule.trailing and rule.metric != THROUGHPUT and ERROR_CATEGORY in rule.explain:
                positions = tuple(_DIM_POSITION[d] - 1 for d in rule.scope)
                by_errors.setdefault((positions, rule.window), []).append(states[rule.name])
        self._errors = [
            (_projector([*positions, KEY_WIDTH]), window, sharing)
            for (positions, window), sharing in by_errors.items()
        ]

    def add_errors(self, minute: int, rows: Sequence[Sequence[Any]]) -> None:
        """Sum error-category counts (rows: the six key dimensions, the category, the count)
        into the ``error_category`` breakdowns of the rules explained by them."""
        if not self._errors or not rows:
            return
        counts = [int(row[KEY_WIDTH + 1]) for row in rows]  # validated before any change
        for projector, window, sharing in self._errors:
            start = minute - minute % window
            targets: list[dict[SeriesKey, list[int]]] = []
            fresh: dict[SeriesKey, list[int]] | None = None  # shared by rules without one
            for state in sharing:
                dims = state.breakdowns.setdefault(start, {})
                held = dims.get(ERROR_CATEGORY)
                if held is None:
                    if fresh is None:
                        fresh = {}
                        targets.append(fresh)
                    dims[ERROR_CATEGORY] = fresh
                elif not any(held is seen for seen in targets):
                    targets.append(held)
            for parts in targets:
                for part_key, n in zip(map(projector, rows), counts, strict=True):
                    acc = parts.get(part_key)
                    parts[part_key] = [n] if acc is None else [acc[0] + n]

    def add(
        self,
        minute: int,
        keys: Sequence[Sequence[Any]],
        vectors: Sequence[Sequence[int]],
        rows: bool,
    ) -> None:
        """Sum the keys per distinct scope once, then into the rules' partial windows.

        ``keys`` are WindowKeys, or windows-topic rows when ``rows``. Every
        vector is validated before any state changes. Stored vectors are
        always new lists (``list`` / ``_combine``), never the caller's. Rules of
        the same scope and window length hold the same bucket object for a
        window start (their contents would be equal anyway), so it is summed
        into once; nothing changes a bucket once its window is evaluated (later
        minutes are ignored as late). Buckets restored from a snapshot are
        separate objects and are summed into separately; only rules that had no
        bucket for that start share the new one.
        """
        if set(map(len, vectors)) - {WIDTH}:
            bad = next(i for i, v in enumerate(vectors) if len(v) != WIDTH)
            raise ValueError(
                f"aggregate of {keys[bad]} has {len(vectors[bad])} fields, not {WIDTH}"
            )
        for key_projector, row_projector, members in self._groups:
            summed: dict[SeriesKey, Sequence[int]] = {}
            get = summed.get
            for series_key, values in zip(
                map(row_projector if rows else key_projector, keys), vectors, strict=True
            ):
                acc = get(series_key)
                summed[series_key] = values if acc is None else _combine(acc, values)
            for window, states in members:
                start = minute - minute % window
                buckets: list[dict[SeriesKey, list[int]]] = []
                new: dict[SeriesKey, list[int]] | None = None  # shared by rules without one
                for state in states:
                    bucket = state.partials.get(start)
                    if bucket is None:
                        if new is None:
                            new = {}
                            buckets.append(new)
                        state.partials[start] = new
                    elif not any(bucket is seen for seen in buckets):
                        buckets.append(bucket)
                for bucket in buckets:
                    for series_key, values in summed.items():
                        acc = bucket.get(series_key)
                        bucket[series_key] = list(values) if acc is None else _combine(acc, values)
        for key_projector, row_projector, window, dim, sharing in self._breakdowns:
            start = minute - minute % window
            targets: list[dict[SeriesKey, list[int]]] = []
            fresh: dict[SeriesKey, list[int]] | None = None  # shared by rules without one
            for state in sharing:
                dims = state.breakdowns.setdefault(start, {})
                held = dims.get(dim)
                if held is None:
                    if fresh is None:
                        fresh = {}
                        targets.append(fresh)
                    dims[dim] = fresh
                elif not any(held is seen for seen in targets):
                    targets.append(held)
            for parts in targets:
                for part_key, values in zip(
                    map(row_projector if rows else key_projector, keys), vectors, strict=True
                ):
                    acc = parts.get(part_key)
                    parts[part_key] = list(values) if acc is None else _combine(acc, values)
