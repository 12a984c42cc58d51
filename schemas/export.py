"""JSON Schema export, so platform feeds can validate before they publish."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.events import TaskAudited, TaskCompleted

SCHEMA_FILES: dict[str, type[TaskCompleted] | type[TaskAudited]] = {
    "task_completed.schema.json": TaskCompleted,
    "task_audited.schema.json": TaskAudited,
}


def json_schema(model: type[TaskCompleted] | type[TaskAudited]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    # The contract accepts unknown fields (forward compatibility).
    schema["additionalProperties"] = True
    required = set(schema.get("required", []))
    required.update({"event_type", "schema_version"})
    schema["required"] = sorted(required)
    return schema


def export_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMA_FILES.items():
        path = directory / name
        path.write_text(
            json.dumps(json_schema(model), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        written.append(path)
    return written
