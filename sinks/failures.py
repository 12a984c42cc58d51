"""Which insert failures a retry can cure, and which the rows themselves cause.

The writer retries a failed insert until it lands (backpressure, not loss).
That is right when the failure is the world's: the network, a server that is
overloaded or restarting, the embedded engine's process that died. It is
wrong when the rows cause it: the same rows fail the same way forever, the
checkpoint never lands, and the stream stops. Such failures are told apart
here; the writer then finds the rows at fault (``sinks.writer``).

Row faults are deliberately few and precise: the client's own encoder
refusing a value (clickhouse-connect ``DataError``; ``ValueError``,
``TypeError``, ``OverflowError``, ``struct.error`` from the codec) and the
server's data errors by code. Anything else, a configuration error such as
an unknown table included, is retried as before: an operator can fix it and
the stream resumes, whereas treating it as a row fault would dead-letter
every row.
"""

from __future__ import annotations

import re
import struct

# ClickHouse error codes a row's value causes (src/Common/ErrorCodes.cpp).
ROW_ERROR_CODES = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        38,  # CANNOT_PARSE_DATE
        41,  # CANNOT_PARSE_DATETIME
        53,  # TYPE_MISMATCH
        69,  # ARGUMENT_OUT_OF_BOUND
        70,  # CANNOT_CONVERT_TYPE
        72,  # CANNOT_PARSE_NUMBER
        117,  # INCORRECT_DATA
        131,  # TOO_LARGE_STRING_SIZE
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        407,  # DECIMAL_OVERFLOW
    }
)
# Code 252 is TOO_MANY_PARTS: "Too many parts" is the server's backpressure
# (merges behind; retry), "Too many partitions for single INSERT block" is the
# block's own doing (it spans too many months; the same block always fails).
TOO_MANY_PARTS = 252
_TOO_MANY_PARTITIONS = "too many partitions for single insert block"
_CODE = re.compile(r"\bCode: (\d+)\b")


def error_code(error: BaseException) -> int | None:
    """The ClickHouse error code: the client's ``code``, or ``Code: N`` in the text.

    The text form is how errors of the embedded engine's process arrive
    (``embedded.channel.ChdbProcessError`` carries the engine's message).
    """
    code = getattr(error, "code", None)
    if isinstance(code, int):
        return code
    found = _CODE.search(str(error))
    return int(found.group(1)) if found else None


def rows_at_fault(error: BaseException) -> bool:
    """Whether the rows themselves make this insert fail, so that retrying cannot help."""
    # Here, not at the top: clickhouse-connect takes 0.18 s to import, and the
    # commands that import the writer without inserting need not pay it.
    from clickhouse_connect.driver.exceptions import DatabaseError, DataError

    if isinstance(error, DataError | struct.error | OverflowError | TypeError):
        return True
    if isinstance(error, ValueError) and not isinstance(error, DatabaseError):
        return True  # the codec: a str in a Float64, a lone surrogate in a String
    code = error_code(error)
    if code == TOO_MANY_PARTS:
        return _TOO_MANY_PARTITIONS in str(error).lower()
    return code in ROW_ERROR_CODES
