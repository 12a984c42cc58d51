"""Vendors: each vendor's figures, contributors, share of the work and most frequent error,
and the vendor-by-project matrix.

In-house staff (no vendor id) and machine labels are vendors of their own,
listed after the external vendors.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from reports import fmt
from reports.figures import Figures, combine, vendor_key
from reports.types import VendorRow

Rows = Sequence[Mapping[str, Any]]


def vendors(
    rows: Rows, error_rows: Rows, seconds: float, total_submitted: int
) -> tuple[list[VendorRow], dict[str, dict[str, Figures]]]:
    """The section from the sums per ``project_id``, ``vendor_id``, ``source`` and
    ``annotator_id`` and from ``reports.queries.error_categories_by_vendor`` rows.

    A vendor's top error is its most flagged category (the first by name on a tie).
    """
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    people: dict[str, set[str]] = defaultdict(set)
    matrix_rows: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        key = vendor_key(row)
        groups[key].append(row)
        people[key].add(str(row["annotator_id"]))
        matrix_rows[(str(row["project_id"]), key)].append(row)
    flagged: dict[tuple[str, str], int] = defaultdict(int)
    for row in error_rows:
        flagged[(vendor_key(row), str(row["error_category"]))] += int(row["errors"])
    top_error: dict[str, tuple[int, str]] = {}
    for (key, category), errors in sorted(flagged.items()):
        if key not in top_error or errors > top_error[key][0]:
            top_error[key] = (errors, category)
    out = []
    for key, group in groups.items():
        figures = Figures(combine(group), seconds)
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
        matrix[project][key] = Figures(combine(group), seconds)
    return out, dict(matrix)
