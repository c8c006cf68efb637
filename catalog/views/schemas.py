"""The Schemas screen: every synced schema and its owner; one schema's relations and functions; one relation with
what it reads and its blast radius (everything that breaks if it changes)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from catalog import outbox
from catalog.http import HtmxHttpRequest, partial
from catalog.models import Cluster, Grant, Relation, Schema
from catalog.paths import blast_radius, column_readers


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
        partial(request, "catalog/schemas.html", "schema-table"),
        {
            "schemas": rows,
            "clusters": Cluster.objects.values_list("name", flat=True),
            "cluster": cluster,
            "only_unowned": only_unowned,
            "nav": "schemas",
        },
    )


ROWS_PER_PAGE = 200


@require_GET
def schema_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    schema = get_object_or_404(Schema.objects.select_related("database__cluster", "service"), pk=pk)
    # a schema may hold thousands of relations and functions: a page of each at a time
    relations = Paginator(schema.relations.order_by("name"), ROWS_PER_PAGE).get_page(request.GET.get("page"))
    functions = Paginator(schema.functions.order_by("name", "identity_arguments"), ROWS_PER_PAGE).get_page(
        request.GET.get("functions_page")
    )
    return render(
        request,
        "catalog/schema_detail.html",
        {
            "schema": schema,
            "relations": relations,
            "functions": functions,
            "query": request.GET.copy(),
            "nav": "schemas",
        },
    )


@require_GET
def relation_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    relation = get_object_or_404(Relation.objects.select_related("schema__database__cluster", "schema__service"), pk=pk)
    column = request.GET.get("column") or None
    if column is not None and column not in relation.columns:
        raise Http404(_("No such column."))
    dependents = blast_radius(relation, column)
    owner = relation.schema.service.name if relation.schema.service else None
    key = (relation.schema.database.name, relation.schema.name, relation.name)
    box = next((v for v in outbox.verdicts(relation.schema.database.cluster_id) if v.parts == key), None)
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
            "outbox": box,
            "column": column,
            "column_readers": column_readers(relation) if relation.columns else {},
            "other_services": sorted({d.service or _("(unowned)") for d in dependents if d.service != owner}),
            "nav": "schemas",
        },
    )
