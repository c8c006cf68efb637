"""The ownership map in three formats: JSON (for scripts), Graphviz DOT and Mermaid (for documents).

Object names join the raw identifiers with dots (no quoting); ``*_parts`` carry them unambiguously. DOT and Mermaid
escape every name, since a name may hold quotes, brackets or markup.
"""

from __future__ import annotations

import json
from collections import Counter

from .models import UNOWNED, Cluster
from .paths import Edge, cross_service_edges, services_with_owned

FORMATS = ("json", "dot", "mermaid")


def build(cluster: Cluster | None = None) -> tuple[list[dict], list[Edge]]:
    ids = [cluster.pk] if cluster else None
    return services_with_owned(ids), cross_service_edges(ids)


def as_json(services: list[dict], edges: list[Edge]) -> str:
    return json.dumps({"services": services, "edges": [e.as_dict() for e in edges]}, ensure_ascii=False, indent=2)


def _pairs(edges: list[Edge]) -> dict[tuple[str, str], dict]:
    """Edges folded into one arrow per (consumer, provider), with counts per kind and whether all are declared."""
    pairs: dict[tuple[str, str], dict] = {}
    for e in edges:
        p = pairs.setdefault((e.consumer, e.provider), {"kinds": Counter(), "declared": True})
        p["kinds"][e.kind] += 1
        p["declared"] = p["declared"] and e.declared
    return pairs


def _nodes(services: list[dict], edges: list[Edge]) -> list[str]:
    names = [s["name"] for s in services]
    for e in edges:
        for n in (e.consumer, e.provider):
            if n not in names:
                names.append(n)
    return names


def _label(kinds: Counter) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))


def as_dot(services: list[dict], edges: list[Edge]) -> str:
    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    teams = {s["name"]: s["team"] for s in services}
    lines = ["digraph ownership {", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    for name in _nodes(services, edges):
        attrs = "style=dashed" if name == UNOWNED else ""
        label = f"{name}\n({teams[name]})" if teams.get(name) else name
        lines.append(f"  {q(name)} [label={q(label)}{', ' + attrs if attrs else ''}];")
    for (consumer, provider), p in sorted(_pairs(edges).items()):
        style = "solid" if p["declared"] else "dashed"
        color = "black" if p["declared"] else "red"
        lines.append(f"  {q(consumer)} -> {q(provider)} [label={q(_label(p['kinds']))}, style={style}, color={color}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def as_mermaid(services: list[dict], edges: list[Edge]) -> str:
    def q(text: str) -> str:
        # Mermaid labels: entity codes for what would end a string or start markup
        return '"' + "".join({'"': "#quot;", "<": "#lt;", ">": "#gt;", "#": "#35;"}.get(c, c) for c in text) + '"'

    ids = {name: f"n{i}" for i, name in enumerate(_nodes(services, edges))}
    lines = ["flowchart LR"]
    for name, node in ids.items():
        lines.append(f"  {node}[{q(name)}]")
    for (consumer, provider), p in sorted(_pairs(edges).items()):
        arrow = "-->" if p["declared"] else "-.->"
        lines.append(f"  {ids[consumer]} {arrow}|{q(_label(p['kinds']))}| {ids[provider]}")
    undeclared = [i for i, p in enumerate(sorted(_pairs(edges).items())) if not p[1]["declared"]]
    if undeclared:
        lines.append(f"  linkStyle {','.join(map(str, undeclared))} stroke:#c62828")
    return "\n".join(lines) + "\n"


def render(fmt: str, cluster: Cluster | None = None) -> str:
    services, edges = build(cluster)
    return {"json": as_json, "dot": as_dot, "mermaid": as_mermaid}[fmt](services, edges)
