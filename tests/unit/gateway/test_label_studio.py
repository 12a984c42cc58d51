"""Label Studio's documented webhooks -> the exact contract events, revisions and retractions."""

from __future__ import annotations

import copy
from typing import Any

from gateway.connectors import label_studio
from gateway.connectors.base import (
    Ignored,
    PayloadPath,
    SourceMapping,
    Unmappable,
    User,
    stamp,
)
from schemas.units import rfc3339
from tests.unit.gateway.payloads import (
    LS_CREATED,
    LS_DELETED,
    LS_REVIEW,
    LS_UPDATED,
    NO_MAPPING,
    RECEIVED,
    contract,
    deliver,
)


def events(body: dict[str, Any], mapping: SourceMapping = NO_MAPPING) -> list[Any]:
    return label_studio.events(deliver(body), mapping)


def test_annotation_created_is_a_submission_of_revision_1() -> None:
    assert contract(events(LS_CREATED)) == [
        {
            "event_type": "task_completed",
            "schema_version": 1,
            "event_id": "ls:ann:17:1629208368536370",
            "occurred_at": "2021-08-17T13:52:48.536303Z",
            "project_id": "2",
            "queue_id": "2",
            "locale": "und",
            "revision": 1,
            "task_id": "19",
            "annotator_id": "1",
            "vendor_id": None,
            "source": "human",
            "status": "submitted",
            "submission_id": "17",
            "task_type": None,
            "tags": [],
            "handle_time_s": 37.13,
        }
    ]


def test_annotation_updated_is_revision_2_at_its_updated_at() -> None:
    [event] = contract(events(LS_UPDATED))
    assert event["revision"] == 2
    assert event["occurred_at"] == "2021-08-17T13:37:25.805479Z"
    assert event["event_id"] == "ls:ann:16:1629207445805479"
    assert (event["submission_id"], event["task_id"], event["handle_time_s"]) == (
        "16",
        "5",
        299.327,
    )


def test_an_edit_is_a_new_event_id_a_redelivery_the_same() -> None:
    first = events(LS_CREATED)
    assert events(LS_CREATED) == first
    edited = copy.deepcopy(LS_CREATED)
    edited["action"] = "ANNOTATION_UPDATED"
    edited["annotation"]["updated_at"] = "2021-08-17T14:00:00Z"
    [edit] = events(edited)
    assert edit["event_id"] != first[0]["event_id"]
    assert edit["submission_id"] == first[0]["submission_id"]
    assert edit["revision"] == 2 and edit["occurred_at"] == "2021-08-17T14:00:00Z"


def test_annotations_deleted_are_retractions_at_the_moment_received() -> None:
    assert contract(events(LS_DELETED)) == [
        {
            "event_type": "task_completed",
            "schema_version": 1,
            "event_id": "ls:ann:17:deleted",
            "occurred_at": "2026-11-23T08:00:00Z",
            "project_id": "2",
            "revision": 1,
            "submission_id": "17",
            "retracted": True,
        }
    ]


def test_cancelled_ground_truth_and_predicted_work() -> None:
    body = copy.deepcopy(LS_CREATED)
    body["annotation"]["was_cancelled"] = True
    [skipped] = contract(events(body))
    assert skipped["status"] == "skipped"
    body = copy.deepcopy(LS_CREATED)
    body["annotation"]["prediction"] = {"id": 3, "model_version": "v1", "result": []}
    assert contract(events(body))[0]["source"] == "hybrid"
    body["annotation"]["prediction"] = {}
    body["annotation"]["parent_prediction"] = 9
    assert contract(events(body))[0]["source"] == "hybrid"


