"""The Replication screen: every cluster's health (primary → replicas, slots, the replica side, which services read
how stale data), and each replica's lag history. Read from snapshots and history rows, never from a server."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from catalog.http import HtmxHttpRequest
from catalog.models import Cluster

from . import health, history, pools, snapshots
from .pools_views import REFRESH_SECONDS


def cluster_health(clusters: list[Cluster]) -> list[dict[str, Any]]:
    """Per cluster: its health, its node views, and who reads from each replica (raises LiveDataUnavailable)."""
    views = pools.load(clusters, node=None)
    result = []
    for cluster in clusters:
        nodes = views[cluster.pk]
        assessed = health.assess(cluster, nodes)
        lag = {r["name"]: r["replay_lag_seconds"] for r in assessed["replicas"]}
        readers = [
            {
                "replica": v.name,
                "service": row.service,
                "sessions": row.counts["total"],
                "stale_seconds": lag.get(v.name),
            }
            for v in nodes[1:]
            for row in v.rows
            if row.counts["total"]
        ]
        result.append({"cluster": cluster, "health": assessed, "nodes": nodes, "readers": readers})
    return result


@require_GET
def replication_page(request: HtmxHttpRequest) -> HttpResponse:
    clusters = list(Cluster.objects.prefetch_related("replicas").order_by("name"))
    try:
        entries, unavailable = cluster_health(clusters), False
    except snapshots.LiveDataUnavailable:
        entries, unavailable = [], True
    window = history.window_of(request.GET.get("window"))
    template = "dashboard/replication.html"
    if request.htmx:
        template += "#live"
    return render(
        request,
        template,
        {
            "entries": entries,
            "clusters": clusters,
            "unavailable": unavailable,
            "refresh": REFRESH_SECONDS,
            "windows": list(history.WINDOWS),
            "window": window,
            "nav": "replication",
        },
    )


@require_GET
def replication_history(request: HtmxHttpRequest, pk: int) -> JsonResponse:
    """A replica's replay lag over the window, in seconds and in bytes (two axes), as a plotly figure."""
    cluster = get_object_or_404(Cluster.objects.prefetch_related("replicas"), pk=pk)
    name = request.GET.get("replica", "")
    if name not in [r.name for r in cluster.replicas.all()]:
        raise Http404(_("No such replica."))
    window = history.window_of(request.GET.get("window"))
    buckets, seconds, size = history.replica_series(cluster, name, window)
    x = [b.isoformat() for b in buckets]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=seconds, name=_("replay lag (s)"), mode="lines", line={"color": "#b91c1c"}))
    fig.add_trace(
        go.Scatter(x=x, y=size, name=_("replay lag (bytes)"), mode="lines", yaxis="y2", line={"color": "#2454d6"})
    )
    fig.update_layout(
        title={"text": name, "font": {"size": 14}},
        margin={"l": 50, "r": 60, "t": 40, "b": 30},
        height=260,
        legend={"orientation": "h", "y": -0.2},
        yaxis={"title": _("seconds"), "rangemode": "tozero"},
        yaxis2={"title": _("bytes"), "overlaying": "y", "side": "right", "rangemode": "tozero"},
        hovermode="x unified",
    )
    return JsonResponse(fig.to_plotly_json())
