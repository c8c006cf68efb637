"""What one view of the ownership map shows: the level, the expanded teams, the focus and its depth, the cluster and
the edge kinds (a ``Query``, read from a URL or a command line), turned into nodes and arrows (a ``View``) from the
paths already computed for the catalog's version (catalog.paths, memoized per process).

- **Team level** (the map's default): one node per team, plus ``(no team)`` for services without one and
  ``(unowned)`` for data no service owns; an arrow per ordered pair of different nodes with its number of paths,
  declared and undeclared apart; paths between services of one team are counted on the team's node (``internal``),
  not drawn. An expanded team shows its services instead, every other team staying collapsed.
- **Service level**: every service its own node (the whole graph).
- **Focus** on a service, depth 1–3: the services within that many hops in either direction, and only the paths
  joining a node at distance k to one at distance k + 1. ``(unowned)`` is reached but never passed through (two
  services reading the same unowned table are not neighbours).

A view that would draw more than ``MAX_DRAWN`` nodes is not drawn: the page asks for a focus or a filter instead.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from itertools import groupby
from typing import Protocol

from django.http import QueryDict
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import OUTSIDE, UNOWNED, Cluster, Database, Ownership, Service
from .paths import KINDS, Edge, all_edges, services_with_owned
from .versioning import memoized

TEAM, SERVICE = "team", "service"
LEVELS = (TEAM, SERVICE)
NO_TEAM = "(no team)"
MAX_DEPTH = 3
MAX_DRAWN = 150  # nodes: beyond this a drawing is unreadable, and the page asks for a focus or a filter

# why a view shows no path
NOT_SYNCED, NO_OWNERSHIP, NO_PATHS = "not-synced", "no-ownership", "no-paths"

# an arrow's colour: whether contracts cover its paths, or whether it closes a cycle (drawn against the flow)
DECLARED, UNDECLARED, CYCLE = "#2454d6", "#c62828", "#7b3fb0"


@dataclass(frozen=True)
class EdgeStyle:
    """How arrows of one path kind are drawn, the same in the page's drawing, the DOT and Mermaid downloads and the
    legend. The line says where the path runs (solid: objects of one database; dashed: across databases; dotted: no
    object of the consumer's schema holds it), the head how (an arrow: reads a relation; a circle: holds or receives
    its rows; a bar: through code or a privilege). Mermaid has no such heads: its circle and cross ends stand in."""

    kind: str
    name: Promise | str  # translated when shown
    explanation: Promise | str
    dot_style: str  # Graphviz: solid, dashed or dotted
    arrowhead: str  # Graphviz: normal, odot, tee (or empty, for a kind this table does not know)
    mermaid_arrow: str  # -->, --o, --x, -.->, -.-o, -.-x
    dash: str = ""  # SVG stroke-dasharray of the line (Graphviz's own for its styles): the legend's and Mermaid's


_DASHED, _DOTTED = "5 2", "1 5"
STYLES = {
    s.kind: s
    for s in (
        EdgeStyle(
            "view",
            gettext_lazy("view"),
            gettext_lazy("a view of the consumer reads the provider's table or view"),
            "solid", "normal", "-->",
        ),
        EdgeStyle(
            "fk",
            gettext_lazy("foreign key"),
            gettext_lazy("a table of the consumer references the provider's table"),
            "solid", "odot", "--o",
        ),
        EdgeStyle(
            "function",
            gettext_lazy("function"),
            gettext_lazy("a function of the consumer depends on the provider's relation"),
            "solid", "tee", "--x",
        ),
        EdgeStyle(
            "fdw",
            gettext_lazy("foreign table"),
            gettext_lazy("a foreign table reads a relation of another database through postgres_fdw"),
            "dashed", "normal", "-.->", _DASHED,
        ),
        EdgeStyle(
            "replication",
            gettext_lazy("logical replication"),
            gettext_lazy("a subscription of the consumer receives the rows of the provider's publication"),
            "dashed", "odot", "-.-o", _DASHED,
        ),
        EdgeStyle(
            "dblink",
            gettext_lazy("dblink"),
            gettext_lazy("a function of the consumer reads or writes a relation of another database through dblink"),
            "dashed", "tee", "-.-x", _DASHED,
        ),
        EdgeStyle(
            "runtime",
            gettext_lazy("at run time"),
            gettext_lazy("the consumer's statements were seen reading or writing the provider's relation"),
            "dotted", "normal", "-.->", _DOTTED,
        ),
        EdgeStyle(
            "event",
            gettext_lazy("event"),
            gettext_lazy("the provider's rows reach the consumer as events through an outbox topic"),
            "dotted", "odot", "-.-o", _DOTTED,
        ),
        EdgeStyle(
            "grant",
            gettext_lazy("grant"),
            gettext_lazy("a role of the consumer holds privileges on the provider's relation"),
            "dotted", "tee", "-.-x", _DOTTED,
        ),
    )
}  # fmt: skip


def style_of(kind: str) -> EdgeStyle:
    """The kind's style; a kind this table does not know yet is drawn plain, named by its code."""
    return STYLES.get(kind) or EdgeStyle(kind, kind, gettext_lazy("a kind of path without a style of its own"),
                                         "solid", "empty", "-->")  # fmt: skip


