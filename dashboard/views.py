"""The overview, the liveness probe, and the pages not built yet (which say so plainly: no made-up figures)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from catalog.audit_views import last_finished
from catalog.http import HtmxHttpRequest
from catalog.models import Cluster, Service

from . import snapshots
from .pools_views import REFRESH_SECONDS


@require_GET
@never_cache
@login_not_required
def healthz(request: HttpRequest) -> HttpResponse:
    """Process liveness only: answers 200 while the process serves, touches neither database nor Redis."""
    return HttpResponse("ok\n", content_type="text/plain")


@require_GET
def overview(request: HtmxHttpRequest) -> HttpResponse:
    """Every cluster at a glance, worst first: the page on-call opens first. Read from snapshots only."""
    from .replication_views import cluster_health

    clusters = list(Cluster.objects.prefetch_related("replicas").order_by("name"))
    try:
        entries, unavailable = cluster_health(clusters), False
    except snapshots.LiveDataUnavailable:
        entries, unavailable = [{"cluster": c, "health": None, "nodes": []} for c in clusters], True
    for e in entries:
        h = e["health"]
        lags = [r for r in (h["replicas"] if h else []) if r["replay_lag_seconds"] is not None]
        e["worst_lag"] = max(lags, key=lambda r: r["replay_lag_seconds"], default=None)
        e["primary"] = e["nodes"][0] if e["nodes"] else None
    entries.sort(key=lambda e: (-_RANK.get(e["health"]["status"] if e["health"] else "", 0), e["cluster"].name))
    audited = last_finished(clusters)
    for e in entries:
        e["audit"] = audited.get(e["cluster"].pk)
    template = "dashboard/overview.html"
    if request.htmx:
        template += "#live"
    return render(
        request,
        template,
        {
            "entries": entries,
            "unavailable": unavailable,
            "service_count": Service.objects.count(),
            "refresh": REFRESH_SECONDS,
            "nav": "overview",
        },
    )


_RANK = {"CRIT": 2, "WARN": 1, "OK": 0}
