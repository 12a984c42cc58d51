"""Receivers against a real HTTP server on 127.0.0.1 that records and scripts its answers.

Proves the payload shapes (Alertmanager v4, PagerDuty Events v2, Slack),
grouping, rate limits, retries (500, 429 + Retry-After, timeouts), exactly one
successful delivery per event, isolation between receivers, the bounded queue
and that secrets never reach logs, stats, reprs or errors.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import logging
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import jsonschema  # type: ignore[import-untyped]
import orjson
import pytest
from aiohttp import web

from alerts.dispatch import Dispatcher, ReceiverConfigError, RetryPolicy
from alerts.model import AlertEvent
from alerts.receivers.base import HttpPost, Outcome, Request, http_outcome
from alerts.receivers.pagerduty import PagerDutyReceiver
from alerts.receivers.registry import KINDS, ReceiverConfig
from alerts.receivers.settings import STRICT, Grouping, Secret, group_wait_s
from alerts.receivers.slack import SLACK_MAX_BLOCKS, SlackReceiver
from alerts.receivers.stdout import StdoutReceiver
from alerts.receivers.webhook import AM_ZERO_TIME, WebhookReceiver
from tests.alert_events import event

SLACK_SECRET = "sk-test-SECRET-123"
PD_SECRET = "pd-test-SECRET-456"
HOOK_SECRET = "tok-test-SECRET-789"
SECRETS = (SLACK_SECRET, PD_SECRET, HOOK_SECRET)
FAST_RETRY = RetryPolicy(max_attempts=4, base_s=0.05, max_backoff_s=0.2)


# -- the scripted server ----------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    hang_s: float = 0.0  # sleep before answering (the client has usually given up by then)
    body: bytes = b""

    @property
    def delivers(self) -> bool:
        """Would a client see this as a success (a hang past the timeout is not)?"""
        return 200 <= self.status < 300 and self.hang_s == 0


@dataclass(frozen=True)
class Received:
    path: str
    at: float  # time.monotonic() when the request arrived
    body: bytes
    answer: Answer

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


class ScriptedServer:
    """Answers each path from its script (the last answer repeats) and records everything."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[Answer]] = {}
        self.received: list[Received] = []
        self.port = 0

    def script(self, path: str, *answers: Answer) -> str:
        self.scripts[path] = list(answers)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        script = self.scripts.get(request.path, [])
        answer = (script.pop(0) if len(script) > 1 else script[0]) if script else Answer()
        self.received.append(Received(request.path, time.monotonic(), body, answer))
        if answer.hang_s:
            await asyncio.sleep(answer.hang_s)
        return web.Response(status=answer.status, headers=dict(answer.headers), body=answer.body)

    async def wait_for(self, path: str, count: int, timeout_s: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while len(self.at(path)) < count:
            assert time.monotonic() < deadline, f"{path}: {len(self.at(path))} of {count} requests"
            await asyncio.sleep(0.01)
        return self.at(path)


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    recorder = ScriptedServer()
    app = web.Application()
    app.router.add_post("/{tail:.*}", recorder.handle)
    # No access log: it would print request paths, and the Slack secret is a path.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    recorder.port = runner.addresses[0][1]
    yield recorder
    await runner.cleanup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- events -------------------------------------------------------------------------------------


def delivered_per_event(requests: Iterable[Received]) -> Counter[str]:
    """Successful deliveries per event id (a JSON/Alertmanager body may carry several)."""
    counts: Counter[str] = Counter()
    for request in requests:
        if request.answer.delivers:
            for alert in request.json["alerts"]:
                counts[alert["event_id"]] += 1
    return counts


# -- payload shapes -----------------------------------------------------------------------------

AM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "version",
        "groupKey",
        "truncatedAlerts",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    ],
    "properties": {
        "version": {"const": "4"},
        "groupKey": {"type": "string", "minLength": 1},
        "truncatedAlerts": {"type": "integer", "minimum": 0},
        "status": {"enum": ["firing", "resolved"]},
        "receiver": {"type": "string"},
        "groupLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "commonLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "commonAnnotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "externalURL": {"type": "string"},
        "alerts": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": [
                    "status",
                    "labels",
                    "annotations",
                    "startsAt",
                    "endsAt",
                    "generatorURL",
                    "fingerprint",
                ],
                "properties": {
                    "status": {"enum": ["firing", "resolved"]},
                    "labels": {
                        "type": "object",
                        "required": ["alertname"],
                        "additionalProperties": {"type": "string"},
                    },
                    "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                    "startsAt": {"type": "string", "pattern": r"Z$"},
                    "endsAt": {"type": "string", "pattern": r"Z$"},
                    "generatorURL": {"type": "string"},
                    "fingerprint": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
                },
            },
        },
    },
}


