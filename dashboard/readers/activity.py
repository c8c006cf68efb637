"""Activity: who is connected to one node right now, and in what state. Two short statements per sample."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from catalog.readers.statement import Statement


@dataclass(frozen=True)
class NodeSettings:
    max_connections: int
    reserved_connections: int  # superuser_reserved_connections
    in_recovery: bool
    # False when the monitoring role can see only its own sessions' states and queries: neither a superuser nor a
    # member of pg_read_all_stats (which pg_monitor includes). Other sessions then read as state NULL.
    sees_all_sessions: bool


NODE_SETTINGS = Statement(
    """
SELECT
    current_setting('max_connections')::int AS max_connections,
    current_setting('superuser_reserved_connections')::int AS reserved_connections,
    pg_is_in_recovery() AS in_recovery,
    coalesce((SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user), false)
        OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS sees_all_sessions
""",
    NodeSettings,
)


def node_settings(conn: psycopg.Connection) -> NodeSettings:
    return NODE_SETTINGS.fetch_one(conn)


@dataclass(frozen=True)
class Session:
    pid: int
    backend_start: datetime | None  # None when not visible
    user: str
    application_name: str
    database: str
    client_addr: str | None  # None for a Unix socket (and when not visible)
    state: str | None  # active, idle, idle in transaction, idle in transaction (aborted), fastpath function call,
    # disabled; None when the monitoring role may not see it
    wait_event_type: str | None
    wait_event: str | None
    xact_seconds: float | None  # age of the open transaction
    query_seconds: float | None  # age of the current (or, when idle, last) query
    state_seconds: float | None  # time in the current state
    query: str  # the raw text, as track_activity_query_size cut it; "<insufficient privilege>" when not visible
    blocked_by: tuple[int, ...]  # pg_blocking_pids, for sessions waiting on a lock
    # transactions since the oldest it holds back vacuum at (its snapshot's xmin, or its own transaction id); None:
    # holds nothing back (or not visible)
    xmin_age: int | None = None

    @property
    def waiting_on_lock(self) -> bool:
        return self.wait_event_type == "Lock"


# Client backends only: autovacuum, WAL senders and background workers use no pool. The sampler's own session is
# left out. pg_blocking_pids() takes the lock manager's partition locks, so it runs only for sessions that wait on a
# lock. The ages are epoch seconds of server-side intervals, against clock_timestamp(): pg_stat_activity is read as
# of its first use in the transaction, after its start (now()), so a query begun in between would look negative.
SESSIONS = Statement(
    """
SELECT
    a.pid AS pid,
    a.backend_start AS backend_start,
    coalesce(a.usename, '') AS user,
    coalesce(a.application_name, '') AS application_name,
    coalesce(a.datname, '') AS database,
    host(a.client_addr) AS client_addr,
    a.state AS state,
    a.wait_event_type AS wait_event_type,
    a.wait_event AS wait_event,
    extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS xact_seconds,
    extract(epoch FROM clock_timestamp() - a.query_start)::float8 AS query_seconds,
    extract(epoch FROM clock_timestamp() - a.state_change)::float8 AS state_seconds,
    coalesce(a.query, '') AS query,
    CASE WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid) ELSE '{}'::int[] END AS blocked_by,
    greatest(age(a.backend_xmin), age(a.backend_xid)) AS xmin_age
FROM pg_stat_activity a
WHERE (a.backend_type = 'client backend'
       -- a role without pg_read_all_stats sees other roles' sessions with backend_type (and state, ages, query)
       -- NULL, but their role, application and database: client backends as far as it can tell
       OR a.backend_type IS NULL AND a.usename IS NOT NULL AND a.datname IS NOT NULL)
  AND a.pid <> pg_backend_pid()
ORDER BY a.pid
""",
    Session,
)


def sessions(conn: psycopg.Connection) -> list[Session]:
    return SESSIONS.fetch(conn)
