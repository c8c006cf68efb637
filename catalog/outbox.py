"""Whether an outbox table is drained: judged from its row counts across the slow samples (catalog.models.
OutboxSample, written by dashboard.outbox), never from its rows.

A relay that works keeps an outbox near empty: rows come and go between samples. One that stopped leaves every row
there, so the live-row count only grows. ``judge`` says "not drained" when, over the last ``WINDOW``, at least
``MIN_SAMPLES`` samples never saw the count fall and the last saw it higher than the first.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from .models import EventPublication, OutboxSample, Service

WINDOW = timedelta(hours=1)
MIN_SAMPLES = 3
KEEP_DAYS = 7


@dataclass(frozen=True)
class Verdict:
    database: str
    schema: str
    table: str
    topics: tuple[str, ...]
    publisher: str
    subscribers: tuple[str, ...]
    samples: int  # in the window
    first_rows: int | None
    last_rows: int | None
    since: datetime | None  # the first sample of the window
    drained: bool | None  # None: too few samples to say

    @property
    def parts(self) -> tuple[str, str, str]:
        return (self.database, self.schema, self.table)


def judge(counts: list[int]) -> bool | None:
    """Live-row counts, oldest first -> drained (True), not drained (False), or unknown (None)."""
    if len(counts) < MIN_SAMPLES:
        return None
    grows = all(b >= a for a, b in zip(counts, counts[1:], strict=False)) and counts[-1] > counts[0]
    return not grows


def verdicts(cluster_id: int, now: datetime | None = None) -> list[Verdict]:
    """Every outbox table declared on the cluster, judged: three queries."""
    now = now or timezone.now()
    tables: dict[tuple[str, str, str], list[EventPublication]] = defaultdict(list)
    for e in EventPublication.objects.filter(cluster_id=cluster_id).select_related("service"):
        tables[(e.database, e.schema, e.table)].append(e)
    if not tables:
        return []
    subscribers = Service.objects.subscribers({e.topic for found in tables.values() for e in found})
    counts: dict[tuple[str, str, str], list[tuple[datetime, int]]] = defaultdict(list)
    for database, schema, table, at, rows in (
        OutboxSample.objects.filter(cluster_id=cluster_id, sampled_at__gte=now - WINDOW)
        .order_by("sampled_at")
        .values_list("database", "schema", "table", "sampled_at", "live_rows")
    ):
        counts[(database, schema, table)].append((at, rows))
    out = []
    for key, found in sorted(tables.items()):
        seen = counts.get(key, [])
        names = tuple(sorted({e.topic for e in found}))
        out.append(
            Verdict(
                *key,
                topics=names,
                publisher=found[0].service.name,
                subscribers=tuple(
                    sorted(set().union(*(subscribers.get(t, ()) for t in names)) - {found[0].service.name})
                ),
                samples=len(seen),
                first_rows=seen[0][1] if seen else None,
                last_rows=seen[-1][1] if seen else None,
                since=seen[0][0] if seen else None,
                drained=judge([rows for _, rows in seen]),
            )
        )
    return out
