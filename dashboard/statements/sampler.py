"""The statements sample of one node: pg_stat_statements read through one database (dashboard.readers.statements),
subtracted from the node's baseline (dashboard.statements.deltas), attributed to services, and stored as one
interval with its statements' deltas, in one transaction; new statements' texts fetched once, masked, and kept.

Per node and interval the ``TOP`` statements by execution time are kept one by one, and the rest summed per service
in one "other statements" row (statement id 0), so storage does not grow with the number of distinct statements.

Attribution goes through the catalog's ``db_roles``: a role one service lists is that service's; a role several
services list goes to the one of them that owns the statement's database (or, failing that, the schemas its text
names) where that is exactly one, else to "shared role"; a role no service lists is unattributed.

The baseline (the node's counters at its last sample) is kept in Redis. The interval and its rows are written under a
lock per node, and an interval already written from the same baseline (a redelivered task, or a sample that died
after writing and before moving the baseline) makes this sample a new baseline instead: a delta is never counted
twice. What the node said about the extension (not created, not preloaded, the monitoring role without
pg_read_all_stats) is kept with the node's state, for the page to say, with the statement that fixes it.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg import sql

from catalog.credentials import password_for
from catalog.errors import CredentialsError, UnreachableError
from catalog.models import Cluster, Ownership, Service
from catalog.monitored import connect
from dashboard import partitions, snapshots
from dashboard.models import StatementInterval, StatementSample, StatementText
from dashboard.nodes import nodes_of
from dashboard.readers import statements as reader

from . import deltas, texts
from . import state as state_store

log = logging.getLogger(__name__)

TOP = 200  # statements kept one by one per node and interval
_SUMMED = ("calls", "total_ms", "rows", "shared_blks_hit", "shared_blks_read", "temp_blks_written", "wal_bytes")
# the interval's rows added to their hour's rollup, in the same transaction
ROLLUP_SQL = f"""
INSERT INTO dashboard_statementrollup
    (cluster_id, node, bucket, service, shared, database, role, queryid, toplevel, {", ".join(_SUMMED)})
SELECT cluster_id, node, date_trunc('hour', ended_at, 'UTC'), service, shared, database, role, queryid, toplevel,
       {", ".join(_SUMMED)}
FROM dashboard_statementsample WHERE cluster_id = %s AND node = %s AND ended_at = %s
ON CONFLICT ON CONSTRAINT dashboard_statementrollup_pkey DO UPDATE SET
    {", ".join(f"{c} = dashboard_statementrollup.{c} + EXCLUDED.{c}" for c in _SUMMED)}
"""
OTHER = 0  # the statement id of a service's "other statements" row


@dataclass(frozen=True)
class Notice:
    """Something the extension or the server's settings keep from view, and the statement that fixes it."""

    code: str  # not_created, not_preloaded, not_all_roles
    fix: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "fix": self.fix}


def notices(where: reader.Availability, database: str, role: str) -> list[Notice]:
    found = []
    if where.version is None:
        found.append(Notice("not_created", f"CREATE EXTENSION pg_stat_statements;  -- in database {database}"))
    if not where.preloaded:
        found.append(
            Notice(
                "not_preloaded",
                "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';  -- keep the libraries already "
                "listed; then restart the server",
            )
        )
    if not where.sees_all:
        found.append(Notice("not_all_roles", f"GRANT pg_read_all_stats TO {role};"))
    return found


def sample_statements(cluster: Cluster, node: str) -> dict[str, Any]:
    """Sample one node's statement statistics now and store them; return the node's state (what the page shows about
    the sample). Never raises for the monitored side (unreachable, no extension); Redis down raises
    snapshots.LiveDataUnavailable."""
    target = next((n for n in nodes_of(cluster) if n.name == node), None)
    if target is None:
        raise ValueError(f"cluster {cluster.name} has no node named {node!r}")
    database = cluster.statements_database or None
    try:
        with connect(
            target.dsn,
            password_for(cluster),
            dbname=database,
            target=f"{cluster.name}/{node}",
            statement_timeout_ms=settings.SAMPLE_STATEMENT_TIMEOUT_MS,
            auth=cluster.auth,
        ) as conn:
            database = conn.info.dbname
            monitor_role = conn.info.user
            role = sql.Identifier(monitor_role).as_string(conn)
            where = reader.availability(conn)
            found = notices(where, database, role)
            if not where.readable:
                return _write_state(cluster, node, "unavailable", found, database)
            counters = reader.counters(conn, where)
            info = reader.info(conn, where)
            at = timezone.now()
            current = deltas.baseline(at, counters, info)
            # Seamline's own statements (the monitoring role's) are counted, their texts never fetched: each sample
            # would otherwise find its own new ones and ask for texts again
            ids = {key[2] for key in current.entries if key[2] is not None and key[1] != conn.info.user}
            known = set(
                StatementText.objects.filter(cluster=cluster, queryid__in=ids).values_list("queryid", flat=True)
            )
            fetched = reader.texts(conn, where, ids - known)
            search_paths = [[s.role, s.database, s.search_path] for s in reader.role_settings(conn)]
    except (UnreachableError, CredentialsError) as exc:
        kind = exc.kind if isinstance(exc, UnreachableError) else type(exc).__name__
        log.warning("statements of %s/%s: unreachable: %s", cluster.name, node, kind)
        return _write_state(cluster, node, "unreachable", [], database or "", error=kind)
    _keep_texts(cluster, fetched)
    interval = _record(cluster, node, current)
    return _write_state(
        cluster,
        node,
        "ok",
        found,
        database,
        sampled_at=at,
        baseline=interval is None,
        entries=len(current.entries),
        reset=bool(interval and interval.reset),
        evicted=interval.evicted if interval else None,
        search_paths=search_paths,  # roles' and databases' own settings, for the names of statements without one
        monitor_role=monitor_role,  # Seamline's own statements: counted, their texts never fetched
    )


