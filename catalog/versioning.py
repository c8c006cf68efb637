"""The catalog's version: moved in the same transaction as any change the cross-service paths depend on, read with
one cheap query, so a web process recomputes the paths only when they may have changed."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from django.db.models import F

from .models import CatalogState

_memo: OrderedDict[tuple, Any] = OrderedDict()
_lock = threading.Lock()
MEMO_SIZE = 16  # a few clusters' worth of filters per process


def bump() -> None:
    if not CatalogState.objects.filter(pk=1).update(version=F("version") + 1):
        CatalogState.objects.get_or_create(pk=1)


def current() -> int:
    return CatalogState.objects.filter(pk=1).values_list("version", flat=True).first() or 0


def memoized(name: str, args: tuple, compute: Callable[[], Any]) -> Any:
    """compute(), kept per process until the catalog's version moves."""
    key = (current(), name, args)
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
