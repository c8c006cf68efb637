"""Views of the ownership side, one per screen."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django_htmx.middleware import HtmxDetails

from .models import Ownership, Service


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


@require_GET
def services(request: HtmxHttpRequest) -> HttpResponse:
    team = request.GET.get("team", "")
    services = Service.objects.for_services_page()
    if team:
        services = services.filter(team=team)
    template_name = "catalog/services.html"
    if request.htmx:
        template_name += "#service-table"
    return render(
        request,
        template_name,
        {
            "services": services,
            "teams": Service.objects.exclude(team="").order_by("team").values_list("team", flat=True).distinct(),
            "team": team,
            "nav": "services",
        },
    )


@require_GET
def schemas(request: HttpRequest) -> HttpResponse:
    """Declared ownership until introspection syncs the real schemas."""
    return render(
        request,
        "catalog/schemas.html",
        {
            "ownerships": Ownership.objects.select_related("service", "cluster"),
            "nav": "schemas",
        },
    )