def _keep_texts(cluster: Cluster, fetched: dict[int, str]) -> None:
    """Store new statements' texts: masked; a utility statement's never (only its command tag)."""
    rows = []
    for queryid, text in fetched.items():
        parsed = texts.parse(text)
        rows.append(
            StatementText(
                cluster=cluster,
                queryid=queryid,
                command=parsed.command[:60],
                utility=parsed.utility,
                text="" if parsed.utility else parsed.masked,
                parsed=parsed.parsed,
                relations=[[r.schema, r.name, r.access] for r in parsed.relations],
            )
        )
    StatementText.objects.bulk_create(rows, ignore_conflicts=True)  # a concurrent sample may have kept some


def _record(cluster: Cluster, node: str, current: deltas.Baseline) -> deltas.Interval | None:
    """Write the interval since the node's baseline (None: this sample is a baseline) and move the baseline."""
    previous = _read_baseline(cluster.pk, node)
    attribute = Attribution(cluster)
    try:
        interval = _write(cluster, node, previous, current, attribute)
    except IntegrityError as exc:
        if not partitions.is_missing_partition(exc):
            raise
        log.warning("statements: no partition for %s, creating it", partitions.day_of(current.at))
        partitions.ensure([partitions.day_of(current.at)])
        interval = _write(cluster, node, previous, current, attribute)
    _write_baseline(cluster.pk, node, current)
    if interval is not None:
        state_store.add_totals(cluster.pk, node, _sums(interval, attribute))
    return interval


def _sums(interval: deltas.Interval, attribute: Attribution) -> dict[tuple[str, bool], tuple[int, float]]:
    """The interval's calls and time per (service, shared): what the running totals add."""
    sums: dict[tuple[str, bool], list[float]] = defaultdict(lambda: [0, 0.0])
    for (database, role, queryid, _toplevel), values in interval.deltas.items():
        summed = sums[attribute(role, database, queryid)]
        summed[0] += values[0]
        summed[1] += values[1]
    return {key: (int(calls), ms) for key, (calls, ms) in sums.items()}


def _write(
    cluster: Cluster,
    node: str,
    previous: deltas.Baseline | None,
    current: deltas.Baseline,
    attribute: Attribution,
) -> deltas.Interval | None:
    with transaction.atomic():
        with connection.cursor() as cursor:  # one writer per node at a time, whoever runs it
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"statements:{cluster.pk}:{node}"])
        used = (
            previous is None
            or previous.at >= current.at
            or StatementInterval.objects.filter(cluster=cluster, node=node, started_at=previous.at).exists()
        )
        interval = None if used else deltas.subtract(previous, current)  # type: ignore[arg-type]
        StatementInterval.objects.create(
            cluster=cluster,
            node=node,
            started_at=interval.started_at if interval else None,
            ended_at=current.at,
            reset=bool(interval and interval.reset),
            evicted=interval.evicted if interval else None,
            entries=len(current.entries),
        )
        if interval:
            StatementSample.objects.bulk_create(_rows(cluster, node, interval, attribute), batch_size=1000)
            with connection.cursor() as cursor:
                cursor.execute(ROLLUP_SQL, [cluster.pk, node, current.at])
    return interval


