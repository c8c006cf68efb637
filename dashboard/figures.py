"""The live side's plotly figures, as JSON-ready dicts for the views that serve them (pages render empty containers,
a JSON view returns the figure): a service's sessions by state with its budget, and a replica's replay lag."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import plotly.graph_objects as go
from django.utils.html import escape
from django.utils.translation import gettext as _

from . import states
from .history import Series

STATE_COLOURS = {
    "active": "#2f7d32",
    "idle": "#9aa5b1",
    "idle_in_transaction": "#e0a100",
    "idle_in_transaction_aborted": "#c2410c",
    "waiting": "#b91c1c",
}


def service_sessions(series: Series, budget: int | None, title: str) -> dict[str, Any]:
    """Average sessions per bucket by state, stacked, with the service's budget as a line (when it has one)."""
    x = [b.isoformat() for b in series.buckets]
    labels = states.labels()
    fig = go.Figure()
    for state, values in series.by_state.items():
        fig.add_trace(
            go.Scatter(
                x=x,
                y=values,
                name=labels[state],
                mode="lines",
                stackgroup="sessions",
                line={"width": 0.5, "color": STATE_COLOURS[state]},
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


def replica_lag(
    buckets: list[datetime], seconds: list[float | None], size: list[float | None], title: str
) -> dict[str, Any]:
    """A replica's replay lag per bucket, in seconds and in bytes (two axes)."""
    x = [b.isoformat() for b in buckets]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=seconds, name=_("replay lag (s)"), mode="lines", line={"color": "#b91c1c"}))
    fig.add_trace(
        go.Scatter(x=x, y=size, name=_("replay lag (bytes)"), mode="lines", yaxis="y2", line={"color": "#2454d6"})
    )
    return _seconds_and(fig, title, _("bytes"))


def _seconds_and(fig: go.Figure, title: str, second_axis: str) -> dict[str, Any]:
    """A figure of seconds (first axis) and another quantity (second axis, on the right), laid out alike."""
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        margin={"l": 50, "r": 60, "t": 40, "b": 30},
        height=260,
        legend={"orientation": "h", "y": -0.2},
        yaxis={"title": _("seconds"), "rangemode": "tozero"},
        yaxis2={"title": second_axis, "overlaying": "y", "side": "right", "rangemode": "tozero"},
        hovermode="x unified",
    )
    return fig.to_plotly_json()


def horizon(buckets: list[datetime], series: dict[str, tuple[list, list]], title: str) -> dict[str, Any]:
    """How far each node's vacuum horizon was held back per bucket: in seconds (solid) and transactions (dotted,
    second axis)."""
    x = [b.isoformat() for b in buckets]
    fig = go.Figure()
    for node, (xids, seconds) in series.items():
        name = escape(node)  # plotly reads tags in names
        fig.add_trace(go.Scatter(x=x, y=seconds, name=_("%(node)s, held for (s)") % {"node": name}, mode="lines"))
        fig.add_trace(
            go.Scatter(
                x=x,
                y=xids,
                name=_("%(node)s, transactions") % {"node": name},
                mode="lines",
                yaxis="y2",
                line={"dash": "dot"},
            )
        )
    return _seconds_and(fig, title, _("transactions"))


def stacked_time(buckets: list[datetime], series: dict[str, list[float | None]], title: str) -> dict[str, Any]:
    """Database time per bucket (seconds), stacked by service or team; "" is the statements no service runs alone."""
    x = [b.isoformat() for b in buckets]
    fig = go.Figure()
    for name, values in series.items():
        label = escape(name) if name else _("unattributed or shared")  # plotly reads tags in names
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[None if v is None else v / 1000 for v in values],
                name=label,
                mode="lines",
                stackgroup="time",
                line={"width": 0.5},
                hovertemplate="%{y:.2f} s<extra>" + label + "</extra>",
            )
        )
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        margin={"l": 50, "r": 10, "t": 40, "b": 30},
        height=300,
        legend={"orientation": "h", "y": -0.15},
        yaxis={"title": _("execution time (s)"), "rangemode": "tozero"},
        hovermode="x unified",
    )
    return fig.to_plotly_json()


def statement(buckets: list[datetime], calls: list[int], mean: list[float | None]) -> dict[str, Any]:
    """A statement's calls (bars) and mean time (line, second axis) per bucket."""
    x = [b.isoformat() for b in buckets]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=x, y=calls, name=_("calls"), marker={"color": "#9aa5b1"}))
    fig.add_trace(
        go.Scatter(x=x, y=mean, name=_("mean time (ms)"), mode="lines", yaxis="y2", line={"color": "#2454d6"})
    )
    fig.update_layout(
        margin={"l": 50, "r": 60, "t": 20, "b": 30},
        height=260,
        legend={"orientation": "h", "y": -0.2},
        yaxis={"title": _("calls"), "rangemode": "tozero"},
        yaxis2={"title": _("ms"), "overlaying": "y", "side": "right", "rangemode": "tozero"},
        hovermode="x unified",
    )
    return fig.to_plotly_json()
