"""Loading a roster into the ``roster`` table: the table then holds exactly that roster.

Why versions and tombstones rather than TRUNCATE and INSERT: between those two
statements every reader would see an empty roster (everyone ``unassigned``),
and a failed insert would leave it empty. Here a load is one INSERT: the rows
that changed or are new, at a version above every earlier one, and a tombstone
(``is_deleted = 1``) for each annotator the new roster leaves out.
``ReplacingMergeTree(version, is_deleted)`` read with ``FINAL`` then shows the
new roster whole, or (before the insert lands) the old one whole. Loading the
same roster again writes nothing.

Rows come in as plain values in ``ROSTER_COLUMNS`` order up to ``tags``
(``reports.roster.Member.row``), so this module needs nothing above ``sinks``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sinks.schema import ROSTER_COLUMNS

_VALUES = ROSTER_COLUMNS[: ROSTER_COLUMNS.index("version")]


@dataclass(frozen=True)
class RosterLoad:
    """What a load changed (annotator counts) and the version it wrote."""

    added: int
    changed: int
    removed: int
    unchanged: int
    version: int | None  # None: nothing to write


def _key(values: Sequence[Any]) -> tuple[Any, ...]:
    """A row's values, comparable between the file and the table."""
    out: list[Any] = []
    for name, value in zip(_VALUES, values, strict=True):
        if name == "tags":
            out.append(tuple(value))
        elif name == "start_date":
            out.append(value.isoformat() if isinstance(value, date) else None)
        else:
            out.append(str(value))
    return tuple(out)


def current_roster(client: Any) -> dict[str, tuple[Any, ...]]:
    """annotator_id -> the row's values as stored now."""
    result = client.query(f"SELECT {', '.join(_VALUES)} FROM roster FINAL")
    return {str(row[0]): _key(row) for row in result.result_rows}


def replace_roster(
    client: Any, rows: Sequence[Sequence[Any]], now: datetime | None = None
) -> RosterLoad:
    """Make the table hold ``rows`` (one per annotator, unique ids) and nothing else."""
    moment = now or datetime.now(UTC)
    before = current_roster(client)
    wanted = {str(row[0]): _key(row) for row in rows}
    if len(wanted) != len(rows):
        raise ValueError("a roster lists each annotator once")
    versions = client.query("SELECT max(version) FROM roster").result_rows
    latest = int(versions[0][0] or 0) if versions else 0
    version = max(latest + 1, int(moment.timestamp() * 1_000_000))
    inserts: list[list[Any]] = []
    added = changed = 0
    for row in rows:
        annotator = str(row[0])
        if annotator not in before:
            added += 1
        elif before[annotator] != wanted[annotator]:
            changed += 1
        else:
            continue
        inserts.append([*row[: len(_VALUES)], version, 0, moment])
    removed = sorted(set(before) - set(wanted))
    for annotator in removed:
        inserts.append([annotator, "", "", "", "", None, "", [], version, 1, moment])
    unchanged = len(wanted) - added - changed
    if not inserts:
        return RosterLoad(0, 0, 0, unchanged, None)
    client.insert("roster", inserts, column_names=list(ROSTER_COLUMNS))
    return RosterLoad(added, changed, len(removed), unchanged, version)