async def test_alertmanager_payload_shape(server: ScriptedServer) -> None:
    url = server.script("/am", Answer(200))
    receiver = WebhookReceiver(
        type="webhook", url=url, format="alertmanager", group_wait="0.2s", max_per_second=20
    )
    dispatcher = Dispatcher({"am": receiver}, {}, external_url="http://annotel.example")
    await dispatcher.start()
    firing = [
        event(vendor="供应商甲", receivers=["am"]),
        event(vendor="供应商乙", receivers=["am"]),
    ]
    for e in firing:
        dispatcher.submit(e)
    (first,) = await server.wait_for("/am", 1)
    resolved = event(vendor="供应商甲", status="resolved", minute=30, receivers=["am"])
    dispatcher.submit(resolved)
    await dispatcher.close(5)

    first_body, second_body = (r.json for r in server.at("/am"))
    for body in (first_body, second_body):
        jsonschema.validate(body, AM_SCHEMA)
        for alert in body["alerts"]:
            datetime.fromisoformat(alert["startsAt"])  # RFC 3339, parseable
    assert first_body["status"] == "firing"
    assert first_body["receiver"] == "am"
    assert first_body["groupLabels"] == {"rule": "vendor_quality_low", "project_id": "医疗影像"}
    assert first_body["commonLabels"]["alertname"] == "vendor_quality_low"
    assert first_body["commonLabels"]["project_id"] == "医疗影像"
    assert "vendor_id" not in first_body["commonLabels"]  # differs between the two alerts
    assert [a["fingerprint"] for a in first_body["alerts"]] == [e.fingerprint for e in firing]
    assert all(a["endsAt"] == AM_ZERO_TIME for a in first_body["alerts"])
    assert first_body["externalURL"] == "http://annotel.example"
    assert "医疗影像".encode() in first.body  # UTF-8 as is, not \u escapes
    assert second_body["status"] == "resolved"
    (alert,) = second_body["alerts"]
    assert alert["fingerprint"] == resolved.fingerprint
    assert alert["endsAt"] == "2026-11-23T08:30:00Z"


async def test_pagerduty_trigger_and_resolve_share_dedup_key(server: ScriptedServer) -> None:
    url = server.script("/pd", Answer(202))
    receiver = PagerDutyReceiver(
        type="pagerduty",
        routing_key_env="ANNOTEL_PAGERDUTY_KEY",
        url=url,
        group_wait="10s",
        max_per_second=50,
    )
    dispatcher = Dispatcher({"oncall": receiver}, {"ANNOTEL_PAGERDUTY_KEY": PD_SECRET})
    await dispatcher.start()
    trigger = event(severity="warning", receivers=["oncall"])
    other = event(severity="error", vendor="供应商乙", receivers=["oncall"])
    resolve = event(severity="warning", status="resolved", minute=30, receivers=["oncall"])
    started = time.monotonic()
    dispatcher.submit(trigger)
    dispatcher.submit(other)
    await server.wait_for("/pd", 2)
    assert time.monotonic() - started < 2, "PagerDuty events must not wait group_wait"
    dispatcher.submit(resolve)
    await dispatcher.close(5)

    bodies = [r.json for r in server.at("/pd")]
    assert len(bodies) == 3  # one request per event: grouping never merges PagerDuty events
    first, second, last = bodies
    assert first["event_action"] == "trigger" and last["event_action"] == "resolve"
    assert first["dedup_key"] == last["dedup_key"] == trigger.fingerprint
    assert second["dedup_key"] == other.fingerprint != trigger.fingerprint
    assert first["routing_key"] == last["routing_key"] == PD_SECRET
    payload = first["payload"]
    assert payload["severity"] == "warning" and second["payload"]["severity"] == "error"
    assert payload["summary"] == "审核通过率 82%：供应商甲 / 医疗影像"
    assert len(payload["summary"]) <= 1024 and payload["source"]
    assert payload["timestamp"] == "2026-11-23T08:15:00Z"
    assert payload["group"] == "医疗影像" and payload["component"] == "供应商甲"
    assert payload["class"] == "vendor_quality_low"
    details = payload["custom_details"]
    assert details["value"] == 0.82 and details["threshold"] == 0.85
    assert details["metric"] == "audit_pass_rate" and details["window"]
    assert first["links"] == [
        {"href": "https://wiki.example/runbooks/vendor-quality", "text": "Runbook"}
    ]
    assert dispatcher.stats()["oncall"].sent == 3


