"""The Transactions screen (issue 17): per cluster, what holds vacuum back and who owns it, prepared transactions left
behind (with the statement that resolves each), and every database's distance to wraparound. Read from snapshots,
never from a server; the live section is rendered once per snapshot for every viewer (dashboard.fragments)."""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from catalog.http import HtmxHttpRequest
from catalog.models import Cluster
from dashboard import figures, fragments, hazards, history, pools, snapshots

TEMPLATE = "dashboard/transactions.html"


@require_GET
def transactions_page(request: HtmxHttpRequest) -> HttpResponse:
    live = fragments.get("transactions", (), _render, lambda: _live([], unavailable=True))
    if request.htmx:
        return fragments.respond(request, live)
    return render(
        request,
        TEMPLATE,
        {
            "live": live.body,
            "clusters": list(Cluster.objects.order_by("name")),
            "windows": list(history.WINDOWS),
            "window": history.window_of(request.GET.get("window")),
            "nav": "transactions",
        },
    )


def _render() -> fragments.Rendered:
    clusters = list(Cluster.objects.with_nodes())
    loaded = pools.load(clusters, node=None, rows=False)
    now = timezone.now()
    oldest = hazards.oldest_tables(clusters)
    entries = []
    for cluster in clusters:
        assessed = hazards.assess(cluster, loaded[cluster.pk], oldest[cluster.pk])
        for row in (*assessed["prepared"], *assessed["horizon"]):  # the moment it began: its age moves on the page
            row["since"] = hazards.began(row, now)
        entries.append({"cluster": cluster, "hazards": assessed, "nodes": loaded[cluster.pk]})
    views = [v for e in entries for v in e["nodes"]]
    return fragments.Rendered(_live(entries), views, quotes_stale_ages=True)


def _live(entries: list[dict], unavailable: bool = False) -> str:
    return render_to_string(
        TEMPLATE + "#live", {"entries": entries, "unavailable": unavailable, "refresh": snapshots.REFRESH_SECONDS}
    )


@require_GET
def horizon_history(request: HtmxHttpRequest, pk: int) -> JsonResponse:
    """How far each node's vacuum horizon was held back over the window, as a plotly figure."""
    cluster = get_object_or_404(Cluster, pk=pk)
    window = history.window_of(request.GET.get("window"))
    buckets, series = history.horizon_series(cluster, window)
    title = _("Vacuum horizon held back on %(cluster)s") % {"cluster": cluster.name}
    return JsonResponse(figures.horizon(buckets, series, title))
