"""The simulated roster: squads per vendor, their managers, start dates, and its ground truth.

Why it also changes a few people: coaching needs something true to find. One
standout (high skill, fast, on the two busiest queues of their language, a
year on the job) is ready for advancement; three injected low-quality
annotators (low skill, rushing) need coaching. New joiners are the world's
trainees (already weaker and slower), started one to four weeks before the
simulated day. A few annotators are left off the roster, as happens in real
life, and count under the squad ``unassigned``.

Drawn from its own random stream (``annotel-roster/<seed>``), after the world
has drawn everything else, so the world's other people and queues are exactly
what they were without a roster. Start dates are whole weeks before the
simulation's start (``roster_records``), so the same seed gives the same roster
relative to any start.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # simulator.world builds the roster while it builds the world
    from simulator.world import Annotator, Queue

SQUAD_SIZE = 12
STANDOUT = {"skill": 0.97, "speed": 0.45}
STANDOUT_TENURE_WEEKS = 40
LOW_QUALITY = {"skill": 0.15, "speed": 0.55}
LOW_QUALITY_COUNT = 3
MIN_PEOPLE = 20  # smaller worlds get a roster but no standout or injected people
UNLISTED_SHARE = 0.02
_ORDINALS_ZH = ("一", "二", "三", "四", "五", "六", "七", "八", "九", "十")


@dataclass(slots=True)
class Entry:
    annotator_id: str
    vendor_id: str | None
    squad: str
    manager: str
    display_name: str
    tenure_weeks: int
    level: str
    tags: list[str]


@dataclass(slots=True)
class RosterPlan:
    """The roster relative to the simulation's start, and what it was built to show."""

    entries: list[Entry] = field(default_factory=list)
    standout: str | None = None
    low_quality: list[str] = field(default_factory=list)
    new_joiners: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        """The ground truth (part of the manifest, under ``world.roster``)."""
        squads: dict[str, dict[str, Any]] = {}
        for e in self.entries:
            squad = squads.setdefault(
                e.squad, {"vendor_id": e.vendor_id, "manager": e.manager, "members": []}
            )
            squad["members"].append(e.annotator_id)
        return {
            "squads": squads,
            "standout": self.standout,
            "standout_params": (
                {**STANDOUT, "tenure_weeks": STANDOUT_TENURE_WEEKS} if self.standout else None
            ),
            "low_quality": list(self.low_quality),
            "low_quality_params": dict(LOW_QUALITY) if self.low_quality else None,
            "new_joiners": list(self.new_joiners),
            "unlisted": list(self.unlisted),
        }


def _tier(skill: float) -> str:
    return "tier-1" if skill >= 0.88 else "tier-2" if skill >= 0.72 else "tier-3"


def _retune(person: Annotator, skill: float, speed: float) -> None:
    person.skill = skill
    person.speed = speed
    person.log_speed = math.log(speed)
    rest = [t for t in person.tags if not t.startswith("tier-") and t != "trainee"]
    person.tags = [_tier(skill), *rest]


def _level(weeks: int) -> str:
    return "L1" if weeks < 13 else "L2" if weeks <= 78 else "L3"


def _names(vendor_id: str | None, prefix: str, index: int) -> tuple[str, str]:
    """(squad, manager) of a vendor's squad number ``index`` (0-based)."""
    if vendor_id is not None and any("\u4e00" <= ch <= "\u9fff" for ch in prefix):
        ordinal = _ORDINALS_ZH[index] if index < len(_ORDINALS_ZH) else str(index + 1)
        return f"{prefix}-{ordinal}组", f"{prefix}-组长-{index + 1}"
    letter = chr(ord("a") + index) if index < 26 else str(index + 1)
    return f"{prefix}-{letter}", f"{prefix}-lead-{index + 1}"