async def test_slack_message_readable_and_chinese_intact(server: ScriptedServer) -> None:
    url = server.script("/slack/" + SLACK_SECRET, Answer(200))
    receiver = SlackReceiver(type="slack", webhook_url_env="ANNOTEL_SLACK_WEBHOOK", group_wait="0s")
    dispatcher = Dispatcher({"zh-slack": receiver}, {"ANNOTEL_SLACK_WEBHOOK": url})
    await dispatcher.start()
    dispatcher.submit(event(receivers=["zh-slack"]))
    (request,) = await server.wait_for("/slack/" + SLACK_SECRET, 1)
    await dispatcher.close(5)

    body = request.json
    assert isinstance(body["text"], str) and body["text"]
    assert "审核通过率 82%：供应商甲 / 医疗影像" in body["text"]
    assert "审核通过率".encode() in request.body
    blocks = body["blocks"]
    assert 1 < len(blocks) <= SLACK_MAX_BLOCKS
    assert blocks[0]["type"] == "header" and len(blocks[0]["text"]["text"]) <= 150
    section = blocks[1]["text"]["text"]
    assert ":red_circle:" in section and "*vendor_quality_low*" in section
    assert "82.0% (threshold 85.0%)" in section
    assert "`医疗影像`" in section and "`供应商甲`" in section
    assert "2026-11-23 08:00–08:15 UTC (15m)" in section
    assert "<https://wiki.example/runbooks/vendor-quality|Runbook>" in section


# -- grouping, rate limit, delivery -------------------------------------------------------------


async def test_grouping_within_group_wait(server: ScriptedServer) -> None:
    url = server.script("/hook", Answer(200))
    # group_wait is long beside the submits' spacing: a stalled loop still groups them.
    receiver = WebhookReceiver(type="webhook", url=url, group_wait="1s", max_per_second=20)
    dispatcher = Dispatcher({"r": receiver}, {})
    await dispatcher.start()
    started = time.monotonic()
    same = [event(vendor=f"供应商{i}") for i in range(3)]
    different = event(project="客服对话")
    for e in [same[0], different, same[1], same[2]]:
        dispatcher.submit(e)
        await asyncio.sleep(0.03)
    requests = await server.wait_for("/hook", 2)
    await dispatcher.close(5)

    assert len(server.at("/hook")) == 2
    by_size = sorted(requests, key=lambda r: len(r.json["alerts"]))
    assert [a["event_id"] for a in by_size[1].json["alerts"]] == [e.event_id for e in same]
    assert [a["event_id"] for a in by_size[0].json["alerts"]] == [different.event_id]
    assert by_size[1].json["count"] == 3
    assert min(r.at for r in requests) - started >= 1.0  # each group waited group_wait
    assert dispatcher.stats()["r"].sent == 4 and dispatcher.stats()["r"].messages == 2


