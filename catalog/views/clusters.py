"""A cluster's page: its nodes, its synced databases, its sync runs and "Sync now" with live progress."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db.models import Count, Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from catalog.http import HtmxHttpRequest, partial
from catalog.models import Cluster, Schema, SyncRun
from catalog.sync_runs import start_sync


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
        partial(request, "catalog/cluster_detail.html", "sync-status"),
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