def kind_order(kind: str) -> tuple[int, str]:
    """Kinds in the order of catalog.paths.KINDS, any other after them."""
    return (KINDS.index(kind) if kind in KINDS else len(KINDS), kind)


class InvalidQuery(ValueError):
    """A parameter the map cannot show; the message names it and says what it accepts."""


class Params(Protocol):
    def get(self, key: str, default: str | None = None) -> str | None: ...
    def getlist(self, key: str) -> list[str]: ...


@dataclass(frozen=True)
class Query:
    level: str = TEAM
    expand: tuple[str, ...] = ()
    focus: str = ""
    depth: int = 1
    cluster: str = ""
    kinds: tuple[str, ...] = ()  # none: every kind

    @classmethod
    def parse(cls, params: Params, level: str = TEAM) -> Query:
        """The query a URL's parameters describe (``level``: the default level); InvalidQuery when one is wrong."""
        level = params.get("level") or level
        if level not in LEVELS:
            raise InvalidQuery(_("Unknown level %(level)s: team or service.") % {"level": level})
        depth_text = params.get("depth") or "1"
        try:
            depth = int(depth_text)
        except ValueError:
            depth = 0
        if not 1 <= depth <= MAX_DEPTH:
            raise InvalidQuery(_("The depth is a number from 1 to %(max)d.") % {"max": MAX_DEPTH})
        kinds = tuple(sorted({k for k in params.getlist("kind") if k}))
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise InvalidQuery(
                _("Unknown path kind %(kind)s: one of %(kinds)s.") % {"kind": unknown[0], "kinds": ", ".join(KINDS)}
            )
        if set(kinds) == set(KINDS):
            kinds = ()
        expand = tuple(sorted({t for t in params.getlist("expand") if t}))
        return cls(level, expand, params.get("focus") or "", depth, params.get("cluster") or "", kinds)

    @classmethod
    def of(
        cls,
        level: str,
        cluster: str | None = None,
        focus: str | None = None,
        depth: int = 1,
        expand: list[str] | None = None,
        kinds: list[str] | None = None,
    ) -> Query:
        """The query of a command line's or an API call's options, checked as a URL's are (``parse``)."""
        params = QueryDict(mutable=True)
        params.update({"level": level, "cluster": cluster or "", "focus": focus or "", "depth": str(depth)})
        params.setlist("expand", expand or [])
        params.setlist("kind", kinds or [])
        return cls.parse(params)

    def params(self) -> list[tuple[str, str]]:
        """The URL parameters that give this query back (defaults left out, except the level)."""
        out = [("level", self.level)]
        out += [("expand", t) for t in self.expand]
        if self.focus:
            out += [("focus", self.focus), ("depth", str(self.depth))]
        if self.cluster:
            out.append(("cluster", self.cluster))
        out += [("kind", k) for k in self.kinds]
        return out

    def but(self, **changes: object) -> Query:
        return replace(self, **changes)


