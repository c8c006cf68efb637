"""Pool sampling: one node's sessions, attributed to services, counted by state, and stored as the node's latest
snapshot (Redis) and as compact history rows (PostgreSQL).

``sample_node`` is what the Celery task and ``manage.py pools --now`` call. A session belongs to the service that
lists its ``application_name``, else to the service that lists its role in ``db_roles``, else it is unattributed.
A node that cannot be reached gets a snapshot that says so, with the error's class and since when.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import Cluster, Service
from catalog.monitored import CredentialsError, UnreachableError, connect, password_for

from . import activity, partitions, replication, rollups, snapshots
from .masking import mask_literals
from .models import NodeSample, ReplicaSample, ServiceSample

log = logging.getLogger(__name__)

PRIMARY = "primary"
# The states a session is counted in. "waiting" (on a lock) wins over the state column, which reads "active" then.
STATES = ("active", "idle", "idle_in_transaction", "idle_in_transaction_aborted", "waiting")
_BY_STATE_COLUMN = {
    "active": "active",
    "fastpath function call": "active",
    "idle": "idle",
    "idle in transaction": "idle_in_transaction",
    "idle in transaction (aborted)": "idle_in_transaction_aborted",
}
# The lists of sessions a snapshot carries (each session with its masked query; full texts under a key of their own)
SESSION_LISTS = ("idle_in_transaction", "long_queries", "blocked", "blockers", "unattributed_sessions")
LISTED_UNATTRIBUTED = 50  # unattributed sessions listed in a snapshot (all are counted)


@dataclass(frozen=True)
class Node:
    name: str  # PRIMARY, or the replica's name
    dsn: str


def nodes_of(cluster: Cluster) -> list[Node]:
    """The primary first, then the replicas by name (uses a prefetched ``replicas`` when there is one)."""
    return [Node(PRIMARY, cluster.dsn)] + [Node(r.name, r.dsn) for r in cluster.replicas.all()]


def state_of(session: activity.Session) -> str:
    """One of STATES, or "unknown" (state not visible to the monitoring role, or track_activities off)."""
    if session.waiting_on_lock:
        return "waiting"
    return _BY_STATE_COLUMN.get(session.state or "", "unknown")


class Attribution:
    """Which service a session belongs to: by application_name first, then by role."""

    def __init__(self, services: Iterable[Service]) -> None:
        self.by_application: dict[str, Service] = {}
        self.by_role: dict[str, Service] = {}
        for service in sorted(services, key=lambda s: s.name):  # a name claimed twice goes to the first by name
            for name in service.application_names:
                self.by_application.setdefault(name, service)
            for role in service.db_roles:
                self.by_role.setdefault(role, service)

    def __call__(self, session: activity.Session) -> Service | None:
        return self.by_application.get(session.application_name) or self.by_role.get(session.user)


def _counters() -> dict[str, Any]:
    return {"total": 0, **dict.fromkeys(STATES, 0), "unknown": 0, "oldest_xact_seconds": None,
            "longest_query_seconds": None, "wait_events": Counter()}  # fmt: skip


def _add(counters: dict[str, Any], session: activity.Session, state: str) -> None:
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
    node_settings: activity.NodeSettings,
    sessions: list[activity.Session],
    services: Iterable[Service],
) -> tuple[dict[str, Any], dict[int, str]]:
    """The snapshot of one node (JSON-ready), and the full query text of every session it lists, by pid."""
    services = list(services)
    attribute = Attribution(services)
    per_service: dict[str, dict[str, Any]] = {}
    unattributed = _counters()
    owner: dict[int, Service | None] = {}
    for session in sessions:
        service = owner[session.pid] = attribute(session)
        counters = per_service.setdefault(service.name, _counters()) if service else unattributed
        _add(counters, session, state_of(session))

    def listed(session: activity.Session) -> dict[str, Any]:
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
    blockers = {pid for s in blocked for pid in s.blocked_by if pid in by_pid}
    stray = [s for s in sessions if owner[s.pid] is None][:LISTED_UNATTRIBUTED]
    shown = {s.pid: s for s in [*idle_in_xact, *long_running, *blocked, *stray]}
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
        "blockers": [listed(by_pid[pid]) for pid in sorted(blockers)],
        "unattributed_sessions": [listed(s) for s in stray],
        "thresholds": {
            "idle_in_transaction_seconds": cluster.idle_in_transaction_threshold,
            "long_query_seconds": cluster.long_query_threshold,
        },
    }
    return snapshot, {pid: s.query for pid, s in shown.items()}


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


def sample_node(cluster: Cluster, node: str, services: list[Service] | None = None) -> dict[str, Any]:
    """Sample one node now: store its snapshot (Redis) and its history rows (PostgreSQL), and return the snapshot.

    Never raises for the monitored side: an unreachable node, or credentials that cannot be had, make an
    "unreachable" snapshot. (Redis being down raises snapshots.LiveDataUnavailable.)
    """
    target = next((n for n in nodes_of(cluster) if n.name == node), None)
    if target is None:
        raise ValueError(f"cluster {cluster.name} has no node named {node!r}")
    services = list(Service.objects.all()) if services is None else services
    try:
        with connect(
            target.dsn,
            password_for(cluster),
            target=f"{cluster.name}/{node}",
            statement_timeout_ms=settings.SAMPLE_STATEMENT_TIMEOUT_MS,
        ) as conn:
            node_settings = activity.node_settings(conn)
            sessions = activity.sessions(conn)
            # a node's side of replication, by what it is now: a promotion shows on the next sample
            side = replication.standby(conn) if node_settings.in_recovery else replication.primary(conn)
            sampled_at = timezone.now()  # Seamline's clock: ages on pages are measured against it
    except (UnreachableError, CredentialsError) as exc:
        return _unreachable(cluster, node, exc)
    snapshot, queries = summarize(cluster, node, sampled_at, node_settings, sessions, services)
    previous = snapshots.read(cluster.pk, node)
    snapshot["replication"] = _replication(cluster, node, sampled_at, node_settings.in_recovery, side, previous)
    snapshots.write(cluster.pk, node, snapshot, queries)
    record_history(cluster, node, sampled_at, snapshot)
    return snapshot


def _replication(
    cluster: Cluster,
    node: str,
    at: datetime,
    in_recovery: bool,
    side: dict[str, Any],
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    """The snapshot's replication part: the primary's WAL rate from the last sample; a standby's byte lag against
    the primary's position in its latest snapshot (at most one interval old)."""
    side = {"role": "standby" if in_recovery else "primary", **side}
    before = (previous or {}).get("replication") or {}
    if not in_recovery:
        side["wal_bytes_per_second"] = None
        if before.get("role") == "primary" and before.get("wal_lsn") is not None:
            seconds = (at - datetime.fromisoformat(previous["sampled_at"])).total_seconds()
            if seconds > 0:
                side["wal_bytes_per_second"] = round(max(0, side["wal_lsn"] - before["wal_lsn"]) / seconds)
        return side
    primary = snapshots.read(cluster.pk, PRIMARY) if node != PRIMARY else None
    primary_lsn = ((primary or {}).get("replication") or {}).get("wal_lsn")
    replayed = side.get("replayed_lsn")
    side["primary_wal_lsn"] = primary_lsn
    side["replay_lag_bytes"] = max(0, primary_lsn - replayed) if primary_lsn is not None and replayed else None
    return side


