"""The Replication screen: every cluster's health (primary → replicas, slots, the replica side, which services read
how stale data), and each replica's lag history. Read from snapshots and history rows, never from a server."""

from __future__ import annotations

from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from catalog.http import HtmxHttpRequest, partial
from catalog.models import Cluster
from dashboard import figures, health, history, snapshots


@require_GET
def replication_page(request: HtmxHttpRequest) -> HttpResponse:
    clusters = list(Cluster.objects.with_nodes())
    entries, unavailable = snapshots.or_unavailable(lambda: health.cluster_health(clusters), [])
    return render(
        request,
        partial(request, "dashboard/replication.html", "live"),
        {
            "entries": entries,
            "clusters": clusters,
            "unavailable": unavailable,
            "refresh": snapshots.REFRESH_SECONDS,
            "windows": list(history.WINDOWS),
            "window": history.window_of(request.GET.get("window")),
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
    return JsonResponse(figures.replica_lag(buckets, seconds, size, name))
