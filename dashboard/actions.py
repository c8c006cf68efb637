"""Cancelling a session's query or terminating the session, on a monitored node, for operators.

The session is named by (pid, backend_start): a pid the server has since given to another backend is "no longer
running". Superusers' sessions, anything that is not a client backend (WAL senders, autovacuum, background workers)
and the sessions of the role Seamline connects as (its own, whatever their name) are refused. Every attempt is
logged (ActionLog, append-only) before the signal is sent: if that row cannot be written, nothing is sent; the outcome
is logged after.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from catalog.credentials import password_for
from catalog.errors import CredentialsError, UnreachableError
from catalog.models import Cluster
from catalog.monitored import connect

from . import snapshots
from .models import ActionLog
from .nodes import node_names, nodes_of
from .readers import signals
from .summary import SESSION_LISTS


def listed_session(cluster: Cluster, node: str, pid: int) -> dict[str, Any] | None:
    """The session as the node's latest snapshot lists it (only listed sessions can be signalled from the page)."""
    snapshot = snapshots.read(cluster.pk, node) or {}
    for part in SESSION_LISTS:
        for session in snapshot.get(part) or []:
            if session["pid"] == pid:
                return session
    return None


def refusal(backend_type: str | None, is_own_role: bool, is_superuser: bool) -> str | None:
    if backend_type != "client backend":
        return f"refused: a {backend_type or 'hidden'} backend, not a client session"
    if is_superuser:
        return "refused: a superuser's session"
    if is_own_role:
        return "refused: a session of the role Seamline connects as"
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

    if action not in ActionLog.Action.values or node not in node_names(cluster):
        return log("denied: no such action or node")
    if not user.has_perm("dashboard.signal_session"):
        return log("denied: the user may not signal sessions")
    log("requested")  # raises if the log cannot be written: then nothing is sent
    target = next(n for n in nodes_of(cluster) if n.name == node)
    try:
        with connect(target.dsn, password_for(cluster), target=f"{cluster.name}/{node}", auth=cluster.auth) as conn:
            found = signals.backend(conn, pid, backend_start)
            if found is None:
                return log("no longer running: no such session (pid reused or ended)")
            refused = refusal(found.backend_type, found.is_own_role, found.is_superuser)
            if refused:
                return log(refused)
            sent = signals.signal(conn, pid, backend_start, terminate=action == ActionLog.Action.TERMINATE)
    except UnreachableError as exc:
        return log(f"failed: {exc.kind}: {exc.message}")
    except CredentialsError as exc:
        return log(f"failed: {exc}")
    if sent is None:
        return log("no longer running: the session ended before the signal")
    return log("signalled" if sent else "failed: the server did not signal it")
