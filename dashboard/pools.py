"""What the pools page, the service Live panel, the CLI and the API show, made from snapshots (never from the
monitored server): each node's state (fresh, stale, unreachable, never sampled) and each service's row.

A snapshot older than three sampling intervals is stale: its figures are shown as the past, with their age, never
as zeros. An unreachable node shows since when and why; Redis being down shows as "live data unavailable".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from catalog.models import Cluster, Ownership, Service

from . import snapshots
from .nodes import PRIMARY, nodes_of
from .states import STATES
from .summary import SESSION_LISTS, zero_counters

STALE_AFTER_INTERVALS = 3
FRESH, STALE, UNREACHABLE, NEVER = "fresh", "stale", "unreachable", "never"


@dataclass
class ServiceRow:
    service: str
    pk: int | None  # the catalog's Service, when there is one
    team: str
    counts: dict[str, Any]  # total, the STATES, unknown, oldest_xact_seconds, longest_query_seconds, wait_events
    budget: int | None  # (pool_size + max_overflow) x instances; None for a service not in the catalog
    usable: int | None  # the node's max_connections - superuser_reserved_connections

    @property
    def over_budget(self) -> bool:
        return self.budget is not None and self.counts["total"] > self.budget

    @property
    def share(self) -> float | None:
        """Fraction of the usable connections this service holds."""
        return self.counts["total"] / self.usable if self.usable else None

    @property
    def budget_use(self) -> float | None:
        return self.counts["total"] / self.budget if self.budget else None


@dataclass
class NodeView:
    cluster: Cluster
    name: str
    snapshot: dict[str, Any] | None
    now: datetime
    rows: list[ServiceRow] = field(default_factory=list)
    service_ids: dict[str, int] = field(default_factory=dict)  # catalog ids by service name, for links

    @property
    def sampled_at(self) -> datetime | None:
        return parse_datetime(self.snapshot["sampled_at"]) if self.snapshot else None

    @property
    def age_seconds(self) -> float | None:
        at = self.sampled_at
        return max(0.0, (self.now - at).total_seconds()) if at else None

    @property
    def status(self) -> str:
        if not self.snapshot:
            return NEVER
        if self.snapshot["status"] == "unreachable":
            return UNREACHABLE
        interval = self.snapshot.get("interval") or self.cluster.sample_interval
        return STALE if (self.age_seconds or 0) > STALE_AFTER_INTERVALS * interval else FRESH

    @property
    def unreachable_since(self) -> datetime | None:
        if self.status != UNREACHABLE:
            return None
        return parse_datetime(self.snapshot["unreachable_since"])

    @property
    def has_figures(self) -> bool:
        """Sessions can be shown (fresh or stale, as the past); not for a node that did not answer."""
        return self.status in (FRESH, STALE)

    @property
    def usable(self) -> int | None:
        if not self.has_figures:
            return None
        return self.snapshot["max_connections"] - self.snapshot["reserved_connections"]

    @property
    def headroom(self) -> int | None:
        return None if self.usable is None else self.usable - self.snapshot["total"]

    @property
    def used_fraction(self) -> float | None:
        return self.snapshot["total"] / self.usable if self.usable else None

    @property
    def budget_total(self) -> int:
        return sum(r.budget or 0 for r in self.rows)

    @property
    def overcommitted(self) -> bool:
        return self.usable is not None and self.budget_total > self.usable


def load(
    clusters: list[Cluster], node: str | None = PRIMARY, now: datetime | None = None, rows: bool = True
) -> dict[int, list[NodeView]]:
    """Each cluster's node views (only ``node``, or every node when None), from one Redis round trip; with their
    service rows unless ``rows`` is False. Only the services the rows show are read: those with sessions on a node,
    and those owning data on its cluster.

    Raises snapshots.LiveDataUnavailable when Redis cannot be reached.
    """
    now = now or timezone.now()
    wanted = [(c, n.name) for c in clusters for n in nodes_of(c) if node is None or n.name == node]
    found = snapshots.read_many([(c.pk, name) for c, name in wanted])
    views: dict[int, list[NodeView]] = {c.pk: [] for c in clusters}
    for cluster, name in wanted:
        views[cluster.pk].append(NodeView(cluster, name, found[(cluster.pk, name)], now))
    if rows:
        owners = _owners_by_cluster([c.pk for c in clusters])
        shown = {s["service"] for vs in views.values() for v in vs if v.has_figures for s in v.snapshot["services"]}
        shown |= {name for names in owners.values() for name in names}
        services = {s.name: s for s in Service.objects.filter(name__in=shown)}
        service_ids = {name: s.pk for name, s in services.items()}
        for cluster_views in views.values():
            for view in cluster_views:
                view.rows = rows_of(view, services, owners.get(view.cluster.pk, set()))
                view.service_ids = service_ids
    return views


def _owners_by_cluster(cluster_ids: list[int]) -> dict[int, set[str]]:
    owners: dict[int, set[str]] = {}
    for cluster_id, service in Ownership.objects.filter(cluster_id__in=cluster_ids).values_list(
        "cluster_id", "service__name"
    ):
        owners.setdefault(cluster_id, set()).add(service)
    return owners


def rows_of(view: NodeView, services: dict[str, Service], owners: set[str]) -> list[ServiceRow]:
    """A row per service with sessions on the node, and per service that owns data on the cluster (maybe 0)."""
    if not view.has_figures:
        return []
    sampled = {s["service"]: s for s in view.snapshot["services"]}
    rows = []
    for name in sorted(set(sampled) | owners):
        service = services.get(name)
        counts = sampled.get(name) or zero_counters()
        rows.append(
            ServiceRow(
                service=name,
                pk=service.pk if service else None,
                team=service.team if service else counts.get("team", ""),
                counts=counts,
                budget=service.connection_budget if service else None,
                usable=view.usable,
            )
        )
    return rows


def prepare_sessions(view: NodeView, queries: dict[int, str] | None = None) -> None:
    """Ready the sessions a snapshot lists for the page, once per request rather than once per row: the link to
    each one's service (``service_url``) and, for users allowed to see it, its full query text (``full_query``)."""
    if not view.has_figures:
        return
    urls: dict[str, str | None] = {}
    for part in SESSION_LISTS:
        for session in view.snapshot[part]:
            name = session["service"]
            if name not in urls:
                pk = view.service_ids.get(name)
                urls[name] = reverse("service", args=[pk]) if pk else None
            session["service_url"] = urls[name]
            if queries is not None:
                session["full_query"] = queries.get(session["pid"])


