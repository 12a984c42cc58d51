"""10 000 hostile request bodies through a real gateway: never a 500, every item accounted for.

Bodies for ``/v1/events`` (hostile events of the contract fuzz test as one
object, arrays and NDJSON, with byte-level damage; raw bytes) and for each
platform's webhook (its documented payload with values replaced by hostile
ones, nested garbage, raw bytes), signed as the platform signs so that they
reach the connector. Every answer must be one the OpenAPI document lists;
every ``200`` accounts for every item (accepted + rejected + ignored equals
what was sent, for ``/v1/events`` counted here the way the gateway splits a
body); and at the end the topics hold exactly the accepted events and the
rejected items' dead letters, nothing more.

Two hundred Hypothesis examples of fifty bodies each, posted concurrently.
Drawing a hostile event costs tens of milliseconds, ten thousand of them
most of an hour on two cores: so the hostile lines and values are drawn once
by Hypothesis into palettes (a few hundred of each, plus the hostile corpus),
and the ten thousand bodies are drawn from those palettes, each with its own
combination, container, byte-level damage and replaced fields.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from embedded.broker import embedded_broker
from schemas.deadletter import REASONS, DeadLetter
from streams.kafka_config import EMBEDDED_CLUSTER_ID
from tests import strategies
from tests.gateway_process import GatewayProcess, Reply
from tests.kafka_helpers import consume_all
from tests.unit.gateway import payloads
from tests.unit.schemas.test_fuzz import _CORPUS, _mutate, hostile_objects, hostile_values
from tests.webhook_signers import CONNECTORS_YAML, SECRETS_ENV, SIGNERS

pytestmark = pytest.mark.integration

EXAMPLES, PER_EXAMPLE = 200, 50
PALETTE = 300  # hostile lines, and hostile values, drawn once
ALLOWED = {200, 400, 413}  # 401/404/429 cannot happen here: signed, known sources, no limit
WEBHOOKS: dict[str, tuple[dict[str, Any], ...]] = {
    "ls": (payloads.LS_CREATED, payloads.LS_UPDATED, payloads.LS_DELETED, payloads.LS_REVIEW),
    "cvat": (payloads.CVAT_JOB_COMPLETED, payloads.CVAT_TASK_UPDATED),
    "labelbox": (payloads.LABELBOX_CREATED,),
    "argilla": (payloads.ARGILLA_UPDATED,),
    "toloka": (payloads.TOLOKA_APPROVED,),
}


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def palette(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """``count`` values drawn by Hypothesis (generation only: nothing to shrink)."""
    found: list[Any] = []

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    collect()
    return found


@st.composite
def event_line(draw: st.DrawFn) -> bytes:
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return orjson.dumps(draw(strategies.any_events))
    if choice == 1:
        return draw(st.binary(max_size=40))
    try:
        return orjson.dumps(draw(hostile_objects()))
    except orjson.JSONEncodeError:
        return repr(draw(hostile_objects())).encode("utf-8", "surrogatepass")


def strategies_from(lines: list[bytes], values: list[Any]) -> st.SearchStrategy[tuple[str, Any]]:
    """The requests: ``/v1/events`` bodies from ``lines``, webhooks damaged with ``values``."""

    @st.composite
    def line(draw: st.DrawFn) -> bytes:
        raw = draw(st.sampled_from(lines))
        if draw(st.integers(0, 3)) == 0:
            raw = _mutate(raw, draw(st.integers(1, 7)), draw(st.integers(0, 1 << 16)))
        return raw.replace(b"\n", b" ")

    @st.composite
    def events_body(draw: st.DrawFn) -> tuple[str, bytes, int | None]:
        """(content type, body, items the gateway must account for; None: counted here)."""
        kind = draw(st.integers(0, 3))
        parts = [draw(line()) for _ in range(draw(st.integers(1, 5)))]
        if kind == 0:
            blanks = [b"", b"  ", b"\r"]
            body = b"\n".join(part + draw(st.sampled_from(blanks)) for part in parts)
            items = sum(1 for part in body.split(b"\n") if part.strip())
            return "application/x-ndjson", body, items
        if kind == 1:
            return "application/json", parts[0], None
        if kind == 2:
            return "application/json", b"[" + b",".join(parts) + b"]", None
        return "application/octet-stream", draw(st.binary(max_size=80)), None

    @st.composite
    def webhook_body(draw: st.DrawFn) -> tuple[str, bytes]:
        source = draw(st.sampled_from(sorted(WEBHOOKS)))
        if draw(st.integers(0, 9)) == 0:
            return source, draw(st.binary(max_size=64))
        body: Any = copy.deepcopy(draw(st.sampled_from(WEBHOOKS[source])))
        for _ in range(draw(st.integers(1, 4))):
            paths = [p for p in _paths(body) if p]
            if not paths:
                break
            path = draw(st.sampled_from(paths))
            parent = body
            for part in path[:-1]:
                parent = parent[part]
            if draw(st.integers(0, 5)) == 0 and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(values)))
        ascii_only = draw(st.booleans())
        try:
            raw = json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
        except (ValueError, RecursionError):
            raw = repr(body).encode("utf-8", "surrogatepass")
        return source, raw

    return st.one_of(
        events_body().map(lambda b: ("events", b)),
        webhook_body().map(lambda b: ("hook", b)),
    )


def expected_items(content_type: str, body: bytes, known: int | None) -> int:
    """How many items a body carries, by the rules of docs/gateway.md (not the gateway's code)."""
    if known is not None:
        return known
    text = body.strip()
    if text.startswith(b"["):
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            return 1
        return len(parsed) if isinstance(parsed, list) else 1
    return 1 if text else 0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, GatewayProcess]]:
    workdir = tmp_path_factory.mktemp("fuzz")
    connectors = workdir / "connectors.yaml"
    connectors.write_text(CONNECTORS_YAML, encoding="utf-8")
    with embedded_broker(cluster_id=EMBEDDED_CLUSTER_ID) as bootstrap:
        gateway = GatewayProcess(
            bootstrap,
            workdir,
            ANNOTEL_CONNECTORS_FILE=str(connectors),
            ANNOTEL_GATEWAY_RATE_LIMIT="1000000",
            ANNOTEL_GATEWAY_RATE_BURST="1000000",
            ANNOTEL_GATEWAY_SIGNATURE_TOLERANCE="1d",
            ANNOTEL_LOG_LEVEL="WARNING",
            **SECRETS_ENV,
        )
        with gateway:
            yield bootstrap, gateway


