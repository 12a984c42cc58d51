"""Event contract v1: the published shape of annotation telemetry.

This package depends on nothing else in the project, so platform feeds can
vendor it to validate before they publish.
"""

from schemas.deadletter import DeadLetter, DeadLetterReason
from schemas.decode import Decoded, DecodeError, Decoder, encode_event
from schemas.events import AnnotationEvent, TaskAudited, TaskCompleted

__all__ = [
    "AnnotationEvent",
    "DeadLetter",
    "DeadLetterReason",
    "DecodeError",
    "Decoded",
    "Decoder",
    "TaskAudited",
    "TaskCompleted",
    "encode_event",
]
