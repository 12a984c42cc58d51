"""The OpenAPI 3.1 document of the gateway, served at ``/openapi.json``.

The request schemas of ``/v1/events`` are the contract's own JSON Schemas
(``schemas.export``), so the document cannot drift from what the decoder
accepts; webhook bodies are the platforms' and are described, not schematized.
"""

from __future__ import annotations

from typing import Any

from gateway.connectors import TYPES
from schemas.export import json_schema

_REJECTED = {
    "type": "array",
    "description": "Items published as dead letters, with why.",
    "items": {
        "type": "object",
        "required": ["index", "reason", "message"],
        "properties": {
            "index": {"type": "integer", "minimum": 0},
            "reason": {"type": "string", "description": "A dead-letter reason code."},
            "message": {"type": "string"},
        },
    },
}


def _error(description: str, retry: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if retry:
        response["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
        }
    return response


_ERRORS = {
    "401": _error("Missing or invalid credentials; nothing was published."),
    "413": _error("The body is larger than the limit, or carries more items than the limit."),
    "429": _error("This client or source is over its rate limit.", retry=True),
    "503": _error(
        "The broker did not store every record in time; retry the same request "
        "(deterministic event ids make what did land a duplicate).",
        retry=True,
    ),
}


def document() -> dict[str, Any]:
    events_answer: dict[str, Any] = {
        "type": "object",
        "required": ["accepted", "rejected"],
        "properties": {"accepted": {"type": "integer", "minimum": 0}, "rejected": _REJECTED},
    }
    hook_answer = {
        "type": "object",
        "required": ["accepted", "rejected", "ignored"],
        "properties": {
            **events_answer["properties"],
            "ignored": {
                "type": "array",
                "description": "Parts of the delivery that are no work to count.",
                "items": {
                    "type": "object",
                    "properties": {"index": {"type": "integer"}, "reason": {"type": "string"}},
                },
            },
        },
    }
    event = {
        "oneOf": [
            {"$ref": "#/components/schemas/task_completed"},
            {"$ref": "#/components/schemas/task_audited"},
        ]
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "annotation-telemetry gateway",
            "version": "1",
            "description": "HTTP into the input topics: the event contract, and the "
            "webhooks of annotation platforms (docs/gateway.md).",
        },
        "paths": {
            "/v1/events": {
                "post": {
                    "summary": "Publish contract events: one object, an array, or NDJSON.",
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"oneOf": [event, {"type": "array", "items": event}]}
                            },
                            "application/x-ndjson": {
                                "schema": {"type": "string", "description": "One event per line."}
                            },
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Every event was stored; refused items went to the "
                            "dead-letter topic.",
                            "content": {"application/json": {"schema": events_answer}},
                        },
                        "400": _error("An empty body."),
                        **_ERRORS,
                    },
                }
            },
            "/v1/hooks/{source}": {
                "post": {
                    "summary": "A platform's webhook, for a source of the connectors file.",
                    "description": "Source types: " + ", ".join(TYPES) + ". Authenticated by "
                    "the source's token (Authorization: Bearer) and/or the platform's "
                    "signature (X-Signature-256, X-Hub-Signature, webhook-signature, "
                    "Toloka-Signature).",
                    "security": [{"bearer": []}, {"signature": []}],
                    "parameters": [
                        {
                            "name": "source",
                            "in": "path",
                            "required": True,
                            "schema": {
                                "type": "string",
                                "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
                            },
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "responses": {
                        "200": {
                            "description": "Every event was stored; unmappable or invalid "
                            "parts went to the dead-letter topic.",
                            "content": {"application/json": {"schema": hook_answer}},
                        },
                        "404": _error("No such source in the connectors file."),
                        **_ERRORS,
                    },
                }
            },
            "/health": {
                "get": {
                    "summary": "Liveness.",
                    "security": [],
                    "responses": {"200": {"description": "The gateway is serving."}},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus text: requests, published events, refusals, latency.",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "Prometheus exposition.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document.",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1."}},
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "signature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Signature-256",
                    "description": "The platform's signature header over the raw body "
                    "(the header's name depends on the platform; docs/gateway.md).",
                },
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}},
                },
                "task_completed": json_schema("task_completed"),
                "task_audited": json_schema("task_audited"),
            },
        },
    }
