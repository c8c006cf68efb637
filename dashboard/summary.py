"""A node's sessions made into its snapshot: each session attributed to a service, counted by state per service, and
the offenders listed (idle in transaction, long queries, blocked and blocking, unattributed).

A session belongs to the service that lists its ``application_name``, else to the service that lists its role in
``db_roles``, first among the services owning something on its cluster (catalog.claims), else it is unattributed.
Pure functions of what the readers returned and the catalog's services.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from catalog.claims import Attribution
from catalog.models import Cluster, Service

from .masking import mask_literals
from .readers.activity import NodeSettings, Session
from .states import STATES

_BY_STATE_COLUMN = {
    "active": "active",
    "fastpath function call": "active",
    "idle": "idle",
    "idle in transaction": "idle_in_transaction",
    "idle in transaction (aborted)": "idle_in_transaction_aborted",
}
# The lists of sessions a snapshot carries (each session with its masked query; full texts under a key of their own)
SESSION_LISTS = ("idle_in_transaction", "long_queries", "blocked", "blockers", "unattributed_sessions")
LISTED = 50  # sessions listed per list in a snapshot, the worst first (all are counted: "and N more")
LISTED_UNATTRIBUTED = LISTED
XMIN_HOLDERS_LISTED = 10  # sessions with the oldest xmin listed in a snapshot


def state_of(session: Session) -> str:
    """One of STATES, or "unknown" (state not visible to the monitoring role, or track_activities off)."""
    if session.waiting_on_lock:
        return "waiting"
    return _BY_STATE_COLUMN.get(session.state or "", "unknown")


def _counters() -> dict[str, Any]:
    return {"total": 0, **dict.fromkeys(STATES, 0), "unknown": 0, "oldest_xact_seconds": None,
            "longest_query_seconds": None, "wait_events": Counter()}  # fmt: skip


def _add(counters: dict[str, Any], session: Session, state: str) -> None:
    counters["total"] += 1
    counters[state] += 1
    if session.xact_seconds is not None:
        counters["oldest_xact_seconds"] = max(counters["oldest_xact_seconds"] or 0.0, session.xact_seconds)
    if state in ("active", "waiting") and session.query_seconds is not None:
        counters["longest_query_seconds"] = max(counters["longest_query_seconds"] or 0.0, session.query_seconds)
    if state in ("active", "waiting") and session.wait_event:
        counters["wait_events"][f"{session.wait_event_type}:{session.wait_event}"] += 1


def zero_counters() -> dict[str, Any]:
    """A service's counters when it holds no session, as a snapshot carries them."""
    return _finish(_counters())


def _finish(counters: dict[str, Any]) -> dict[str, Any]:
    counters["wait_events"] = [[event, n] for event, n in counters["wait_events"].most_common(3)]
    for k in ("oldest_xact_seconds", "longest_query_seconds"):
        if counters[k] is not None:
            counters[k] = round(counters[k], 1)
    return counters


