"""GET /metrics: the live pools and replication health in the Prometheus text format, for a Prometheus server to scrape.

Made from the nodes' latest snapshots in Redis (``pools.load``) and the health they imply (``health.assess``), never by
querying a monitored server: a scrape costs one Redis round trip and a few catalog queries, however many nodes there
are. A fresh registry is built for every request, so every worker process answers the same from the same snapshots.

Authentication: ``Authorization: Bearer <token>``, either the METRICS_TOKEN setting (SEAMLINE_METRICS_TOKEN) or any
valid API token (``manage.py create_api_token``). Never open to anonymous requests. See docs/metrics.md.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from typing import Any

import redis
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from catalog.models import Cluster

from . import hazards, health, pools, snapshots
from .models import ApiToken
from .statements import state as statements_state
from .states import STATES

# Health statuses as numbers: alert on ">= 1" (WARN or worse) or "== 2" (CRIT).
STATUS_VALUES = {health.OK: 0, health.WARN: 1, health.CRIT: 2}
# Every session is in exactly one of these (their sum is the node's client sessions).
CONNECTION_STATES = (*STATES, "unknown")

# name: (help, labels). Every family is exposed, with no sample when nothing is known.
GAUGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "seamline_node_up": (
        "Whether the node answered its latest sample (1), or could not be reached (0). "
        "Absent for a node never sampled.",
        ("cluster", "node"),
    ),
    "seamline_snapshot_age_seconds": (
        "Age of the node's latest snapshot (its sample, or failed attempt), in seconds.",
        ("cluster", "node"),
    ),
    "seamline_connections": (
        "Client sessions on the node by service and state, from its latest snapshot that answered. "
        'service="" holds the sessions no service claims.',
        ("cluster", "node", "service", "state"),
    ),
    "seamline_max_connections": ("The node's max_connections setting.", ("cluster", "node")),
    "seamline_usable_connections": (
        "Connections clients can use on the node: max_connections minus superuser_reserved_connections.",
        ("cluster", "node"),
    ),
    "seamline_replica_replay_lag_bytes": (
        "WAL the replica has yet to replay, in bytes behind the primary.",
        ("cluster", "replica"),
    ),
    "seamline_replica_replay_lag_seconds": (
        "How far behind the primary the replica's replay is, in seconds.",
        ("cluster", "replica"),
    ),
    "seamline_replica_status": (
        "The replica's replication health: 0 OK, 1 WARN, 2 CRIT.",
        ("cluster", "replica"),
    ),
    "seamline_cluster_replication_status": (
        "The cluster's replication health (its worst node, replica or slot): 0 OK, 1 WARN, 2 CRIT.",
        ("cluster",),
    ),
    "seamline_slot_retained_bytes": (
        "WAL the replication slot keeps on the primary, in bytes (service: a logical slot's subscriber's).",
        ("cluster", "slot", "service"),
    ),
    "seamline_slot_active": (
        "Whether a consumer is connected to the replication slot (1) or not (0).",
        ("cluster", "slot", "service"),
    ),
    "seamline_slot_status": (
        "The replication slot's health: 0 OK, 1 WARN, 2 CRIT.",
        ("cluster", "slot", "service"),
    ),
    "seamline_subscription_status": (
        "The logical replication subscription's health: 0 OK, 1 WARN, 2 CRIT.",
        ("cluster", "database", "subscription", "service"),
    ),
    "seamline_subscription_lag_bytes": (
        "WAL the publisher wrote that the subscription has not confirmed, in bytes (its slot's confirmed_flush_lsn).",
        ("cluster", "database", "subscription", "service"),
    ),
    "seamline_subscription_errors": (
        "Apply and table sync errors of the subscription since its statistics were reset (PostgreSQL 15 and later).",
        ("cluster", "database", "subscription", "service"),
    ),
    "seamline_primary_wal_bytes_per_second": (
        "WAL the primary wrote per second between its last two samples, in bytes per second.",
        ("cluster",),
    ),
    "seamline_cluster_transactions_status": (
        "The cluster's transaction hazards (prepared transactions, vacuum horizon, wraparound): 0 OK, 1 WARN, 2 CRIT.",
        ("cluster",),
    ),
    "seamline_prepared_transactions": ("Prepared transactions on the primary.", ("cluster",)),
    "seamline_prepared_transaction_age_seconds": (
        "Age of each prepared transaction listed (the oldest 100), by the service of its owner role.",
        ("cluster", "gid", "service", "database"),
    ),
    "seamline_horizon_xmin_age": (
        "Transactions by which the oldest holder of the node's vacuum horizon holds it back.",
        ("cluster", "node", "holder_kind", "holder", "service"),
    ),
    "seamline_horizon_held_seconds": (
        "How long the oldest holder of the node's vacuum horizon has held it, in seconds (where known).",
        ("cluster", "node", "holder_kind", "holder", "service"),
    ),
    "seamline_database_xid_age": ("age(datfrozenxid) of the database.", ("cluster", "database")),
    "seamline_database_wraparound_percent": (
        "The database's xid age as a percentage of 2^31, where PostgreSQL stops accepting writes.",
        ("cluster", "database"),
    ),
}


# name: (help, labels, unit scale from the stored figure)
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "seamline_statement_calls": (
        "Calls of the statements run on the node by each service (pg_stat_statements' deltas, summed since Seamline "
        'began sampling it). attribution: service, shared (a role several services list), none (service="").',
        ("cluster", "node", "service", "attribution"),
    ),
    "seamline_statement_time_seconds": (
        "Execution time of the statements run on the node by each service, in seconds (as seamline_statement_calls).",
        ("cluster", "node", "service", "attribution"),
    ),
}


Add = Callable[[str, tuple[str, ...], float | int | bool | None], None]  # one sample of one family, if known


class SnapshotCollector(Collector):
    """The gauges of the given clusters, from their node views (already loaded: collecting never touches Redis)."""

    def __init__(
        self,
        clusters: list[Cluster],
        views: dict[int, list[pools.NodeView]],
        totals: dict[int, dict[tuple[str, str, str], tuple[int, float]]] | None = None,
    ) -> None:
        self.clusters = clusters
        self.views = views
        self.totals = totals or {}

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        counters = {name: CounterMetricFamily(name, doc, labels=labels) for name, (doc, labels) in COUNTERS.items()}
        for cluster in self.clusters:
            for (node, service, attribution), (calls, ms) in sorted(self.totals.get(cluster.pk, {}).items()):
                labels = [cluster.name, node, service, attribution]
                counters["seamline_statement_calls"].add_metric(labels, calls)
                counters["seamline_statement_time_seconds"].add_metric(labels, ms / 1000)
        yield from counters.values()
        families = {name: GaugeMetricFamily(name, doc, labels=labels) for name, (doc, labels) in GAUGES.items()}

        def add(name: str, labels: tuple[str, ...], value: float | int | bool | None) -> None:
            if value is not None:  # unknown is left out, never reported as 0 or NaN
                families[name].add_metric(list(labels), float(value))

        logical = health.Logical.read(self.views)
        for cluster in self.clusters:
            name = cluster.name
            nodes = self.views[cluster.pk]
            for view in nodes:
                _node(add, name, view)
            _replication(add, name, health.assess(cluster, nodes, logical))
            _hazards(add, name, hazards.assess(cluster, nodes))
        yield from families.values()


def _node(add: Add, cluster: str, view: pools.NodeView) -> None:
    if view.status == pools.NEVER:
        return
    add("seamline_node_up", (cluster, view.name), view.has_figures)
    add("seamline_snapshot_age_seconds", (cluster, view.name), view.age_seconds)
    if not view.has_figures:  # unreachable: its last figures are the past, not the node's present
        return
    snap = view.snapshot
    add("seamline_max_connections", (cluster, view.name), snap["max_connections"])
    add("seamline_usable_connections", (cluster, view.name), view.usable)
    # every service with sessions, and every service owning data on the cluster (0s included: a steady series)
    for service, counts in [(row.service, row.counts) for row in view.rows] + [("", snap["unattributed"])]:
        for state in CONNECTION_STATES:
            add("seamline_connections", (cluster, view.name, service, state), counts.get(state, 0))


def _replication(add: Add, cluster: str, assessed: dict[str, Any]) -> None:
    add("seamline_cluster_replication_status", (cluster,), STATUS_VALUES[assessed["status"]])
    add("seamline_primary_wal_bytes_per_second", (cluster,), assessed["primary"]["wal_bytes_per_second"])
    for replica in assessed["replicas"]:
        labels = (cluster, replica["name"])
        add("seamline_replica_status", labels, STATUS_VALUES[replica["status"]])
        add("seamline_replica_replay_lag_bytes", labels, replica["replay_lag_bytes"])
        add("seamline_replica_replay_lag_seconds", labels, replica["replay_lag_seconds"])
    for slot in assessed["slots"]:
        labels = (cluster, slot["slot_name"], slot["service"] or "")
        add("seamline_slot_status", labels, STATUS_VALUES[slot["status"]])
        add("seamline_slot_retained_bytes", labels, slot.get("retained_bytes"))
        add("seamline_slot_active", labels, slot.get("active"))
    for sub in assessed["subscriptions"]:
        labels = (cluster, sub["database"], sub["name"], sub["service"] or "")
        add("seamline_subscription_status", labels, STATUS_VALUES[sub["status"]])
        add("seamline_subscription_lag_bytes", labels, sub["lag_bytes"])
        add("seamline_subscription_errors", labels, sub["errors"])


def _hazards(add: Add, cluster: str, assessed: dict[str, Any]) -> None:
    add("seamline_cluster_transactions_status", (cluster,), STATUS_VALUES[assessed["status"]])
    if assessed["sampled_at"] is None:
        return
    add("seamline_prepared_transactions", (cluster,), assessed["prepared_count"])
    for p in assessed["prepared"]:
        labels = (cluster, p["gid"], p["service"] or "", p["database"])
        add("seamline_prepared_transaction_age_seconds", labels, p["age_seconds"])
    oldest: dict[str, dict[str, Any]] = {}
    for h in assessed["horizon"]:  # the oldest first, per node
        oldest.setdefault(h["node"], h)
    for node, h in sorted(oldest.items()):
        labels = (cluster, node, h["holder_kind"], str(h["name"]), h["service"] or "")
        add("seamline_horizon_xmin_age", labels, h["xmin_age"])
        add("seamline_horizon_held_seconds", labels, h["age_seconds"])
    for d in assessed["wraparound"]:
        add("seamline_database_xid_age", (cluster, d["database"]), d["xid_age"])
        add("seamline_database_wraparound_percent", (cluster, d["database"]), d["pct_to_limit"])


def _authorized(request: HttpRequest) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return False
    expected = settings.METRICS_TOKEN
    if expected and hmac.compare_digest(token.encode(), expected.encode()):
        return True
    return ApiToken.objects.authenticate(token) is not None


def _text(body: str, status: int) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


@require_GET
@never_cache
@login_not_required
def metrics(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        response = _text("Authentication required: send the header Authorization: Bearer <token>.\n", 401)
        response["WWW-Authenticate"] = 'Bearer realm="seamline"'
        return response
    clusters = list(Cluster.objects.with_nodes())
    try:
        views = pools.load(clusters, node=None)
        totals = statements_state.read_totals([c.pk for c in clusters])
    except (snapshots.LiveDataUnavailable, redis.RedisError):
        return _text("Live data unavailable: Redis cannot be reached.\n", 503)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(clusters, views, totals))
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
