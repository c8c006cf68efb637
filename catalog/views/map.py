"""The ownership map for architects: the service dependency graph and the consumer x provider matrix (figures served
as JSON, catalog.figures; the page renders empty containers), and the map's downloads in JSON, DOT and Mermaid."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from catalog import figures, ownership_map
from catalog.models import Cluster, Service
from catalog.paths import Edge, cross_service_edges


def _filtered(request: HttpRequest) -> tuple[Cluster | None, str, list[Edge]]:
    cluster = Cluster.objects.filter(name=request.GET.get("cluster", "")).first()
    team = request.GET.get("team", "")
    edges = cross_service_edges([cluster.pk] if cluster else None)
    if team:
        members = set(Service.objects.filter(team=team).values_list("name", flat=True))
        edges = [e for e in edges if e.consumer in members or e.provider in members]
    return cluster, team, edges


@require_GET
def map_page(request: HttpRequest) -> HttpResponse:
    cluster, team, edges = _filtered(request)
    return render(
        request,
        "catalog/map.html",
        {
            "clusters": Cluster.objects.values_list("name", flat=True),
            "teams": Service.objects.teams(),
            "cluster": cluster.name if cluster else "",
            "team": team,
            "edge_count": len(edges),
            "undeclared_count": sum(not e.declared for e in edges),
            "query": request.GET.urlencode(),
            "formats": ownership_map.FORMATS,
            "nav": "map",
        },
    )


@require_GET
def map_figures(request: HttpRequest) -> JsonResponse:
    _cluster, _team, edges = _filtered(request)
    teams = dict(Service.objects.values_list("name", "team"))
    return JsonResponse({"graph": figures.ownership_graph(edges, teams), "matrix": figures.ownership_matrix(edges)})


@require_GET
def map_download(request: HttpRequest) -> HttpResponse:
    fmt = request.GET.get("format", "json")
    if fmt not in ownership_map.FORMATS:
        return HttpResponse(_("Unknown format."), status=400, content_type="text/plain")
    cluster = Cluster.objects.filter(name=request.GET.get("cluster", "")).first()
    body = ownership_map.render(fmt, cluster)
    content_type = {"json": "application/json", "dot": "text/vnd.graphviz", "mermaid": "text/plain"}[fmt]
    extension = {"json": "json", "dot": "dot", "mermaid": "mmd"}[fmt]
    response = HttpResponse(body, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="ownership-map.{extension}"'
    return response
