"""Event contract v1: the published shape of annotation telemetry.

This package depends on nothing else in the project, so platform feeds can
vendor it to validate before they publish.
"""

from schemas.deadletter import DeadLetter, DeadLetterReason
from schemas.decode import ContractDecoder, Decoded, DecodeError, encode_event
from schemas.events import (
    AnnotationEvent,
    ContractEvent,
    Retraction,
    TaskAudited,
    TaskAuditedRetraction,
    TaskCompleted,
    TaskCompletedRetraction,
)

__all__ = [
    "AnnotationEvent",
    "ContractDecoder",
    "ContractEvent",
    "DeadLetter",
    "DeadLetterReason",
    "DecodeError",
    "Decoded",
    "Retraction",
    "TaskAudited",
    "TaskAuditedRetraction",
    "TaskCompleted",
    "TaskCompletedRetraction",
    "encode_event",
]
