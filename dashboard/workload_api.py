"""The JSON API of the workload: what ``manage.py workload --format json`` prints, for a cluster and a window, read
from the stored statements samples (never from a monitored server). Mounted under /api/v1/ by dashboard.api."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema

from catalog.models import Cluster

from .nodes import node_names
from .statements import state, workload

router = Router(tags=["workload"])


class TopStatement(Schema):
    queryid: int
    database: str
    role: str
    calls: int
    total_ms: float
    mean_ms: float
    rows: int
    cache_hit_ratio: float | None
    command: str | None  # the command tag; a utility statement has no text
    text_masked: str | None  # literals masked; None: not fetched yet
    relations: list[dict]  # {"schema", "name", "access"}


class ServiceWorkload(Schema):
    service: str  # "" for the unattributed statements and the shared roles'
    team: str
    calls: int
    total_ms: float
    share: float  # of the execution time of the node(s) in the window
    top: list[TopStatement]


class RuntimePath(Schema):
    consumer: str
    provider: str
    relation: str  # database.schema.relation, raw names
    access: Literal["read", "write"]
    calls: int
    total_ms: float


class Unresolved(Schema):
    queryid: int
    service: str
    reason: Literal["unparsed", "unresolved"]
    name: str | None


class NodeState(Schema):
    node: str
    status: str  # ok, unavailable (the extension cannot be read: see notices), unreachable, never
    notices: list[dict] = []  # {"code", "fix"}


class Workload(Schema):
    cluster: str
    node: str | None
    window: str
    sampled_at: datetime | None
    total_ms: float
    services: list[ServiceWorkload]
    unattributed: ServiceWorkload
    shared_role: ServiceWorkload
    runtime_paths: list[RuntimePath]
    unresolved: list[Unresolved]
    nodes: list[NodeState]


class WorkloadQuery(Schema):
    window: Literal["1h", "6h", "24h", "7d"] = "1h"
    service: str | None = None
    node: str | None = None


@router.get("/workload/{cluster}", response=Workload, summary="Each service's statements over a window")
def cluster_workload(request: HttpRequest, cluster: str, q: Query[WorkloadQuery]) -> dict:
    target = get_object_or_404(Cluster.objects.prefetch_related("replicas"), name=cluster)
    names = node_names(target)
    body = workload.summary(target, q.window, node=q.node if q.node in names else None, service=q.service)
    body["nodes"] = [state.read_state(target.pk, n) or {"node": n, "status": "never"} for n in names]
    return body