@dataclass(frozen=True)
class Node:
    name: str
    kind: str  # "team", "service", or "unowned" (data no service owns)
    services: tuple[str, ...]  # a team's services; a service's own name
    internal: int = 0  # paths between services inside the node
    team: str = ""  # a service's team
    distance: int | None = None  # hops from the focus

    @property
    def key(self) -> str:
        """Unique in a view, where a team and a service may share a name."""
        return f"{self.kind}:{self.name}"

    def as_dict(self) -> dict:
        return {"name": self.name, "services": list(self.services), "internal": self.internal}


@dataclass(frozen=True)
class Arrow:
    """The paths of one kind from one node to another: drawn in that kind's style."""

    consumer: Node
    provider: Node
    kind: str
    count: int
    declared: int
    undeclared: int
    closes_cycle: bool = False  # drawn against the flow, so that the rest can run from consumers to providers

    @property
    def style(self) -> EdgeStyle:
        return style_of(self.kind)

    @property
    def colour(self) -> str:
        return CYCLE if self.closes_cycle else (UNDECLARED if self.undeclared else DECLARED)

    def as_dict(self) -> dict:
        return {
            "consumer": self.consumer.name,
            "provider": self.provider.name,
            "kind": self.kind,
            "count": self.count,
            "declared": self.declared,
            "undeclared": self.undeclared,
        }


@dataclass(frozen=True)
class Pair:
    """Every arrow from one node to another: a cell of the matrix, an edge of the team document."""

    consumer: Node
    provider: Node
    arrows: tuple[Arrow, ...]  # one per kind, in kind_order

    @property
    def count(self) -> int:
        return sum(a.count for a in self.arrows)

    @property
    def declared(self) -> int:
        return sum(a.declared for a in self.arrows)

    @property
    def undeclared(self) -> int:
        return sum(a.undeclared for a in self.arrows)

    @property
    def closes_cycle(self) -> bool:
        return any(a.closes_cycle for a in self.arrows)

    @property
    def kinds(self) -> dict[str, int]:
        return {a.kind: a.count for a in self.arrows}

    def as_dict(self) -> dict:
        return {
            "consumer": self.consumer.name,
            "provider": self.provider.name,
            "count": self.count,
            "declared": self.declared,
            "undeclared": self.undeclared,
        }


@dataclass
class View:
    query: Query
    nodes: list[Node]
    arrows: list[Arrow]
    paths: list[Edge]  # every path the view covers: drawn between two nodes or counted inside one
    node_of: dict[str, Node]  # service (or UNOWNED) -> the node showing it
    services: list[dict] = field(default_factory=list)  # services_with_owned, for the nodes shown
    empty: str = ""  # NOT_SYNCED, NO_OWNERSHIP or NO_PATHS when the view has no path

    @property
    def too_big(self) -> bool:
        return len(self.nodes) > MAX_DRAWN

    @property
    def grouped(self) -> bool:
        """Whether some node stands for more than one service (the team document applies)."""
        return any(n.kind == TEAM for n in self.nodes)

    @property
    def pairs(self) -> list[Pair]:
        """The arrows grouped by their two nodes, in the arrows' order."""
        return [
            Pair(consumer, provider, tuple(arrows))
            for (consumer, provider), arrows in groupby(self.arrows, key=lambda a: (a.consumer, a.provider))
        ]

    @property
    def kinds_drawn(self) -> list[str]:
        """The kinds of the arrows, in kind_order: what the legend explains."""
        return sorted({a.kind for a in self.arrows}, key=kind_order)

    def arrow(self, consumer: str, provider: str, kind: str | None = None) -> Arrow | Pair | None:
        """The arrow of this kind between the nodes with these keys; with no kind, all of them (a Pair)."""
        pair = next((p for p in self.pairs if (p.consumer.key, p.provider.key) == (consumer, provider)), None)
        if pair is None or kind is None:
            return pair
        return next((a for a in pair.arrows if a.kind == kind), None)

    def paths_of(self, arrow: Arrow | Pair) -> list[Edge]:
        """The paths an arrow (or a pair of nodes) stands for."""
        return [
            p
            for p in self.paths
            if (self.node_of[p.consumer], self.node_of[p.provider]) == (arrow.consumer, arrow.provider)
            and (not isinstance(arrow, Arrow) or p.kind == arrow.kind)
        ]

    def team_document(self) -> dict:
        return {"nodes": [n.as_dict() for n in self.nodes], "edges": [p.as_dict() for p in self.pairs]}

    def service_document(self) -> dict:
        return {"services": self.services, "edges": [p.as_dict() for p in self.paths]}

    def document(self) -> dict:
        """The JSON export: the team document when a node groups services, today's document otherwise."""
        return self.team_document() if self.grouped else self.service_document()


