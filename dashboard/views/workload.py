"""The Workload screen of a cluster: what each service's statements cost it over a window (share of database time by
service or team, top statements, regressions, run-time paths), and a statement's own page. Read from the stored
statements samples, never from a server; the section is rendered once per statements sample for every viewer with
the same filters and permissions (dashboard.fragments)."""

from __future__ import annotations

from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from catalog.http import HtmxHttpRequest
from catalog.models import Cluster, Service
from dashboard import figures, fragments
from dashboard.auth import reads_grants
from dashboard.models import StatementSample, StatementText
from dashboard.nodes import node_names
from dashboard.statements import state, workload

TEMPLATE = "dashboard/workload.html"
STATEMENT = "dashboard/statement.html"
TTL_SECONDS = 60  # the window slides with the clock even when no sample comes


@require_GET
def workload_index(request: HtmxHttpRequest) -> HttpResponse:
    """Every cluster, each with its nodes' last statements sample: where to go for a cluster's workload."""
    clusters = list(Cluster.objects.prefetch_related("replicas"))
    rows = [(c, [(n, state.read_state(c.pk, n)) for n in node_names(c)]) for c in clusters]
    return render(request, "dashboard/workload_index.html", {"rows": rows, "nav": "workload"})


def _filters(request: HtmxHttpRequest) -> tuple[str, str, str]:
    window = request.GET.get("window", "1h")
    if window not in workload.WINDOWS:
        window = "1h"
    return window, request.GET.get("service", ""), request.GET.get("team", "")


@reads_grants  # full statement texts need a permission
@require_GET
def workload_page(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    # the whole page needs the cluster anyway; a partial only to render (a removed cluster's fragment is not found:
    # its catalog version moved)
    cluster = None if request.htmx else get_object_or_404(Cluster.objects.prefetch_related("replicas"), pk=pk)
    window, service, team = _filters(request)
    full_text = request.user.has_perm("dashboard.view_full_query")

    def target() -> Cluster:
        return cluster or get_object_or_404(Cluster.objects.prefetch_related("replicas"), pk=pk)

    def render_live() -> fragments.Rendered:
        return fragments.Rendered(_live(target(), window, service, team, full_text), ttl=TTL_SECONDS)

    live = fragments.get(
        "workload",
        (str(pk), window, service, team, f"full_text={full_text}"),
        render_live,
        lambda: _live(target(), window, service, team, full_text, unavailable=True),
        version=state.version_key(pk),
    )
    if request.htmx:
        return fragments.respond(request, live)
    teams = sorted({t for t in Service.objects.values_list("team", flat=True) if t})
    return render(
        request,
        TEMPLATE,
        {
            "live": live.body,
            "cluster": cluster,
            "windows": list(workload.WINDOWS),
            "window": window,
            "service": service,
            "team": team,
            "services": list(Service.objects.order_by("name").values_list("name", flat=True)),
            "teams": teams,
            "nav": "workload",
        },
    )


def _live(cluster: Cluster, window: str, service: str, team: str, full_text: bool, unavailable: bool = False) -> str:
    chosen = _services(service, team)
    summary = workload.summary(cluster, window)
    rows = [s for s in summary["services"] if chosen is None or s["service"] in chosen]
    params = {"window": window, "service": service, "team": team}
    names = node_names(cluster)
    states = state.read_states([(cluster.pk, n) for n in names])
    nodes = [(n, states.get((cluster.pk, n))) for n in names]
    return render_to_string(
        TEMPLATE + "#live",
        {
            "cluster": cluster,
            "unavailable": unavailable,
            "window": window,
            "summary": summary,
            "rows": rows,
            "nodes": nodes,
            "readable": any(s and s.get("status") == "ok" for _, s in nodes),
            "monitor_roles": {s["monitor_role"] for _, s in nodes if s and s.get("monitor_role")},
            "statements": workload.top_statements(cluster, window, chosen),
            "regressions": workload.regressions(cluster, window, chosen),
            "paths": [
                p
                for p in summary["runtime_paths"]
                if chosen is None or p["consumer"] in chosen or p["provider"] in chosen
            ],
            "full_text": full_text,
            "live_url": reverse("workload", args=[cluster.pk]) + "?" + urlencode(params),
            "refresh": 30,
        },
    )


def _services(service: str, team: str) -> set[str] | None:
    """The services the filters leave (None: no filter)."""
    if not service and not team:
        return None
    names = Service.objects.all()
    if service:
        names = names.filter(name=service)
    if team:
        names = names.filter(team=team)
    return set(names.values_list("name", flat=True))


@require_GET
def workload_history(request: HtmxHttpRequest, pk: int) -> JsonResponse:
    """Execution time per bucket, stacked by service (or by team, ``by=team``), as a plotly figure."""
    cluster = get_object_or_404(Cluster, pk=pk)
    window, _service, _team = _filters(request)
    by = "team" if request.GET.get("by") == "team" else "service"
    buckets, series = workload.time_series(cluster, window, by)
    title = _("Database time by team") if by == "team" else _("Database time by service")
    return JsonResponse(figures.stacked_time(buckets, series, title))


@reads_grants
@require_GET
def statement_page(request: HtmxHttpRequest, pk: int, queryid: int) -> HttpResponse:
    """One statement of a cluster: its text (masked; whole with the permission), who runs it, its time series."""
    cluster = get_object_or_404(Cluster, pk=pk)
    text = StatementText.objects.filter(cluster=cluster, queryid=queryid).first()
    window, _service, _team = _filters(request)
    runs = list(
        StatementSample.objects.filter(cluster=cluster, queryid=queryid)
        .values("service", "role", "database", "node")
        .distinct()
        .order_by("service", "role", "database", "node")
    )
    if text is None and not runs:
        raise Http404(_("No such statement."))
    return render(
        request,
        STATEMENT,
        {
            "cluster": cluster,
            "queryid": queryid,
            "text": text,
            "runs": runs,
            "windows": list(workload.WINDOWS),
            "window": window,
            "full_text": request.user.has_perm("dashboard.view_full_query"),
            "nav": "workload",
        },
    )


@require_GET
def statement_history(request: HtmxHttpRequest, pk: int, queryid: int) -> JsonResponse:
    cluster = get_object_or_404(Cluster, pk=pk)
    window, _service, _team = _filters(request)
    buckets, calls, mean = workload.statement_series(cluster, queryid, window)
    return JsonResponse(figures.statement(buckets, calls, mean))


@reads_grants
@require_GET
def service_statements(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The "Top statements" panel of a service's page: its statements with the most time in the last hour, on every
    cluster it runs on."""
    service = get_object_or_404(Service, pk=pk)
    window = _filters(request)[0]
    full_text = request.user.has_perm("dashboard.view_full_query")
    clusters = Cluster.objects.filter(pk__in=StatementSample.objects.filter(service=service.name).values("cluster"))
    rows = [(c, workload.top_statements(c, window, {service.name}, limit=10)) for c in clusters.order_by("name")]
    return render(
        request,
        "dashboard/service_statements.html",
        {"service": service, "rows": [(c, t) for c, t in rows if t], "window": window, "full_text": full_text},
    )
