"""The latest snapshot of each node, in Redis: what every page and command reads instead of the monitored server.

A snapshot is one JSON document per node (``dashboard.sampling`` writes it), plus the full query texts of the
sessions it lists under a key of their own, read only for users allowed to see them. Redis answers within a short
timeout or the reader raises LiveDataUnavailable: a page then says so, and renders everything else.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from functools import cache
from typing import Any

import redis
from django.conf import settings

# How often an open live page asks for its partial again: the default sampling interval, so each poll may show a sample.
REFRESH_SECONDS = 5

# Kept long after the node stopped being sampled: an old snapshot is shown as stale (with its age), never dropped to
# look like an empty node.
TTL_SECONDS = 7 * 24 * 3600


class LiveDataUnavailable(Exception):
    """Redis cannot be reached or did not answer in time."""


def or_unavailable[T](read: Callable[[], T], fallback: T) -> tuple[T, bool]:
    """What ``read`` returns, and False; or ``fallback``, and True when Redis cannot be reached: a page then says
    that its live data is unavailable and renders everything else."""
    try:
        return read(), False
    except LiveDataUnavailable:
        return fallback, True


@cache
def client() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=settings.LIVE_REDIS_TIMEOUT,
        socket_timeout=settings.LIVE_REDIS_TIMEOUT,
    )


def key(cluster_id: int, node: str, part: str = "snapshot") -> str:
    return f"seamline:pools:{cluster_id}:{node}:{part}"


# Version counters, moved with every snapshot written (the whole fleet's, and its cluster's) and every change of the
# catalog that live pages show: a page rendered from them once (dashboard.fragments) is current while they stand.
LIVE_VERSION = "seamline:live:version"
CATALOG_VERSION = "seamline:live:catalog"


def live_version_key(cluster_id: int | None = None) -> str:
    """The counter of every snapshot (None), or of one cluster's."""
    return LIVE_VERSION if cluster_id is None else f"{LIVE_VERSION}:{cluster_id}"


def write(cluster_id: int, node: str, snapshot: dict[str, Any], queries: dict[int, str]) -> None:
    try:
        pipe = client().pipeline(transaction=True)
        pipe.set(key(cluster_id, node), json.dumps(snapshot), ex=TTL_SECONDS)
        pipe.set(key(cluster_id, node, "queries"), json.dumps(queries), ex=TTL_SECONDS)
        pipe.incr(live_version_key())
        pipe.incr(live_version_key(cluster_id))
        pipe.execute()
    except redis.RedisError as exc:
        raise LiveDataUnavailable(str(exc)) from exc


def catalog_changed(**kwargs: Any) -> None:
    """A change live pages show was committed to the catalog (catalog.versioning.changed): what they rendered before
    it is not current any more. Without Redis there is nothing rendered to outdate."""
    with contextlib.suppress(redis.RedisError):
        client().incr(CATALOG_VERSION)


def read(cluster_id: int, node: str) -> dict[str, Any] | None:
    return read_many([(cluster_id, node)])[(cluster_id, node)]


def read_many(nodes: list[tuple[int, str]]) -> dict[tuple[int, str], dict[str, Any] | None]:
    """The snapshots of many nodes in one round trip; None for a node never sampled."""
    if not nodes:
        return {}
    try:
        values = client().mget([key(cluster_id, node) for cluster_id, node in nodes])
    except redis.RedisError as exc:
        raise LiveDataUnavailable(str(exc)) from exc
    return {n: (json.loads(v) if v is not None else None) for n, v in zip(nodes, values, strict=True)}


def read_queries(cluster_id: int, node: str) -> dict[int, str]:
    """Full query texts by pid, of the sessions the node's snapshot lists."""
    try:
        value = client().get(key(cluster_id, node, "queries"))
    except redis.RedisError as exc:
        raise LiveDataUnavailable(str(exc)) from exc
    return {int(pid): text for pid, text in json.loads(value).items()} if value else {}


# The dispatcher runs once a second: a claim held for the whole interval would sometimes still stand when the tick
# that should take it arrives, a few milliseconds early, and the node would wait one more second (a 5 s interval
# sampled every 5.5 s on average). Held half a second less, it is due on the tick.
CLAIM_MARGIN_MS = 500


def due(nodes: list[tuple[int, str]], what: str = "due") -> list[bool]:
    """Whether each node's claim has lapsed (it is due for a sample), in one round trip. ``what``: which sample
    ("due": the sessions', "statements-due": the statements')."""
    if not nodes:
        return []
    try:
        return [not held for held in client().mget([key(cluster_id, node, what) for cluster_id, node in nodes])]
    except redis.RedisError as exc:
        raise LiveDataUnavailable(str(exc)) from exc


def claim(nodes: list[tuple[int, str, int]], what: str = "due") -> list[bool]:
    """Claim each (cluster, node, interval) for its interval, in one round trip: True for the claims this call got.
    A node is claimed once per interval whoever asks, so two dispatchers never double a sample."""
    if not nodes:
        return []
    try:
        with client().pipeline(transaction=False) as pipe:
            for cluster_id, node, seconds in nodes:
                hold = max(int(seconds * 1000) - CLAIM_MARGIN_MS, CLAIM_MARGIN_MS)
                pipe.set(key(cluster_id, node, what), b"1", nx=True, px=hold)
            return [bool(got) for got in pipe.execute()]
    except redis.RedisError as exc:
        raise LiveDataUnavailable(str(exc)) from exc
