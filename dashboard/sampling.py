"""Sampling: one node read now (its settings, sessions and side of replication, through dashboard.readers), made
into its snapshot (dashboard.summary), stored as the node's latest snapshot in Redis (dashboard.snapshots) and as
history rows in PostgreSQL (dashboard.recording).

``sample_node`` is what the Celery task and ``manage.py pools --now`` call. A node that cannot be reached gets a
snapshot that says so, with the error's class and since when.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from catalog import versioning
from catalog.claims import Attribution
from catalog.credentials import password_for
from catalog.errors import CredentialsError, UnreachableError
from catalog.models import Cluster, Service
from catalog.monitored import connect

from . import hazards, snapshots
from .nodes import PRIMARY, nodes_of
from .readers import activity, replication
from .readers import hazards as hazards_reader
from .recording import record_history
from .summary import summarize

log = logging.getLogger(__name__)


def sample_node(cluster: Cluster, node: str, services: list[Service] | None = None) -> dict[str, Any]:
    """Sample one node now: store its snapshot (Redis) and its history rows (PostgreSQL), and return the snapshot.

    Never raises for the monitored side: an unreachable node, or credentials that cannot be had, make an
    "unreachable" snapshot. (Redis being down raises snapshots.LiveDataUnavailable.)
    """
    target = next((n for n in nodes_of(cluster) if n.name == node), None)
    if target is None:
        raise ValueError(f"cluster {cluster.name} has no node named {node!r}")
    if services is None:
        services, attribute = _attribution(cluster)
    else:
        attribute = Attribution.for_cluster(cluster, services)
    try:
        with connect(
            target.dsn,
            password_for(cluster),
            target=f"{cluster.name}/{node}",
            statement_timeout_ms=settings.SAMPLE_STATEMENT_TIMEOUT_MS,
            auth=cluster.auth,
        ) as conn:
            node_settings = activity.node_settings(conn)
            sessions = activity.sessions(conn)
            # a node's side of replication, by what it is now: a promotion shows on the next sample
            side = asdict(replication.standby(conn) if node_settings.in_recovery else replication.primary(conn))
            # prepared transactions and wraparound: the primary's (a standby replays them)
            dangers = None if node_settings.in_recovery else asdict(hazards_reader.primary(conn))
            sampled_at = timezone.now()  # Seamline's clock: ages on pages are measured against it
    except (UnreachableError, CredentialsError) as exc:
        return _unreachable(cluster, node, exc)
    snapshot, queries = summarize(cluster, node, sampled_at, node_settings, sessions, services, attribute)
    previous = snapshots.read(cluster.pk, node)
    snapshot["replication"] = _replication(cluster, node, sampled_at, node_settings.in_recovery, side, previous)
    if dangers is not None:
        for p in dangers["prepared"]:
            service = attribute.by_role.get(p["owner"])
            p["service"], p["team"] = (service.name, service.team) if service else (None, None)
        snapshot["transactions"] = dangers
    snapshot["horizon"] = hazards.horizon(
        snapshot["xmin_holders"],
        dangers["prepared"] if dangers else [],
        snapshot["replication"],
        previous,
        sampled_at,
        attribute,
    )
    snapshots.write(cluster.pk, node, snapshot, queries)
    record_history(cluster, node, sampled_at, snapshot)
    return snapshot


def _attribution(cluster: Cluster) -> tuple[list[Service], Attribution]:
    """The catalog's services and who a session on the cluster is, kept per process until the catalog's version
    moves (a service or an ownership saved or deleted): one query per sample rather than two, and no rebuilding.
    (Measured in bench/fleet.py: rebuilt per sample, the attribution was about a seventh of a sample's time.)"""

    def read() -> tuple[list[Service], Attribution]:
        services = list(Service.objects.all())
        return services, Attribution.for_cluster(cluster, services)

    return versioning.memoized("sampling-attribution", (cluster.pk,), read)


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
        _error_rises(side.get("subscriptions") or [], before.get("subscriptions") or [], at)
        return side
    primary = snapshots.read(cluster.pk, PRIMARY) if node != PRIMARY else None
    primary_lsn = ((primary or {}).get("replication") or {}).get("wal_lsn")
    replayed = side.get("replayed_lsn")
    side["primary_wal_lsn"] = primary_lsn
    side["replay_lag_bytes"] = max(0, primary_lsn - replayed) if primary_lsn is not None and replayed else None
    return side


def _error_rises(subscriptions: list[dict[str, Any]], before: list[dict[str, Any]], at: datetime) -> None:
    """Mark on each subscription when its error count (apply and table sync) last rose: now, when it is higher than
    at the previous sample, else when the previous sample said. A count lower than before (its statistics reset) is
    a new baseline, not a rise; a first sample has nothing to compare with."""
    previous = {(s["database"], s["name"]): s for s in before}
    for sub in subscriptions:
        errors = (sub.get("apply_error_count") or 0) + (sub.get("sync_error_count") or 0)
        sub["errors"] = errors
        last = previous.get((sub["database"], sub["name"]))
        sub["errors_rose_at"] = (last or {}).get("errors_rose_at")
        if last is not None and errors > (last.get("errors") or 0):
            sub["errors_rose_at"] = at.isoformat()
            sub["errors_new"] = errors - (last.get("errors") or 0)


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
