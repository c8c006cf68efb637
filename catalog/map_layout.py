"""The ownership map drawn by Graphviz ``dot``: a layered layout, consumers on the left and the providers they read
on the right, as SVG for the page.

Each kind of path is drawn in its own style (catalog.map_view.STYLES: the line and the arrowhead), one arrow per kind
between two nodes; the colour says whether contracts cover the paths. Arrows that close a cycle are left out of the
ranking (``constraint=false``) and drawn apart (purple), so the rest reads from consumers to providers. Nodes and
arrows carry links: a team expands, a service is focused, an arrow lists its paths. Graphviz's SVG is parsed and
written again with ElementTree, which drops its comments (they quote names) and escapes every name and attribute,
whatever Graphviz made of it.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .figures import label as shown_name
from .map_view import SERVICE, TEAM, Arrow, Node, View

DOT_TIMEOUT = 30  # seconds: a layout of MAX_DRAWN nodes takes well under one
SVG, XLINK = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
_G, _A = f"{{{SVG}}}g", f"{{{SVG}}}a"
ET.register_namespace("", SVG)
ET.register_namespace("xlink", XLINK)


class LayoutError(RuntimeError):
    """Graphviz is missing or failed: the page says so and still lists the paths."""


# characters XML cannot hold (a name may, from the catalog file): shown as U+FFFD
_NOT_XML = {c: "\ufffd" for c in [*range(0x20), 0xFFFE, 0xFFFF] if c not in (0x09, 0x0A)}


def _quoted(text: str) -> str:
    """A DOT string: quotes and backslashes escaped (so a name's ``\\N`` stays literal), ``&`` kept literal (Graphviz
    reads entities in labels), a line break as DOT's ``\\n``."""
    text = text.translate(_NOT_XML)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;").replace("\n", "\\n") + '"'


def _node_label(node: Node) -> str:
    name = shown_name(node.name)
    if node.kind == TEAM:
        count = len(node.services)
        line = ngettext("%(n)d service", "%(n)d services", count) % {"n": count}
        if node.internal:
            line += " · " + ngettext("%(n)d path inside", "%(n)d paths inside", node.internal) % {"n": node.internal}
        return f"{name}\n{line}"
    if node.kind == SERVICE and node.team:
        return f"{name}\n{node.team}"
    return name


def _arrow_title(arrow: Arrow) -> str:
    text = f"{arrow.style.name} · " + ngettext("%(n)d path", "%(n)d paths", arrow.count) % {"n": arrow.count}
    text += ": " + _("%(declared)d declared, %(undeclared)d undeclared") % {
        "declared": arrow.declared,
        "undeclared": arrow.undeclared,
    }
    if arrow.closes_cycle:
        text += " · " + _("closes a cycle")
    return f"{shown_name(arrow.consumer.name)} → {shown_name(arrow.provider.name)}: {text}"


def dot_source(view: View, node_href: Callable[[Node], str | None], arrow_href: Callable[[Arrow], str]) -> str:
    """The view in DOT, with our ids (``n<i>``, ``a<i>``), classes and links."""
    index = {node.key: i for i, node in enumerate(view.nodes)}
    lines = [
        "digraph map {",
        '  graph [rankdir=LR, ranksep=1.1, nodesep=0.3, bgcolor="transparent", fontname="sans-serif"];',
        '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", color="#5b6b7b", fontname="sans-serif",'
        ' fontsize=11, margin="0.15,0.06"];',
        '  edge [fontname="sans-serif", fontsize=9, arrowsize=0.7];',
    ]
    for i, node in enumerate(view.nodes):
        attrs = {
            "id": f"n{i}",
            "class": f"map-node map-{node.kind}" + (" map-focus" if node.distance == 0 else ""),
            "label": _node_label(node),
            "tooltip": _node_label(node).replace("\n", " · "),
        }
        if node.kind == "unowned":
            attrs["style"] = "rounded,dashed"
        elif node.distance == 0:
            attrs["fillcolor"] = "#fff4c2"
        elif node.kind == TEAM:
            attrs["fillcolor"] = "#eef2f7"
        href = node_href(node)
        if href:
            attrs["href"] = href
        lines.append(f"  n{i} [{_attributes(attrs)}];")
    for i, arrow in enumerate(view.arrows):
        attrs = {
            "id": f"a{i}",
            "class": f"map-arrow map-kind-{_class_name(arrow.kind)}"
            + (" map-undeclared" if arrow.undeclared else " map-declared")
            + (" map-cycle" if arrow.closes_cycle else ""),
            "xlabel": str(arrow.count),  # placed after the layout: a label would be a node to rank, 10x slower
            "tooltip": _arrow_title(arrow),
            "href": arrow_href(arrow),
            "color": arrow.colour,
            "fontcolor": arrow.colour,
            "style": arrow.style.dot_style,
            "arrowhead": arrow.style.arrowhead,
            "penwidth": f"{1 + math.log2(arrow.count):.2f}",
        }
        if arrow.closes_cycle:
            attrs["constraint"] = "false"
        lines.append(f"  n{index[arrow.consumer.key]} -> n{index[arrow.provider.key]} [{_attributes(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _class_name(kind: str) -> str:
    """A kind as a CSS class name (the kinds are codes; anything else in one is dropped)."""
    return "".join(c for c in kind.lower() if c.isascii() and (c.isalnum() or c == "-")) or "other"


def _attributes(attrs: dict[str, str]) -> str:
    return ", ".join(f"{key}={_quoted(value)}" for key, value in attrs.items())


def svg(source: str) -> str:
    """``dot -Tsvg`` of the source, cleaned (see the module's docstring)."""
    dot = shutil.which("dot")
    if dot is None:
        raise LayoutError(_("Graphviz (the dot program) is not installed on the web server."))
    try:
        done = subprocess.run(
            [dot, "-Tsvg"], input=source.encode(), capture_output=True, timeout=DOT_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise LayoutError(_("Graphviz took too long to draw this view.")) from exc
    if done.returncode != 0:
        raise LayoutError(_("Graphviz could not draw this view."))
    try:
        root = ET.fromstring(done.stdout)
    except ET.ParseError as exc:
        raise LayoutError(_("Graphviz could not draw this view.")) from exc
    for group in list(root.iter(_G)):
        if not {"node", "edge"} & set(group.get("class", "").split()):
            continue
        # Graphviz wraps each link in a group of its own, a label's apart, under a <title> of our ids (n3, n0->n2):
        # one link per node or arrow, holding all it draws, its tooltip on the link
        anchors = [a for wrapper in group.findall(_G) for a in wrapper.findall(_A)]
        for child in list(group):
            group.remove(child)
        if anchors:
            for extra in anchors[1:]:
                anchors[0].extend(list(extra))
            group.append(anchors[0])
    root.attrib.pop("width", None)  # the page sizes it; the viewBox keeps its proportions
    root.attrib.pop("height", None)
    root.set("class", "map-svg")
    root.set("role", "img")
    root.set("aria-label", _("Ownership map"))
    return ET.tostring(root, encoding="unicode")
