"""Session signals: what a backend is (to refuse what may not be signalled), and the cancel or terminate itself.

A session is named by (pid, backend_start): a pid the server has since given to another backend matches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from catalog.readers.statement import Statement


@dataclass(frozen=True)
class Backend:
    backend_type: str | None  # "client backend", "walsender", ...; None when the monitoring role may not see it
    user: str | None
    application_name: str | None
    is_superuser: bool
    is_own_role: bool  # run by the role Seamline connects as: its own sessions, whatever they are named


BACKEND = Statement(
    """
SELECT a.backend_type AS backend_type, a.usename AS user, a.application_name AS application_name,
       coalesce(r.rolsuper, false) AS is_superuser, a.usesysid IS NOT DISTINCT FROM r_self.oid AS is_own_role
FROM pg_stat_activity a
LEFT JOIN pg_roles r_self ON r_self.rolname = current_user
LEFT JOIN pg_roles r ON r.rolname = a.usename
WHERE a.pid = %(pid)s AND a.backend_start = %(backend_start)s::timestamptz
""",
    Backend,
)


def backend(conn: psycopg.Connection, pid: int, backend_start: str | datetime) -> Backend | None:
    """The backend with that pid, if it is still the one that started then."""
    return BACKEND.fetch_one(conn, {"pid": pid, "backend_start": backend_start})


@dataclass(frozen=True)
class Signalled:
    signalled: bool  # what pg_cancel_backend / pg_terminate_backend returned


# The refusals again in the statement that signals: a client backend, not a superuser's, not the role Seamline
# connects as (its own sessions: a name anyone can give a connection exempts nothing).
SIGNAL = Statement(
    """
SELECT CASE WHEN %(terminate)s THEN pg_terminate_backend(a.pid) ELSE pg_cancel_backend(a.pid) END AS signalled
FROM pg_stat_activity a
LEFT JOIN pg_roles r ON r.rolname = a.usename
WHERE a.pid = %(pid)s AND a.backend_start = %(backend_start)s::timestamptz
  AND a.backend_type = 'client backend'
  AND NOT coalesce(r.rolsuper, false)
  AND a.usename IS DISTINCT FROM current_user
""",
    Signalled,
)


def signal(conn: psycopg.Connection, pid: int, backend_start: str | datetime, *, terminate: bool) -> bool | None:
    """Cancel the backend's query (or terminate it); None when no such backend may be signalled any more. The
    statistics snapshot the transaction took at its first read of pg_stat_activity is dropped first: the check in
    the signalling statement is of the server's state now, not of the snapshot."""
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = SIGNAL.fetch_one(conn, {"pid": pid, "backend_start": backend_start, "terminate": terminate})
    return None if row is None else row.signalled
