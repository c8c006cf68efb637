"""Which service a session is, per cluster: a session is matched by its application name, then by its role, first
among the services that own something on its cluster, then among every service (a service owning nothing anywhere is
still somebody's). Two services on one cluster claiming the same application name or role is a conflict: the session
still goes to one of them (the first by name), and the conflict is said, by ``import_catalog``, in the admin and on the
services page, never left silent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings

from .models import Cluster, Ownership, Service

APPLICATION, ROLE = "application_name", "db_role"
SEAMLINE = "seamline"  # what Seamline's own sessions are counted as, when no service of the catalog claims them


def seamline() -> Service:
    """Seamline itself, as a service outside the catalog: its web and worker processes' sessions (application name
    ``seamline-app``) and its monitoring sessions (``seamline``) are its own, not unattributed."""
    names = [settings.MONITOR_APPLICATION_NAME, settings.DATABASES["default"]["OPTIONS"].get("application_name")]
    return Service(name=SEAMLINE, team="", application_names=[n for n in names if n])


@dataclass(frozen=True)
class Conflict:
    cluster: str
    kind: str  # APPLICATION or ROLE
    name: str
    services: tuple[str, ...]

    def __str__(self) -> str:
        what = "application name" if self.kind == APPLICATION else "role"
        return (
            f"cluster {self.cluster}: {' and '.join(self.services)} both claim {what} {self.name!r}; its sessions go "
            f"to {self.services[0]}"
        )


def _claims(services: Iterable[Service]) -> dict[tuple[str, str], list[str]]:
    claimed: dict[tuple[str, str], list[str]] = defaultdict(list)
    for s in sorted(services, key=lambda s: s.name):
        for name in dict.fromkeys(s.application_names or ()):
            claimed[(APPLICATION, name)].append(s.name)
        for role in dict.fromkeys(s.db_roles or ()):
            claimed[(ROLE, role)].append(s.name)
    return claimed


def conflicts(clusters: Iterable[Cluster] | None = None) -> list[Conflict]:
    """Every name two or more services owning something on one cluster claim (every cluster, or those given). One
    query, whatever the size of the catalog."""
    rows = Ownership.objects.all() if clusters is None else Ownership.objects.filter(cluster__in=list(clusters))
    on: dict[str, dict[str, Service]] = defaultdict(dict)
    for cluster, name, applications, roles in rows.values_list(
        "cluster__name", "service__name", "service__application_names", "service__db_roles"
    ):
        on[cluster][name] = Service(name=name, application_names=applications, db_roles=roles)
    found = []
    for cluster, services in sorted(on.items()):
        for (kind, name), claimants in sorted(_claims(services.values()).items()):
            if len(claimants) > 1:
                found.append(Conflict(cluster, kind, name, tuple(claimants)))
    return found


class Attribution:
    """Which service a session (its application name and role) is on one cluster: among the services owning
    something there first, then among all."""

    def __init__(self, services: Iterable[Service], local: Iterable[str] = ()) -> None:
        services = sorted(services, key=lambda s: s.name)
        here = set(local)
        self.by_application: dict[str, Service] = {}
        self.by_role: dict[str, Service] = {}
        ordered = [s for s in services if s.name in here] + [s for s in services if s.name not in here]
        for service in [*ordered, seamline()]:  # a service of the catalog claiming Seamline's names wins
            for name in service.application_names or ():
                self.by_application.setdefault(name, service)
            for role in service.db_roles or ():
                self.by_role.setdefault(role, service)

    @classmethod
    def for_cluster(cls, cluster: Cluster, services: Iterable[Service]) -> Attribution:
        local = Ownership.objects.filter(cluster=cluster).values_list("service__name", flat=True).distinct()
        return cls(services, local)

    def __call__(self, application_name: str | None, role: str | None) -> Service | None:
        return self.by_application.get(application_name or "") or self.by_role.get(role or "")