def _rows(cluster: Cluster, node: str, interval: deltas.Interval, attribute: Attribution) -> list[StatementSample]:
    """The interval's rows: the TOP statements by time, and per service an "other statements" row for the rest."""
    ranked = sorted(interval.deltas.items(), key=lambda item: (-item[1][1], item[0][2] or 0))
    rows, other = [], defaultdict(lambda: [0.0] * len(deltas.COUNTERS))
    for rank, ((database, role, queryid, toplevel), values) in enumerate(ranked):
        service, shared = attribute(role, database, queryid)
        if queryid is not None and rank < TOP:
            rows.append(
                _row(cluster, node, interval.ended_at, service, shared, database, role, queryid, toplevel, values)
            )
        else:
            summed = other[(service, shared)]
            for i, v in enumerate(values):
                summed[i] += v
    rows.extend(
        _row(cluster, node, interval.ended_at, service, shared, "", "", OTHER, True, tuple(values))
        for (service, shared), values in other.items()
    )
    return rows


def _row(
    cluster: Cluster,
    node: str,
    at: datetime,
    service: str,
    shared: bool,
    database: str,
    role: str,
    queryid: int,
    toplevel: bool,
    values: deltas.Values,
) -> StatementSample:
    calls, total_ms, rows, hit, read, temp, wal = values
    return StatementSample(
        cluster=cluster,
        node=node,
        ended_at=at,
        service=service,
        shared=shared,
        database=database,
        role=role,
        queryid=queryid,
        toplevel=toplevel,
        calls=int(calls),
        total_ms=float(total_ms),
        rows=int(rows),
        shared_blks_hit=int(hit),
        shared_blks_read=int(read),
        temp_blks_written=int(temp),
        wal_bytes=int(wal),
    )


class Attribution:
    """Which service a role's statement is: through the services' db_roles, and where several services list the
    role, the one of them that owns the statement's database on this cluster (or the schemas its text names)."""

    def __init__(self, cluster: Cluster) -> None:
        self.by_role: dict[str, list[str]] = defaultdict(list)
        for name, roles in Service.objects.values_list("name", "db_roles"):
            for role in roles or ():
                self.by_role[role].append(name)
        self.owners: dict[tuple[str, str], set[str]] = defaultdict(set)  # (database, schema or "") -> services
        for database, schema, service in Ownership.objects.filter(cluster=cluster).values_list(
            "database", "schema", "service__name"
        ):
            self.owners[(database, schema)].add(service)
        self.cluster = cluster
        self._relations: dict[int, list] | None = None

    def __call__(self, role: str, database: str, queryid: int | None) -> tuple[str, bool]:
        candidates = self.by_role.get(role, [])
        if len(candidates) == 1:
            return candidates[0], False
        if not candidates:
            return "", False
        owning = {s for (db, _), names in self.owners.items() if db == database for s in names} & set(candidates)
        whole = {s for s in self.owners.get((database, ""), ()) if s in candidates}
        if len(whole) == 1:
            return whole.pop(), False
        if queryid is not None and len(owning) > 1:
            schemas = {r[0] for r in self.relations().get(queryid, []) if r[0]}
            named = {s for schema in schemas for s in self.owners.get((database, schema), ()) if s in candidates}
            if len(named) == 1:
                return named.pop(), False
        if len(owning) == 1:
            return owning.pop(), False
        return "", True

    def relations(self) -> dict[int, list]:
        if self._relations is None:
            self._relations = dict(
                StatementText.objects.filter(cluster=self.cluster).values_list("queryid", "relations")
            )
        return self._relations


def _read_baseline(cluster_id: int, node: str) -> deltas.Baseline | None:
    try:
        raw = snapshots.client().get(state_store.baseline_key(cluster_id, node))
    except redis.RedisError as exc:
        raise snapshots.LiveDataUnavailable(str(exc)) from exc
    if raw is None:
        return None
    try:
        return deltas.Baseline.from_json(json.loads(zlib.decompress(raw)))
    except (zlib.error, ValueError, KeyError, TypeError, IndexError):
        log.warning("statements: the baseline of cluster %s/%s could not be read; starting afresh", cluster_id, node)
        return None


def _write_baseline(cluster_id: int, node: str, current: deltas.Baseline) -> None:
    data = zlib.compress(json.dumps(current.to_json(), separators=(",", ":")).encode(), 1)
    try:
        snapshots.client().set(state_store.baseline_key(cluster_id, node), data, ex=state_store.TTL)
    except redis.RedisError as exc:
        raise snapshots.LiveDataUnavailable(str(exc)) from exc


def _write_state(
    cluster: Cluster, node: str, status: str, found: list[Notice], database: str, **extra: Any
) -> dict[str, Any]:
    state = {
        "cluster": cluster.name,
        "node": node,
        "status": status,
        "database": database,
        "notices": [n.to_json() for n in found],
        "checked_at": timezone.now().isoformat(),
        **{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in extra.items()},
    }
    state_store.write(cluster.pk, node, state)
    return state
