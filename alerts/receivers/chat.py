"""What the people-facing kinds (Feishu, DingTalk, WeCom, Teams, email) say about an alert.

One text model, rendered by each kind in its platform's markup: the rule's
annotations as written (a Chinese template stays Chinese), our own fixed
words in the receiver's ``language`` (``en`` or ``zh``), every time shown in
its ``timezone`` (machine fields elsewhere stay UTC), and the people to
@-mention, from the receiver's ``mentions`` map (a severity, a ``label=value``
or ``*`` to people) and a rule's ``mentions`` label. Values are kept plain
here; each kind escapes them for its markup, after any cut (``AlertText.cut``),
so a cut never falls inside an escape or a markup element.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field

from alerts.formats import explanation_lines, link_safe, no_data_line
from alerts.model import IN_HOUSE, IN_HOUSE_ZH, SEVERITIES, AlertEvent, display_scope
from alerts.receivers.settings import (
    STRICT,
    Grouping,
    ReceiverConfigError,
    Secret,
    check_url,
    env_secret,
    group_wait_s,
)
from schemas.display import visible
from schemas.durations import format_duration
from schemas.redact import add_secret
from schemas.units import metric_value

Language = Literal["en", "zh"]
# Alerts whose rendered markup each kind remembers: a group is re-measured as it is split.
ALERT_CACHE = 4096

# Our own words; the rule's annotations are never translated.
WORDS: dict[Language, dict[str, str]] = {
    "en": {
        "firing": "FIRING",
        "resolved": "RESOLVED",
        "repeat": "STILL FIRING",
        "critical": "critical",
        "error": "error",
        "warning": "warning",
        "info": "info",
        "value": "Value",
        "threshold": "threshold",
        "no_data": "no data",
        "scope": "Scope",
        "scope_all": "all",
        "window": "Window",
        "since": "Since",
        "until": "Resolved at",
        "runbook": "Runbook",
        "n_firing": "{n} firing",
        "n_resolved": "{n} resolved",
        "and": ", ",
        "colon": ": ",
        "part": " ({i}/{n})",
        "footer": "annotation-telemetry · times in {zone}",
        "mention": "Attention",
        "test_summary": "Test notification from annotation-telemetry: this receiver works",
    },
    "zh": {
        "firing": "告警",
        "resolved": "已恢复",
        "repeat": "持续告警",
        "critical": "严重",
        "error": "错误",
        "warning": "警告",
        "info": "提示",
        "value": "当前值",
        "threshold": "阈值",
        "no_data": "无数据",
        "scope": "范围",
        "scope_all": "全部",
        "window": "窗口",
        "since": "开始时间",
        "until": "恢复时间",
        "runbook": "处理手册",
        "n_firing": "{n} 条告警",
        "n_resolved": "{n} 条已恢复",
        "and": "，",
        "colon": "：",
        "part": "（{i}/{n}）",
        "footer": "annotation-telemetry · 时间为 {zone}",
        "mention": "请关注",
        "test_summary": "annotation-telemetry 测试通知：此接收器工作正常",
    },
}

# Who can be mentioned: a platform user id, an email (Feishu, Teams), a mobile
# number (DingTalk, WeCom) or ``all``. Nothing that could close or open markup.
_PERSON = re.compile(r"[A-Za-z0-9_.+@\-]{1,128}")
_MOBILE = re.compile(r"\+?[0-9][0-9\-]{5,19}")
EVERYONE = "all"
MENTIONS_LABEL = "mentions"  # a rule's label: people to mention, separated by commas or spaces


class Presentation(Grouping):
    """How a receiver shows alerts to people: its ``timezone`` and ``language``."""

    model_config = STRICT
    timezone: str = "UTC"  # an IANA name, e.g. Asia/Shanghai
    language: Language = "en"
    timeout_s: float = Field(10.0, gt=0)


def _person(value: object) -> object:
    """A mobile number written without quotes in YAML is an int: take it as the number."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Person = Annotated[str, BeforeValidator(_person)]