def test_ground_truth_is_gold_and_needs_its_correctness_mapped() -> None:
    body = copy.deepcopy(LS_CREATED)
    body["annotation"]["ground_truth"] = True
    [unmappable] = events(body)
    assert isinstance(unmappable, Unmappable) and "gold_correct" in unmappable.message
    body["task"] = {"id": 19, "data": {"checked": False}, "created_at": "2021-08-17T13:51:02Z"}
    mapping = SourceMapping({"gold_correct": PayloadPath.parse("task.data.checked")})
    [gold] = contract(events(body, mapping))
    assert (gold["is_gold"], gold["gold_correct"]) == (True, False)
    assert gold["task_created_at"] == "2021-08-17T13:51:02Z"


def test_bulk_creation_with_nested_tasks_mapping_and_users() -> None:
    first = copy.deepcopy(LS_CREATED["annotation"])
    second = {**first, "id": 18, "task": 20, "completed_by": 9, "lead_time": 12.0}
    body = {
        "action": "ANNOTATIONS_CREATED",
        "annotation": [first, second],
        "task": [
            {"id": 19, "data": {"queue": "队列A", "locale": "zh-CN"}, "meta": {"tags": ["夜班"]}},
            {"id": 20, "data": {"queue": "队列B"}, "meta": {}},
        ],
        "project": LS_PROJECT_ALIAS,
    }
    mapping = SourceMapping(
        {
            "project_id": "医疗影像标注",
            "queue_id": PayloadPath.parse("task.data.queue"),
            "locale": PayloadPath.parse("task.data.locale", "zh-Hans"),
            "task_type": "bbox",
            "tags": PayloadPath.parse("task.meta.tags"),
            "vendor_id": "apex-labeling",
        },
        {"1": User("标注员-001", None, True), "9": User("标注员-009")},
    )
    out = contract(events(body, mapping))
    assert [(e["queue_id"], e["locale"], e["tags"]) for e in out] == [
        ("队列A", "zh-CN", ["夜班"]),
        ("队列B", "zh-Hans", []),
    ]
    assert [(e["annotator_id"], e["vendor_id"]) for e in out] == [
        ("标注员-001", None),  # the users table says in-house
        ("标注员-009", "apex-labeling"),  # the table names no vendor: the mapping's
    ]
    assert {e["project_id"] for e in out} == {"医疗影像标注"}
    assert {e["task_type"] for e in out} == {"bbox"}


LS_PROJECT_ALIAS = {"id": 2}


def test_numeric_ids_keep_every_digit() -> None:
    body = copy.deepcopy(LS_CREATED)
    body["annotation"]["id"] = 2**70 + 1
    body["annotation"]["task"] = 2**64
    [event] = contract(events(body))
    assert event["submission_id"] == "1180591620717411303425"
    assert event["task_id"] == "18446744073709551616"


def test_review_created_is_an_audit_of_the_annotators_work() -> None:
    assert contract(events(LS_REVIEW)) == [
        {
            "event_type": "task_audited",
            "schema_version": 1,
            "event_id": "ls:rev:5:1629209400000000",
            "occurred_at": "2021-08-17T14:10:00Z",
            "project_id": "2",
            "queue_id": "2",
            "locale": "und",
            "revision": 1,
            "task_id": "19",
            "annotator_id": "1",
            "vendor_id": None,
            "source": "human",
            "auditor_id": "3",
            "verdict": "reject",
            "audit_time_s": 44.5,
        }
    ]


def test_review_updated_and_fix_and_deleted() -> None:
    body = copy.deepcopy(LS_REVIEW)
    body["action"] = "REVIEW_UPDATED"
    body["review"].update(accepted=True, fixed_annotation_history=41)
    [fixed] = contract(events(body))
    assert (fixed["verdict"], fixed["revision"]) == ("fix", 2)
    assert fixed["occurred_at"] == "2021-08-17T14:10:00Z"  # no updated_at: the review's time
    assert fixed["event_id"].startswith("ls:rev:5:d")  # and its content tells edits apart
    body["review"]["fixed_annotation_history"] = None
    [approved] = events(body)
    assert approved["verdict"] == "approve" and approved["event_id"] != fixed["event_id"]
    gone = {"action": "REVIEWS_DELETED", "reviews": [LS_REVIEW["review"]], "project": {"id": 2}}
    assert contract(events(gone)) == [
        {
            "event_type": "task_audited",
            "schema_version": 1,
            "event_id": "ls:rev:5:deleted",
            "occurred_at": "2026-11-23T08:00:00Z",
            "project_id": "2",
            "revision": 1,
            "task_id": "19",
            "annotator_id": "1",
            "retracted": True,
        }
    ]