def view(query: Query) -> View:
    """The view a query describes, kept per process until the catalog changes; InvalidQuery for an unknown cluster,
    team or service."""
    return memoized("map-view", (query,), lambda: _build(query), observed=True)


def _build(query: Query) -> View:
    ids = None
    if query.cluster:
        ids = list(Cluster.objects.filter(name=query.cluster).values_list("pk", flat=True))
        if not ids:
            raise InvalidQuery(_("No cluster named %(name)s.") % {"name": query.cluster})
    teams = dict(Service.objects.values_list("name", "team"))
    if query.focus and query.focus not in teams:
        raise InvalidQuery(_("No service named %(name)s.") % {"name": query.focus})
    known_teams = {t or NO_TEAM for t in teams.values()}
    unknown = [t for t in query.expand if t not in known_teams]
    if unknown:
        raise InvalidQuery(_("No team named %(name)s.") % {"name": unknown[0]})

    paths = [p for p in all_edges(ids) if not query.kinds or p.kind in query.kinds]
    in_scope = services_with_owned(ids)
    built = _focused(query, paths, teams) if query.focus else _grouped(query, paths, teams, in_scope)
    shown = {s for n in built.nodes for s in n.services}
    built.services = [s for s in in_scope if s["name"] in shown] + [
        {"name": name, "team": teams[name], "owns": []}
        for name in sorted(shown - {s["name"] for s in in_scope} - PSEUDO)
    ]
    built.services.sort(key=lambda s: s["name"])
    if not built.paths:
        built.empty = _why_empty(ids)
    return built


# providers that are no service: drawn as one node each, never grouped into a team, never passed through
PSEUDO = frozenset({UNOWNED, OUTSIDE})


def _team(service: str, teams: dict[str, str]) -> str:
    return service if service in PSEUDO else (teams.get(service) or NO_TEAM)


def _grouped(query: Query, paths: list[Edge], teams: dict[str, str], in_scope: list[dict]) -> View:
    services = {s["name"] for s in in_scope} | {n for p in paths for n in (p.consumer, p.provider)}
    expanded = set(query.expand)
    members: dict[str, list[str]] = defaultdict(list)
    for service in services:
        if service not in PSEUDO:
            members[_team(service, teams)].append(service)
    internal: Counter[str] = Counter()
    shown_alone = {s for s in services if s not in PSEUDO and (query.level == SERVICE or _team(s, teams) in expanded)}

    def key(service: str) -> str:
        if service in PSEUDO:
            return f"unowned:{'' if service == UNOWNED else service}"
        return f"service:{service}" if service in shown_alone else f"team:{_team(service, teams)}"

    for p in paths:
        if key(p.consumer) == key(p.provider):
            internal[key(p.consumer)] += 1
    nodes = {}
    for service in sorted(services):
        k = key(service)
        if k in nodes:
            continue
        if service in PSEUDO:
            nodes[k] = Node(service, "unowned", (), internal[k])
        elif service in shown_alone:
            nodes[k] = Node(service, SERVICE, (service,), internal[k], team=teams.get(service, ""))
        else:
            team = _team(service, teams)
            nodes[k] = Node(team, TEAM, tuple(sorted(members[team])), internal[k])
    ordered = sorted(nodes.values(), key=lambda n: (n.kind == "unowned", n.name, n.kind))
    node_of = {s: nodes[key(s)] for s in services}
    return View(query, ordered, _arrows(paths, node_of, ordered), paths, node_of)


