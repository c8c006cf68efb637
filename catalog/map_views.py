"""The ownership map for architects: the service dependency graph and the consumer × provider matrix as plotly
figures served as JSON (the page renders empty containers), and the map's downloads in JSON, DOT and Mermaid."""

from __future__ import annotations

import json
from collections import Counter

import networkx as nx
import plotly.graph_objects as go
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from . import ownership_map
from .models import UNOWNED, Cluster, Service
from .paths import Edge, cross_service_edges

DECLARED, UNDECLARED = "#2454d6", "#c62828"


def label(name: str) -> str:
    """A service name as shown: the marker for relations no service owns is translated, names are not."""
    return _("(unowned)") if name == UNOWNED else name


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
            "teams": Service.objects.exclude(team="").order_by("team").values_list("team", flat=True).distinct(),
            "cluster": cluster.name if cluster else "",
            "team": team,
            "edge_count": len(edges),
            "undeclared_count": sum(not e.declared for e in edges),
            "query": request.GET.urlencode(),
            "formats": ownership_map.FORMATS,
            "nav": "map",
        },
    )


def graph_figure(edges: list[Edge], teams: dict[str, str]) -> go.Figure:
    pairs: dict[tuple[str, str], list[Edge]] = {}
    for e in edges:
        pairs.setdefault((e.consumer, e.provider), []).append(e)
    graph = nx.DiGraph()
    graph.add_nodes_from(sorted({n for pair in pairs for n in pair}))
    graph.add_edges_from(pairs)
    # a fixed seed keeps the picture still between refreshes
    pos = nx.spring_layout(graph, seed=7, k=1.2) if graph.number_of_nodes() else {}
    fig = go.Figure()
    arrows = []
    for (consumer, provider), group in sorted(pairs.items()):
        declared = all(e.declared for e in group)
        (x0, y0), (x1, y1) = pos[consumer], pos[provider]
        kinds = Counter(e.kind for e in group)
        # plain dicts, set once: add_annotation revalidates every earlier one and turns quadratic
        arrows.append(
            {
                "x": x1,
                "y": y1,
                "ax": x0,
                "ay": y0,
                "xref": "x",
                "yref": "y",
                "axref": "x",
                "ayref": "y",
                "showarrow": True,
                "arrowhead": 3,
                "arrowsize": 1,
                "arrowwidth": min(1 + len(group), 8),
                "arrowcolor": DECLARED if declared else UNDECLARED,
                "standoff": 14,
                "startstandoff": 14,
                "opacity": 0.75,
                "hovertext": f"{consumer} → {provider}: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())),
            }
        )
    names = list(graph.nodes)
    no_team = _("no team")
    fig.add_trace(
        go.Scatter(
            x=[pos[n][0] for n in names],
            y=[pos[n][1] for n in names],
            mode="markers+text",
            text=[label(n) for n in names],
            textposition="top center",
            hovertext=[f"{label(n)} ({teams.get(n) or no_team})" for n in names],
            hoverinfo="text",
            marker={
                "size": 22,
                "color": ["#9aa5b8" if n == UNOWNED else "#18202e" for n in names],
                "line": {"width": 0},
            },
        )
    )
    fig.update_layout(
        annotations=arrows,
        showlegend=False,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        height=520,
        plot_bgcolor="white",
        xaxis={"visible": False},
        yaxis={"visible": False},
    )
    return fig


def matrix_figure(edges: list[Edge]) -> go.Figure:
    consumers = sorted({e.consumer for e in edges})
    providers = sorted({e.provider for e in edges})
    counts = Counter((e.consumer, e.provider) for e in edges)
    undeclared = Counter((e.consumer, e.provider) for e in edges if not e.declared)
    z = [[counts[(c, p)] or None for p in providers] for c in consumers]
    hover = [
        [
            _("%(consumer)s reads %(provider)s: %(count)s paths, %(undeclared)s undeclared")
            % {
                "consumer": label(c),
                "provider": label(p),
                "count": counts[(c, p)],
                "undeclared": undeclared[(c, p)],
            }
            for p in providers
        ]
        for c in consumers
    ]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[label(p) for p in providers],
            y=[label(c) for c in consumers],
            hovertext=hover,
            hoverinfo="text",
            colorscale="Blues",
            showscale=False,
            text=[[str(v) if v else "" for v in row] for row in z],
            texttemplate="%{text}",
        )
    )
    fig.update_layout(
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        height=120 + 40 * max(len(consumers), 1),
        plot_bgcolor="white",
        xaxis={"title": {"text": _("provider")}, "side": "top"},
        yaxis={"title": {"text": _("consumer")}, "autorange": "reversed"},
    )
    return fig


@require_GET
def map_figures(request: HttpRequest) -> JsonResponse:
    _cluster, _team, edges = _filtered(request)
    teams = dict(Service.objects.values_list("name", "team"))
    return JsonResponse(
        {
            "graph": json.loads(graph_figure(edges, teams).to_json()),
            "matrix": json.loads(matrix_figure(edges).to_json()),
        }
    )


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
