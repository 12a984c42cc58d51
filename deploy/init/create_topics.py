"""Create the Kafka topics of a deployment with the intended partitions and configs.

The compose ``init`` service runs this once before ``annotel migrate`` and
before any worker starts. Topic names, the partition count and the security
options come from the same ``ANNOTEL_*`` settings the worker reads, and the
plan and its checks are the worker's own (``streams.topics``): the worker
creates what is missing the same way at start, so this step is about doing it
once, up front, and failing before any worker runs.

Two internal topics must not lose records to age, and broker defaults would
delete them after ``log.retention.hours`` (7 days on Apache Kafka):

- the checkpoint log (``ANNOTEL_TOPIC_STATE``): recovery replays it from the
  latest full snapshot a record points to;
- the alert-state topic (``ANNOTEL_TOPIC_ALERT_STATE``): recovery restores its
  latest snapshot, and an idle deployment must not have that snapshot expire.

Both are created with ``retention.ms=-1`` (kept forever) and
``cleanup.policy=delete``: not ``compact``, because their records carry no key
(nor do the windows topic's, created with ``cleanup.policy=delete`` too).
They grow without bound; docs/deploy.md says what that costs.

Existing topics are never changed; a mismatch the worker cannot live with
(input topics, or the state topic, with different partition counts; a
compacted state topic) stops the script with exit status 1 and a message
saying what to fix.
"""

from __future__ import annotations

import sys

from streams.settings import SettingsError, load_settings
from streams.topics import TopicContractError, prepare_topics, topic_plan

__all__ = ["main", "topic_plan"]


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"create_topics: {exc}", file=sys.stderr)
        return 2
    try:
        partitions, created = prepare_topics(settings)
    except TopicContractError as exc:
        print(f"create_topics: {exc}", file=sys.stderr)
        return 1
    summary = ", ".join(created) if created else "none (all existed)"
    print(f"topics created: {summary}; input partitions: {partitions}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
