"""Which statements a reader of a running worker's engine may run, decided by ClickHouse's parser.

Why: ``readonly=1`` alone does not make the embedded engine read-only.
Measured with chDB 26.9, a handle with ``readonly=1`` still runs ``KILL QUERY``
(a reader could cancel the worker's inserts), ``SYSTEM STOP MERGES`` and
``STOP MOVES``, and ``SELECT ... INTO OUTFILE`` / ``SHOW ... INTO OUTFILE`` (a
file written wherever this user may write). chDB also runs every statement of
a text separated by ``;``. So the engine checks a reader's statement before
running it, with its own parser:

1. ``formatQuerySingleLine`` parses the text, which it receives as a query
   parameter, so nothing of it runs. A syntax error, or a second statement
   (``Multi-statements are not allowed``), is refused; comments are dropped.
2. ``EXPLAIN AST`` of that formatted text names the statement. Only
   ``SelectWithUnionQuery`` (``SELECT``, ``WITH``, ``UNION``, ``EXCEPT``,
   ``INTERSECT``), ``Show…``, ``Describe…`` and ``Exists…`` pass.
3. An output clause hangs off the statement's node: ``INTO OUTFILE`` as a
   ``Literal`` (the path), ``FORMAT`` as an ``Identifier``; a ``SETTINGS``
   clause is a ``Set`` node wherever it stands. Each is refused. ``INTO
   OUTFILE`` and ``FORMAT`` are also looked for in ``normalizeQuery`` of the
   formatted text, where literals and quoted names are masked: the
   formatter always writes them as those keywords.
4. The formatted text, not the one received, is what runs: what was checked
   is what runs.

The reader's handle also keeps ``readonly=1``, a second line: the engine
refuses writes, DDL, table functions that reach outside (``file``, ``url``,
``executable``) and any change of a setting, including the reader's
``max_execution_time``. ``readonly=2`` would let a reader lift that limit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from clickhouse_connect.driver.binding import format_bind_value

# The AST node of each accepted statement kind (exactly, or as a prefix).
SELECT_NODE = "SelectWithUnionQuery"
ACCEPTED_PREFIXES = ("Show", "Describe", "Exists")
ACCEPTED = "SELECT, WITH, SHOW, DESCRIBE and EXISTS"

# Runs an internal query on the reader's handle: its rows as JSON values.
Rows = Callable[[str, Mapping[str, str]], list[list[Any]]]


class RefusedStatement(ValueError):
    """A statement a reader may not run."""


def checked_statement(rows: Rows, sql: str, params: Mapping[str, str]) -> str:
    """The single read statement of ``sql``, as ClickHouse formats it; RefusedStatement if not one.

    ``params`` are the query's own (``EXPLAIN AST`` substitutes them).
    """
    ((formatted, masked),) = rows(
        "SELECT formatQuerySingleLine({statement:String}) AS f, normalizeQuery(f)",
        {"statement": format_bind_value(sql)},  # escaped, as a parameter's text must be
    )
    tree = [str(row[0]) for row in rows(f"EXPLAIN AST {formatted}", params)]
    node = tree[0].split(" ", 1)[0] if tree else ""
    if node != SELECT_NODE and not node.startswith(ACCEPTED_PREFIXES):
        word = formatted.split(" ", 1)[0] if formatted else "an empty statement"
        raise RefusedStatement(f"a reader runs {ACCEPTED} statements only, not {word} ({node})")
    # The statement node's own children: one space deeper than the node.
    children = [
        line[1:].split(" ", 1)[0]
        for line in tree[1:]
        if line.startswith(" ") and not line.startswith("  ")
    ]
    words = f" {masked} "
    if " INTO OUTFILE " in words or "Literal" in children:
        raise RefusedStatement("a reader's statement cannot write a file (INTO OUTFILE)")
    if " FORMAT " in words or (node == SELECT_NODE and "Identifier" in children):
        raise RefusedStatement(
            "a reader's statement cannot choose the output format (FORMAT): "
            "results travel in ClickHouse's Native format"
        )
    if any(line.strip() == "Set" for line in tree):
        raise RefusedStatement(
            "a reader's statement cannot carry SETTINGS: the engine fixes them (readonly=1, "
            "max_execution_time)"
        )
    if node == SELECT_NODE and len(children) != 1:
        raise RefusedStatement(f"a reader's SELECT has a clause it cannot take: {children[1:]}")
    return str(formatted)
