"""The Replication screen: every cluster's health (primary → replicas, slots, the replica side, which services read
how stale data), and each replica's lag history. Read from snapshots and history rows, never from a server; the live
section is rendered once per snapshot for every viewer (dashboard.fragments)."""

from __future__ import annotations

from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from catalog.http import HtmxHttpRequest
from catalog.models import Cluster
from dashboard import figures, fragments, health, history, snapshots

TEMPLATE = "dashboard/replication.html"


@require_GET
def replication_page(request: HtmxHttpRequest) -> HttpResponse:
    live = fragments.get("replication", (), _render, lambda: _live([], unavailable=True))
    if request.htmx:
        return fragments.respond(request, live)
    return render(
        request,
        TEMPLATE,
        {
            "live": live.body,
            "clusters": list(Cluster.objects.with_nodes()),
            "windows": list(history.WINDOWS),
            "window": history.window_of(request.GET.get("window")),
            "nav": "replication",
        },
    )


def _render() -> fragments.Rendered:
    entries = health.cluster_health(list(Cluster.objects.with_nodes()))
    views = [view for e in entries for view in e["nodes"]]
    return fragments.Rendered(_live(entries), views, quotes_stale_ages=True)


def _live(entries: list[dict], unavailable: bool = False) -> str:
    return render_to_string(
        TEMPLATE + "#live", {"entries": entries, "unavailable": unavailable, "refresh": snapshots.REFRESH_SECONDS}
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
