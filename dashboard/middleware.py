"""Requests that could not have come from a browser following the site's own links, refused before any view."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest


class RejectNulMiddleware:
    """A NUL byte in the path or a query parameter can reach no view usefully: PostgreSQL text cannot hold one, so
    it would end in a server error. Answer 400 at once instead."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()
        ):
            return HttpResponseBadRequest("NUL bytes are not allowed in URLs.\n", content_type="text/plain")
        return self.get_response(request)
