"""What a generated line counts for: the per-project counters of the manifest.

Each valid line carries the names of the counters it increments (the first
is its event type, counted for every accepted line; the others are the
aggregates, which with versions on count only the version that counts). The
names are the metrics_1m columns, so the manifest compares with the worker's
output field by field.
"""

from __future__ import annotations

PROJECT_FIELDS = (
    "events",
    "duplicates",
    "task_completed",
    "task_audited",
    "tasks_submitted",
    "tasks_skipped",
    "tasks_expired",
    "rework_submitted",
    "gold_submitted",
    "gold_correct",
    "audits",
    "audits_approved",
    "audits_fixed",
    "audits_rejected",
)
SOURCES = ("human", "hybrid", "machine")

# The per-project counters one line increments (the first name is its event type).
Counts = tuple[str, ...]
C_SUBMITTED: Counts = ("task_completed", "tasks_submitted")
C_REWORK: Counts = ("task_completed", "tasks_submitted", "rework_submitted")
C_GOLD_OK: Counts = ("task_completed", "tasks_submitted", "gold_submitted", "gold_correct")
C_GOLD_WRONG: Counts = ("task_completed", "tasks_submitted", "gold_submitted")
C_SKIPPED: Counts = ("task_completed", "tasks_skipped")
C_EXPIRED: Counts = ("task_completed", "tasks_expired")
C_RETRACTED: Counts = ("task_completed",)  # a retraction adds to no aggregate
C_VERDICT_COUNTS: dict[str, Counts] = {
    "approve": ("task_audited", "audits", "audits_approved"),
    "fix": ("task_audited", "audits", "audits_fixed"),
    "reject": ("task_audited", "audits", "audits_rejected"),
}
