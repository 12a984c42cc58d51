"""The migrations as SQL: rewritten for a cluster, every statement of them."""

from __future__ import annotations

import pytest

from sinks.migrate import migration_sql


def test_cluster_ddl_targets_every_statement() -> None:
    statements = [sql for _, _, sql in migration_sql("analytics")]
    assert statements and all(" ON CLUSTER analytics" in sql for sql in statements)
    tables = [sql for sql in statements if "ENGINE = " in sql]
    assert tables and all("ENGINE = ReplicatedReplacingMergeTree(" in sql for sql in tables)
    with pytest.raises(ValueError):
        migration_sql("x; DROP TABLE alerts")
