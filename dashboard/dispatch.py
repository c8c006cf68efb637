"""Beat's dispatch: every second, a sample queued for each node whose interval has passed, within the tick's budget.

Which nodes are due and their claims are kept in Redis (dashboard.snapshots), so any number of dispatchers never
double a sample, and a tick costs two Redis round trips whatever the fleet's size.
"""

from __future__ import annotations

import math
from typing import Any

from catalog.models import Cluster

from . import snapshots
from .nodes import nodes_of

# A tick queues at most this many times the fleet's steady rate (the samples per second its intervals ask for): when
# every node is due at once (beat starting, Redis flushed), the burst is spread over the next ticks instead of one
# tick queueing the whole fleet, and the claims it makes stay spread out afterwards.
DISPATCH_HEADROOM = 1.5
DISPATCH_FLOOR = 50  # below this many per tick, a small fleet is never held back


def dispatch_due(send: Any, what: str = "due", interval: str = "sample_interval") -> int:
    """Queue a sample of nodes whose interval has passed, up to the tick's budget; return how many.
    ``send(cluster_id, node, interval)`` queues one. Two Redis round trips whatever the fleet's size: which nodes
    are due, then their claims (a node another dispatcher claimed meanwhile is not sent). ``what`` and ``interval``:
    which sample and the cluster's field that paces it (the sessions' by default; "statements-due" and
    "statements_interval" for the statements')."""
    nodes = [
        (cluster, node.name)
        for cluster in Cluster.objects.prefetch_related("replicas").only("id", "dsn", interval)
        for node in nodes_of(cluster)
    ]
    budget = max(DISPATCH_FLOOR, math.ceil(DISPATCH_HEADROOM * sum(1 / getattr(c, interval) for c, _ in nodes)))
    lapsed = snapshots.due([(cluster.pk, name) for cluster, name in nodes], what)
    candidates = [pair for pair, is_due in zip(nodes, lapsed, strict=True) if is_due][:budget]
    claimed = snapshots.claim([(cluster.pk, name, getattr(cluster, interval)) for cluster, name in candidates], what)
    queued = 0
    for (cluster, name), got in zip(candidates, claimed, strict=True):
        if got:
            send(cluster.pk, name, getattr(cluster, interval))
            queued += 1
    return queued
