"""Requests that could not have come from a browser following the site's own links, refused before any view; and the
client's address as the reverse proxy saw it."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
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


class ClientAddressMiddleware:
    """Behind a reverse proxy, REMOTE_ADDR is the proxy's address (empty over a unix socket) for every client, and
    login throttling, keyed on username and address, would lock a user out for everyone. The proxy puts the client's
    address in a header (settings.CLIENT_IP_HEADER, e.g. X-Real-IP) and this makes it REMOTE_ADDR. Only for a server
    that no one but the proxy can reach, behind a proxy that overwrites the header (deploy/nginx/seamline.conf)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        if not settings.CLIENT_IP_HEADER:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.meta_key = "HTTP_" + settings.CLIENT_IP_HEADER.upper().replace("-", "_")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # missing or not an address: REMOTE_ADDR is left as the server saw it
        with contextlib.suppress(ValueError):
            request.META["REMOTE_ADDR"] = str(ipaddress.ip_address(request.META.get(self.meta_key, "").strip()))
        return self.get_response(request)
