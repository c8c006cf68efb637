"""The JSON API at /api/v1/: django-ninja, read-only, session or bearer-token authentication.

Mounted from dashboard.urls with ``include("dashboard.api")``. The site's LoginRequiredMiddleware would redirect an
anonymous request to the login page; an API client needs a 401 with a JSON body instead, so every URL here is exempt
from that middleware and authenticates itself (openapi.json included: the site shows nothing to strangers).

No interactive docs page: django-ninja serves Swagger/Redoc from its own static files only when "ninja" is in
INSTALLED_APPS, and otherwise loads them from a CDN, which the dashboard must never depend on. openapi.json is served.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.db import DataError
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.renderers import JSONRenderer
from ninja.security import HttpBearer, SessionAuth

from catalog.api import router as catalog_router

from .hazards_api import router as hazards_router
from .models import ApiToken
from .pools_api import router as pools_router
from .workload_api import router as workload_router

app_name = "api-v1"


class BearerToken(HttpBearer):
    """``Authorization: Bearer <token>``, a token from ``manage.py create_api_token``."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken:
        row = ApiToken.objects.authenticate(token.strip())
        if row is None:
            # a token was presented and is wrong: say so rather than fall back to the session
            raise AuthenticationError(message=_("Invalid or revoked API token."))
        return row


class Utf8JSONRenderer(JSONRenderer):
    # identifiers are often not ASCII (中文 schema names): keep them readable in curl output
    json_dumps_params = {"ensure_ascii": False}


_NINJA_DEFAULT_MESSAGE = AuthenticationError().message


def _unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    detail = exc.message
    if detail == _NINJA_DEFAULT_MESSAGE:  # raised by ninja when no method accepted the request
        detail = _("Authentication required: log in, or send the header Authorization: Bearer <token>.")
    response = api.create_response(request, {"detail": detail}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="seamline"'
    return response


AUTH = [BearerToken(), SessionAuth()]


def _authenticated(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The API's authentication for ninja's own views (openapi.json), which its ``auth`` does not cover."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            accepted = any(method(request) for method in AUTH)
        except AuthenticationError as exc:
            return _unauthorized(request, exc)
        if not accepted:
            return _unauthorized(request, AuthenticationError())
        return view(request, *args, **kwargs)

    return wrapper


api = NinjaAPI(
    title="Seamline API",
    version="1",
    description="Read-only access to Seamline's catalog (clusters, services, schemas, relations, cross-service "
    "paths, the ownership map) and to the live pools (each node's latest snapshot, and history). Authenticate with "
    "a session cookie or `Authorization: Bearer <token>`.",
    auth=AUTH,
    renderer=Utf8JSONRenderer(),
    urls_namespace=app_name,
    openapi_url="/openapi.json",
    docs_url=None,
    docs_decorator=_authenticated,
)
api.add_exception_handler(AuthenticationError, _unauthorized)


def _unstorable(request: HttpRequest, exc: DataError) -> HttpResponse:
    # a value PostgreSQL cannot hold (a number out of range): the client's mistake, said as such, not a server error
    return api.create_response(request, {"detail": "a parameter is out of range or cannot be stored"}, status=422)


api.add_exception_handler(DataError, _unstorable)
api.add_router("/", catalog_router)
api.add_router("/", pools_router)
api.add_router("/", workload_router)
api.add_router("/", hazards_router)


def _login_not_required(patterns: list[URLPattern | URLResolver]) -> list[URLPattern | URLResolver]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            _login_not_required(pattern.url_patterns)
        else:
            login_not_required(pattern.callback)
    return patterns


urlpatterns = _login_not_required(api.urls[0])
