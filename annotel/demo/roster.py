"""The demo's roster: the simulator's squads, written as a roster file and loaded as one.

Why a file: the demo goes the way a contributor manager would (``annotel
roster check`` / ``load`` read the same file), and the file stays in the data
directory to be edited and loaded again. Loaded after the worker has stopped
(the embedded ClickHouse is the worker's while it runs), so ``annotel coach``
and ``annotel squad`` work on the demo's data as soon as it ends.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from reports.roster import load_roster, members_from_records, roster_csv
from simulator import Simulator
from simulator.roster import roster_records
from sinks.client import connect
from sinks.migrate import migrate
from sinks.roster import RosterLoad, replace_roster

ROSTER_FILE = "roster.csv"


def write_roster_file(seed: int, knobs: dict[str, Any], start: datetime, path: Path) -> Path:
    """The simulated organisation's roster (the same world the feed of ``seed`` comes from),
    start dates counted back from ``start``."""
    world = Simulator(seed, start, (), **knobs).world
    members = members_from_records(roster_records(world.roster, start))
    path.write_text(roster_csv(members), encoding="utf-8")
    return path


def load_roster_file(path: Path, dsn: str) -> tuple[int, int, RosterLoad]:
    """Check and load a roster file: (annotators, squads, what changed)."""
    roster = load_roster(path)
    client = connect(dsn)
    try:
        migrate(client)
        result = replace_roster(client, [m.row() for m in roster.members])
    finally:
        client.close()
    return len(roster.members), len(roster.squads), result
