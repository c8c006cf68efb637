"""The Pools screens: every cluster's headroom, one cluster's services and offenders, a service's Live panel, and
the history figures. All read snapshots (Redis) and history rows, never a monitored server; the live sections are
rendered once per snapshot for every viewer (dashboard.fragments)."""

from __future__ import annotations

from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from catalog.http import HtmxHttpRequest
from catalog.models import Cluster, Service
from dashboard import figures, fragments, hazards, history, pools, snapshots
from dashboard.auth import reads_grants
from dashboard.nodes import PRIMARY, node_names

INDEX = "dashboard/pools_index.html"
CLUSTER = "dashboard/pools_cluster.html"
SERVICE_LIVE = "dashboard/service_live.html"


@require_GET
def pools_index(request: HtmxHttpRequest) -> HttpResponse:
    live = fragments.get("pools", (), _render_index, lambda: _index(list(Cluster.objects.with_nodes()), {}, True))
    return fragments.page_or_partial(request, live, INDEX, {"nav": "pools"})


def _render_index() -> fragments.Rendered:
    clusters = list(Cluster.objects.with_nodes())
    views = pools.load(clusters, node=None, rows=False)
    return fragments.Rendered(_index(clusters, views), [v for vs in views.values() for v in vs])


def _index(clusters: list[Cluster], views: dict[int, list[pools.NodeView]], unavailable: bool = False) -> str:
    return render_to_string(
        INDEX + "#live",
        {
            "clusters": [(c, views.get(c.pk, [])) for c in clusters],
            "unavailable": unavailable,
            "refresh": snapshots.REFRESH_SECONDS,
        },
    )


@reads_grants  # what the section shows depends on two permissions
@require_GET
def pools_cluster(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    node = request.GET.get("node") or PRIMARY
    full_text = request.user.has_perm("dashboard.view_full_query")
    can_signal = request.user.has_perm("dashboard.signal_session")
    cluster = None if request.htmx else _node_of(pk, node)  # the whole page needs it anyway; a partial only to render
    shown: list[pools.NodeView] = []

    def render_live() -> fragments.Rendered:
        target = cluster or _node_of(pk, node)
        view = pools.load([target], node=node)[target.pk][0]
        queries = snapshots.read_queries(target.pk, node) if full_text and view.has_figures else None
        pools.prepare_sessions(view, queries)
        shown.append(view)
        return fragments.Rendered(_cluster(target, node, view, full_text, can_signal), [view])

    live = fragments.get(
        "pools-cluster",
        (str(pk), node, f"full_text={full_text}", f"can_signal={can_signal}"),
        render_live,
        lambda: _cluster(cluster or _node_of(pk, node), node, None, full_text, can_signal),
        scope=pk,
    )
    if request.htmx:
        return fragments.respond(request, live)
    if not shown:  # the fragment was current: the services to chart come from a read of the same snapshot
        shown.append(snapshots.or_unavailable(lambda: pools.load([cluster], node=node)[cluster.pk][0], None)[0])
    return render(
        request,
        CLUSTER,
        {
            "live": live.body,
            "cluster": cluster,
            "nodes": node_names(cluster),
            "node": node,
            "windows": list(history.WINDOWS),
            "window": history.window_of(request.GET.get("window")),
            "chart_services": _chart_services(shown[0]),
            "service": request.GET.get("service", ""),
            "nav": "pools",
        },
    )


def _node_of(pk: int, node: str) -> Cluster:
    """The cluster, which has that node (404 otherwise)."""
    cluster = get_object_or_404(Cluster.objects.with_nodes(), pk=pk)
    if node not in node_names(cluster):
        raise Http404(_("No such node."))
    return cluster


def _cluster(cluster: Cluster, node: str, view: pools.NodeView | None, full_text: bool, can_signal: bool) -> str:
    return render_to_string(
        CLUSTER + "#live",
        {
            "cluster": cluster,
            "node": node,
            "view": view,
            "unavailable": view is None,
            "full_text": full_text,
            "can_signal": can_signal,
            "live_url": reverse("pools_cluster", args=[cluster.pk]) + "?" + urlencode({"node": node}),
            "refresh": snapshots.REFRESH_SECONDS,
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
    sessions on), served as a partial the service page loads (numbers and charts) and refreshes (numbers)."""
    part = "charts" if request.GET.get("part") == "charts" else "numbers"
    live = fragments.get(
        "service-live",
        (str(pk), part),
        lambda: _render_service(pk, part),
        lambda: _service(get_object_or_404(Service, pk=pk), part, [], unavailable=True),
    )
    return fragments.respond(request, live)


def _render_service(pk: int, part: str) -> fragments.Rendered:
    service = get_object_or_404(Service, pk=pk)
    clusters = list(Cluster.objects.with_nodes())
    views = pools.load(clusters, node=None)
    owned = set(service.ownerships.values_list("cluster_id", flat=True))
    entries = []
    for cluster in clusters:
        for view in views[cluster.pk]:
            row = next((r for r in view.rows if r.service == service.name), None)
            if row or (cluster.pk in owned and view.name == PRIMARY):
                entries.append((view, row))
    hazards_of = _hazards_of(service, [c for c in clusters if any(v.cluster.pk == c.pk for v, _ in entries)], views)
    return fragments.Rendered(_service(service, part, entries, hazards_of=hazards_of), [view for view, _ in entries])


def _hazards_of(service: Service, clusters: list[Cluster], views: dict) -> dict[str, list]:
    """The service's part in its clusters' transaction hazards: the horizon holders and prepared transactions that
    are its own, each with its cluster and the moment it began (its age moves on the page)."""
    now = timezone.now()
    found: dict[str, list] = {"holding": [], "prepared": []}
    for cluster in clusters:
        assessed = hazards.assess(cluster, views[cluster.pk])
        for key, rows in (("holding", assessed["horizon"]), ("prepared", assessed["prepared"])):
            for row in rows:
                if row["service"] == service.name:
                    found[key].append({**row, "cluster": cluster.name, "since": hazards.began(row, now)})
    return found


def _service(
    service: Service, part: str, entries: list, unavailable: bool = False, hazards_of: dict | None = None
) -> str:
    return render_to_string(
        f"{SERVICE_LIVE}#{part}",
        {
            "service": service,
            "entries": entries,
            "hazards": hazards_of or {},
            "unavailable": unavailable,
            "refresh": snapshots.REFRESH_SECONDS,
            "windows": list(history.WINDOWS),
            "window": history.DEFAULT_WINDOW,
        },
    )
