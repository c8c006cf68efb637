"""Outbox tables' row counts, from the statistics system (``pg_stat_user_tables``): never a row of the tables."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from catalog.readers.statement import Statement


@dataclass(frozen=True)
class TableCounts:
    schema: str
    name: str
    live_rows: int  # n_live_tup
    inserted: int  # n_tup_ins since the statistics' reset
    removed: int  # n_tup_del


COUNTS = Statement(
    """
SELECT t.schemaname::text AS schema, t.relname::text AS name, t.n_live_tup AS live_rows, t.n_tup_ins AS inserted,
       t.n_tup_del AS removed
FROM pg_stat_user_tables t
JOIN unnest(%s::text[], %s::text[]) AS w(schema, name) ON w.schema = t.schemaname AND w.name = t.relname
ORDER BY 1, 2
""",
    TableCounts,
)


def counts(conn: psycopg.Connection, tables: list[tuple[str, str]]) -> list[TableCounts]:
    """The counts of the given (schema, name) tables of the connection's database (a table not there: no row)."""
    return COUNTS.fetch(conn, [[s for s, _ in tables], [n for _, n in tables]])
