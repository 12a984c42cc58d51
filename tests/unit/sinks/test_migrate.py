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


def test_cluster_ddl_keeps_the_roster_engine_arguments_and_replaces_views() -> None:
    statements = {sql.split("\n")[0]: sql for _, _, sql in migration_sql("analytics")}
    roster = next(sql for head, sql in statements.items() if "TABLE IF NOT EXISTS roster" in head)
    assert (
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/roster', "
        "'{replica}', version, is_deleted)"
    ) in roster
    assert "CREATE OR REPLACE VIEW annotator_scorecard_daily ON CLUSTER analytics AS" in statements
    plain = [sql for _, _, sql in migration_sql(None)]
    assert any(
        sql.startswith("CREATE OR REPLACE VIEW annotator_scorecard_daily AS") for sql in plain
    )