def as_json(view: NodeView) -> dict[str, Any]:
    """The CLI's and the API's shape of one node (see docs/pools.md)."""
    counters = ("total", *STATES)
    extra = ("oldest_xact_seconds", "longest_query_seconds")
    body: dict[str, Any] = {
        "cluster": view.cluster.name,
        "node": view.name,
        "status": view.status,
        "sampled_at": view.snapshot["sampled_at"] if view.snapshot else None,
        "age_seconds": None if view.age_seconds is None else round(view.age_seconds, 1),
    }
    if view.status == UNREACHABLE:
        body["error"] = view.snapshot["error"]
        body["unreachable_since"] = view.snapshot["unreachable_since"]
        body["timed_out"] = bool(view.snapshot.get("timed_out"))
    if not view.has_figures:
        return body | {"max_connections": None, "reserved_connections": None, "services": [], "unattributed": None}
    snap = view.snapshot
    return body | {
        "max_connections": snap["max_connections"],
        "reserved_connections": snap["reserved_connections"],
        "sees_all_sessions": snap["sees_all_sessions"],
        "services": [
            {"service": r.service, "team": r.team, **{k: r.counts[k] for k in (*counters, *extra)}, "budget": r.budget}
            for r in view.rows
        ],
        "unattributed": {k: snap["unattributed"][k] for k in (*counters, *extra)},
    }
