"""Pool history as plotly figures: a service's connections on one node by state, stacked, with its budget.

Samples are averaged into time buckets (PostgreSQL's date_bin) sized so that every window reads and draws a bounded
number of points: 1 h in 15 s buckets, 6 h in 1 min, 24 h in 5 min, 7 d in 30 min. A bucket in which the node was
not sampled (unreachable, or sampling stopped) is a gap in the chart, not a zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import plotly.graph_objects as go
from django.db.models import Avg, Count, DateTimeField, F, Func, Max, Sum, Value
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog.models import Cluster

from .models import NodeSample, ReplicaSample, ServiceSample

WINDOWS = {
    "1h": (timedelta(hours=1), timedelta(seconds=15)),
    "6h": (timedelta(hours=6), timedelta(minutes=1)),
    "24h": (timedelta(hours=24), timedelta(minutes=5)),
    "7d": (timedelta(days=7), timedelta(minutes=30)),
}
DEFAULT_WINDOW = "1h"
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)  # buckets start at whole multiples of their size since then


def window_of(value: str | None) -> str:
    """A window named in a request, or the default one when it names none of WINDOWS."""
    return value if value in WINDOWS else DEFAULT_WINDOW


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


def _bin(bucket: timedelta) -> DateBin:
    return DateBin(Value(bucket), F("sampled_at"), Value(ORIGIN))


def service_series(cluster: Cluster, node: str, service: str, window: str, now: datetime | None = None) -> Series:
    """Average sessions per state in each bucket of the window; two queries, bounded by the bucket count."""
    span, bucket = WINDOWS[window]
    now = now or timezone.now()
    start = now - span
    samples = dict(
        NodeSample.objects.filter(cluster=cluster, node=node, sampled_at__gte=start, reachable=True)
        .annotate(bucket=_bin(bucket))
        .values("bucket")
        .annotate(n=Count("id"))
        .values_list("bucket", "n")
    )
    states = ("active", "idle", "idle_in_transaction", "idle_in_transaction_aborted", "waiting")
    sums = {
        row["bucket"]: row
        for row in ServiceSample.objects.filter(cluster=cluster, node=node, service=service, sampled_at__gte=start)
        .annotate(bucket=_bin(bucket))
        .values("bucket")
        .annotate(**{s: Sum(s) for s in states})
    }
    buckets = _grid(start, span, bucket)
    by_state: dict[str, list[float | None]] = {s: [] for s in states}
    for b in buckets:
        n = samples.get(b)
        for s in states:
            by_state[s].append(None if not n else round((sums.get(b, {}).get(s) or 0) / n, 2))
    return Series(buckets, by_state)


STATE_LABELS = {
    "active": gettext_lazy("active"),
    "idle": gettext_lazy("idle"),
    "idle_in_transaction": gettext_lazy("idle in transaction"),
    "idle_in_transaction_aborted": gettext_lazy("idle in transaction (aborted)"),
    "waiting": gettext_lazy("waiting on a lock"),
}


def state_labels() -> dict[str, str]:
    return {state: str(label) for state, label in STATE_LABELS.items()}


COLOURS = {
    "active": "#2f7d32",
    "idle": "#9aa5b1",
    "idle_in_transaction": "#e0a100",
    "idle_in_transaction_aborted": "#c2410c",
    "waiting": "#b91c1c",
}


def service_figure(series: Series, budget: int | None, title: str) -> dict[str, Any]:
    x = [b.isoformat() for b in series.buckets]
    labels = state_labels()
    fig = go.Figure()
    for state, values in series.by_state.items():
        fig.add_trace(
            go.Scatter(
                x=x,
                y=values,
                name=labels[state],
                mode="lines",
                stackgroup="sessions",
                line={"width": 0.5, "color": COLOURS[state]},
                hovertemplate="%{y:.1f}<extra>" + labels[state] + "</extra>",
            )
        )
    if budget:
        fig.add_trace(
            go.Scatter(
                x=[x[0], x[-1]],
                y=[budget, budget],
                name=_("budget"),
                mode="lines",
                line={"color": "#111827", "dash": "dash", "width": 1.5},
            )
        )
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        margin={"l": 40, "r": 10, "t": 40, "b": 30},
        height=280,
        legend={"orientation": "h", "y": -0.15},
        yaxis={"title": _("connections"), "rangemode": "tozero"},
        hovermode="x unified",
    )
    return fig.to_plotly_json()


def replica_series(
    cluster: Cluster, replica: str, window: str, now: datetime | None = None
) -> tuple[list[datetime], list[float | None], list[float | None]]:
    """A replica's replay lag per bucket: the worst seconds and the average bytes (None where not sampled)."""
    span, bucket = WINDOWS[window]
    now = now or timezone.now()
    start = now - span
    rows = {
        row["bucket"]: row
        for row in ReplicaSample.objects.filter(cluster=cluster, node=replica, sampled_at__gte=start)
        .annotate(bucket=_bin(bucket))
        .values("bucket")
        .annotate(seconds=Max("replay_lag_seconds"), size=Avg("replay_lag_bytes"))
    }
    buckets = _grid(start, span, bucket)
    seconds = [None if b not in rows or rows[b]["seconds"] is None else round(rows[b]["seconds"], 2) for b in buckets]
    size = [None if b not in rows or rows[b]["size"] is None else round(rows[b]["size"]) for b in buckets]
    return buckets, seconds, size