class ChatSettings(Presentation):
    """A chat robot: its webhook URL (the credential) from the environment, and who to mention."""

    model_config = STRICT
    url_env: str
    # severity | label=value | "*"  ->  people (user ids, emails, mobiles, or "all")
    mentions: dict[str, tuple[Person, ...]] = Field(default_factory=dict)


def zone(name: str, config: Presentation) -> ZoneInfo:
    """The receiver's time zone; an unknown name is a configuration error."""
    try:
        return ZoneInfo(config.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ReceiverConfigError(
            f"receiver {name!r}: timezone {config.timezone!r} is not a known IANA time zone "
            "(e.g. UTC, Asia/Shanghai)"
        ) from None


def is_mobile(person: str) -> bool:
    return _MOBILE.fullmatch(person) is not None


def check_mentions(name: str, mentions: Mapping[str, Sequence[str]]) -> None:
    for key, people in mentions.items():
        label, eq, value = key.partition("=")
        if not (key == "*" or key in SEVERITIES or (eq and label.strip() and value.strip())):
            raise ReceiverConfigError(
                f"receiver {name!r}: mentions key {key!r} is not a severity "
                f"({', '.join(SEVERITIES)}), a label=value or *"
            )
        for person in people:
            if not _PERSON.fullmatch(person):
                raise ReceiverConfigError(
                    f"receiver {name!r}: mentions[{key!r}]: {person!r} is not a user id, "
                    "an email, a mobile number or all"
                )


def people_for(event: AlertEvent, mentions: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """Who to mention for ``event``: only while it fires (a resolve pings nobody)."""
    if event.status != "firing":
        return ()
    found: list[str] = []
    for key, people in mentions.items():
        label, eq, value = key.partition("=")
        if key in ("*", event.severity) or (
            eq and (event.labels.get(label) or event.scope.get(label)) == value
        ):
            found.extend(people)
    found.extend(
        person
        for person in re.split(r"[\s,]+", event.labels.get(MENTIONS_LABEL, ""))
        if _PERSON.fullmatch(person)
    )
    return tuple(dict.fromkeys(found))


def zone_label(moment: datetime) -> str:
    """``UTC`` or ``UTC+08:00``: an offset reads the same everywhere (``CST`` does not)."""
    offset = moment.utcoffset()
    if not offset:
        return "UTC"
    minutes = round(offset.total_seconds() / 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{rest:02d}"


def time_text(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} {zone_label(local)}"


def window_text(event: AlertEvent, tz: ZoneInfo) -> str:
    """The rule window in the receiver's time zone, with its length."""
    start = event.window_start.astimezone(tz)
    end = event.window_end.astimezone(tz)
    length = format_duration((end - start).total_seconds())
    end_text = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M}"
    return f"{start:%Y-%m-%d %H:%M}–{end_text} {zone_label(start)} ({length})"


def value_text(event: AlertEvent, language: Language) -> str:
    """Value against threshold, spelt by ``schemas.units`` as everywhere else."""
    value = metric_value(event.metric, event.value)
    if event.value is None:
        value = WORDS[language]["no_data"]
    threshold = metric_value(event.metric, event.threshold)
    word = WORDS[language]["threshold"]
    op = event.extra.get("op")
    if isinstance(op, str) and op:
        if language == "en":
            return f"{value} {op} {threshold} ({word})"
        return f"{value} {op} {threshold}（{word}）"
    return f"{value} ({word} {threshold})" if language == "en" else f"{value}（{word} {threshold}）"


def _cut(text: str, budget: int) -> str:
    return text if len(text) <= budget else text[: max(budget - 1, 0)] + "…"


@dataclass(frozen=True)
class AlertText:
    """One alert as people read it, every value plain (unescaped) and safe to show.

    ``summary`` and ``details`` are the rule's annotations as rendered by the
    evaluator; ``details`` are the lines of ``description`` and then any other
    annotation as ``name: value``. ``runbook`` is empty unless it is a plain
    http(s) URL.
    """

    fingerprint: str
    status: str
    severity: str
    rule: str
    state: str
    severity_word: str
    summary: str
    details: tuple[str, ...]
    value: str
    metric: str
    scope: tuple[tuple[str, str], ...]
    window: str
    since: str
    until: str | None
    runbook: str
    people: tuple[str, ...]

    def cut(self, budget: int) -> AlertText:
        """The same alert with its texts from the data cut to ``budget`` characters
        (the details together), for an alert too large for a message on its own."""
        details: list[str] = []
        left = budget
        for line in self.details:
            if left <= 0:
                break
            details.append(_cut(line, left))
            left -= len(line)
        return replace(
            self,
            rule=_cut(self.rule, max(budget, 16)),
            summary=_cut(self.summary, budget),
            details=tuple(details),
            scope=tuple((k, _cut(v, max(budget // 4, 8))) for k, v in self.scope),
        )


def alert_text(
    event: AlertEvent,
    language: Language,
    tz: ZoneInfo,
    mentions: Mapping[str, Sequence[str]] | None = None,
    in_house: str | None = None,
) -> AlertText:
    """``in_house``: the receiver's name for the empty vendor (default: in its language)."""
    words = WORDS[language]
    team = in_house or (IN_HOUSE_ZH if language == "zh" else IN_HOUSE)
    if event.status == "resolved":
        state = words["resolved"]
    else:
        state = words["repeat"] if event.repeat else words["firing"]
    summary = visible(" ".join(event.annotations.get("summary", "").split("\n")).strip())
    if not summary:
        summary = f"{event.rule}{words['colon']}{event.metric} {value_text(event, language)}"
    details: list[str] = []
    description = event.annotations.get("description", "")
    details.extend(visible(line) for line in description.splitlines() if line.strip())
    for key, text in event.annotations.items():
        if key not in ("summary", "description", "runbook_url") and text.strip():
            details.append(visible(f"{key}: {text}"))
    details.extend(visible(line) for line in explanation_lines(event, language, team))
    runbook = event.annotations.get("runbook_url", "")
    until = None
    if event.status == "resolved":
        until = time_text(event.ends_at or event.window_end, tz)
        reason = no_data_line(event, until, language)
        if reason is not None:
            details.insert(0, reason)
    return AlertText(
        fingerprint=event.fingerprint,
        status=event.status,
        severity=event.severity,
        rule=visible(event.rule),
        state=state,
        severity_word=words.get(event.severity, event.severity),
        summary=summary,
        details=tuple(details),
        value=value_text(event, language),
        metric=visible(event.metric),
        scope=tuple((visible(k), visible(v)) for k, v in display_scope(event.scope, team).items()),
        window=window_text(event, tz),
        since=time_text(event.starts_at, tz),
        until=until,
        runbook=runbook if link_safe(runbook) else "",
        people=people_for(event, mentions or {}),
    )


Tone = Literal["red", "orange", "blue", "green"]


def tone(alerts: Sequence[AlertText]) -> Tone:
    """Firing red (critical, error), orange (warning), blue (info); all resolved green."""
    firing = {a.severity for a in alerts if a.status == "firing"}
    if not firing:
        return "green"
    if firing & {"critical", "error"}:
        return "red"
    return "orange" if "warning" in firing else "blue"


EMOJI: dict[Tone, str] = {"red": "🔴", "orange": "🟠", "blue": "🔵", "green": "✅"}


def title(alerts: Sequence[AlertText], language: Language, part: str = "") -> str:
    """``🔴 2 firing, 1 resolved: rule_a, rule_b (1/3)``, in the receiver's language."""
    words = WORDS[language]
    firing = sum(1 for a in alerts if a.status == "firing")
    resolved = len(alerts) - firing
    counts = []
    if firing:
        counts.append(words["n_firing"].format(n=firing))
    if resolved:
        counts.append(words["n_resolved"].format(n=resolved))
    rules = ", ".join(dict.fromkeys(a.rule for a in alerts))
    head = f"{EMOJI[tone(alerts)]} {words['and'].join(counts)}{words['colon']}"
    return head + _cut(rules, 80) + part


def part_label(language: Language, index: int, total: int) -> str:
    return WORDS[language]["part"].format(i=index, n=total) if total > 1 else ""


def footer(language: Language, tz: ZoneInfo) -> str:
    return WORDS[language]["footer"].format(zone=tz.key)


def all_people(alerts: Sequence[AlertText]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p for a in alerts for p in a.people))


# -- data text in markup --------------------------------------------------------------------

_MD_INLINE = str.maketrans({"<": "＜", ">": "＞", "[": "［", "]": "］", "*": "＊", "`": "｀"})
_MD_SPECIAL = re.compile(r"[<>\[\]*`]")
# What opens a block when a line starts with it: heading, table, list item, rule.
_LINE_START = re.compile(r"^(\s*)([#|]|[-+=](?=\s|[-+=]|$)|\d+[.)](?=\s|$))")
_FULLWIDTH = str.maketrans({"#": "＃", "-": "－", "+": "＋", "=": "＝", "|": "｜", ".": "．"})


def md_literal(text: str) -> str:
    """Data text for DingTalk, WeCom and Teams markdown: shown, never obeyed.

    These dialects have no reliable escape, so the characters that open an
    element become their full-width forms: no tag or mention (``<@id>``), link,
    emphasis or code span can form from an id or an annotation, and a line
    cannot start a heading, list or table. Unsafe characters become escapes.
    """
    text = visible(text)
    if _MD_SPECIAL.search(text):
        text = text.translate(_MD_INLINE)
    return _LINE_START.sub(lambda m: m.group(1) + m.group(2).translate(_FULLWIDTH), text)


def key_word_ok(keyword: str) -> bool:
    """A security keyword is sent verbatim: it must survive every kind's escaping unchanged."""
    return bool(keyword.strip()) and md_literal(keyword) == keyword and len(keyword) <= 64


# -- the settings every chat robot shares --------------------------------------------------------


TOKEN_MIN_CHARS = 16  # a path segment or query value this long in a robot's URL: its token


def webhook_url(name: str, config: ChatSettings, env: Mapping[str, str]) -> Secret:
    """The robot's webhook URL: its token is the credential, so it lives in the environment.

    The whole URL is registered with the redactor (``env_secret``), and so is
    its token alone (a query value, a long path segment): a platform's error
    reply may echo the token without the URL around it.
    """
    url = env_secret(env, config.url_env, name)
    check_url(url.reveal(), name, f"the value of {config.url_env}")
    parts = urlsplit(url.reveal())
    for values in parse_qs(parts.query).values():
        for value in values:
            if len(value) >= TOKEN_MIN_CHARS and "/" not in value:
                add_secret(value)
    for segment in parts.path.split("/"):
        if len(segment) >= TOKEN_MIN_CHARS:
            add_secret(segment)
    return url


def check_chat(
    name: str, config: ChatSettings, env: Mapping[str, str] | None, keyword: str | None = None
) -> ZoneInfo:
    """The checks every chat kind runs (at start and in ``annotel rules check``); the zone."""
    group_wait_s(name, config)
    tz = zone(name, config)
    check_mentions(name, config.mentions)
    if keyword is not None and not key_word_ok(keyword):
        raise ReceiverConfigError(
            f"receiver {name!r}: keyword must be 1 to 64 characters without < > [ ] * ` "
            "or a leading # - + = | (it is sent as is)"
        )
    if env is not None:
        webhook_url(name, config, env)
    return tz
