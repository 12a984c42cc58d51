"""Top error categories: how often audits flag each one, and where most of them are."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reports.types import ErrorRow


def error_rows(rows: Sequence[Mapping[str, Any]], audits: int, limit: int) -> list[ErrorRow]:
    """The section from ``reports.queries.error_categories`` rows (most errors first).

    Shares are of all audits in the period and of all flags (every category, not
    only the ``limit`` shown).
    """
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
