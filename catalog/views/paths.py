"""The Paths screen: every cross-service path, filtered by kind, service, declaration and cluster, a page at a time."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from catalog.http import HtmxHttpRequest, partial
from catalog.models import Cluster, Service
from catalog.paths import KINDS, all_edges

PATHS_PER_PAGE = 100  # a large catalog has thousands: one page must stay quick to render and to read


@require_GET
def paths(request: HtmxHttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    service = request.GET.get("service", "")
    declared = request.GET.get("declared", "")
    cluster = request.GET.get("cluster", "")
    edges = all_edges()
    if kind:
        edges = [e for e in edges if e.kind == kind]
    if service:
        edges = [e for e in edges if service in (e.consumer, e.provider)]
    if declared in ("yes", "no"):
        edges = [e for e in edges if e.declared == (declared == "yes")]
    if cluster:
        edges = [e for e in edges if e.cluster == cluster]
    page = Paginator(edges, PATHS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        partial(request, "catalog/paths.html", "path-table"),
        {
            "edges": page.object_list,
            "page": page,
            "query": query.urlencode(),
            "kinds": KINDS,
            "services": Service.objects.values_list("name", flat=True),
            "clusters": Cluster.objects.values_list("name", flat=True),
            "filters": {"kind": kind, "service": service, "declared": declared, "cluster": cluster},
            "nav": "paths",
        },
    )