async def test_rate_limit_spaces_requests(server: ScriptedServer) -> None:
    url = server.script("/slack/" + SLACK_SECRET, Answer(200))
    receiver = SlackReceiver(
        type="slack", webhook_url_env="SLACK", group_wait="0s", max_per_second=4
    )
    dispatcher = Dispatcher({"r": receiver}, {"SLACK": url})
    await dispatcher.start()
    for i in range(3):
        dispatcher.submit(event(project=f"p{i}"))
    requests = await server.wait_for("/slack/" + SLACK_SECRET, 3)
    await dispatcher.close(5)
    gaps = [b.at - a.at for a, b in itertools.pairwise(requests)]
    # 0.25 s apart at the sender; arrival times carry the first connection's set-up.
    # Unthrottled, the gap is about 1 ms.
    assert all(gap >= 0.2 for gap in gaps), gaps


async def test_429_honours_retry_after(server: ScriptedServer) -> None:
    path = "/slack/" + SLACK_SECRET
    url = server.script(path, Answer(429, {"Retry-After": "1"}), Answer(200))
    receiver = SlackReceiver(type="slack", webhook_url_env="SLACK", group_wait="0s")
    dispatcher = Dispatcher({"r": receiver}, {"SLACK": url}, retry=FAST_RETRY)
    await dispatcher.start()
    dispatcher.submit(event())
    first, second = await server.wait_for(path, 2, timeout_s=5)
    await dispatcher.close(5)
    assert second.at - first.at >= 1.0
    assert first.body == second.body
    stats = dispatcher.stats()["r"]
    assert (stats.sent, stats.retries, stats.failed) == (1, 1, 0)
    assert stats.consecutive_failures == 0 and stats.last_success is not None


async def test_500_is_retried_and_delivered_once(server: ScriptedServer) -> None:
    url = server.script("/flaky", Answer(500), Answer(200))
    receiver = WebhookReceiver(type="webhook", url=url, group_wait="0s", max_per_second=50)
    dispatcher = Dispatcher({"r": receiver}, {}, retry=FAST_RETRY)
    await dispatcher.start()
    e = event()
    dispatcher.submit(e)
    await server.wait_for("/flaky", 2)
    await dispatcher.close(5)
    assert delivered_per_event(server.at("/flaky")) == {e.event_id: 1}
    assert len(server.at("/flaky")) == 2
    stats = dispatcher.stats()["r"]
    assert (stats.sent, stats.retries, stats.failed) == (1, 1, 0)


async def test_timeout_is_retried(server: ScriptedServer) -> None:
    url = server.script("/slow", Answer(200, hang_s=3.0), Answer(200))
    receiver = WebhookReceiver(type="webhook", url=url, group_wait="0s", timeout_s=0.4)
    dispatcher = Dispatcher({"r": receiver}, {}, retry=FAST_RETRY)
    await dispatcher.start()
    e = event()
    dispatcher.submit(e)
    first, second = await server.wait_for("/slow", 2)
    await dispatcher.close(5)
    # Retried after the client timeout (and the receiver's 1 request/s), not the answer's 3 s.
    assert 0.4 <= second.at - first.at < 2.5
    assert delivered_per_event(server.at("/slow")) == {e.event_id: 1}
    stats = dispatcher.stats()["r"]
    assert (stats.sent, stats.retries, stats.failed) == (1, 1, 0)
    assert stats.last_error_reason is not None and stats.last_error_reason.startswith("timeout")


async def test_4xx_is_not_retried(server: ScriptedServer, caplog: pytest.LogCaptureFixture) -> None:
    url = server.script("/gone", Answer(404))
    receiver = WebhookReceiver(type="webhook", url=url, group_wait="0s")
    dispatcher = Dispatcher({"r": receiver}, {}, retry=FAST_RETRY)
    await dispatcher.start()
    dispatcher.submit(event())
    await server.wait_for("/gone", 1)
    await dispatcher.close(5)
    assert len(server.at("/gone")) == 1
    stats = dispatcher.stats()["r"]
    assert (stats.sent, stats.failed, stats.retries) == (0, 1, 0)
    assert stats.consecutive_failures == 1 and stats.last_error_reason == "HTTP 404"
    assert any("HTTP 404" in r.getMessage() for r in caplog.records)


