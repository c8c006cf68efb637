"""Pool and replication history as series for charts and the API: a service's connections on one node by state, and
a replica's replay lag (dashboard.figures draws them).

Samples are averaged into time buckets (PostgreSQL's date_bin) sized so that every window reads and draws a bounded
number of points: 1 h in 15 s buckets, 6 h in 1 min, 24 h in 5 min, 7 d in 30 min. A bucket in which the node was
not sampled (unreachable, or sampling stopped) is a gap in the chart, not a zero.

Windows whose buckets are whole multiples of the rollups' 5 minutes (24 h and 7 d) read the rollups, one row per
series and 5 minutes whatever the sampling interval: the 7-day chart of a service reads at most 2 × 2,022 rows. The
others read the samples. Either way a query reads one series through its primary key (cluster, node[, service],
time) in the partitions of the window's days only; the window starts at a whole bucket, so that both sources
aggregate exactly the same samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, DateTimeField, ExpressionWrapper, F, FloatField, Func, Max, QuerySet, Sum, Value
from django.db.models.functions import NullIf
from django.utils import timezone

from catalog.models import Cluster

from .models import NodeRollup, NodeSample, ReplicaRollup, ReplicaSample, ServiceRollup, ServiceSample
from .rollups import BUCKET as ROLLUP_BUCKET
from .rollups import ORIGIN
from .states import STATES

WINDOWS = {
    "1h": (timedelta(hours=1), timedelta(seconds=15)),
    "6h": (timedelta(hours=6), timedelta(minutes=1)),
    "24h": (timedelta(hours=24), timedelta(minutes=5)),
    "7d": (timedelta(days=7), timedelta(minutes=30)),
}
DEFAULT_WINDOW = "1h"


def window_of(value: str | None) -> str:
    """A window named in a request, or the default one when it names none of WINDOWS."""
    return value if value in WINDOWS else DEFAULT_WINDOW


def reads_rollups(window: str) -> bool:
    """Whether a window is read from the 5-minute rollups (its buckets are whole multiples of theirs)."""
    return WINDOWS[window][1] % ROLLUP_BUCKET == timedelta(0)


def _grid(start: datetime, span: timedelta, bucket: timedelta) -> list[datetime]:
    """Every bucket of the window, whether sampled or not (a bucket starts at a whole multiple of its size)."""
    first = start - (start - ORIGIN) % bucket
    return [first + i * bucket for i in range(int(span / bucket) + 1)]


class DateBin(Func):
    function = "date_bin"
    output_field = DateTimeField()


@dataclass(frozen=True)
class Series:
    buckets: list[datetime]
    by_state: dict[str, list[float | None]]  # state -> average sessions per bucket (None: not sampled)


def _binned(rows: QuerySet, time: str, grid: list[datetime], bucket: timedelta, *by: str) -> QuerySet:
    """``rows`` within the window's buckets, grouped by bucket (as ``bin``) and by the columns ``by``."""
    return (
        rows.filter(**{f"{time}__gte": grid[0], f"{time}__lt": grid[-1] + bucket})
        .annotate(bin=DateBin(Value(bucket), F(time), Value(ORIGIN)))
        .values(*by, "bin")
    )


def service_series(
    cluster: Cluster, node: str, service: str, window: str, now: datetime | None = None, rollups: bool | None = None
) -> Series:
    """Average sessions per state in each bucket of the window; two queries, bounded by the bucket count.
    ``rollups`` forces the source (the samples, or their rollups) that the window would otherwise choose."""
    span, bucket = WINDOWS[window]
    grid = _grid((now or timezone.now()) - span, span, bucket)
    if reads_rollups(window) if rollups is None else rollups:
        nodes, services, time, count = NodeRollup.objects, ServiceRollup.objects, "bucket", Sum("reachable")
    else:
        nodes, services = NodeSample.objects.filter(reachable=True), ServiceSample.objects
        time, count = "sampled_at", Count("*")
    samples = dict(
        _binned(nodes.filter(cluster=cluster, node=node), time, grid, bucket).annotate(n=count).values_list("bin", "n")
    )
    sums = {
        row["bin"]: row
        for row in _binned(services.filter(cluster=cluster, node=node, service=service), time, grid, bucket).annotate(
            **{s: Sum(s) for s in STATES}
        )
    }
    by_state: dict[str, list[float | None]] = {s: [] for s in STATES}
    for b in grid:
        n = samples.get(b)
        for s in STATES:
            by_state[s].append(None if not n else round((sums.get(b, {}).get(s) or 0) / n, 2))
    return Series(grid, by_state)


def replica_series(
    cluster: Cluster, replica: str, window: str, now: datetime | None = None, rollups: bool | None = None
) -> tuple[list[datetime], list[float | None], list[float | None]]:
    """A replica's replay lag per bucket: the worst seconds and the average bytes (None where not sampled)."""
    span, bucket = WINDOWS[window]
    grid = _grid((now or timezone.now()) - span, span, bucket)
    if reads_rollups(window) if rollups is None else rollups:
        rows, time = ReplicaRollup.objects, "bucket"
        seconds = Max("replay_lag_seconds_max")
        # numeric division, as avg() itself divides: both sources give the same figure
        size = Sum("replay_lag_bytes_sum") / NullIf(Sum("replay_lag_bytes_samples"), 0)
    else:
        rows, time = ReplicaSample.objects, "sampled_at"
        seconds = Max("replay_lag_seconds")
        size = Sum("replay_lag_bytes") / NullIf(Count("replay_lag_bytes"), 0)
    by_bin = {
        row["bin"]: row
        for row in _binned(rows.filter(cluster=cluster, node=replica), time, grid, bucket).annotate(
            seconds=seconds, size=ExpressionWrapper(size, output_field=FloatField())
        )
    }
    lag_seconds = [None if by_bin.get(b, {}).get("seconds") is None else round(by_bin[b]["seconds"], 2) for b in grid]
    lag_bytes = [None if by_bin.get(b, {}).get("size") is None else round(by_bin[b]["size"]) for b in grid]
    return grid, lag_seconds, lag_bytes


def horizon_series(
    cluster: Cluster, window: str, now: datetime | None = None, rollups: bool | None = None
) -> tuple[list[datetime], dict[str, tuple[list[float | None], list[float | None]]]]:
    """Per node, how far its vacuum horizon was held back per bucket (the worst of the bucket): in transactions and
    in seconds (None where not sampled, or nothing held it)."""
    span, bucket = WINDOWS[window]
    grid = _grid((now or timezone.now()) - span, span, bucket)
    if reads_rollups(window) if rollups is None else rollups:
        rows, time = NodeRollup.objects, "bucket"
        xids, seconds = Max("horizon_xmin_age_max"), Max("horizon_seconds_max")
    else:
        rows, time = NodeSample.objects, "sampled_at"
        xids, seconds = Max("horizon_xmin_age"), Max("horizon_seconds")
    found: dict[str, dict[datetime, dict]] = {}
    for row in _binned(rows.filter(cluster=cluster), time, grid, bucket, "node").annotate(xids=xids, seconds=seconds):
        found.setdefault(row["node"], {})[row["bin"]] = row
    series = {}
    for node, by_bin in sorted(found.items()):
        series[node] = (
            [by_bin.get(b, {}).get("xids") for b in grid],
            [None if by_bin.get(b, {}).get("seconds") is None else round(by_bin[b]["seconds"], 1) for b in grid],
        )
    return grid, series