def plan_roster(seed: int, people: list[Annotator], queues: list[Queue]) -> RosterPlan:
    """Squads, managers and tenures; retunes the standout and the low-quality people.

    Called by ``build_world`` before people join their queues' workforces.
    """
    rng = random.Random(f"annotel-roster/{seed}")
    plan = RosterPlan()
    candidates = [p for p in people if "trainee" not in p.tags]
    if len(people) >= MIN_PEOPLE and len(candidates) >= LOW_QUALITY_COUNT + 1:
        # The standout: a Chinese vendor's when there is one (the packet then shows CJK).
        pool = [p for p in candidates if p.vendor_id and not p.annotator_id.isascii()]
        standout = rng.choice(pool or candidates)
        _retune(standout, STANDOUT["skill"], STANDOUT["speed"])
        language = standout.queues[0].language
        busiest = sorted(
            (q for q in queues if q.language == language), key=lambda q: (-q.weight, q.index)
        )
        standout.queues = busiest[:2]
        plan.standout = standout.annotator_id
        # Low quality: one per vendor (in-house counts as one) while they last.
        by_vendor: dict[str | None, list[Annotator]] = {}
        for p in candidates:
            if p is not standout:
                by_vendor.setdefault(p.vendor_id, []).append(p)
        order = sorted(by_vendor, key=lambda v: (v is None, v or ""))
        chosen: list[Annotator] = []
        while len(chosen) < LOW_QUALITY_COUNT:
            for vendor in order:
                left = [p for p in by_vendor[vendor] if p not in chosen]
                if left and len(chosen) < LOW_QUALITY_COUNT:
                    chosen.append(rng.choice(left))
        for p in chosen:
            _retune(p, LOW_QUALITY["skill"], LOW_QUALITY["speed"])
        plan.low_quality = [p.annotator_id for p in chosen]
        protected = {plan.standout, *plan.low_quality}
        unlisted = max(1, round(len(people) * UNLISTED_SHARE))
        others = [p for p in people if p.annotator_id not in protected]
        plan.unlisted = sorted(p.annotator_id for p in rng.sample(others, unlisted))

    listed = [p for p in people if p.annotator_id not in plan.unlisted]
    by_vendor_all: dict[str | None, list[Annotator]] = {}
    for p in listed:
        by_vendor_all.setdefault(p.vendor_id, []).append(p)
    for vendor in sorted(by_vendor_all, key=lambda v: (v is None, v or "")):
        members = by_vendor_all[vendor]
        prefix = members[0].annotator_id.rsplit("-", 1)[0]
        squads = max(1, math.ceil(len(members) / SQUAD_SIZE))
        for i, person in enumerate(members):
            squad, manager = _names(vendor, prefix, i * squads // len(members))
            number = int(person.annotator_id.rsplit("-", 1)[1])
            zh = not person.annotator_id.isascii()
            display = f"标注员 {number} 号" if zh else f"Annotator {number}"
            if person.annotator_id == plan.standout:
                weeks = STANDOUT_TENURE_WEEKS
            elif "trainee" in person.tags:
                weeks = rng.randint(1, 4)
                plan.new_joiners.append(person.annotator_id)
            else:
                weeks = rng.randint(8, 150)
            plan.entries.append(
                Entry(
                    annotator_id=person.annotator_id,
                    vendor_id=vendor,
                    squad=squad,
                    manager=manager,
                    display_name=display,
                    tenure_weeks=weeks,
                    level=_level(weeks),
                    tags=[t for t in person.tags if not t.startswith("tier-")],
                )
            )
    return plan


def roster_records(plan: RosterPlan, start: datetime) -> list[dict[str, Any]]:
    """The roster as plain records (the columns of ``annotel roster``'s files), start dates
    ``tenure_weeks`` before the day of ``start``."""
    day = start.date()
    return [
        {
            "annotator_id": e.annotator_id,
            "display_name": e.display_name,
            "squad": e.squad,
            "manager": e.manager,
            "vendor_id": e.vendor_id or "",
            "start_date": (day - timedelta(weeks=e.tenure_weeks)).isoformat(),
            "level": e.level,
            "tags": list(e.tags),
        }
        for e in plan.entries
    ]
