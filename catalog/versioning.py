"""The catalog's version: moved in the same transaction as any change the cross-service paths depend on, read with
one cheap query, so a web process recomputes the paths only when they may have changed.

``changed`` is sent once such a change (or any other the live pages show: a cluster's thresholds or replicas, a run
that finished) is committed; the live side listens to it to outdate what it rendered before (catalog never imports
dashboard: it only announces)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.db.models import F
from django.db.models.expressions import RawSQL
from django.dispatch import Signal

from .models import CatalogState

changed = Signal()

# What ran, as another part observes it (the live side's statements samples, dashboard.statements): each function
# returns a version of what it observed, which moves when that does. Memos that show run-time paths add it to their
# key (``memoized(..., observed=True)``); the catalog itself knows no statements.
OBSERVED: list[Callable[[], str]] = []

_memo: OrderedDict[tuple, Any] = OrderedDict()
_lock = threading.Lock()
MEMO_SIZE = 64  # a few clusters' worth of filters, and the ownership map's recent views, per process


def bump() -> None:
    if not CatalogState.objects.filter(pk=1).update(version=F("version") + 1):
        CatalogState.objects.get_or_create(pk=1)
    announce()


def announce() -> None:
    """Send ``changed`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: changed.send(sender=CatalogState))


_pinned = threading.local()


def current() -> str:
    """The catalog's version and the transaction that wrote it (its row's xmin): the number alone can come back for
    another catalog (a change rolled back and another committed, a test's tables flushed); the pair never does."""
    version = getattr(_pinned, "version", None)
    if version is not None:
        return version
    row = (
        CatalogState.objects.filter(pk=1)
        .annotate(writer=RawSQL("xmin::text", ()))
        .values_list("version", "writer")
        .first()
    )
    return f"{row[0]}:{row[1]}" if row else "0"


def observed_version() -> str:
    """The version of what ran (see OBSERVED), read once per pinned block too; "" when nothing observes."""
    version = getattr(_pinned, "observed", None)
    if version is not None:
        return version
    return "/".join(read() for read in OBSERVED)


@contextmanager
def pinned() -> Iterator[str]:
    """Within the block, the version is read once: every ``memoized`` in it (a page's several, and those their
    computations call) uses that one read. The observed version is read once too, when first asked."""
    outer, outer_observed = getattr(_pinned, "version", None), getattr(_pinned, "observed", None)
    _pinned.version = current()
    _pinned.observed = None
    try:
        yield _pinned.version
    finally:
        _pinned.version, _pinned.observed = outer, outer_observed


def memoized(name: str, args: tuple, compute: Callable[[], Any], observed: bool = False) -> Any:
    """compute(), kept per process until the catalog's version moves (and, ``observed``, what ran: see OBSERVED)."""
    seen = ""
    if observed:
        seen = observed_version()
        if getattr(_pinned, "version", None) is not None:
            _pinned.observed = seen
    key = (current(), seen, name, args)
    with _lock:
        if key in _memo:
            _memo.move_to_end(key)
            return _memo[key]
    value = compute()
    with _lock:
        _memo[key] = value
        while len(_memo) > MEMO_SIZE:
            _memo.popitem(last=False)
    return value
