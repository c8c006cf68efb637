"""A cluster's nodes: its primary, then its replicas by name. Every live screen, the sampler and session actions
name a node this way ("primary", or the replica's name)."""

from __future__ import annotations

from dataclasses import dataclass

from catalog.models import Cluster

PRIMARY = "primary"


@dataclass(frozen=True)
class Node:
    name: str  # PRIMARY, or the replica's name
    dsn: str


def nodes_of(cluster: Cluster) -> list[Node]:
    """The primary first, then the replicas by name (uses a prefetched ``replicas`` when there is one)."""
    return [Node(PRIMARY, cluster.dsn)] + [Node(r.name, r.dsn) for r in cluster.replicas.all()]


def node_names(cluster: Cluster) -> list[str]:
    return [n.name for n in nodes_of(cluster)]
