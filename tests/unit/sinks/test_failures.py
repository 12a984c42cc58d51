"""Which insert failures the rows themselves cause, told apart from the world's."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from clickhouse_connect.datatypes.registry import get_from_name
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from embedded.channel import ChdbProcessError
from embedded.wire import native_block
from sinks.failures import rows_at_fault


def _refusal(column_type: str, value: Any) -> BaseException:
    """The exception clickhouse-connect's own encoder raises for a value."""
    logging.disable(logging.ERROR)  # it logs the failure with a traceback first
    try:
        native_block("t", ["c"], [get_from_name(column_type)], [[value]], column_oriented=True)
    except Exception as exc:
        return exc
    finally:
        logging.disable(logging.NOTSET)
    raise AssertionError(f"{value!r} was encoded as {column_type}")


@pytest.mark.parametrize(
    ("column_type", "value"),
    [
        ("UInt16", 65536),
        ("DateTime('UTC')", -60),
        ("DateTime64(3, 'UTC')", 2**64),
        ("String", "a\ud800"),
        ("Array(String)", ["\udfff"]),
        ("Float64", "x"),
        ("UInt16", None),
    ],
)
def test_what_the_encoder_refuses_is_the_rows_fault(column_type: str, value: Any) -> None:
    assert rows_at_fault(_refusal(column_type, value))


PARTITIONS = (
    "Code: 252. DB::Exception: Too many partitions for single INSERT block (more than 100). "
    "The limit is controlled by 'max_partitions_per_insert_block' setting."
)


@pytest.mark.parametrize(
    ("error", "rows"),
    [
        (DatabaseError(PARTITIONS, code=252), True),
        (ChdbProcessError(f"DatabaseError: {PARTITIONS}"), True),
        (DatabaseError("Code: 252. DB::Exception: Too many parts (3001).", code=252), False),
        (DatabaseError("Code: 53. DB::Exception: Type mismatch", code=53), True),
        (ChdbProcessError("DatabaseError: Code: 321. DB::Exception: Value is out of range"), True),
        (ChdbProcessError("DatabaseError: Code: 60. DB::Exception: Unknown table"), False),
        (ChdbProcessError("the chDB process exited with status -9"), False),
        (ChdbProcessError("the chDB process did not answer"), False),
        (OperationalError("Error HTTPConnectionPool: connection refused"), False),
        (DatabaseError("HTTP driver received HTTP status 503"), False),
        (DatabaseError("Code: 241. DB::Exception: Memory limit exceeded", code=241), False),
        (ConnectionError("connection reset"), False),
        (TimeoutError(), False),
    ],
    ids=repr,
)
def test_failures_are_told_apart(error: BaseException, rows: bool) -> None:
    assert rows_at_fault(error) is rows
