"""JSON Schema export, so platform feeds can validate before they publish.

One schema per event type, generated from the models. A message is a
retraction when ``retracted`` is true and a version otherwise, exactly as the
decoder chooses its model, so each schema is ``if retracted is true then the
retraction's schema else the version's``: a feed validating with it accepts
and refuses what the decoder does (tests/unit/test_contract.py holds them
equal over a table of cases). What JSON Schema cannot say is left to the
decoder: instants compared with each other or with the clock (``task_created_at``
after ``occurred_at``, bounds of a date-time, ``future_timestamp``), and
integers written with a fraction (``2.0`` is an integer to JSON Schema, not to
the decoder).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas.events import (
    TaskAudited,
    TaskAuditedRetraction,
    TaskCompleted,
    TaskCompletedRetraction,
)
from schemas.queue_status import QueueStatus

BASE_ID = "https://annotation-telemetry/schemas/v1/"

# event type -> (the version's model, the retraction's model)
MODELS: dict[str, tuple[type[BaseModel], type[BaseModel]]] = {
    "task_completed": (TaskCompleted, TaskCompletedRetraction),
    "task_audited": (TaskAudited, TaskAuditedRetraction),
}
# Snapshots have no retraction: their schema is the model's alone.
SNAPSHOT_MODELS: dict[str, type[BaseModel]] = {"queue_status": QueueStatus}
SCHEMA_FILES = {
    f"{event_type}.schema.json": event_type for event_type in (*MODELS, *SNAPSHOT_MODELS)
}

_DESCRIPTIONS = {
    "task_completed": TaskCompleted.__doc__,
    "task_audited": TaskAudited.__doc__,
}


def model_schema(model: type[BaseModel]) -> tuple[dict[str, Any], dict[str, Any]]:
    """One model's schema (unknown fields allowed) and the definitions it refers to."""
    schema = model.model_json_schema(mode="validation", ref_template="#/$defs/{model}")
    definitions: dict[str, Any] = schema.pop("$defs", {})
    schema.pop("$id", None)  # the file's $id is the event type's
    # The contract accepts unknown fields (forward compatibility).
    schema["additionalProperties"] = True
    required = set(schema.get("required", []))
    required.update({"event_type", "schema_version"})
    schema["required"] = sorted(required)
    return schema, definitions


def json_schema(event_type: str) -> dict[str, Any]:
    """The schema of one event type: a version, or a retraction when ``retracted`` is true."""
    if event_type in SNAPSHOT_MODELS:
        return snapshot_schema(event_type)
    version_model, retraction_model = MODELS[event_type]
    version, version_defs = model_schema(version_model)
    retraction, retraction_defs = model_schema(retraction_model)
    definitions = {**version_defs, **retraction_defs, "version": version, "retraction": retraction}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": BASE_ID + event_type,
        "title": event_type,
        "description": f"{_DESCRIPTIONS[event_type]} A version of a piece of work, or, "
        "with retracted true, its retraction.",
        "type": "object",
        "if": {"properties": {"retracted": {"const": True}}, "required": ["retracted"]},
        "then": {"$ref": "#/$defs/retraction"},
        "else": {"$ref": "#/$defs/version"},
        "$defs": definitions,
    }


def snapshot_schema(event_type: str) -> dict[str, Any]:
    """The schema of a snapshot type (``queue_status``): its model, unknown fields allowed."""
    model = SNAPSHOT_MODELS[event_type]
    schema, definitions = model_schema(model)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": BASE_ID + event_type,
        **schema,
        "description": model.__doc__,
        **({"$defs": definitions} if definitions else {}),
    }


def export_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, event_type in SCHEMA_FILES.items():
        path = directory / name
        path.write_text(
            json.dumps(json_schema(event_type), indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        written.append(path)
    return written
