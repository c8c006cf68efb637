"""The overview, the page on-call opens first, and the liveness probe."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from catalog.http import HtmxHttpRequest
from catalog.models import AuditRun, Cluster, Service
from dashboard import fragments, health, snapshots

TEMPLATE = "dashboard/overview.html"


@require_GET
@never_cache
@login_not_required
def healthz(request: HttpRequest) -> HttpResponse:
    """Process liveness only: answers 200 while the process serves, touches neither database nor Redis."""
    return HttpResponse("ok\n", content_type="text/plain")


@require_GET
def overview(request: HtmxHttpRequest) -> HttpResponse:
    """Every cluster at a glance, worst first. Read from snapshots only, rendered once per snapshot."""
    live = fragments.get("overview", (), _render, lambda: _live(_entries_without_health(), unavailable=True))
    return fragments.page_or_partial(request, live, TEMPLATE, {"nav": "overview"})


def _render() -> fragments.Rendered:
    clusters = list(Cluster.objects.with_nodes())
    entries = health.cluster_health(clusters, rows=False)
    for e in entries:
        lags = [r for r in e["health"]["replicas"] if r["replay_lag_seconds"] is not None]
        e["worst_lag"] = max(lags, key=lambda r: r["replay_lag_seconds"], default=None)
        e["primary"] = e["nodes"][0] if e["nodes"] else None
    entries.sort(
        key=lambda e: (
            -health.RANK[health.worst(e["health"]["status"], e["hazards"]["status"])],
            e["cluster"].name,
        )
    )
    views = [view for e in entries for view in e["nodes"]]
    return fragments.Rendered(_live(entries), views, quotes_stale_ages=True)


def _entries_without_health() -> list[dict]:
    return [
        {"cluster": c, "health": None, "hazards": None, "nodes": [], "primary": None}
        for c in Cluster.objects.order_by("name")
    ]


def _live(entries: list[dict], unavailable: bool = False) -> str:
    audited = AuditRun.objects.filter(cluster__in=[e["cluster"] for e in entries]).last_finished_per_cluster()
    by_cluster = {r.cluster_id: r for r in audited}
    for e in entries:
        e["audit"] = by_cluster.get(e["cluster"].pk)
    return render_to_string(
        TEMPLATE + "#live",
        {
            "entries": entries,
            "unavailable": unavailable,
            "service_count": Service.objects.count(),
            "refresh": snapshots.REFRESH_SECONDS,
        },
    )
