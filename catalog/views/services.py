"""The Services screen: every service with its team, what it owns and its paths in and out; one service's page."""

from __future__ import annotations

from collections import Counter

from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from catalog import claims
from catalog.http import HtmxHttpRequest, partial
from catalog.models import Schema, Service
from catalog.paths import all_edges, cross_service_edges

DETAIL_EDGES = 50  # on a service's page, per direction; the Paths page lists the rest


@require_GET
def services(request: HtmxHttpRequest) -> HttpResponse:
    team = request.GET.get("team", "")
    services = Service.objects.for_services_page()
    if team:
        services = services.filter(team=team)
    inbound, outbound = Counter(), Counter()
    for e in cross_service_edges():
        outbound[e.consumer] += 1
        inbound[e.provider] += 1
    services = list(services)
    for s in services:
        s.inbound_count, s.outbound_count = inbound[s.name], outbound[s.name]
    return render(
        request,
        partial(request, "catalog/services.html", "service-table"),
        {
            "services": services,
            "teams": Service.objects.teams(),
            "team": team,
            "unowned_count": Schema.objects.filter(service__isnull=True).count(),
            "conflicts": claims.conflicts(),
            "nav": "services",
        },
    )


@require_GET
def service_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    service = get_object_or_404(Service.objects.for_services_page(), pk=pk)
    edges = all_edges()
    inbound = [e for e in edges if e.provider == service.name]
    outbound = [e for e in edges if e.consumer == service.name]
    schemas = (
        Schema.objects.filter(service=service)
        .select_related("database__cluster")
        .annotate(relation_count=Count("relations", distinct=True))
        .order_by("database__cluster__name", "database__name", "name")
    )
    return render(
        request,
        "catalog/service_detail.html",
        {
            "service": service,
            "schemas": schemas,
            "inbound": inbound[:DETAIL_EDGES],
            "outbound": outbound[:DETAIL_EDGES],
            "inbound_more": max(len(inbound) - DETAIL_EDGES, 0),
            "outbound_more": max(len(outbound) - DETAIL_EDGES, 0),
            "contracts_in": service.contracts_in.select_related("consumer"),
            "nav": "services",
        },
    )
