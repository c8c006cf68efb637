"""The overview, the page on-call opens first, and the liveness probe."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from catalog.http import HtmxHttpRequest, partial
from catalog.models import AuditRun, Cluster, Service
from dashboard import health, snapshots


@require_GET
@never_cache
@login_not_required
def healthz(request: HttpRequest) -> HttpResponse:
    """Process liveness only: answers 200 while the process serves, touches neither database nor Redis."""
    return HttpResponse("ok\n", content_type="text/plain")


@require_GET
def overview(request: HtmxHttpRequest) -> HttpResponse:
    """Every cluster at a glance, worst first. Read from snapshots only."""
    clusters = list(Cluster.objects.with_nodes())
    entries, unavailable = snapshots.or_unavailable(
        lambda: health.cluster_health(clusters), [{"cluster": c, "health": None, "nodes": []} for c in clusters]
    )
    for e in entries:
        h = e["health"]
        lags = [r for r in (h["replicas"] if h else []) if r["replay_lag_seconds"] is not None]
        e["worst_lag"] = max(lags, key=lambda r: r["replay_lag_seconds"], default=None)
        e["primary"] = e["nodes"][0] if e["nodes"] else None
    entries.sort(key=lambda e: (-health.RANK.get(e["health"]["status"] if e["health"] else "", 0), e["cluster"].name))
    audited = {r.cluster_id: r for r in AuditRun.objects.filter(cluster__in=clusters).last_finished_per_cluster()}
    for e in entries:
        e["audit"] = audited.get(e["cluster"].pk)
    return render(
        request,
        partial(request, "dashboard/overview.html", "live"),
        {
            "entries": entries,
            "unavailable": unavailable,
            "service_count": Service.objects.count(),
            "refresh": snapshots.REFRESH_SECONDS,
            "nav": "overview",
        },
    )