def summarize(
    cluster: Cluster,
    node: str,
    sampled_at: datetime,
    node_settings: NodeSettings,
    sessions: list[Session],
    services: Iterable[Service],
    attribution: Attribution | None = None,
) -> tuple[dict[str, Any], dict[int, str]]:
    """The snapshot of one node (JSON-ready), and the full query text of every session it lists, by pid."""
    services = list(services)
    attribute = attribution or Attribution(services)
    per_service: dict[str, dict[str, Any]] = {}
    unattributed = _counters()
    owner: dict[int, Service | None] = {}
    for session in sessions:
        service = owner[session.pid] = attribute(session.application_name, session.user)
        counters = per_service.setdefault(service.name, _counters()) if service else unattributed
        _add(counters, session, state_of(session))

    def listed(session: Session) -> dict[str, Any]:
        service = owner.get(session.pid)
        return {
            "pid": session.pid,
            "backend_start": session.backend_start.isoformat() if session.backend_start else None,
            "service": service.name if service else None,
            "team": service.team if service else None,
            "user": session.user,
            "application_name": session.application_name,
            "database": session.database,
            "client_addr": session.client_addr,
            "state": state_of(session),
            "wait_event": f"{session.wait_event_type}:{session.wait_event}" if session.wait_event else None,
            "xact_seconds": _round(session.xact_seconds),
            "query_seconds": _round(session.query_seconds),
            "state_seconds": _round(session.state_seconds),
            "query": mask_literals(session.query),
            "blocked_by": list(session.blocked_by),
        }

    by_pid = {s.pid: s for s in sessions}
    idle_in_xact = sorted(
        (
            s
            for s in sessions
            if state_of(s) in ("idle_in_transaction", "idle_in_transaction_aborted")
            and (s.state_seconds or 0) >= cluster.idle_in_transaction_threshold
        ),
        key=lambda s: -(s.state_seconds or 0),
    )
    long_running = sorted(
        (
            s
            for s in sessions
            if state_of(s) in ("active", "waiting") and (s.query_seconds or 0) >= cluster.long_query_threshold
        ),
        key=lambda s: -(s.query_seconds or 0),
    )
    blocked = sorted((s for s in sessions if s.waiting_on_lock), key=lambda s: -(s.query_seconds or 0))
    # the sessions that block others, those blocking the most first
    blocking = Counter(pid for s in blocked for pid in s.blocked_by if pid in by_pid)
    blockers = sorted(blocking, key=lambda pid: (-blocking[pid], pid))
    strays = [s for s in sessions if owner[s.pid] is None]
    totals = {
        "idle_in_transaction": len(idle_in_xact),
        "long_queries": len(long_running),
        "blocked": len(blocked),
        "blockers": len(blockers),
        "unattributed_sessions": len(strays),
    }
    idle_in_xact, long_running, blocked = idle_in_xact[:LISTED], long_running[:LISTED], blocked[:LISTED]
    blockers, stray = blockers[:LISTED], strays[:LISTED_UNATTRIBUTED]
    holding = sorted((s for s in sessions if s.xmin_age is not None), key=lambda s: -(s.xmin_age or 0))
    holding = holding[:XMIN_HOLDERS_LISTED]
    shown = {s.pid: s for s in [*idle_in_xact, *long_running, *blocked, *stray, *holding]}
    shown.update((pid, by_pid[pid]) for pid in blockers)

    budgets = {s.name: s.connection_budget for s in services}
    teams = {s.name: s.team for s in services}
    snapshot = {
        "cluster": cluster.name,
        "node": node,
        "status": "ok",
        "sampled_at": sampled_at.isoformat(),
        "interval": cluster.sample_interval,
        "max_connections": node_settings.max_connections,
        "reserved_connections": node_settings.reserved_connections,
        "in_recovery": node_settings.in_recovery,
        "sees_all_sessions": node_settings.sees_all_sessions,
        "total": len(sessions),
        "services": [
            {"service": name, "team": teams.get(name, ""), "budget": budgets.get(name), **_finish(counters)}
            for name, counters in sorted(per_service.items())
        ],
        "unattributed": _finish(unattributed),
        "idle_in_transaction": [listed(s) for s in idle_in_xact],
        "long_queries": [listed(s) for s in long_running],
        "blocked": [listed(s) for s in blocked],
        "blockers": [listed(by_pid[pid]) for pid in blockers],
        "unattributed_sessions": [listed(s) for s in stray],
        "listed_of": totals,  # each list's sessions in all, of which the first LISTED are listed
        # the sessions holding the vacuum horizon furthest back (dashboard.hazards)
        "xmin_holders": [{**listed(s), "xmin_age": s.xmin_age} for s in holding],
        "thresholds": {
            "idle_in_transaction_seconds": cluster.idle_in_transaction_threshold,
            "long_query_seconds": cluster.long_query_threshold,
        },
    }
    return snapshot, {pid: s.query for pid, s in shown.items()}


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)
