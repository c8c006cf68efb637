"""Views of the ownership side, one per screen; each serves its page and, to htmx, its partial."""

from __future__ import annotations

from collections import Counter

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from .http import HtmxHttpRequest
from .models import Cluster, Grant, Relation, Schema, Service, SyncRun
from .paths import blast_radius, cross_service_edges
from .tasks import start_sync

PATHS_PER_PAGE = 100  # a large catalog has thousands: one page must stay quick to render and to read
DETAIL_EDGES = 50  # on a service's page, per direction; the Paths page lists the rest


def _partial(request: HtmxHttpRequest, template: str, partial: str) -> str:
    return f"{template}#{partial}" if request.htmx else template


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
        _partial(request, "catalog/services.html", "service-table"),
        {
            "services": services,
            "teams": Service.objects.exclude(team="").order_by("team").values_list("team", flat=True).distinct(),
            "team": team,
            "unowned_count": Schema.objects.filter(service__isnull=True).count(),
            "nav": "services",
        },
    )


@require_GET
def service_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    service = get_object_or_404(Service.objects.for_services_page(), pk=pk)
    edges = cross_service_edges()
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


@require_GET
def schemas(request: HtmxHttpRequest) -> HttpResponse:
    cluster = request.GET.get("cluster", "")
    only_unowned = request.GET.get("unowned") == "1"
    rows = (
        Schema.objects.select_related("database__cluster", "service")
        .annotate(relation_count=Count("relations", distinct=True))
        .order_by("database__cluster__name", "database__name", "name")
    )
    if cluster:
        rows = rows.filter(database__cluster__name=cluster)
    if only_unowned:
        rows = rows.filter(service__isnull=True)
    return render(
        request,
        _partial(request, "catalog/schemas.html", "schema-table"),
        {
            "schemas": rows,
            "clusters": Cluster.objects.values_list("name", flat=True),
            "cluster": cluster,
            "only_unowned": only_unowned,
            "nav": "schemas",
        },
    )


@require_GET
def schema_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    schema = get_object_or_404(Schema.objects.select_related("database__cluster", "service"), pk=pk)
    return render(
        request,
        "catalog/schema_detail.html",
        {
            "schema": schema,
            "relations": schema.relations.order_by("name"),
            "functions": schema.functions.order_by("name", "identity_arguments"),
            "nav": "schemas",
        },
    )


@require_GET
def relation_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    relation = get_object_or_404(Relation.objects.select_related("schema__database__cluster", "schema__service"), pk=pk)
    dependents = blast_radius(relation)
    owner = relation.schema.service.name if relation.schema.service else None
    return render(
        request,
        "catalog/relation_detail.html",
        {
            "relation": relation,
            "reads": relation.reads.select_related("source__schema__service").order_by(
                "kind", "source__schema__name", "source__name"
            ),
            "grants": Grant.objects.filter(relation=relation).order_by("grantee"),
            "dependents": dependents,
            "other_services": sorted({d.service or _("(unowned)") for d in dependents if d.service != owner}),
            "nav": "schemas",
        },
    )


@require_GET
def paths(request: HtmxHttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    service = request.GET.get("service", "")
    declared = request.GET.get("declared", "")
    cluster = request.GET.get("cluster", "")
    edges = cross_service_edges()
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
        _partial(request, "catalog/paths.html", "path-table"),
        {
            "edges": page.object_list,
            "page": page,
            "query": query.urlencode(),
            "kinds": ["view", "fk", "grant", "function"],
            "services": Service.objects.values_list("name", flat=True),
            "clusters": Cluster.objects.values_list("name", flat=True),
            "filters": {"kind": kind, "service": service, "declared": declared, "cluster": cluster},
            "nav": "paths",
        },
    )


@require_GET
def cluster_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _cluster_page(request, pk)


def _cluster_page(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    cluster = get_object_or_404(
        Cluster.objects.prefetch_related("replicas", Prefetch("database_set", to_attr="synced_databases")), pk=pk
    )
    runs = list(cluster.sync_runs.all()[:10])
    latest = runs[0] if runs else None
    # a sync from the command line or an older run may be newer news than the last run started here
    shown_run = (
        latest
        if latest
        and (
            latest.is_active
            or not cluster.synced_at
            or (latest.finished_at and latest.finished_at >= cluster.synced_at)
        )
        else None
    )
    return render(
        request,
        _partial(request, "catalog/cluster_detail.html", "sync-status"),
        {
            "cluster": cluster,
            "runs": runs,
            "shown_run": shown_run,
            "schema_counts": dict(
                Schema.objects.filter(database__cluster=cluster).values_list("database__name").annotate(n=Count("id"))
            ),
            "nav": "overview",
        },
    )


@require_POST
@permission_required("catalog.add_syncrun", raise_exception=True)
def cluster_sync(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster, pk=pk)
    run = start_sync(cluster, requested_by=request.user.get_username())
    if run.requested_by != request.user.get_username() or run.status != SyncRun.Status.QUEUED:
        messages.info(request, _("A sync of this cluster is already under way."))
    if request.htmx:
        return _cluster_page(request, pk)
    return redirect("cluster", pk=pk)
