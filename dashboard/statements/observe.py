"""The live side's observer of what runs (catalog.paths.OBSERVERS): the ownership map and the path lists show the
run-time paths of the last ``WORKLOAD_PATHS_HOURS`` next to the catalog's, and whether each catalog path was used.
Registered by the app (dashboard.apps); the catalog imports nothing of it."""

from __future__ import annotations

from datetime import timedelta

import redis
from django.conf import settings
from django.utils import timezone

from catalog.models import Cluster, Contract
from catalog.paths import Edge, Observation
from dashboard import snapshots

from . import state, workload


def version() -> str:
    """Moved by every statements sample of any node ("" while Redis cannot say: what ran is then read as it is)."""
    try:
        return (snapshots.client().get(state.GLOBAL_VERSION) or b"0").decode()
    except redis.RedisError:
        return ""


def observe(cluster_ids: list[int] | None) -> Observation:
    """In a fixed number of queries, whatever the number of clusters (none at all when nothing was sampled)."""
    since = timezone.now() - timedelta(hours=settings.WORKLOAD_PATHS_HOURS)
    found = workload.observed_many(cluster_ids, since)
    if not found:
        return Observation([], {})
    names = dict(Cluster.objects.filter(pk__in=list(found)).values_list("pk", "name"))
    contracts = set(Contract.objects.values_list("consumer__name", "provider__name"))
    edges: list[Edge] = []
    touched: dict[tuple[str, str], set[tuple[str, ...]]] = {}
    for cluster_id, seen in sorted(found.items()):
        if cluster_id not in names:
            continue  # removed meanwhile
        for service, relations in seen.touched.items():
            touched[(names[cluster_id], service)] = set(relations)
        edges += [
            Edge(
                consumer=p.consumer,
                provider=p.provider,
                kind="runtime",
                object_parts=p.parts,
                source_parts=p.parts,
                declared=(p.consumer, p.provider) in contracts,
                cluster=names[cluster_id],
                access=p.access,
                calls=p.calls,
            )
            for p in seen.paths
        ]
    return Observation(edges, touched)
