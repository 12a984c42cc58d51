"""The simulated organisation: projects, queues, task types, vendors, annotators.

Everything here is built once per ``Simulator`` from the seed, in a fixed
order (lists, never sets or dict iteration over unordered input), so the same
seed always yields the same world.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from itertools import accumulate

from simulator.roster import RosterPlan, plan_roster

# -- catalogues -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskType:
    """Per task type: handle time (log-normal), difficulty, machine model, error categories."""

    name: str
    handle_median_s: float
    handle_sigma: float
    difficulty: float  # subtracted from the annotator's skill
    source_mix: tuple[float, float, float]  # human, hybrid, machine shares
    machine_model: str
    machine_quality: float  # the model's "skill"
    errors_en: tuple[str, ...]
    errors_zh: tuple[str, ...]


TASK_TYPES: dict[str, TaskType] = {
    t.name: t
    for t in (
        TaskType(
            "bbox",
            40.0,
            0.55,
            0.05,
            (0.55, 0.30, 0.15),
            "model:detr-3d-v2",
            0.78,
            ("loose_box", "missed_object", "wrong_class", "occlusion_flag"),
            ("边界不准", "漏标", "类别错误", "遮挡标记错误"),
        ),
        TaskType(
            "segmentation",
            150.0,
            0.60,
            0.10,
            (0.45, 0.45, 0.10),
            "model:unet-seg-v5",
            0.72,
            ("boundary_bleed", "missed_region", "wrong_class", "hole_not_filled"),
            ("边界溢出", "漏分割", "类别错误", "空洞未填充"),
        ),
        TaskType(
            "transcription",
            210.0,
            0.65,
            0.08,
            (0.50, 0.35, 0.15),
            "model:whisper-large-v3",
            0.74,
            ("substitution", "deletion", "insertion", "punctuation", "speaker_label"),
            ("错字", "漏字", "多字", "标点错误", "说话人标注错误"),
        ),
        TaskType(
            "intent_classification",
            9.0,
            0.50,
            0.02,
            (0.55, 0.15, 0.30),
            "model:intent-bert-v7",
            0.82,
            ("wrong_intent", "missing_slot", "ambiguity_not_flagged"),
            ("意图错误", "槽位缺失", "歧义未标记"),
        ),
        TaskType(
            "search_relevance",
            18.0,
            0.55,
            0.06,
            (0.75, 0.05, 0.20),
            "model:rank-t5-v3",
            0.78,
            ("over_rated", "under_rated", "guideline_violation"),
            ("评分偏高", "评分偏低", "违反规范"),
        ),
        TaskType(
            "ner",
            55.0,
            0.60,
            0.07,
            (0.50, 0.30, 0.20),
            "model:ner-crf-v4",
            0.76,
            ("span_boundary", "wrong_entity_type", "missed_entity"),
            ("实体边界错误", "实体类型错误", "漏标实体"),
        ),
    )
}

# (project_id, feed style, queues: (queue_id, task type, locale, relative volume))
# Feed style: ("Z", millis, in-house as null) or ("+08:00", seconds, in-house absent).
_PROJECTS: tuple[tuple[str, str, tuple[tuple[str, str, str, float], ...]], ...] = (
    (
        "autonomous-driving",
        "utc",
        (
            ("lidar-boxes", "bbox", "en-US", 1.0),
            ("lane-segmentation", "segmentation", "en-US", 0.5),
        ),
    ),
    (
        "医疗影像标注",
        "cst",
        (
            ("病灶框选", "bbox", "zh-CN", 0.8),
            ("图像分割", "segmentation", "zh-CN", 0.6),
        ),
    ),
    (
        "assistant-intents",
        "utc",
        (
            ("intents-en", "intent_classification", "en-US", 1.5),
            ("意图分类-中文", "intent_classification", "zh-CN", 1.2),
        ),
    ),
    (
        "普通话语音转写",
        "cst",
        (
            ("客服录音转写", "transcription", "zh-CN", 0.5),
            ("方言录音转写", "transcription", "zh-CN", 0.3),
        ),
    ),
    (
        "search-relevance",
        "utc",
        (
            ("query-relevance", "search_relevance", "en-US", 1.2),
            ("product-ner", "ner", "en-US", 0.6),
        ),
    ),
)

# (vendor_id, annotator id prefix, languages, skill offset, share of the workforce)
_VENDORS: tuple[tuple[str, str, tuple[str, ...], float, float], ...] = (
    ("apex-labeling", "apx", ("en",), 0.0, 1.0),
    ("华数标注", "华数", ("zh",), 0.02, 1.0),
    ("bluefin-ai", "blf", ("en", "zh"), -0.03, 0.8),
    ("northstar-data", "nst", ("en",), -0.05, 0.6),
)
IN_HOUSE_SHARE = 0.25
MAX_PROJECTS = len(_PROJECTS)
MIN_VENDORS, MAX_VENDORS = 2, len(_VENDORS)


# -- the world --------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class Annotator:
    annotator_id: str
    vendor_id: str | None
    skill: float  # 0..1, before the task type's difficulty
    speed: float  # handle-time multiplier (log-normal around 1)
    tags: list[str]
    queues: list[Queue] = field(default_factory=list)
    log_speed: float = 0.0


@dataclass(slots=True, eq=False)
class Queue:
    index: int
    project: Project
    queue_id: str
    task_type: TaskType
    locale: str
    language: str
    weight: float
    errors: tuple[str, ...]
    annotators: list[Annotator] = field(default_factory=list)
    cum_weights: list[float] = field(default_factory=list)
    p_machine: float = 0.0
    p_hybrid: float = 0.0
    log_handle: float = 0.0  # log of the task type's median handle time
    gold_p: float = 0.0  # gold share among human and hybrid tasks


@dataclass(slots=True, eq=False)
class Project:
    index: int
    project_id: str
    utc_offset_s: int
    suffix: str  # "Z" or "+08:00"
    millis: bool  # fractional seconds in timestamps
    inhouse_null: bool  # in-house written as "vendor_id": null (else the key is absent)
    audit_rate: float
    gold_rate: float
    auditors: list[str]
    queues: list[Queue] = field(default_factory=list)


@dataclass(slots=True)
class World:
    projects: list[Project]
    queues: list[Queue]
    vendors: list[str]
    annotators: list[Annotator]
    roster: RosterPlan = field(default_factory=RosterPlan)

    def describe(self) -> dict[str, object]:
        """The world as plain JSON values (part of the manifest)."""
        return {
            "projects": [
                {
                    "project_id": p.project_id,
                    "utc_offset": p.suffix,
                    "audit_rate": p.audit_rate,
                    "gold_rate": p.gold_rate,
                    "queues": [
                        {
                            "queue_id": q.queue_id,
                            "task_type": q.task_type.name,
                            "locale": q.locale,
                            "annotators": len(q.annotators),
                            "machine_model": q.task_type.machine_model,
                        }
                        for q in p.queues
                    ],
                }
                for p in self.projects
            ],
            "vendors": [*self.vendors, None],
            "annotators": len(self.annotators),
            "roster": self.roster.describe(),
        }


def _clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


def build_world(seed: int, projects: int, vendors: int, annotators: int) -> World:
    """A deterministic world for the seed; the knobs are validated by the caller."""
    rng = random.Random(f"annotel-world/{seed}")
    world_projects: list[Project] = []
    queues: list[Queue] = []
    for p_index, (project_id, style, queue_specs) in enumerate(_PROJECTS[:projects]):
        cst = style == "cst"
        auditors = (
            [f"审核员-{i:02d}" for i in range(1, 7)]
            if cst
            else [f"qa-{project_id.split('-')[0]}-{i:02d}" for i in range(1, 7)]
        )
        project = Project(
            index=p_index,
            project_id=project_id,
            utc_offset_s=8 * 3600 if cst else 0,
            suffix="+08:00" if cst else "Z",
            millis=not cst,
            inhouse_null=not cst,
            audit_rate=round(rng.uniform(0.13, 0.17), 3),
            gold_rate=round(rng.uniform(0.06, 0.08), 3),
            auditors=auditors,
        )
        for queue_id, type_name, locale, volume in queue_specs:
            task_type = TASK_TYPES[type_name]
            language = locale.split("-")[0]
            queue = Queue(
                index=len(queues),
                project=project,
                queue_id=queue_id,
                task_type=task_type,
                locale=locale,
                language=language,
                weight=volume,
                errors=task_type.errors_zh if language == "zh" else task_type.errors_en,
            )
            _human, hybrid, machine = task_type.source_mix
            queue.p_machine = machine
            queue.p_hybrid = hybrid
            queue.log_handle = math.log(task_type.handle_median_s)
            # Machines never get gold tasks: people get more so the overall share holds.
            queue.gold_p = project.gold_rate / (1 - machine)
            project.queues.append(queue)
            queues.append(queue)
        world_projects.append(project)

    vendor_specs = _VENDORS[:vendors]  # the first two cover English and Chinese
    people: list[Annotator] = []
    shares = [IN_HOUSE_SHARE] + [
        (1 - IN_HOUSE_SHARE) * spec[4] / sum(s[4] for s in vendor_specs) for spec in vendor_specs
    ]
    cum_shares = list(accumulate(shares))
    counters = [0] * (len(vendor_specs) + 1)
    for _ in range(annotators):
        draw = rng.random() * cum_shares[-1]
        which = next((i for i, c in enumerate(cum_shares) if draw <= c), len(vendor_specs))
        counters[which] += 1
        languages: tuple[str, ...]
        if which == 0:
            annotator_id, vendor_id, languages, offset = (
                f"ih-{counters[0]:04d}",
                None,
                ("en", "zh"),
                0.01,
            )
        else:
            vid, prefix, languages, offset, _share = vendor_specs[which - 1]
            annotator_id, vendor_id = f"{prefix}-{counters[which]:04d}", vid
        trainee = rng.random() < 0.08
        skill = _clamp(rng.betavariate(7.0, 1.8) + offset - (0.2 if trainee else 0.0), 0.2, 0.99)
        speed = _clamp(rng.lognormvariate(0.0, 0.3) * (1.3 if trainee else 1.0), 0.4, 3.0)
        tier = "tier-1" if skill >= 0.88 else "tier-2" if skill >= 0.72 else "tier-3"
        tags = [tier, "trainee"] if trainee else [tier]
        if rng.random() < 0.2:
            tags.append("night-shift")
        person = Annotator(annotator_id, vendor_id, round(skill, 4), round(speed, 4), tags)
        person.log_speed = math.log(person.speed)
        eligible = [q for q in queues if q.language in languages]
        if not eligible:
            continue
        total = sum(q.weight for q in eligible)
        pick = rng.random() * total
        primary = eligible[-1]
        for q in eligible:
            pick -= q.weight
            if pick <= 0:
                primary = q
                break
        person.queues.append(primary)
        if rng.random() < 0.15 and len(eligible) > 1:
            second = eligible[rng.randrange(len(eligible))]
            if second is not primary:
                person.queues.append(second)
        people.append(person)

    # The roster retunes a few people (simulator.roster) before they join their queues.
    roster = plan_roster(seed, people, queues)
    for person in people:
        for q in person.queues:
            q.annotators.append(person)
    for q in queues:
        if not q.annotators:  # a tiny workforce: borrow anyone who speaks the language
            q.annotators.extend(people[: max(1, min(3, len(people)))])
        # Faster annotators complete more tasks of the queue's flow.
        q.cum_weights = list(accumulate(1.0 / a.speed for a in q.annotators))
    return World(world_projects, queues, [v[0] for v in vendor_specs], people, roster)


def rhythm(local_hour: float) -> float:
    """Relative task volume by Beijing local hour (mean over a day is 1).

    Day shift peaks mid-morning and mid-afternoon with a lunch dip; an evening
    shift and a thin night shift keep the queues moving around the clock.
    """
    base = _HOURLY[int(local_hour) % 24]
    nxt = _HOURLY[(int(local_hour) + 1) % 24]
    frac = local_hour - math.floor(local_hour)
    return (base + (nxt - base) * frac) / _HOURLY_MEAN


_HOURLY = (
    0.30,  # 00
    0.25,
    0.22,
    0.22,
    0.24,
    0.30,
    0.45,
    0.70,
    1.05,  # 08
    1.45,
    1.60,
    1.55,
    1.10,  # 12 lunch
    1.30,
    1.60,
    1.65,
    1.50,
    1.25,
    0.95,  # 18
    0.85,
    0.80,
    0.70,
    0.55,
    0.40,
)
_HOURLY_MEAN = sum(_HOURLY) / 24
