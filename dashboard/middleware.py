"""Requests that could not have come from a browser following the site's own links, refused before any view; the
client's address as the reverse proxy saw it; ages filled in as responses leave; and, when enabled, how long Django
took over each response."""

from __future__ import annotations

import contextlib
import ipaddress
import time
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from catalog import ages


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


class ServerTimingMiddleware:
    """``Server-Timing: app;dur=<ms>``: from the request entering Django (this middleware is the outermost) to the
    response leaving it, as benchmarks and the browser's developer tools read it. Only with settings.SERVER_TIMING."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        if not settings.SERVER_TIMING:
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        response = self.get_response(request)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - start) * 1000:.3f}"
        return response


class AgesMiddleware:
    """Fill the age markers of an HTML response (dashboard.ages) with the ages at this instant. Placed after
    LocaleMiddleware, so that the response's language is the one in force."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            not response.streaming
            and b"\x00" in response.content  # memchr: nothing to do for almost every response
            and response.get("Content-Type", "").startswith("text/html")
        ):
            response.content = ages.fill(response.content.decode(response.charset)).encode(response.charset)
            if response.has_header("Content-Length"):  # set by CommonMiddleware, inside this one
                response["Content-Length"] = str(len(response.content))
        return response
