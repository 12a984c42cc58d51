"""The contract matches the storage: every value a model accepts, its column can hold.

Walks the contract models (and the dead letter) together with the DDL of
``sinks.schema`` (the column types parsed from the migrations, which
tests/integration/test_clickhouse.py holds equal to what the engine reports).
The domain of each column type is computed here from the type's name alone,
independently of ``schemas.storage``, so a wrong range there, a bound
missing from a field, or a narrower column in a migration fails a test.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from clickhouse_connect.datatypes.registry import get_from_name
from pydantic import BaseModel

from embedded.wire import native_block
from schemas import (
    ContractDecoder,
    DeadLetter,
    DecodeError,
    TaskAudited,
    TaskAuditedRetraction,
    TaskCompleted,
    TaskCompletedRetraction,
)
from schemas.storage import (
    ATTEMPT_TYPE,
    OCCURRED_AT_TYPES,
    REVISION_TYPE,
    TASK_CREATED_AT_TYPE,
)
from sinks.schema import COLUMN_TYPES, PARTITION_MONTH, TABLE_COLUMNS
from streams.partition import PartitionState
from streams.rows import rows_for_checkpoint

TABLE_OF: dict[type[BaseModel], str] = {
    TaskCompleted: "task_events",
    TaskAudited: "audit_events",
    DeadLetter: "dlq_events",
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICRO = 1_000_000


def _base(column_type: str) -> str:
    match = re.fullmatch(r"(?:Nullable|LowCardinality)\((.*)\)", column_type)
    return _base(match.group(1)) if match else column_type


def _domain(column_type: str) -> tuple[Any, Any] | None:
    """What a column type holds, from its name: (min, max), or None when unbounded text/bool."""
    kind = _base(column_type)
    integer = re.fullmatch(r"(U?)Int(\d+)", kind)
    if integer:
        bits = int(integer.group(2))
        if integer.group(1):
            return 0, 2**bits - 1
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if re.fullmatch(r"DateTime(\('[^']*'\))?", kind):  # UInt32 seconds
        return EPOCH, EPOCH + timedelta(seconds=2**32 - 1)
    if re.fullmatch(r"DateTime64\(\d+(, *'[^']*')?\)", kind):  # as documented by ClickHouse
        return (
            datetime(1900, 1, 1, tzinfo=UTC),
            datetime(2299, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        )
    if kind == "Float64":
        return -math.inf, math.inf  # finite floats; NaN/inf are refused by the models
    return None


def _field_schema(model: type[BaseModel], name: str) -> dict[str, Any]:
    """The core schema of one field, through defaults, nullables and wrappers."""
    schema: Any = model.__pydantic_core_schema__
    while schema["type"] != "model":
        schema = schema["schema"]
    node = schema["schema"]["fields"][name]["schema"]
    while node["type"] in ("default", "nullable", "function-before", "function-after"):
        node = node["schema"]
    return dict(node)


def _stored_fields() -> list[tuple[type[BaseModel], str, str]]:
    return [
        (model, name, COLUMN_TYPES[table][name])
        for model, table in TABLE_OF.items()
        for name in model.model_fields
        if name in COLUMN_TYPES[table]
    ]


def test_table_columns_are_the_ddl_columns_in_order() -> None:
    assert {t: tuple(c) for t, c in COLUMN_TYPES.items() if t in TABLE_COLUMNS} == TABLE_COLUMNS


def test_the_columns_storage_names_are_the_ddl_types() -> None:
    """schemas.storage says where its bounded fields land; the DDL must agree."""
    for table in ("task_events", "audit_events"):
        assert (
            COLUMN_TYPES[table]["occurred_at"],
            COLUMN_TYPES[table]["window_start"],
        ) == OCCURRED_AT_TYPES
    for table in ("metrics_1m", "audit_errors_1m"):
        assert COLUMN_TYPES[table]["window_start"] == OCCURRED_AT_TYPES[1]
    assert COLUMN_TYPES["task_events"]["attempt"] == ATTEMPT_TYPE
    assert _base(COLUMN_TYPES["task_events"]["task_created_at"]) == TASK_CREATED_AT_TYPE


def test_every_unstored_field_is_a_constant() -> None:
    """A field with no column of its name is a literal (event type, version) or re-encoded."""
    for model, table in TABLE_OF.items():
        for name in set(model.model_fields) - set(COLUMN_TYPES[table]):
            schema = _field_schema(model, name)
            assert schema["type"] == "literal" or (model, name) == (DeadLetter, "payload_b64"), (
                f"{model.__name__}.{name} has no column in {table}"
            )


def test_the_version_fields_have_their_columns() -> None:
    """Every accepted version is stored with what orders it (migration 5)."""
    for table in ("task_events", "audit_events"):
        assert COLUMN_TYPES[table]["revision"] == REVISION_TYPE, table
        assert COLUMN_TYPES[table]["retracted"] == "Bool", table
        assert COLUMN_TYPES[table]["occurred_at_us"] == "Int64", table
    assert COLUMN_TYPES["task_events"]["submission_id"] == "Nullable(String)"


@pytest.mark.parametrize(
    "model", [TaskCompleted, TaskAudited, TaskCompletedRetraction, TaskAuditedRetraction]
)
def test_revision_fits_the_column_named_for_it(model: type[BaseModel]) -> None:
    assert REVISION_TYPE == "UInt32"
    domain = _domain(REVISION_TYPE)
    assert domain is not None
    schema = _field_schema(model, "revision")
    assert schema["type"] == "int" and (schema["ge"], schema["le"]) == (1, domain[1])
    base = _completed() if "status" in model.model_fields else _audited()
    if model in (TaskCompletedRetraction, TaskAuditedRetraction):
        base = {**base, "retracted": True, "submission_id": "s"}
    decoder = ContractDecoder(1 << 20, 400 * 365 * 86400)
    accepted = decoder.decode(orjson.dumps({**base, "revision": domain[1]}), NOW)
    assert isinstance(accepted, model) and accepted.revision == domain[1]
    for value in (domain[0], domain[1] + 1):
        result = decoder.decode(orjson.dumps({**base, "revision": value}), NOW)
        assert isinstance(result, DecodeError)
        assert (result.reason, result.field) == ("invalid_field", "revision")


@pytest.mark.parametrize(
    ("model", "name", "column_type"),
    _stored_fields(),
    ids=[f"{m.__name__}.{n}" for m, n, _ in _stored_fields()],
)
def test_every_stored_field_fits_its_column(
    model: type[BaseModel], name: str, column_type: str
) -> None:
    schema = _field_schema(model, name)
    domain = _domain(column_type)
    kind = _base(column_type)
    if kind.startswith(("UInt", "Int")):
        assert schema["type"] == "int", f"{name}: {schema}"
        assert domain is not None
        assert "ge" in schema and "le" in schema, f"{name} needs both bounds for {column_type}"
        assert domain[0] <= schema["ge"] and schema["le"] <= domain[1], (name, schema, domain)
    elif kind.startswith("DateTime"):
        assert schema["type"] == "datetime", f"{name}: {schema}"
        assert domain is not None
        assert "ge" in schema and "le" in schema, f"{name} needs both bounds for {column_type}"
        low, high = schema["ge"], schema["le"]
        assert low.utcoffset() is not None and high.utcoffset() is not None
        assert domain[0] <= low and high <= domain[1], (name, low, high, domain)
        if name == "occurred_at":  # also stored as its minute, in DateTime columns
            minute = _domain(COLUMN_TYPES["metrics_1m"]["window_start"])
            assert minute is not None
            floor = low.replace(second=0, microsecond=0)
            assert minute[0] <= floor and high <= minute[1]
    elif kind == "Float64":
        assert schema["type"] == "float", f"{name}: {schema}"
        assert model.model_config.get("allow_inf_nan") is False or model is DeadLetter
        assert "ge" in schema and "le" in schema, f"{name} needs both bounds"
        # The state keeps seconds and scores as integer micro-units.
        assert math.isfinite(schema["le"] * MICRO) and math.isfinite(schema["ge"] * MICRO)
    elif kind == "Bool":
        # A plain bool, or the version flag: a strict bool held to one literal.
        steps = schema.get("steps", [schema])
        assert steps[0]["type"] == "bool", f"{name}: {schema}"
    elif kind in ("String", "Array(String)"):
        # Any text is storable but lone surrogates (no UTF-8); the contract's text
        # check refuses them with the rest of the hidden characters. Literals are ours.
        if model is not DeadLetter and schema["type"] != "literal":
            hostile = "a\u202eb\ud800"
            value = [hostile] if kind.startswith("Array") else hostile
            base = _completed() if model is TaskCompleted else _audited()
            result = DECODER.decode_object({**base, name: value}, NOW)
            assert isinstance(result, DecodeError), f"{name} lacks the text check"
            assert result.field in (name, f"{name}.0")
            assert "U+202E" in result.message
    else:  # a column type this test does not know yet: teach it
        pytest.fail(f"{name}: unknown column type {column_type}")


DECODER = ContractDecoder(1 << 20, 400 * 365 * 86400)
NOW = datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC)


def _completed(**changes: Any) -> dict[str, Any]:
    return {
        "event_type": "task_completed",
        "schema_version": 1,
        "event_id": "e-1",
        "occurred_at": "2026-11-23T08:15:00Z",
        "project_id": "p",
        "queue_id": "q",
        "task_id": "t",
        "annotator_id": "a",
        "status": "submitted",
        "handle_time_s": 1.0,
        **changes,
    }


def _audited(**changes: Any) -> dict[str, Any]:
    return {
        "event_type": "task_audited",
        "schema_version": 1,
        "event_id": "a-1",
        "occurred_at": "2026-11-23T08:15:00Z",
        "project_id": "p",
        "queue_id": "q",
        "task_id": "t",
        "annotator_id": "a",
        "auditor_id": "r",
        "verdict": "approve",
        **changes,
    }


def _text(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _beyond(model: type[BaseModel], name: str) -> list[Any]:
    """The first values past each end of the field's column."""
    domain = _domain(COLUMN_TYPES[TABLE_OF[model]][name])
    assert domain is not None
    low, high = domain
    if isinstance(low, int):
        return [low - 1, high + 1]
    if name == "occurred_at":  # and its minute
        minute = _domain(COLUMN_TYPES["metrics_1m"]["window_start"])
        assert minute is not None
        low, high = max(low, minute[0]), min(high, minute[1])
    step = timedelta(microseconds=1)
    return [_text(low - step), _text(high + step)]