async def test_nothing_is_sent_twice(server: ScriptedServer) -> None:
    url = server.script("/hook", Answer(200))
    receiver = WebhookReceiver(type="webhook", url=url, group_wait="0.2s", max_per_second=20)
    dispatcher = Dispatcher({"r": receiver}, {})
    await dispatcher.start()
    events = [event(vendor=f"供应商{i}") for i in range(5)]
    for e in events + events:  # replayed while still pending
        dispatcher.submit(e)
    await server.wait_for("/hook", 1)
    for e in events:  # replayed after delivery
        dispatcher.submit(e)
    repeat = event(vendor="供应商0", minute=240)  # a genuine repeat is a new event
    dispatcher.submit(repeat)
    await server.wait_for("/hook", 2)
    await dispatcher.close(5)
    counts = delivered_per_event(server.at("/hook"))
    assert counts == {e.event_id: 1 for e in [*events, repeat]}
    assert dispatcher.stats()["r"].duplicates == 10


async def test_hanging_receiver_does_not_delay_another(server: ScriptedServer) -> None:
    hang_url = server.script("/hang", Answer(200, hang_s=8))
    fast_url = server.script("/fast", Answer(200))
    receivers = {
        "hangs": WebhookReceiver(type="webhook", url=hang_url, group_wait="0s", timeout_s=5),
        "fast": WebhookReceiver(type="webhook", url=fast_url, group_wait="0s", max_per_second=50),
    }
    dispatcher = Dispatcher(receivers, {}, retry=FAST_RETRY)
    await dispatcher.start()
    first = event(receivers=["hangs", "fast"])
    started = time.monotonic()
    dispatcher.submit(first)
    await server.wait_for("/hang", 1)
    dispatcher.submit(event(minute=15, receivers=["hangs", "fast"]))
    fast = await server.wait_for("/fast", 2)
    assert fast[-1].at - started < 2.0, "the fast receiver waited for the hanging one"
    stats = dispatcher.stats()
    assert stats["hangs"].in_flight == 1 and stats["hangs"].queue_depth == 1
    assert stats["fast"].sent == 2
    left = await dispatcher.close(timeout_s=0.2)
    assert left == {"hangs": 2}
    assert time.monotonic() - started < 3.0


