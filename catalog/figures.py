"""The ownership side's plotly figures, as JSON-ready dicts for the views that serve them (pages render empty
containers, a JSON view returns the figure): findings by severity over audit runs. (The ownership map is drawn by
Graphviz: catalog.map_layout.)"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import plotly.graph_objects as go
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import OUTSIDE, UNOWNED, Severity

SEVERITY_COLOURS = {"critical": "#991b1b", "high": "#dc2626", "medium": "#e0a100", "low": "#9aa5b1"}


def label(name: str) -> str:
    """A service name as shown: the markers for relations no service owns and for servers or relations the catalog
    does not hold are translated, names are not."""
    if name == UNOWNED:
        return _("(unowned)")
    return _("(outside the catalog)") if name == OUTSIDE else name


def findings_by_severity(times: Iterable[datetime], counts: Iterable[Mapping[str, int]], title: str) -> dict:
    """Stacked bars, one a run (evenly spaced, labelled with its time), worst severity on top."""
    x = [timezone.localtime(t).strftime("%m-%d %H:%M:%S") for t in times]
    counts = list(counts)
    fig = go.Figure()
    for severity in reversed(Severity):
        fig.add_trace(
            go.Bar(
                x=x,
                y=[c.get(severity.value, 0) for c in counts],
                name=str(severity.label),
                marker_color=SEVERITY_COLOURS[severity.value],
            )
        )
    fig.update_layout(
        barmode="stack",
        title={"text": title, "font": {"size": 14}},
        height=260,
        margin={"l": 40, "r": 10, "t": 40, "b": 30},
        legend={"orientation": "h", "y": -0.2},
        yaxis={"title": _("findings"), "rangemode": "tozero"},
        xaxis={"type": "category", "title": _("run")},
    )
    return fig.to_plotly_json()