def test_a_review_without_the_reviewed_annotation_is_unmappable() -> None:
    body = copy.deepcopy(LS_REVIEW)
    body["review"]["annotation"] = 17
    [item] = events(body)
    assert isinstance(item, Unmappable) and "annotation 17" in item.message
    body["annotation"] = copy.deepcopy(LS_CREATED["annotation"])  # beside it: mappable
    assert contract(events(body))[0]["annotator_id"] == "1"


def test_other_actions_are_ignored_and_garbage_is_unmappable() -> None:
    assert events({"action": "PROJECT_UPDATED", "project": {"id": 1}}) == [
        Ignored("PROJECT_UPDATED: not work to count")
    ]
    assert isinstance(label_studio.events(deliver([1, 2]), NO_MAPPING)[0], Unmappable)
    broken = copy.deepcopy(LS_CREATED)
    broken["annotation"]["created_at"] = "yesterday"
    [item] = events(broken)
    assert isinstance(item, Unmappable) and "annotation.created_at" in item.message
    broken["annotation"]["created_at"] = LS_CREATED["annotation"]["created_at"]
    del broken["project"]
    [item] = events(broken)
    assert isinstance(item, Unmappable) and "project.id" in item.message


def test_a_time_outside_the_utc_calendar_is_unmappable_not_a_crash() -> None:
    body = copy.deepcopy(LS_CREATED)
    body["annotation"]["created_at"] = "9999-12-31T23:59:59-08:00"
    [item] = events(body)
    assert isinstance(item, Unmappable)
    assert item.message.startswith("annotation.created_at:") and "out of range" in item.message


def with_counters(body: dict[str, Any], total: Any, finished: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body["project"] = {**body["project"], "task_number": total, "finished_task_number": finished}
    return body


def test_project_counters_give_one_queue_status_dated_at_the_minute_received() -> None:
    items = contract(events(with_counters(LS_CREATED, 120, 45)))
    assert [i["event_type"] for i in items] == ["task_completed", "queue_status"]
    snapshot = items[1]
    minute = RECEIVED.replace(second=0, microsecond=0)
    assert snapshot == {
        "event_type": "queue_status",
        "schema_version": 1,
        "event_id": f"ls:queue:2:2:{stamp(minute)}",
        "occurred_at": rfc3339(minute),
        "project_id": "2",
        "queue_id": "2",
        "open_tasks": 75,
    }
    # A review carries the counters too; the same minute gives the same snapshot id.
    review = contract(events(with_counters(LS_REVIEW, 120, 46)))
    assert review[-1]["event_id"] == snapshot["event_id"] and review[-1]["open_tasks"] == 74


def test_without_counts_there_is_no_snapshot_and_the_work_still_maps() -> None:
    for total, finished in ((None, None), (10, None), ("10", 2), (True, 0), (-1, 0), (5.0, 1)):
        items = contract(events(with_counters(LS_CREATED, total, finished)))
        assert [i["event_type"] for i in items] == ["task_completed"], (total, finished)
    # More finished than created (a counter race on the platform's side) is none open.
    [_, snapshot] = contract(events(with_counters(LS_CREATED, 3, 5)))
    assert snapshot["open_tasks"] == 0
    # Deletes carry no work to count: no snapshot either.
    assert all(i["event_type"] != "queue_status" for i in events(with_counters(LS_DELETED, 9, 1)))