_BOUNDED = [
    (model, name)
    for model, name, column_type in _stored_fields()
    if model is not DeadLetter and re.match(r"U?Int|DateTime", _base(column_type))
]


@pytest.mark.parametrize(
    ("model", "name"), _BOUNDED, ids=[f"{m.__name__}.{n}" for m, n in _BOUNDED]
)
def test_the_first_value_beyond_a_column_is_refused_naming_the_field(
    model: type[BaseModel], name: str
) -> None:
    for value in _beyond(model, name):
        event = (_completed if model is TaskCompleted else _audited)(**{name: value})
        if name == "task_created_at":
            event["occurred_at"] = "2106-02-07T06:28:15Z"
        result = DECODER.decode(orjson.dumps(event), NOW)
        assert isinstance(result, DecodeError), f"{name}={value} accepted"
        assert (result.reason, result.field) == ("invalid_field", name), result


def _at_bounds() -> list[dict[str, Any]]:
    """Events with every bounded field at one end of its bounds, then at the other."""

    def bound(model: type[BaseModel], name: str, end: str) -> Any:
        value = _field_schema(model, name)[end]
        return _text(value) if isinstance(value, datetime) else value

    events = []
    for index, end in enumerate(("ge", "le")):
        occurred = bound(TaskCompleted, "occurred_at", end)
        created = bound(TaskCompleted, "task_created_at", "ge")
        events.append(
            _completed(
                event_id=f"c-{end}",
                occurred_at=occurred,
                task_created_at=created,
                attempt=bound(TaskCompleted, "attempt", end),
                handle_time_s=bound(TaskCompleted, "handle_time_s", end),
                is_gold=True,
                gold_correct=bool(index),
                task_type="x" * 64,
                tags=["标" * 64] * 32,
                project_id="p" * 128,
            )
        )
        events.append(
            _audited(
                event_id=f"a-{end}",
                occurred_at=occurred,
                score=bound(TaskAudited, "score", end),
                audit_time_s=bound(TaskAudited, "audit_time_s", end),
                error_categories=[f"{i}" + "类" * 60 for i in range(32)],
            )
        )
    return events


