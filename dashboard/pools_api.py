"""The JSON API of the pools: each node's latest snapshot, and a service's history, read from Redis and the history
tables (never from a monitored server). Mounted under /api/v1/ by dashboard.api."""

from __future__ import annotations

import json
from datetime import datetime

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from ninja.responses import NinjaJSONEncoder

from catalog import ages
from catalog.models import Cluster

from . import fragments, health, history, pools
from .nodes import PRIMARY, node_names

router = Router(tags=["pools"])


class Counters(Schema):
    total: int
    active: int
    idle: int
    idle_in_transaction: int
    idle_in_transaction_aborted: int
    waiting: int
    oldest_xact_seconds: float | None
    longest_query_seconds: float | None


class ServicePool(Counters):
    service: str
    team: str
    budget: int | None  # (pool_size + max_overflow) x instances; None for a service not in the catalog


class NodePools(Schema):
    cluster: str
    node: str
    status: str  # fresh, stale (older than three intervals), unreachable, never (not sampled yet)
    sampled_at: datetime | None
    age_seconds: float | None
    error: str | None = None  # for an unreachable node: the error's class
    unreachable_since: datetime | None = None
    timed_out: bool | None = (
        None  # for an unreachable node: the server cancelled a stalled statement (lock or statement timeout)
    )
    max_connections: int | None
    reserved_connections: int | None
    sees_all_sessions: bool | None = None  # False: the monitoring role lacks pg_monitor
    services: list[ServicePool]
    unattributed: Counters | None


class ClusterPools(Schema):
    cluster: str
    nodes: list[NodePools]


class HistoryOut(Schema):
    cluster: str
    node: str
    service: str  # "" for the unattributed sessions
    window: str
    bucket_seconds: int
    buckets: list[datetime]
    by_state: dict[str, list[float | None]]  # average sessions per bucket; null where the node was not sampled


@router.get("/pools/{cluster}", response=ClusterPools, summary="Latest pool snapshot of every node of a cluster")
def cluster_pools(request: HttpRequest, cluster: str) -> HttpResponse:
    """Rendered once per snapshot for every client (dashboard.fragments); each node's age is its own at the answer."""
    live = fragments.get("api-pools", (cluster,), lambda: _render_pools(cluster), unavailable)
    return fragments.respond(request, live, content_type=fragments.JSON)


def _render_pools(cluster: str) -> fragments.Rendered:
    target = get_object_or_404(Cluster.objects.prefetch_related("replicas"), name=cluster)
    views = pools.load([target], node=None)[target.pk]
    out = shaped(ClusterPools, {"cluster": target.name, "nodes": [pools.as_json(v) for v in views]})
    for node in out["nodes"]:
        if node["sampled_at"]:  # the age at the answer, not at the render
            node["age_seconds"] = ages.json_marker(node["sampled_at"])
    return fragments.Rendered(encoded(out), views)


def shaped(schema: type[Schema], body: dict) -> dict:
    """``body`` as the API answers it: validated and shaped by its response schema."""
    return schema.model_validate(body).model_dump(by_alias=True)


def encoded(body: dict) -> str:
    """Encoded as django-ninja does."""
    return json.dumps(body, cls=NinjaJSONEncoder, ensure_ascii=False)


def unavailable() -> str:
    raise HttpError(503, "live data unavailable: Redis cannot be reached")


class HistoryQuery(Schema):
    service: str = ""
    node: str = PRIMARY
    window: str = history.DEFAULT_WINDOW


@router.get("/pools/{cluster}/history", response=HistoryOut, summary="A service's sessions by state over time")
def pool_history(request: HttpRequest, cluster: str, q: Query[HistoryQuery]) -> dict:
    target = get_object_or_404(Cluster.objects.prefetch_related("replicas"), name=cluster)
    if q.node not in node_names(target):
        raise HttpError(404, f"cluster {cluster} has no node named {q.node!r}")
    if q.window not in history.WINDOWS:
        raise HttpError(422, f"window must be one of {', '.join(history.WINDOWS)}")
    series = history.service_series(target, q.node, q.service, q.window)
    return {
        "cluster": target.name,
        "node": q.node,
        "service": q.service,
        "window": q.window,
        "bucket_seconds": int(history.WINDOWS[q.window][1].total_seconds()),
        "buckets": series.buckets,
        "by_state": series.by_state,
    }


