"""The platforms' documented example payloads (trimmed where marked), and helpers to judge events.

Sources: Label Studio's webhook reference (docs/source/guide/webhook_reference.md),
CVAT's webhooks page, Argilla's webhooks internals, Toloka's notification
format; Labelbox and Label Studio Enterprise reviews publish no exact JSON,
so theirs follow the shapes docs/gateway.md states the connectors read.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import orjson

from gateway.connectors.base import Delivery, Item, SourceMapping
from schemas import ContractDecoder, DecodeError

RECEIVED = datetime(2026, 11, 23, 8, 0, 0, tzinfo=UTC)
DECODER = ContractDecoder(1 << 20, 3650 * 86400)

LS_PROJECT = {"id": 2, "title": "New Project #2", "maximum_annotations": 1}

LS_CREATED: dict[str, Any] = {
    "action": "ANNOTATION_CREATED",
    "annotation": {
        "id": 17,
        "result": [
            {
                "value": {"start": 0, "end": 26, "text": "Opossums are op", "labels": ["Answer"]},
                "id": "WArqkkifYE",
                "from_name": "answer",
                "to_name": "text",
                "type": "labels",
            }
        ],
        "was_cancelled": False,
        "ground_truth": False,
        "created_at": "2021-08-17T13:52:48.536303Z",
        "updated_at": "2021-08-17T13:52:48.536370Z",
        "lead_time": 37.13,
        "prediction": {},
        "result_count": 0,
        "task": 19,
        "completed_by": 1,
    },
    "project": LS_PROJECT,
}

LS_UPDATED: dict[str, Any] = {
    "action": "ANNOTATION_UPDATED",
    "annotation": {
        "id": 16,
        "result": [],  # trimmed: two rectangle labels
        "was_cancelled": False,
        "ground_truth": False,
        "created_at": "2021-08-17T13:35:59.817086Z",
        "updated_at": "2021-08-17T13:37:25.805479Z",
        "lead_time": 299.327,
        "prediction": {},
        "result_count": 0,
        "task": 5,
        "completed_by": 1,
    },
    "project": {"id": 1, "title": "New Project #5"},
}

LS_DELETED: dict[str, Any] = {
    "action": "ANNOTATIONS_DELETED",
    "annotations": [{"id": 17}],
    "project": LS_PROJECT,
}

# Label Studio Enterprise: the review fields of the SDK's AnnotationReview, with the
# reviewed annotation nested (docs/gateway.md says what the connector needs).
LS_REVIEW: dict[str, Any] = {
    "action": "REVIEW_CREATED",
    "review": {
        "id": 5,
        "annotation": copy.deepcopy(LS_CREATED["annotation"]),
        "accepted": False,
        "created_by": 3,
        "created_at": "2021-08-17T14:10:00.000000Z",
        "started_at": "2021-08-17T14:09:15.500000Z",
        "fixed_annotation_history": None,
        "previous_annotation_history": 40,
        "remove_from_queue": True,
        "result": None,
        "state": "rejected",
    },
    "project": LS_PROJECT,
}

CVAT_JOB_COMPLETED: dict[str, Any] = {
    "event": "update:job",
    "job": {
        "id": 19,
        "task_id": 15,
        "project_id": 7,
        "assignee": {"id": 4, "username": "annotator4"},
        "stage": "annotation",
        "state": "completed",
        "type": "annotation",
        "created_date": "2022-10-04T08:05:50.419259Z",
        "updated_date": "2022-10-04T09:12:03.100000Z",
        "start_frame": 0,
        "stop_frame": 99,
    },
    "before_update": {"state": "in progress"},
    "webhook_id": 7,
    "sender": {"id": 4, "username": "annotator4"},
}

# CVAT's own documented example: a task update, which is no work to count.
CVAT_TASK_UPDATED: dict[str, Any] = {
    "event": "update:task",
    "task": {
        "id": 15,
        "project_id": 7,
        "assignee": None,
        "status": "annotation",
        "created_date": "2022-10-04T08:05:50.419259Z",
        "segments": [
            {
                "start_frame": 0,
                "stop_frame": 0,
                "jobs": [{"id": 19, "assignee": None, "stage": "annotation", "state": "new"}],
            }
        ],
    },
    "before_update": {"name": "task"},
    "webhook_id": 7,
    "sender": {"id": 1, "username": "admin1"},
}

ARGILLA_UPDATED: dict[str, Any] = {
    "type": "response.updated",
    "version": 1,
    "timestamp": "2024-09-26T14:13:22.256501Z",
    "data": {
        "id": "38e4d8a9-5ba1-4b6e-9a8c-7d5c35e1a6b3",
        "values": {"int_score": {"value": 5}},
        "status": "discarded",
        "record": {
            "id": "54b1f5c2-0b9e-4b38-8a4a-2fe3b7ac8f11",
            "status": "completed",
            "metadata": {"language": "en"},
            "dataset": {
                "id": "ae29b6a8-8a3e-44a7-8cbb-3b4d7e0f2c55",
                "name": "fineweb-edu-min",
                "distribution": {"strategy": "overlap", "min_submitted": 1},
            },
        },
        "user": {
            "id": "df114b3c-1f2e-4a5d-9d6c-0a1b2c3d4e5f",
            "username": "argilla",
            "role": "owner",
        },
        "inserted_at": "2024-09-26T14:06:06.672138",
        "updated_at": "2024-09-26T14:13:22.206179",
    },
}

TOLOKA_APPROVED: dict[str, Any] = {
    "events": [
        {
            "event_time": "2000-01-01T12:00:00",
            "project_id": "project-1",
            "pool_id": "pool-1",
            "uuid": "00000000-0000-0000-0000-000000000000",
            "task_suite_id": "task-suite-1",
            "assignment_id": "assignment-1",
            "webhook_subscription_id": "subscription-1",
            "type": "ASSIGNMENT_APPROVED",
        }
    ]
}

LABELBOX_CREATED: dict[str, Any] = {
    "data_row": {"id": "clrow0001", "global_key": "image-0001.jpg"},
    "projects": {
        "clproj0001": {
            "name": "Street scenes",
            "labels": [
                {
                    "id": "cllabel0001",
                    "label_details": {
                        "created_at": "2024-03-01T10:00:00.000+00:00",
                        "updated_at": "2024-03-01T10:00:00.000+00:00",
                        "created_by": "ann@example.com",
                    },
                    "performance_details": {"seconds_to_create": 42.5, "skipped": False},
                }
            ],
            "project_details": {"workflow_status": "IN_REVIEW", "task_name": "Initial review"},
        }
    },
}


def deliver(body: Any, headers: dict[str, str] | None = None, source: str = "src") -> Delivery:
    return Delivery(copy.deepcopy(body), headers or {}, RECEIVED, source)


def contract(items: list[Item]) -> list[dict[str, Any]]:
    """The items, each checked to be an event the contract accepts."""
    events = []
    for item in items:
        assert isinstance(item, dict), item
        decoded = DECODER.decode(orjson.dumps(item), RECEIVED)
        assert not isinstance(decoded, DecodeError), (decoded, item)
        events.append(item)
    return events


NO_MAPPING = SourceMapping()