def _focused(query: Query, paths: list[Edge], teams: dict[str, str]) -> View:
    neighbours: dict[str, set[str]] = defaultdict(set)
    for p in paths:
        neighbours[p.consumer].add(p.provider)
        neighbours[p.provider].add(p.consumer)
    distance = {query.focus: 0}
    frontier = [query.focus]
    for k in range(1, query.depth + 1):
        reached = []
        for service in frontier:
            if service in PSEUDO:
                continue  # reached, never passed through
            for other in sorted(neighbours[service]):
                if other not in distance:
                    distance[other] = k
                    reached.append(other)
        frontier = reached
    drawn = [
        p
        for p in paths
        if p.consumer in distance and p.provider in distance and abs(distance[p.consumer] - distance[p.provider]) == 1
    ]
    node_of = {
        s: Node(s, "unowned", (), distance=d) if s in PSEUDO else Node(s, SERVICE, (s,), team=teams[s], distance=d)
        for s, d in distance.items()
    }
    ordered = sorted(node_of.values(), key=lambda n: (n.distance, n.name))
    return View(query, ordered, _arrows(drawn, node_of, ordered), drawn, node_of)


def _arrows(paths: Iterable[Edge], node_of: dict[str, Node], order: list[Node]) -> list[Arrow]:
    """One arrow per ordered pair of different nodes and kind of path; those closing a cycle marked (a depth-first
    search in the nodes' order, so the same view always marks the same arrows)."""
    pairs: dict[tuple[Node, Node], list[Edge]] = defaultdict(list)
    for p in paths:
        pair = (node_of[p.consumer], node_of[p.provider])
        if pair[0] != pair[1]:
            pairs[pair].append(p)
    out_of: dict[Node, list[Node]] = defaultdict(list)
    for consumer, provider in sorted(pairs, key=lambda pair: (pair[0].key, pair[1].key)):
        out_of[consumer].append(provider)
    back: set[tuple[Node, Node]] = set()
    state: dict[Node, int] = {}  # 1: on the search's path, 2: done
    for root in order:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(out_of[root]))]
        while stack:
            node, successors = stack[-1]
            for nxt in successors:
                if state.get(nxt) == 1:
                    back.add((node, nxt))
                elif nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, iter(out_of[nxt])))
                    break
            else:
                state[node] = 2
                stack.pop()
    arrows = []
    for (consumer, provider), edges in sorted(pairs.items(), key=lambda item: (item[0][0].key, item[0][1].key)):
        by_kind: dict[str, list[Edge]] = defaultdict(list)
        for e in edges:
            by_kind[e.kind].append(e)
        for kind in sorted(by_kind, key=kind_order):
            count, declared = len(by_kind[kind]), sum(e.declared for e in by_kind[kind])
            arrows.append(
                Arrow(consumer, provider, kind, count, declared, count - declared, (consumer, provider) in back)
            )
    return arrows


def _why_empty(cluster_ids: list[int] | None) -> str:
    databases = Database.objects.all()
    ownerships = Ownership.objects.all()
    if cluster_ids is not None:
        databases = databases.filter(cluster_id__in=cluster_ids)
        ownerships = ownerships.filter(cluster_id__in=cluster_ids)
    if not databases.exists():
        return NOT_SYNCED
    if not ownerships.exists():
        return NO_OWNERSHIP
    return NO_PATHS
