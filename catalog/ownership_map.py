"""The ownership map's downloads in three formats: JSON (for scripts), Graphviz DOT and Mermaid (for documents), of
any view (catalog.map_view): the whole service graph, teams, or a service's neighbourhood.

JSON is the team document (``{"nodes": [{"name", "services", "internal"}], "edges": [{"consumer", "provider",
"count", "declared", "undeclared"}]}``) when a node stands for a team, and otherwise the service document
(``{"services": [...], "edges": [every path]}``). Object names join the raw identifiers with dots (no quoting);
``*_parts`` carry them unambiguously. DOT and Mermaid escape every name, since a name may hold quotes, brackets or
markup. Both draw one arrow per kind of path between two nodes, in that kind's style (catalog.map_view.STYLES), its
colour saying whether contracts cover its paths (blue: all, red: not all, purple: it closes a cycle). The team
document still counts each pair of nodes once, every kind together.
"""

from __future__ import annotations

import json

from .map_view import SERVICE, TEAM, Arrow, Node, Query, View, view

FORMATS = ("json", "dot", "mermaid")


def _label(arrow: Arrow) -> str:
    return f"{arrow.count} {arrow.kind}"


def _node_label(node: Node) -> str:
    if node.kind == TEAM:
        return f"{node.name}\n({len(node.services)} services)"
    if node.kind == SERVICE and node.team:
        return f"{node.name}\n({node.team})"
    return node.name


def as_json(shown: View) -> str:
    return json.dumps(shown.document(), ensure_ascii=False, indent=2)


def as_dot(shown: View) -> str:
    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines = ["digraph ownership {", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    for node in shown.nodes:
        attrs = ", style=dashed" if node.kind == "unowned" else ""
        lines.append(f"  {q(node.name)} [label={q(_node_label(node))}{attrs}];")
    for a in shown.arrows:
        attrs = f"label={q(_label(a))}, style={a.style.dot_style}, arrowhead={a.style.arrowhead}, color={q(a.colour)}"
        if a.closes_cycle:
            attrs += ", constraint=false"
        lines.append(f"  {q(a.consumer.name)} -> {q(a.provider.name)} [{attrs}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def as_mermaid(shown: View) -> str:
    def q(text: str) -> str:
        # Mermaid labels: entity codes for what would end a string or start markup
        return '"' + "".join({'"': "#quot;", "<": "#lt;", ">": "#gt;", "#": "#35;"}.get(c, c) for c in text) + '"'

    ids = {node.key: f"n{i}" for i, node in enumerate(shown.nodes)}
    lines = ["flowchart LR"]
    for node in shown.nodes:
        text = f"{node.name} ({len(node.services)} services)" if node.kind == TEAM else node.name
        lines.append(f"  {ids[node.key]}[{q(text)}]")
    looks: dict[str, list[int]] = {}  # a link's style -> the links (numbered in order) that have it
    for i, a in enumerate(shown.arrows):
        lines.append(f"  {ids[a.consumer.key]} {a.style.mermaid_arrow}|{q(_label(a))}| {ids[a.provider.key]}")
        look = f"stroke:{a.colour}" + (f",stroke-dasharray:{a.style.dash}" if a.style.dash else "")
        looks.setdefault(look, []).append(i)
    lines += [f"  linkStyle {','.join(map(str, links))} {look}" for look, links in looks.items()]
    return "\n".join(lines) + "\n"


def render_view(fmt: str, shown: View) -> str:
    return {"json": as_json, "dot": as_dot, "mermaid": as_mermaid}[fmt](shown)


def render(fmt: str, query: Query | None = None) -> str:
    """The view ``query`` describes (default: every service and path) in ``fmt``; InvalidQuery when it names
    something the catalog does not have."""
    return render_view(fmt, view(query or Query(level=SERVICE)))