# psycopg's error classes for a statement the server cancelled at lock_timeout or statement_timeout: the node answers
# but a query stalled. (A connection that times out is unreachable: a silent server and a stalled one look alike.)
TIMEOUT_KINDS = frozenset({"LockNotAvailable", "QueryCanceled"})


def _unreachable(cluster: Cluster, node: str, exc: Exception) -> dict[str, Any]:
    now = timezone.now()
    kind = exc.kind if isinstance(exc, UnreachableError) else type(exc).__name__
    message = exc.message if isinstance(exc, UnreachableError) else str(exc)
    previous = snapshots.read(cluster.pk, node)
    since = previous.get("unreachable_since") if previous and previous.get("status") == "unreachable" else None
    snapshot = {
        "cluster": cluster.name,
        "node": node,
        "status": "unreachable",
        "sampled_at": now.isoformat(),
        "interval": cluster.sample_interval,
        "error": kind,
        "message": message,
        # the server cancelled a stalled statement: not down, and not hung either
        "timed_out": kind in TIMEOUT_KINDS,
        "unreachable_since": since or now.isoformat(),
        # what the node looked like when it last answered, shown as such (never as the present)
        "last_ok": previous if previous and previous.get("status") == "ok" else (previous or {}).get("last_ok"),
    }
    snapshots.write(cluster.pk, node, snapshot, {})
    record_history(cluster, node, now, None)
    log.warning("sampling %s/%s: unreachable: %s: %s", cluster.name, node, kind, message)
    return snapshot


