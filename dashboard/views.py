"""Views of the live side. Until sampling exists these pages say so plainly: no numbers that were not measured."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from catalog.models import Cluster, Service


@require_GET
@never_cache
@login_not_required
def healthz(request: HttpRequest) -> HttpResponse:
    """Process liveness only: answers 200 while the process serves, touches neither database nor Redis."""
    return HttpResponse("ok\n", content_type="text/plain")


@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    clusters = Cluster.objects.prefetch_related("replicas")
    return render(
        request,
        "dashboard/overview.html",
        {
            "clusters": clusters,
            "service_count": Service.objects.count(),
            "nav": "overview",
        },
    )


def _not_yet(request: HttpRequest, nav: str, title: str, explanation: str) -> HttpResponse:
    return render(request, "dashboard/not_yet.html", {"nav": nav, "title": title, "explanation": explanation})


@require_GET
def replication(request: HttpRequest) -> HttpResponse:
    return _not_yet(
        request,
        "replication",
        _("Replication"),
        _(
            "Replication is not sampled yet. This page will show lag in bytes and seconds from the primary and "
            "from each replica, slots and the WAL they retain, once live sampling is built."
        ),
    )


@require_GET
def audits(request: HttpRequest) -> HttpResponse:
    return _not_yet(
        request,
        "audits",
        _("Audits"),
        _("No ownership audit has run yet: audit rules and their findings are not built yet."),
    )
