"""The ownership side's plotly figures, as JSON-ready dicts for the views that serve them (pages render empty
containers, a JSON view returns the figure): the service dependency graph and the consumer x provider matrix of the
ownership map, and findings by severity over audit runs."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime

import networkx as nx
import plotly.graph_objects as go
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import UNOWNED, Severity
from .paths import Edge

DECLARED, UNDECLARED = "#2454d6", "#c62828"
SEVERITY_COLOURS = {"critical": "#991b1b", "high": "#dc2626", "medium": "#e0a100", "low": "#9aa5b1"}


def label(name: str) -> str:
    """A service name as shown: the marker for relations no service owns is translated, names are not."""
    return _("(unowned)") if name == UNOWNED else name


def _as_json(fig: go.Figure) -> dict:
    return json.loads(fig.to_json())


def ownership_graph(edges: list[Edge], teams: dict[str, str]) -> dict:
    pairs: dict[tuple[str, str], list[Edge]] = {}
    for e in edges:
        pairs.setdefault((e.consumer, e.provider), []).append(e)
    graph = nx.DiGraph()
    graph.add_nodes_from(sorted({n for pair in pairs for n in pair}))
    graph.add_edges_from(pairs)
    # a fixed seed keeps the picture still between refreshes
    pos = nx.spring_layout(graph, seed=7, k=1.2) if graph.number_of_nodes() else {}
    fig = go.Figure()
    arrows = []
    for (consumer, provider), group in sorted(pairs.items()):
        declared = all(e.declared for e in group)
        (x0, y0), (x1, y1) = pos[consumer], pos[provider]
        kinds = Counter(e.kind for e in group)
        # plain dicts, set once: add_annotation revalidates every earlier one and turns quadratic
        arrows.append(
            {
                "x": x1,
                "y": y1,
                "ax": x0,
                "ay": y0,
                "xref": "x",
                "yref": "y",
                "axref": "x",
                "ayref": "y",
                "showarrow": True,
                "arrowhead": 3,
                "arrowsize": 1,
                "arrowwidth": min(1 + len(group), 8),
                "arrowcolor": DECLARED if declared else UNDECLARED,
                "standoff": 14,
                "startstandoff": 14,
                "opacity": 0.75,
                "hovertext": f"{consumer} → {provider}: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())),
            }
        )
    names = list(graph.nodes)
    no_team = _("no team")
    fig.add_trace(
        go.Scatter(
            x=[pos[n][0] for n in names],
            y=[pos[n][1] for n in names],
            mode="markers+text",
            text=[label(n) for n in names],
            textposition="top center",
            hovertext=[f"{label(n)} ({teams.get(n) or no_team})" for n in names],
            hoverinfo="text",
            marker={
                "size": 22,
                "color": ["#9aa5b8" if n == UNOWNED else "#18202e" for n in names],
                "line": {"width": 0},
            },
        )
    )
    fig.update_layout(
        annotations=arrows,
        showlegend=False,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        height=520,
        plot_bgcolor="white",
        xaxis={"visible": False},
        yaxis={"visible": False},
    )
    return _as_json(fig)


def ownership_matrix(edges: list[Edge]) -> dict:
    consumers = sorted({e.consumer for e in edges})
    providers = sorted({e.provider for e in edges})
    counts = Counter((e.consumer, e.provider) for e in edges)
    undeclared = Counter((e.consumer, e.provider) for e in edges if not e.declared)
    z = [[counts[(c, p)] or None for p in providers] for c in consumers]
    hover = [
        [
            _("%(consumer)s reads %(provider)s: %(count)s paths, %(undeclared)s undeclared")
            % {
                "consumer": label(c),
                "provider": label(p),
                "count": counts[(c, p)],
                "undeclared": undeclared[(c, p)],
            }
            for p in providers
        ]
        for c in consumers
    ]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[label(p) for p in providers],
            y=[label(c) for c in consumers],
            hovertext=hover,
            hoverinfo="text",
            colorscale="Blues",
            showscale=False,
            text=[[str(v) if v else "" for v in row] for row in z],
            texttemplate="%{text}",
        )
    )
    fig.update_layout(
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        height=120 + 40 * max(len(consumers), 1),
        plot_bgcolor="white",
        xaxis={"title": {"text": _("provider")}, "side": "top"},
        yaxis={"title": {"text": _("consumer")}, "autorange": "reversed"},
    )
    return _as_json(fig)


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