def _post(gateway: GatewayProcess, request: tuple[str, Any]) -> tuple[Reply, int | None]:
    kind, spec = request
    if kind == "events":
        content_type, body, known = spec
        reply = gateway.post_events(body, content_type)
        return reply, expected_items(content_type, body, known)
    source, body = spec
    return gateway.post_hook(source, body, SIGNERS[source](body)), None


def test_hostile_bodies(stack: tuple[str, GatewayProcess]) -> None:
    bootstrap, gateway = stack
    totals: Counter[str] = Counter()
    lines = palette(event_line(), PALETTE) + _CORPUS
    requests = strategies_from(lines, palette(hostile_values, PALETTE))

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(requests, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
    def post(batch: list[tuple[str, Any]]) -> None:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda r: _post(gateway, r), batch))
        for (reply, items), (kind, _spec) in zip(results, batch, strict=True):
            assert reply.status in ALLOWED, (reply.status, reply.body[:500])
            totals["requests"] += 1
            if reply.status != 200:
                assert "error" in reply.json()
                continue
            answer = reply.json()
            for rejected in answer["rejected"]:
                assert rejected["reason"] in REASONS
            ignored = len(answer.get("ignored", []))
            accounted = answer["accepted"] + len(answer["rejected"]) + ignored
            if items is not None:
                assert accounted == items, (answer, items)
            else:
                assert accounted >= 1
            totals["accepted"] += answer["accepted"]
            totals["rejected"] += len(answer["rejected"])
            totals[f"{kind}_ok"] += 1

    post()
    # What the answers said is what the topics hold: no item lost, none published twice.
    assert totals["requests"] >= EXAMPLES * PER_EXAMPLE, totals
    assert totals["events_ok"] > 1000 and totals["hook_ok"] > 1000, totals
    events = sum(
        len(consume_all(bootstrap, topic, timeout=60))
        for topic in ("annotation.task-completed", "annotation.task-audited")
    )
    letters = [DeadLetter.from_json(r.value) for r in consume_all(bootstrap, "annotation.dlq", 60)]
    assert events == totals["accepted"]
    assert len(letters) == totals["rejected"]
    metrics = gateway.metrics()
    assert not any(k.startswith("annotel_gateway_requests_total") and '"500"' in k for k in metrics)
    print(f"fuzz: {dict(totals)}; dead letters by reason: {Counter(x.reason for x in letters)}")