async def test_full_queue_drops_oldest(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = server.script("/hook", Answer(200))
    receiver = WebhookReceiver(type="webhook", url=url, group_wait="0.1s")
    dispatcher = Dispatcher({"r": receiver}, {}, queue_size=3)
    events = [event(vendor=f"供应商{i}") for i in range(5)]
    for e in events:  # not started yet: everything waits in the queue
        dispatcher.submit(e)
    stats = dispatcher.stats()["r"]
    assert (stats.dropped, stats.queue_depth) == (2, 3)
    dropped_logs = [r for r in caplog.records if "queue full" in r.getMessage()]
    assert len(dropped_logs) == 2 and all(r.levelno == logging.WARNING for r in dropped_logs)
    await dispatcher.start()
    await server.wait_for("/hook", 1)
    await dispatcher.close(5)
    assert delivered_per_event(server.at("/hook")) == {e.event_id: 1 for e in events[2:]}


async def test_muted_and_unknown_receivers_are_counted(server: ScriptedServer) -> None:
    url = server.script("/hook", Answer(200))
    receiver = WebhookReceiver(type="webhook", url=url, group_wait="0s")
    dispatcher = Dispatcher({"r": receiver}, {})
    await dispatcher.start()
    dispatcher.submit(event(muted_by="silence-42"))
    dispatcher.submit(event(minute=15, receivers=["r", "typo"]))
    await server.wait_for("/hook", 1)
    await dispatcher.close(5)
    assert len(server.at("/hook")) == 1
    assert dispatcher.stats()["r"].muted == 1 and dispatcher.stats()["r"].sent == 1
    assert dispatcher.unrouted() == {"typo": 1}


async def test_stdout_receiver_prints_one_json_line_per_event() -> None:
    stream = io.StringIO()
    receivers = {"log": StdoutReceiver(type="stdout", group_wait="0s")}
    dispatcher = Dispatcher(receivers, {}, stdout=stream)
    await dispatcher.start()
    events = [event(receivers=["log"]), event(vendor="供应商乙", receivers=["log"])]
    for e in events:
        dispatcher.submit(e)
    assert await dispatcher.close(5) == {}
    lines = stream.getvalue().splitlines()
    assert [orjson.loads(line)["event_id"] for line in lines] == [e.event_id for e in events]
    assert "供应商乙" in lines[1]


# -- secrets --------------------------------------------------------------------------------------


async def test_secrets_never_leak(server: ScriptedServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    slack_path = "/slack/" + SLACK_SECRET
    env = {
        "ANNOTEL_SLACK_WEBHOOK": server.script(
            slack_path, Answer(429, {"Retry-After": "0"}), Answer(500), Answer(200)
        ),
        "ANNOTEL_PAGERDUTY_KEY": PD_SECRET,
        "ANNOTEL_HOOK_URL": server.script("/hook", Answer(401)) + f"?token={HOOK_SECRET}",
        "ANNOTEL_DOWN_URL": f"http://127.0.0.1:{free_port()}/down/{SLACK_SECRET}",
        "ANNOTEL_SLOW_URL": server.script("/slow", Answer(200, hang_s=1)) + f"?t={HOOK_SECRET}",
    }
    receivers: dict[str, ReceiverConfig] = {
        "zh-slack": SlackReceiver(
            type="slack", webhook_url_env="ANNOTEL_SLACK_WEBHOOK", group_wait="0s"
        ),
        "oncall": PagerDutyReceiver(
            type="pagerduty",
            routing_key_env="ANNOTEL_PAGERDUTY_KEY",
            url=server.script("/pd", Answer(500), Answer(400)),
        ),
        "hook": WebhookReceiver(type="webhook", url_env="ANNOTEL_HOOK_URL", group_wait="0s"),
        "down": WebhookReceiver(type="webhook", url_env="ANNOTEL_DOWN_URL", group_wait="0s"),
        "slow": WebhookReceiver(
            type="webhook", url_env="ANNOTEL_SLOW_URL", group_wait="0s", timeout_s=0.2
        ),
    }
    retry = RetryPolicy(max_attempts=2, base_s=0.05, max_backoff_s=0.1)
    dispatcher = Dispatcher(receivers, env, retry=retry)
    await dispatcher.start()
    dispatcher.submit(event(receivers=list(receivers)))
    await server.wait_for(slack_path, 2)
    await server.wait_for("/pd", 2)
    await server.wait_for("/slow", 2)
    left = await dispatcher.close(5)
    stats = dispatcher.stats()

    assert stats["down"].failed == 1 and stats["down"].retries == 1
    assert stats["hook"].failed == 1 and stats["oncall"].failed == 1
    assert stats["slow"].failed == 1 and stats["zh-slack"].failed == 1  # 2 attempts only
    assert stats["zh-slack"].target == f"127.0.0.1:{server.port}"
    texts = [repr(dispatcher), repr(stats), repr(left)]
    for record in caplog.records:
        texts += [record.getMessage(), str(record.args), record.exc_text or ""]
    assert any("HTTP 401" in text for text in texts)  # the failures were logged...
    assert any("connection error" in text for text in texts)
    for secret in SECRETS:  # ...without a trace of any secret
        assert not [text for text in texts if secret in text], secret


def test_missing_env_var_names_the_variable() -> None:
    slack = SlackReceiver(type="slack", webhook_url_env="ANNOTEL_SLACK_WEBHOOK")
    with pytest.raises(ReceiverConfigError, match="ANNOTEL_SLACK_WEBHOOK") as caught:
        Dispatcher({"zh-slack": slack}, {"OTHER": SLACK_SECRET})
    assert "zh-slack" in str(caught.value) and SLACK_SECRET not in str(caught.value)
    pd = PagerDutyReceiver(type="pagerduty", routing_key_env="ANNOTEL_PAGERDUTY_KEY")
    with pytest.raises(ReceiverConfigError, match="ANNOTEL_PAGERDUTY_KEY"):
        Dispatcher({"oncall": pd}, {"ANNOTEL_PAGERDUTY_KEY": "  "})
    hook = WebhookReceiver(type="webhook", url_env="ANNOTEL_HOOK_URL")
    with pytest.raises(ReceiverConfigError, match="ANNOTEL_HOOK_URL"):
        Dispatcher({"hook": hook}, {})
    with pytest.raises(ReceiverConfigError, match="ANNOTEL_HOOK_URL") as bad:
        Dispatcher({"hook": hook}, {"ANNOTEL_HOOK_URL": f"ftp://x/{HOOK_SECRET}"})
    assert HOOK_SECRET not in str(bad.value)


# -- a kind the dispatcher has never heard of ------------------------------------------------------


class EchoReceiver(Grouping):
    model_config = STRICT
    type: Literal["echo"]
    url: str


class Echo:
    """Answers 200 with an error code in the body (as Feishu, DingTalk and WeCom do)."""

    one_event_per_message = False
    uses_http = True
    timeout_s = 5.0

    def __init__(self, name: str, config: EchoReceiver, wait_s: float) -> None:
        self.name, self.kind, self.target = name, "echo", "127.0.0.1"
        self.group_by, self.group_wait_s = config.group_by, wait_s
        self.max_per_second = config.max_per_second
        self._url = Secret(config.url)

    @classmethod
    def check(cls, name: str, config: EchoReceiver, env: Mapping[str, str] | None) -> None:
        group_wait_s(name, config)

    @classmethod
    def from_config(
        cls, name: str, config: EchoReceiver, env: Mapping[str, str], external_url: str
    ) -> Echo:
        return cls(name, config, group_wait_s(name, config))

    def requests(
        self, events: Sequence[AlertEvent], group_labels: Mapping[str, str]
    ) -> list[Request]:
        body = orjson.dumps({"ids": [e.event_id for e in events], "group": group_labels})
        return [Request(HttpPost(self._url), body, tuple(events))]

    def classify(self, status: int, body: bytes) -> Outcome:
        if status == 200 and orjson.loads(body or b"{}").get("code", 0) != 0:
            return Outcome.REJECTED
        return http_outcome(status)


async def test_a_new_kind_is_one_class_and_one_registry_entry(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dispatcher groups, sends and classifies through the kind alone, reply body included."""
    monkeypatch.setitem(KINDS, "echo", Echo)
    url = server.script(
        "/echo", Answer(200, body=b'{"code": 0}'), Answer(200, body=b'{"code": 19001}')
    )
    config: Any = EchoReceiver(type="echo", url=url, group_wait="0.2s", max_per_second=50)
    dispatcher = Dispatcher({"e": config}, {}, retry=FAST_RETRY)
    await dispatcher.start()
    first = [event(vendor="供应商甲", receivers=["e"]), event(vendor="供应商乙", receivers=["e"])]
    for e in first:
        dispatcher.submit(e)
    (grouped,) = await server.wait_for("/echo", 1)
    assert grouped.json == {
        "ids": [e.event_id for e in first],
        "group": {"rule": "vendor_quality_low", "project_id": "医疗影像"},
    }
    dispatcher.submit(event(vendor="供应商丙", receivers=["e"]))
    await server.wait_for("/echo", 2)
    await dispatcher.close(5)
    stats = dispatcher.stats()["e"]
    assert (stats.type, stats.sent, stats.messages, stats.failed, stats.retries) == (
        "echo",
        2,
        1,
        1,
        0,
    )
    assert stats.last_error_reason == "HTTP 200"  # rejected by its body, not retried
    assert len(server.at("/echo")) == 2