def test_events_at_every_bound_are_encoded_for_every_table() -> None:
    """Accepted at their bounds, they go through the state and the real Native encoder."""
    state = PartitionState(0, 120 * MICRO, 400 * 365 * 86400 * MICRO)
    for offset, event in enumerate(_at_bounds()):
        raw = orjson.dumps(event)
        decoded = DECODER.decode(raw, NOW)
        assert not isinstance(decoded, DecodeError), decoded
        assert state.process(decoded, raw, "t", offset) in ("accepted", "late")
    state.advance(close_all=True)
    batches = rows_for_checkpoint([state], int(NOW.timestamp() * MICRO))
    encoded = 0
    for table, columns in batches.items():
        names = list(TABLE_COLUMNS[table])
        types = [get_from_name(COLUMN_TYPES[table][name]) for name in names]
        for name, values in zip(names, columns, strict=True):
            # Rows carry times as numbers: DateTime in seconds, DateTime64(3) in ms.
            domain = _domain(COLUMN_TYPES[table][name])
            numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
            if domain is None or not numbers:
                continue
            low, high = domain
            if isinstance(low, datetime):
                tick = timedelta(
                    milliseconds=1 if "DateTime64" in COLUMN_TYPES[table][name] else 1000
                )
                low, high = ((moment - EPOCH) // tick for moment in domain)
            assert low <= min(numbers) and max(numbers) <= high, (table, name, numbers)
        native_block(table, names, types, columns, column_oriented=True)
        encoded += columns.rows
    assert encoded >= 4
    assert set(PARTITION_MONTH) >= {"task_events", "audit_events", "metrics_1m"}