def record_history(cluster: Cluster, node: str, at: datetime, snapshot: dict[str, Any] | None) -> None:
    """Write one sample's history rows and add them to their rollups, in one transaction: the node's row, a row per
    service with sessions, and a standby's lag. ``snapshot`` None: the node could not be reached."""

    def write() -> None:
        if snapshot is None:
            sample = NodeSample.objects.create(cluster=cluster, node=node, sampled_at=at, reachable=False)
            rollups.add(sample)
            return
        services = [
            ServiceSample(
                cluster=cluster,
                node=node,
                sampled_at=at,
                service=name,
                total=counters["total"],
                **{state: counters[state] for state in STATES},
            )
            for name, counters in [(s["service"], s) for s in snapshot["services"]] + [("", snapshot["unattributed"])]
            if counters["total"]
        ]
        rep = snapshot.get("replication") or {}
        replica = None
        if rep.get("role") == "standby":
            replica = ReplicaSample.objects.create(
                cluster=cluster,
                node=node,
                sampled_at=at,
                receiving=rep.get("receiver_status") == "streaming",
                replay_lag_bytes=rep.get("replay_lag_bytes"),
                replay_lag_seconds=rep.get("replay_delay_seconds"),
            )
        sample = NodeSample.objects.create(
            cluster=cluster,
            node=node,
            sampled_at=at,
            reachable=True,
            total=snapshot["total"],
            max_connections=snapshot["max_connections"],
            reserved_connections=snapshot["reserved_connections"],
        )
        ServiceSample.objects.bulk_create(services)
        rollups.add(sample, services, replica)

    try:
        with transaction.atomic():
            write()
    except IntegrityError as exc:
        if not partitions.is_missing_partition(exc):
            raise
        # the day has no partition yet: maintenance has not run in days (is beat's entry disabled?)
        log.warning("history: no partition for %s, creating it", partitions.day_of(at))
        partitions.ensure([partitions.day_of(at)])
        with transaction.atomic():
            write()


# A tick queues at most this many times the fleet's steady rate (the samples per second its intervals ask for): when
# every node is due at once (beat starting, Redis flushed), the burst is spread over the next ticks instead of one
# tick queueing the whole fleet, and the claims it makes stay spread out afterwards.
DISPATCH_HEADROOM = 1.5
DISPATCH_FLOOR = 50  # below this many per tick, a small fleet is never held back


def dispatch_due(send: Any) -> int:
    """Queue a sample of nodes whose interval has passed, up to the tick's budget; return how many.
    ``send(cluster_id, node, interval)`` queues one. Two Redis round trips whatever the fleet's size: which nodes
    are due, then their claims (a node another dispatcher claimed meanwhile is not sent)."""
    nodes = [
        (cluster, node.name)
        for cluster in Cluster.objects.prefetch_related("replicas").only("id", "dsn", "sample_interval")
        for node in nodes_of(cluster)
    ]
    budget = max(DISPATCH_FLOOR, math.ceil(DISPATCH_HEADROOM * sum(1 / c.sample_interval for c, _ in nodes)))
    lapsed = snapshots.due([(cluster.pk, name) for cluster, name in nodes])
    candidates = [pair for pair, is_due in zip(nodes, lapsed, strict=True) if is_due][:budget]
    claimed = snapshots.claim([(cluster.pk, name, cluster.sample_interval) for cluster, name in candidates])
    queued = 0
    for (cluster, name), got in zip(candidates, claimed, strict=True):
        if got:
            send(cluster.pk, name, cluster.sample_interval)
            queued += 1
    return queued
