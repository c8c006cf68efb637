"""The ownership map for architects (catalog.map_view): teams, an expanded team's services, or a service's
neighbourhood, drawn by Graphviz (catalog.map_layout) into the page itself with a legend of the kinds drawn, the
matrix of what is drawn, an arrow's paths on click, and the downloads of exactly what is on screen.

Every response is built from what the catalog's version keeps per process (the paths, the view, its drawing): a page
costs the login check, the version's one query and the template.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from catalog import map_layout, ownership_map, versioning
from catalog.map_view import (
    MAX_DEPTH,
    MAX_DRAWN,
    SERVICE,
    TEAM,
    Arrow,
    InvalidQuery,
    Node,
    Pair,
    Query,
    View,
    style_of,
    view,
)
from catalog.models import Cluster, Service
from catalog.paths import KINDS
from catalog.versioning import memoized

MATRIX_MAX = 40  # rows or columns: a bigger matrix is no longer read, the graph and the downloads have it all


def _url(name: str, params: list[tuple[str, str]]) -> str:
    return reverse(name) + "?" + urlencode(params)


def node_href(query: Query) -> Callable[[Node], str | None]:
    def href(node: Node) -> str | None:
        if node.kind == TEAM:
            return _url("map", query.but(expand=tuple(sorted({*query.expand, node.name}))).params())
        if node.kind == SERVICE and node.distance != 0:
            return _url("map", query.but(focus=node.name, expand=()).params())
        return None

    return href


def arrow_href(query: Query) -> Callable[[Arrow | Pair], str]:
    """The link to an arrow's paths (those of its kind), or to a pair's (every kind)."""

    def href(arrow: Arrow | Pair) -> str:
        params = [*query.params(), ("consumer", arrow.consumer.key), ("provider", arrow.provider.key)]
        if isinstance(arrow, Arrow):
            params.append(("arrow_kind", arrow.kind))
        return _url("map_paths", params)

    return href


def drawing(query: Query) -> tuple[str, str]:
    """The view's SVG, or, when Graphviz cannot draw it, the reason (kept with the page's body, ``_body``)."""
    shown = view(query)
    if shown.too_big or not shown.nodes:
        return "", ""
    try:
        return map_layout.svg(map_layout.dot_source(shown, node_href(query), arrow_href(query))), ""
    except map_layout.LayoutError as exc:
        return "", str(exc)


def matrix(shown: View, query: Query) -> dict | None:
    """Consumers × providers of the arrows drawn, each cell the pair's arrows (every kind) and the link to their
    paths; None when too many to read."""
    pairs = shown.pairs
    consumers = [n for n in shown.nodes if any(p.consumer == n for p in pairs)]
    providers = [n for n in shown.nodes if any(p.provider == n for p in pairs)]
    if len(consumers) > MATRIX_MAX or len(providers) > MATRIX_MAX:
        return None
    href = arrow_href(query)
    cells = {(p.consumer.key, p.provider.key): (p, href(p)) for p in pairs}
    return {
        "providers": providers,
        "rows": [(c, [cells.get((c.key, p.key)) for p in providers]) for c in consumers],
    }


def _choices() -> dict:
    return memoized(
        "map-choices",
        (),
        lambda: {
            "clusters": list(Cluster.objects.order_by("name").values_list("name", flat=True)),
            "services": list(Service.objects.order_by("name").values_list("name", flat=True)),
        },
    )


@require_GET
@versioning.pinned()
def map_page(request: HttpRequest) -> HttpResponse:
    try:
        query = Query.parse(request.GET)
        view(query)
    except InvalidQuery as exc:
        context = _page_context(Query()) | {"error": str(exc), "view": None}
        body = render_to_string("catalog/map.html#map-body", context, request)
        return render(request, "catalog/map.html", {"nav": "map", "body": body}, status=400)
    body = memoized("map-page", (query, get_language()), lambda: _body(query), observed=True)
    return render(request, "catalog/map.html", {"nav": "map", "body": body})


def _body(query: Query) -> str:
    """The page's content for this view, the same for every viewer: rendered once per view, language and catalog
    version in each process."""
    shown = view(query)
    svg, layout_error = drawing(query)
    context = _page_context(query) | {
        "view": shown,
        "svg": svg,
        "layout_error": layout_error,
        "matrix": None if shown.too_big else matrix(shown, query),
        "legend": [style_of(k) for k in shown.kinds_drawn],
        "path_count": len(shown.paths),
        "undeclared_count": sum(not p.declared for p in shown.paths),
        "params": urlencode(query.params()),
        "team_level": urlencode(query.but(level=TEAM, expand=(), focus="").params()),
        "service_level": urlencode(query.but(level=SERVICE, expand=(), focus="").params()),
        "collapse": [
            (team, urlencode(query.but(expand=tuple(t for t in query.expand if t != team)).params()))
            for team in query.expand
        ],
        "unfocus": urlencode(query.but(focus="").params()),
        "depths": [(d, urlencode(query.but(depth=d).params())) for d in range(1, MAX_DEPTH + 1)],
    }
    return render_to_string("catalog/map.html#map-body", context)


def _page_context(query: Query) -> dict:
    return {
        "query": query,
        "kinds": [style_of(k) for k in KINDS],
        "formats": ownership_map.FORMATS,
        "max_drawn": MAX_DRAWN,
        **_choices(),
    }


@require_GET
@versioning.pinned()
def map_data(request: HttpRequest) -> JsonResponse:
    """The view as data: its nodes and arrows (the team document's shape, with each node's kind and distance, and an
    edge per arrow drawn: one kind of path between two nodes, whether it closes a cycle), and why it is empty or too
    big to draw."""
    try:
        shown = view(Query.parse(request.GET))
    except InvalidQuery as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    nodes = [n.as_dict() | {"kind": n.kind, "distance": n.distance} for n in shown.nodes]
    arrows = [a.as_dict() | {"kinds": {a.kind: a.count}, "closes_cycle": a.closes_cycle} for a in shown.arrows]
    return JsonResponse(
        {
            "nodes": nodes,
            "edges": arrows,
            "paths": len(shown.paths),
            "empty": shown.empty or None,
            "too_big": shown.too_big,
        },
        json_dumps_params={"ensure_ascii": False},
    )


@require_GET
@versioning.pinned()
def map_paths(request: HttpRequest) -> HttpResponse:
    """The paths behind one arrow (``consumer`` and ``provider``: its nodes' keys; ``arrow_kind``: its kind, every
    kind between the two nodes without it), as a section of the page."""
    try:
        shown = view(Query.parse(request.GET))
    except InvalidQuery as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    params = request.GET
    arrow = shown.arrow(params.get("consumer", ""), params.get("provider", ""), params.get("arrow_kind") or None)
    if arrow is None:
        return HttpResponse(_("No such arrow in this view."), status=404, content_type="text/plain; charset=utf-8")
    template = "catalog/map.html#arrow-paths" if request.htmx else "catalog/map_paths.html"  # without script: a page
    style = arrow.style if isinstance(arrow, Arrow) else None
    return render(request, template, {"arrow": arrow, "style": style, "edges": shown.paths_of(arrow), "nav": "map"})


@require_GET
@versioning.pinned()
def map_download(request: HttpRequest) -> HttpResponse:
    """What the page shows, as JSON, DOT or Mermaid."""
    fmt = request.GET.get("format", "json")
    if fmt not in ownership_map.FORMATS:
        return HttpResponse(_("Unknown format."), status=400, content_type="text/plain; charset=utf-8")
    try:
        shown = view(Query.parse(request.GET))
    except InvalidQuery as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    body = ownership_map.render_view(fmt, shown)
    content_type = {"json": "application/json", "dot": "text/vnd.graphviz", "mermaid": "text/plain"}[fmt]
    extension = {"json": "json", "dot": "dot", "mermaid": "mmd"}[fmt]
    response = HttpResponse(body, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="ownership-map.{extension}"'
    return response
