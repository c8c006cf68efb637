"""Live fragments: what a live partial (or the live JSON API) shows, rendered once per snapshot and served to every
viewer from Redis, so that a request costs its authentication, one Redis round trip and the response.

A fragment is keyed by its page and parameters, the language, and the viewer's permissions that change it. It stays
current while the version counters it was rendered under stand (dashboard.snapshots: one moved by every snapshot of
the fleet, or of the page's cluster, and one by every committed change of the catalog the live pages show) and until
the clock alone would change it: a fresh node it shows turning stale, or, on the pages whose text quotes a stale
node's age (health's reasons), that age's next second. The fragment and the counters are read in one MGET; a fragment
not current is rendered again by the request that finds it so (concurrent ones may render it too: each writes the
same) and written back. Ages inside it are markers filled as the response leaves (catalog.ages).

Every fragment has an ETag made of what its key and validity hold; a partial or JSON response carries it with
``Cache-Control: no-cache`` and ``Vary: Cookie, HX-Request``, so the browser revalidates and a fragment unchanged
costs a 304. Without Redis nothing is cached: the caller renders its "live data unavailable" fallback each time.

The Redis round trip overlaps the session's (``PrefetchMiddleware``): a process remembers which keys each URL (with
its query, in each language) read, and the next request of that URL sends their MGET before its session is read from
PostgreSQL, and takes the answer when the view asks. The view still decides: keys it did not see prefetched are read
as before, and a request that never asks (a redirect to the login page, a permission denied) only has its answer
read and its connection given back. What is read is what the view would have read a moment later; no answer outlives
its request.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import redis
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from catalog import ages

from . import snapshots
from .pools import FRESH, STALE, STALE_AFTER_INTERVALS, NodeView

# A fragment nobody asks for goes after this; one that is asked for is rendered again at the next sample anyway.
TTL_SECONDS = 600


@dataclass(frozen=True)
class Rendered:
    """What a page's render function returns: the body, and the node views it shows (their freshness bounds how long
    it stays current by the clock)."""

    body: str
    views: Sequence[NodeView] = ()
    quotes_stale_ages: bool = False  # its text says how old a stale node's last sample is, to the second
    ttl: float | None = None  # seconds it stays current at most (a window sliding with the clock), None: no limit


@dataclass(frozen=True)
class Fragment:
    body: SafeString
    etag: str = ""  # none when it could not be cached (Redis unreachable)

    # the body's age markers, found once for every viewer this process serves it to: HTML's, or JSON's
    @cached_property
    def html_markers(self) -> ages.Markers:
        return ages.Markers(self.body)

    @cached_property
    def json_markers(self) -> ages.Markers:
        return ages.Markers(self.body, json=True)


# Fragments this process has served, by ETag (which names a fragment's content): one served again is filled from
# here, not decoded and searched for its ages again. Bounded: the oldest go first.
_served: dict[str, Fragment] = {}
SERVED_MAX = 256


def _keep(fragment: Fragment) -> Fragment:
    if fragment.etag:
        if len(_served) >= SERVED_MAX:
            del _served[next(iter(_served))]
        _served[fragment.etag] = fragment
    return fragment


def key(page: str, variant: Iterable[str]) -> str:
    """Redis key of a page's fragment for these parameters and permissions, in the active language (hashed: names
    of nodes and services may hold any character)."""
    digest = hashlib.sha256(json.dumps([get_language(), *variant]).encode()).hexdigest()[:32]
    return f"seamline:live:fragment:{page}:{digest}"


def get(
    page: str,
    variant: Iterable[str],
    render: Callable[[], Rendered],
    fallback: Callable[[], str],
    scope: int | None = None,
    version: str | None = None,
) -> Fragment:
    """The page's current fragment: from Redis, or rendered now and stored. ``scope``: the cluster whose snapshots
    the page shows (None: any); ``version``: the counter that moves with what it shows, when that is not the
    snapshots (e.g. the cluster's statements samples). ``fallback()`` makes what the page says when Redis cannot be
    reached."""
    fragment_key = key(page, variant)
    keys = [fragment_key, version or snapshots.live_version_key(scope), snapshots.CATALOG_VERSION]
    try:
        prefetched = _pending.get()
        if prefetched is not None:
            prefetched.remember(keys)
        cached, live, catalog = (prefetched and prefetched.take(keys)) or snapshots.client().mget(keys)
        versions = [(v or b"0").decode() for v in (live, catalog)]
        now = time.time()
        if cached:
            head, _, body = cached.partition(b"\n")  # the entry's JSON, then the body as it is
            entry = json.loads(head)
            if entry["versions"] == versions and (entry["until"] is None or now < entry["until"]):
                return _served.get(entry["etag"]) or _keep(Fragment(mark_safe(body.decode()), entry["etag"]))
        rendered = render()  # reads snapshots: may raise LiveDataUnavailable too
    except (redis.RedisError, snapshots.LiveDataUnavailable):
        return Fragment(mark_safe(fallback()))  # bodies are our templates' output, escaped where they had to be
    until, state = validity(rendered, now)
    etag = hashlib.sha256(json.dumps([fragment_key, versions, state]).encode()).hexdigest()[:24]
    entry = json.dumps({"versions": versions, "until": until, "etag": etag}).encode() + b"\n" + rendered.body.encode()
    with contextlib.suppress(redis.RedisError):  # it was rendered: serve it even if it cannot be kept
        snapshots.client().set(fragment_key, entry, ex=TTL_SECONDS)
    return _keep(Fragment(mark_safe(rendered.body), etag))


# Which keys each URL read, by (path, query, language): this process's memory of what to prefetch. Bounded, the
# oldest forgotten first; a URL keeps the keys of its variants (a viewer's and an operator's) up to KEYS_MAX.
_seen: dict[tuple[str, str, str], tuple[str, ...]] = {}
SEEN_MAX = 1024
KEYS_MAX = 24


@dataclass
class Prefetch:
    """A request's MGET, sent before its session is read and answered when the view asks (or when it ends)."""

    url: tuple[str, str, str]
    keys: tuple[str, ...] = ()
    connection: Any = None  # redis-py's, taken from the client's pool while the answer is pending
    values: list[bytes | None] | None = None
    error: redis.RedisError | None = None  # a timeout is not waited for twice: the view gets it at once

    def send(self) -> None:
        self.keys = _seen.get(self.url, ())
        if not self.keys:
            return
        pool = snapshots.client().connection_pool
        try:
            self.connection = pool.get_connection()
        except redis.TimeoutError as error:
            self.error = error
            return
        except redis.RedisError:
            return  # the view reads as it would have, reconnecting as the client does
        try:
            self.connection.send_command("MGET", *self.keys)
        except redis.RedisError as error:
            self._give_back(broken=True)
            if isinstance(error, redis.TimeoutError):
                self.error = error

    def take(self, keys: list[str]) -> list[bytes | None] | None:
        """The values of ``keys`` as the prefetch read them; None when it did not read them all, or lost its
        connection (the view then reads as it would have, reconnecting as the client does). A timeout is raised."""
        if not set(keys) <= set(self.keys):
            return None
        self.finish()
        if isinstance(self.error, redis.TimeoutError):
            raise self.error
        if self.values is None:
            return None
        found = dict(zip(self.keys, self.values, strict=True))
        return [found[k] for k in keys]

    def finish(self) -> None:
        """The answer read, the connection given back (a broken one closed first)."""
        if self.connection is None:
            return
        try:
            self.values = self.connection.read_response()
        except redis.RedisError as error:
            self.error = error
            self._give_back(broken=True)
        else:
            self._give_back()

    def remember(self, keys: list[str]) -> None:
        known = _seen.get(self.url, ())
        if set(keys) <= set(known):
            return
        if len(_seen) >= SEEN_MAX and self.url not in _seen:
            del _seen[next(iter(_seen))]
        _seen[self.url] = (*known, *(k for k in keys if k not in known))[-KEYS_MAX:]

    def _give_back(self, broken: bool = False) -> None:
        if broken:
            self.connection.disconnect()
        snapshots.client().connection_pool.release(self.connection)
        self.connection = None


_pending: ContextVar[Prefetch | None] = ContextVar("seamline_fragment_prefetch", default=None)


class PrefetchMiddleware:
    """Sends a request's MGET (``Prefetch``) once its view is known and before anything reads its session: placed
    before the authentication middleware, after LocaleMiddleware (the language is part of the URL's entry)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _pending.set(None)
        try:
            return self.get_response(request)
        finally:
            prefetched = _pending.get()
            if prefetched is not None:
                prefetched.finish()
            _pending.reset(token)

    def process_view(self, request: HttpRequest, *args: Any) -> None:
        prefetched = Prefetch((request.path, request.META.get("QUERY_STRING", ""), get_language()))
        prefetched.send()
        _pending.set(prefetched)


def validity(rendered: Rendered, now: float) -> tuple[float | None, list[str]]:
    """Until when the clock leaves the fragment as it is (None: forever), and the freshness it shows (its ETag's
    part): each node's state, and a stale node's age where the text quotes it."""
    until, state = math.inf, []
    for view in rendered.views:
        state.append(view.status)
        sampled_at = view.sampled_at.timestamp() if view.sampled_at else None
        if view.status == FRESH:
            interval = view.snapshot.get("interval") or view.cluster.sample_interval
            until = min(until, sampled_at + STALE_AFTER_INTERVALS * interval)
        elif view.status == STALE and rendered.quotes_stale_ages:
            age = int(view.age_seconds or 0)
            state.append(str(age))
            until = min(until, sampled_at + age + 1)
    if rendered.ttl is not None:
        until = min(until, now + rendered.ttl)
    return (None if until == math.inf else until), state


HTML, JSON = "text/html; charset=utf-8", "application/json; charset=utf-8"


def respond(request: HttpRequest, fragment: Fragment, content_type: str = HTML) -> HttpResponse:
    """The fragment as a response of its own (an htmx partial, or JSON), its ages filled, or a 304 when the client
    has it already."""
    if not_modified(request, fragment):
        response: HttpResponse = HttpResponseNotModified()
    else:
        markers = fragment.json_markers if content_type == JSON else fragment.html_markers
        response = HttpResponse(markers.fill(), content_type=content_type)
    return conditional(response, fragment)


def not_modified(request: HttpRequest, fragment: Fragment) -> bool:
    """Whether the client's copy (If-None-Match) is the fragment's current version."""
    if not fragment.etag:
        return False
    wanted = parse_etags(request.headers.get("If-None-Match", ""))
    return "*" in wanted or any(tag.removeprefix("W/") == f'"{fragment.etag}"' for tag in wanted)


def conditional(response: HttpResponse, fragment: Fragment) -> HttpResponse:
    """The headers of every live response: its ETag (weak: ages inside move), revalidation at every use."""
    if fragment.etag:
        response["ETag"] = f'W/"{fragment.etag}"'
    response["Cache-Control"] = "no-cache"
    response["X-Seamline-Now"] = f"{time.time():.3f}"  # the browser ticks the ages it shows against this
    patch_vary_headers(response, ("Cookie", "HX-Request"))
    return response


def page_or_partial(request: HttpRequest, fragment: Fragment, template: str, context: dict) -> HttpResponse:
    """To htmx, the fragment alone (``respond``); otherwise the whole page, the fragment in it as ``live``."""
    if getattr(request, "htmx", False):
        return respond(request, fragment)
    return render(request, template, {**context, "live": fragment.body})
