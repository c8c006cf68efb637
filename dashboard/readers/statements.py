"""Statement statistics: what ``pg_stat_statements`` says the statements of each role cost one node, read as cheaply
as the extension allows (issue 16).

The view shows every database's statements but exists only in the databases where the extension is created, so a
node is read through one database. Per sample:

- ``availability``: whether the extension is created in this database (its version and schema), whether the server
  preloads it (without that nothing can be read), and whether the monitoring role sees every role's statements
  (superuser or ``pg_read_all_stats``; otherwise other roles' statements come back with neither id nor text);
- ``counters``: every entry's counters without their texts (``pg_stat_statements(false)``: the texts are in a file
  the server would otherwise read whole), with the role's and database's names; and ``info``, the extension's own
  ``dealloc`` (entries evicted to make room) and ``stats_reset`` (1.9 and later);
- ``texts``: the texts of the statement ids asked for, and of no other (those Seamline has not stored yet): a sample
  of an unchanged server asks for none and sends nothing.

The extension's schema, read by ``availability``, is quoted into the others; an extension created before 1.9 (a
database not updated since PostgreSQL 13) has no ``toplevel`` column and no ``pg_stat_statements_info``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime

import psycopg
from psycopg import sql

from catalog.readers.statement import Statement


@dataclass(frozen=True)
class Availability:
    version: str | None  # of the extension in this database; None: not created here
    schema: str | None  # where it is created
    preloaded: bool  # in shared_preload_libraries
    sees_all: bool  # superuser or pg_read_all_stats: every role's statements, with ids and texts

    @property
    def readable(self) -> bool:
        return self.version is not None and self.preloaded

    @property
    def has_info(self) -> bool:
        """``pg_stat_statements_info`` and the ``toplevel`` column: the extension at 1.9 or later."""
        return self.version is not None and tuple(int(p) for p in self.version.split(".")[:2]) >= (1, 9)


AVAILABILITY = Statement(
    """
SELECT
    e.extversion AS version,
    n.nspname AS schema,
    -- the module defines its settings only when the server preloads it (reading shared_preload_libraries itself
    -- would need pg_read_all_settings)
    current_setting('pg_stat_statements.max', true) IS NOT NULL AS preloaded,
    coalesce((SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user), false)
        OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS sees_all
FROM (SELECT 1) AS one
LEFT JOIN pg_extension e ON e.extname = 'pg_stat_statements'
LEFT JOIN pg_namespace n ON n.oid = e.extnamespace
""",
    Availability,
)


@dataclass(frozen=True)
class Counters:
    role: str | None  # a role dropped since reads "unknown (OID=…)"
    database: str | None
    queryid: int | None  # None: another role's statement, to a monitoring role without pg_read_all_stats
    toplevel: bool  # run by a client, not from inside a function (always true before 1.9)
    calls: int
    total_exec_ms: float
    rows: int
    shared_blks_hit: int
    shared_blks_read: int
    temp_blks_written: int
    wal_bytes: int


COUNTERS = Statement(
    """
SELECT
    -- a name from the syscache rather than a join with the pg_roles view, which costs more than the rest
    CASE WHEN s.userid <> 0 THEN pg_get_userbyid(s.userid) END AS role,
    d.datname AS database,
    s.queryid,
    {toplevel} AS toplevel,
    s.calls,
    s.total_exec_time AS total_exec_ms,
    s.rows,
    s.shared_blks_hit,
    s.shared_blks_read,
    s.temp_blks_written,
    s.wal_bytes::bigint AS wal_bytes
FROM {schema}.pg_stat_statements(false) s
LEFT JOIN pg_database d ON d.oid = s.dbid
""",
    Counters,
)


@dataclass(frozen=True)
class Info:
    dealloc: int
    stats_reset: datetime


INFO = Statement("SELECT dealloc, stats_reset FROM {schema}.pg_stat_statements_info", Info)


@dataclass(frozen=True)
class Text:
    queryid: int
    query: str


TEXTS = Statement(
    """
SELECT DISTINCT ON (s.queryid) s.queryid, s.query
FROM {schema}.pg_stat_statements(true) s
WHERE s.queryid = ANY (%s)
ORDER BY s.queryid
""",
    Text,
)


def _in_schema(statement: Statement, conn: psycopg.Connection, where: Availability, **extra: str) -> Statement:
    """The statement with the extension's schema (quoted) and ``extra`` filled in."""
    schema = sql.Identifier(where.schema or "public").as_string(conn)
    return replace(statement, sql=statement.sql.format(schema=schema, **extra))


def availability(conn: psycopg.Connection) -> Availability:
    return AVAILABILITY.fetch_one(conn)


def counters(conn: psycopg.Connection, where: Availability) -> list[Counters]:
    """Every entry's counters, no text; ``where`` must be ``readable``."""
    toplevel = "s.toplevel" if where.has_info else "true"
    return _in_schema(COUNTERS, conn, where, toplevel=toplevel).fetch(conn)


def info(conn: psycopg.Connection, where: Availability) -> Info | None:
    """The extension's evictions and last full reset; None before 1.9."""
    if not where.has_info:
        return None
    return _in_schema(INFO, conn, where).fetch_one(conn)


def texts(conn: psycopg.Connection, where: Availability, queryids: Collection[int]) -> dict[int, str]:
    """The texts of these statement ids (those the server still has); nothing is sent when none is asked for."""
    if not queryids:
        return {}
    return {t.queryid: t.query for t in _in_schema(TEXTS, conn, where).fetch(conn, [list(queryids)])}


@dataclass(frozen=True)
class RoleSetting:
    role: str | None  # None: every role (a database's setting)
    database: str | None  # None: every database (a role's setting)
    search_path: str  # as the server keeps it: '"$user", public'


ROLE_SETTINGS = Statement(
    """
SELECT r.rolname AS role, d.datname AS database, substr(c.setting, length('search_path=') + 1) AS search_path
FROM pg_db_role_setting s
LEFT JOIN pg_roles r ON r.oid = s.setrole
LEFT JOIN pg_database d ON d.oid = s.setdatabase
CROSS JOIN LATERAL unnest(s.setconfig) AS c(setting)
WHERE c.setting LIKE 'search\\_path=%'
ORDER BY 1, 2
""",
    RoleSetting,
)


def role_settings(conn: psycopg.Connection) -> list[RoleSetting]:
    """The search_path set on roles and databases (ALTER ROLE/DATABASE ... SET search_path): how the statements of a
    role with no search_path in its DSN resolve unqualified names."""
    return ROLE_SETTINGS.fetch(conn)
