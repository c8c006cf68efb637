"""The ownership map's downloads in three formats: JSON (for scripts), Graphviz DOT and Mermaid (for documents), of
any view (catalog.map_view): the whole service graph, teams, or a service's neighbourhood.

JSON is the team document (``{"nodes": [{"name", "services", "internal"}], "edges": [{"consumer", "provider",
"count", "declared", "undeclared"}]}``) when a node stands for a team, and otherwise the service document
(``{"services": [...], "edges": [every path]}``). Object names join the raw identifiers with dots (no quoting);
``*_parts`` carry them unambiguously. DOT and Mermaid escape every name, since a name may hold quotes, brackets or
markup.
"""

from __future__ import annotations

import json

from .map_view import SERVICE, TEAM, Arrow, Node, Query, View, view

FORMATS = ("json", "dot", "mermaid")


def _label(arrow: Arrow) -> str:
    return ", ".join(f"{n} {k}" for k, n in arrow.kinds)


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
        declared = not a.undeclared
        style, color = ("solid", "black") if declared else ("dashed", "red")
        lines.append(
            f"  {q(a.consumer.name)} -> {q(a.provider.name)} [label={q(_label(a))}, style={style}, color={color}];"
        )
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
    for a in shown.arrows:
        arrow = "-.->" if a.undeclared else "-->"
        lines.append(f"  {ids[a.consumer.key]} {arrow}|{q(_label(a))}| {ids[a.provider.key]}")
    undeclared = [i for i, a in enumerate(shown.arrows) if a.undeclared]
    if undeclared:
        lines.append(f"  linkStyle {','.join(map(str, undeclared))} stroke:#c62828")
    return "\n".join(lines) + "\n"


def render_view(fmt: str, shown: View) -> str:
    return {"json": as_json, "dot": as_dot, "mermaid": as_mermaid}[fmt](shown)


def render(fmt: str, query: Query | None = None) -> str:
    """The view ``query`` describes (default: every service and path) in ``fmt``; InvalidQuery when it names
    something the catalog does not have."""
    return render_view(fmt, view(query or Query(level=SERVICE)))
