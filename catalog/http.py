"""What every view of the site shares: the typed htmx request, and the one way a view picks its htmx partial."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def partial(request: HtmxHttpRequest, template: str, name: str) -> str:
    """The template for a whole page, or, to htmx, its partial ``template#name`` (a ``{% partialdef %}`` inside it):
    one view serves both, from one template."""
    return f"{template}#{name}" if request.htmx else template
