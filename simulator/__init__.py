"""A seeded, deterministic generator of realistic annotation telemetry.

    sim = Simulator(seed=7, start=datetime(2026, 11, 23, 1, tzinfo=UTC))
    for line in sim.events(n=20_000):  # or duration=timedelta(hours=2)
        ...  # one contract-v1 JSON message (bytes, no newline), in publish order
    sim.manifest  # the ground truth of the lines yielded so far

The world (``simulator.world``): five projects, two of them Chinese
(``医疗影像标注``, ``普通话语音转写``) and one with a Chinese queue; bbox,
segmentation, transcription, intent classification, search relevance and NER
queues; 2-4 vendors plus in-house staff (``vendor_id`` null, or absent in the
``+08:00`` feeds); a few hundred annotators with a skill (drives audit verdicts,
error categories and gold correctness) and a speed (scales log-normal handle
times); models label part of each queue (``source`` machine) and pre-label
another part for people (hybrid). Gold tasks are 6-8 % of submissions and
10-20 % are audited minutes later (verdicts approve / fix / reject, ``score``
is the quality 0-1, higher is better); fix and reject lead to rework
(``attempt`` > 1). Tasks are created in batches (``task_created_at`` on the
minute), hours before they are done. The rate follows a Beijing working day.

Versions (``simulator.versions``, ``Simulator(..., versions=True)``; off by
default): about 30 % of task outcomes carry a ``submission_id``; about 3 % of
submissions are edited later (a new event, revision + 1), about 0.5 % deleted
(a retraction), about 5 % of audits re-audited minutes to hours later, and a
fifth of the edits and re-audits arrive after the version they supersede.

Incidents (``simulator.incidents``), each switchable, scheduled from the seed
at fixed fractions of the run (so switching one off does not move the
others): ``vendor_quality_drop``, ``queue_stall``, ``aht_spike``,
``duplicates_and_late``, ``malformed``.

Manifest (``Simulator.manifest``, plain JSON values)::

    manifest_version  1
    seed, start, requested {events, duration_s}, knobs, allowed_lateness_s
    complete          true once the iterator is exhausted
    span              {first_occurred_at, last_occurred_at, planned_s}
    counts            lines = valid + malformed; valid = unique_events + duplicates;
                      malformed_by_reason (dead-letter reasons); task_completed,
                      task_audited (unique); delayed_within_lateness (delayed lines
                      still within allowed lateness); late_beyond_lateness (lines
                      more than allowed_lateness_s behind the newest earlier event
                      time: corrections of closed windows); by_source; by_vendor
                      ("(in-house)" for null)
    per_project       {project_id: {events, duplicates, task_completed, task_audited,
                      tasks_submitted, tasks_skipped, tasks_expired, rework_submitted,
                      gold_submitted, gold_correct, audits, audits_approved,
                      audits_fixed, audits_rejected, handle_time_sum_s,
                      audit_score_sum}}  (unique events; the metrics_1m column names)
    incidents         [{name, description, scope {project_id, queue_id | vendor_id},
                      start, end (UTC, event time, end exclusive), time_basis, params,
                      affected (events generated under it)}]  enabled ones only
    malformed         [{line (1-based), kind, reason, description, project_id,
                      published_at}]
    world             projects with their queues, vendors, annotator count

With versions on, also: ``knobs.versions`` true; ``counts.superseded`` and
``counts.retractions`` (accepted events lost to a later version of their piece
of work; retractions accepted), the same two per project; ``versions``
{submission_ids, edits, deletions, restores, re_audits, out_of_order} (lines
published of each kind); and the per-project aggregates (tasks_submitted ...
audit_score_sum) count, of each piece of work, only the version the contract's
version rule makes count (``events``, ``task_completed``, ``task_audited`` and
the ``by_*`` counts still count every accepted line). With versions off, the
manifest is what it was before versions: its audit aggregates count every
audit, also the audit of a rework, which the worker (by the same rule: one
audit counts per audited annotator's work on a task) counts in place of the
audit that sent the work back; compare a worker's tables with a manifest of a
run with versions on.

Depends on nothing else in the project (the tests check its lines with
``schemas.decode.ContractDecoder``).
"""

from simulator.generate import Simulator
from simulator.incidents import INCIDENTS, IncidentError, parse_incidents

__all__ = ["INCIDENTS", "IncidentError", "Simulator", "parse_incidents"]
