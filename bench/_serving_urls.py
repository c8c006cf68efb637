"""The site's URLs, and the benchmark's floor (bench/_serving.py)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET

from dashboard.urls import urlpatterns as site


@require_GET
def floor(request: HttpRequest) -> HttpResponse:
    """A constant, behind the login and every middleware of the site."""
    return HttpResponse(b"floor\n", content_type="text/plain")


urlpatterns = [path("bench/floor", floor), *site]