class ReplicaHealth(Schema):
    name: str
    node_status: str
    state: str | None
    sync_state: str | None
    receiver_status: str | None
    slot_name: str | None
    sent_lag_bytes: int | None
    replay_lag_bytes: int | None
    replay_lag_seconds: float | None
    replay_paused: bool | None
    status: str  # OK, WARN, CRIT
    reasons: list[str]


class SlotHealth(Schema):
    slot_name: str
    slot_type: str
    active: bool
    retained_bytes: int | None
    wal_status: str | None
    database: str | None  # a logical slot's
    confirmed_flush_lag_bytes: int | None  # a logical slot's: written WAL its consumer has not confirmed
    service: str | None  # a logical slot's: the service whose subscription streams from it
    subscription: str | None  # CLUSTER/DATABASE/SUBSCRIPTION
    status: str
    reasons: list[str]


class SubscriptionHealth(Schema):
    database: str
    name: str
    synced: bool  # its database is synced (else the catalog knows neither its service nor its publisher)
    service: str | None  # the subscribing service: the one owning its tables, else its database
    publisher: str | None  # CLUSTER/DATABASE, found through the subscription's slot; None: not in the catalog
    slot_name: str | None
    enabled: bool
    worker_running: bool
    errors: int | None  # apply and table sync errors since the statistics' reset (15 and later)
    errors_rose_at: datetime | None
    tables_not_ready: list[str]  # at the last sync
    lag_bytes: int | None  # the publisher's slot: WAL written that the subscription has not confirmed
    status: str
    reasons: list[str]


class PrimaryHealth(Schema):
    node: str
    node_status: str
    wal_bytes_per_second: int | None


class TransactionsHealth(Schema):
    status: str  # the worst of its prepared transactions, horizon holders and databases' wraparound
    reasons: list[str]
    sentence: str | None  # what holds the primary's vacuum horizon furthest back, in words
    prepared_count: int


class ClusterHealth(Schema):
    cluster: str
    status: str  # the worst of its primary, replicas, slots and subscriptions (replication)
    reasons: list[str]
    sampled_at: datetime | None
    primary: PrimaryHealth
    replicas: list[ReplicaHealth]
    slots: list[SlotHealth]
    subscriptions: list[SubscriptionHealth]  # logical replication, read on the primary
    transactions: TransactionsHealth  # dashboard.hazards (GET /api/v1/transactions/{cluster} for the details)


class HealthOut(Schema):
    status: str  # the worst of every cluster's replication and transaction hazards
    clusters: list[ClusterHealth]


@router.get("/health", response=HealthOut, tags=["health"], summary="Replication health of every cluster")
def health_status(request: HttpRequest) -> HttpResponse:
    """For external checkers: OK / WARN / CRIT per cluster, replica and slot, with reasons; read from snapshots,
    assessed once per snapshot for every client (dashboard.fragments)."""
    live = fragments.get("api-health", (), _render_health, unavailable)
    return fragments.respond(request, live, content_type=fragments.JSON)


def _render_health() -> fragments.Rendered:
    entries = health.cluster_health(list(Cluster.objects.with_nodes()), rows=False)
    assessed = [{**e["health"], "transactions": e["hazards"]} for e in entries]
    statuses = [status for a in assessed for status in (a["status"], a["transactions"]["status"])]
    body = {"status": health.worst(*statuses), "clusters": assessed}
    views = [v for e in entries for v in e["nodes"]]
    return fragments.Rendered(encoded(shaped(HealthOut, body)), views, quotes_stale_ages=True)
