"""Cancelling a session's query or terminating the session, on a monitored node, for operators.

The session is named by (pid, backend_start): a pid the server has since given to another backend is "no longer
running". Superusers' sessions, anything that is not a client backend (WAL senders, autovacuum, background workers)
and Seamline's own sessions are refused. Every attempt is logged (ActionLog, append-only) before the signal is sent:
if that row cannot be written, nothing is sent; the outcome is logged after.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from catalog.models import Cluster
from catalog.monitored import CredentialsError, UnreachableError, connect, password_for

from . import snapshots
from .models import ActionLog
from .sampling import SESSION_LISTS, nodes_of

CHECK_SQL = """
SELECT a.backend_type, a.usename, a.application_name, coalesce(r.rolsuper, false)
FROM pg_stat_activity a
LEFT JOIN pg_roles r ON r.rolname = a.usename
WHERE a.pid = %(pid)s AND a.backend_start = %(backend_start)s::timestamptz
"""

# The same conditions again in the statement that signals: nothing can slip in between the check and the signal.
SIGNAL_SQL = """
SELECT CASE WHEN %(terminate)s THEN pg_terminate_backend(a.pid) ELSE pg_cancel_backend(a.pid) END
FROM pg_stat_activity a
LEFT JOIN pg_roles r ON r.rolname = a.usename
WHERE a.pid = %(pid)s AND a.backend_start = %(backend_start)s::timestamptz
  AND a.backend_type = 'client backend'
  AND NOT coalesce(r.rolsuper, false)
  AND a.application_name NOT LIKE 'seamline%%'
"""


def listed_session(cluster: Cluster, node: str, pid: int) -> dict[str, Any] | None:
    """The session as the node's latest snapshot lists it (only listed sessions can be signalled from the page)."""
    snapshot = snapshots.read(cluster.pk, node) or {}
    for part in SESSION_LISTS:
        for session in snapshot.get(part) or []:
            if session["pid"] == pid:
                return session
    return None


def refusal(backend_type: str | None, application_name: str, is_superuser: bool) -> str | None:
    if backend_type != "client backend":
        return f"refused: a {backend_type or 'hidden'} backend, not a client session"
    if is_superuser:
        return "refused: a superuser's session"
    if application_name.startswith("seamline"):
        return "refused: one of Seamline's own sessions"
    return None


def signal(
    user: Any, cluster: Cluster, node: str, pid: int, backend_start: str, action: str, reason: str = ""
) -> ActionLog:
    """Log the attempt, then (if allowed) send the signal, then log the outcome; returns the outcome's row."""
    session = listed_session(cluster, node, pid) or {}

    def log(result: str) -> ActionLog:
        with transaction.atomic():
            return ActionLog.objects.create(
                user=user.get_username(),
                cluster=cluster.name,
                node=node,
                pid=pid,
                backend_start=backend_start,
                service=session.get("service") or "",
                query=session.get("query") or "",
                action=action,
                reason=reason,
                result=result[:200],
            )

    if action not in ActionLog.Action.values or node not in [n.name for n in nodes_of(cluster)]:
        return log("denied: no such action or node")
    if not user.has_perm("dashboard.signal_session"):
        return log("denied: the user may not signal sessions")
    log("requested")  # raises if the log cannot be written: then nothing is sent
    target = next(n for n in nodes_of(cluster) if n.name == node)
    params = {"pid": pid, "backend_start": backend_start, "terminate": action == ActionLog.Action.TERMINATE}
    try:
        with connect(target.dsn, password_for(cluster), target=f"{cluster.name}/{node}") as conn:
            row = conn.execute(CHECK_SQL, params).fetchone()
            if row is None:
                return log("no longer running: no such session (pid reused or ended)")
            refused = refusal(row[0], row[2] or "", row[3])
            if refused:
                return log(refused)
            sent = conn.execute(SIGNAL_SQL, params).fetchone()
    except UnreachableError as exc:
        return log(f"failed: {exc.kind}: {exc.message}")
    except CredentialsError as exc:
        return log(f"failed: {exc}")
    if sent is None:
        return log("no longer running: the session ended before the signal")
    return log("signalled" if sent[0] else "failed: the server did not signal it")
