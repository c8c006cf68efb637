"""The Pools screens: every cluster's headroom, one cluster's services and offenders, a service's Live panel, and
the history figures. All read snapshots (Redis) and history rows, never a monitored server."""

from __future__ import annotations

from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from catalog.http import HtmxHttpRequest, partial
from catalog.models import Cluster, Service
from dashboard import figures, history, pools, snapshots
from dashboard.nodes import PRIMARY, node_names


@require_GET
def pools_index(request: HtmxHttpRequest) -> HttpResponse:
    clusters = list(Cluster.objects.with_nodes())
    views, unavailable = snapshots.or_unavailable(lambda: pools.load(clusters, node=None), {})
    return render(
        request,
        partial(request, "dashboard/pools_index.html", "live"),
        {
            "clusters": [(c, views.get(c.pk, [])) for c in clusters],
            "unavailable": unavailable,
            "refresh": snapshots.REFRESH_SECONDS,
            "nav": "pools",
        },
    )


@require_GET
def pools_cluster(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster.objects.with_nodes(), pk=pk)
    nodes = node_names(cluster)
    node = request.GET.get("node") or PRIMARY
    if node not in nodes:
        raise Http404(_("No such node."))
    view, unavailable = None, False
    full_text = request.user.has_perm("dashboard.view_full_query")
    try:
        view = pools.load([cluster], node=node)[cluster.pk][0]
        queries = snapshots.read_queries(cluster.pk, node) if full_text and view.has_figures else None
        pools.prepare_sessions(view, queries)
    except snapshots.LiveDataUnavailable:
        unavailable = True
    window = history.window_of(request.GET.get("window"))
    service = request.GET.get("service", "")
    return render(
        request,
        partial(request, "dashboard/pools_cluster.html", "live"),
        {
            "cluster": cluster,
            "nodes": nodes,
            "node": node,
            "view": view,
            "unavailable": unavailable,
            "full_text": full_text,
            "can_signal": request.user.has_perm("dashboard.signal_session"),
            "windows": list(history.WINDOWS),
            "window": window,
            "chart_services": _chart_services(view),
            "service": service,
            "refresh": snapshots.REFRESH_SECONDS,
            "nav": "pools",
        },
    )


def _chart_services(view: pools.NodeView | None) -> list[str]:
    """The services charted on a cluster's page: those with rows now, busiest first, then the unattributed."""
    rows = sorted(view.rows, key=lambda r: -r.counts["total"]) if view else []
    return [r.service for r in rows]


@require_GET
def pools_history(request: HtmxHttpRequest, pk: int) -> JsonResponse:
    """A service's (or, with service="", the unattributed sessions') history on one node, as a plotly figure."""
    cluster = get_object_or_404(Cluster.objects.with_nodes(), pk=pk)
    node = request.GET.get("node") or PRIMARY
    if node not in node_names(cluster):
        raise Http404(_("No such node."))
    window = history.window_of(request.GET.get("window"))
    name = request.GET.get("service", "")
    service = Service.objects.filter(name=name).first() if name else None
    series = history.service_series(cluster, node, name, window)
    title = name or _("unattributed sessions")
    return JsonResponse(figures.service_sessions(series, service.connection_budget if service else None, title))


@require_GET
def service_live(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The Live panel of a service's page: its row on every node of every cluster it uses (owns data on, or has
    sessions on), served as a partial the service page loads and refreshes."""
    service = get_object_or_404(Service, pk=pk)
    clusters = list(Cluster.objects.with_nodes())
    views, unavailable = snapshots.or_unavailable(lambda: pools.load(clusters, node=None), {})
    owned = set(service.ownerships.values_list("cluster_id", flat=True))
    entries = []
    for cluster in clusters:
        for view in views.get(cluster.pk, []):
            row = next((r for r in view.rows if r.service == service.name), None)
            if row or (cluster.pk in owned and view.name == PRIMARY):
                entries.append((view, row))
    part = "charts" if request.GET.get("part") == "charts" else "numbers"
    return render(
        request,
        f"dashboard/service_live.html#{part}",
        {
            "service": service,
            "entries": entries,
            "unavailable": unavailable,
            "refresh": snapshots.REFRESH_SECONDS,
            "windows": list(history.WINDOWS),
            "window": history.DEFAULT_WINDOW,
        },
    )
