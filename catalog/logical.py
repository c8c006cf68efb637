"""Logical replication between catalogued databases: each subscription matched to its publisher through its slot.

A subscription names the slot it streams from (``subslotname``) and the publications it wants; the publisher is the
catalogued cluster whose primary has a logical slot of that name in a database that publishes those publications
(catalog.models.LogicalSlot, PublishedTable: both synced). The connection string is never read: PostgreSQL keeps it
from everyone but superusers, and it may hold a password. A slot name found in no cluster, or in several that cannot
be told apart, leaves the publisher unknown ("outside the catalog"), never guessed.

``links`` is what the Replication page, /api/v1/health and /metrics attribute logical slots and judge subscriptions
with; ``edges`` gives catalog.paths its ``replication`` paths, from the service owning each copied table to the
service owning the table it copies.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from .models import LogicalSlot, Ownership, PublishedTable, Relation, Subscription
from .versioning import memoized


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    state: str  # pg_subscription_rel.srsubstate: "r" ready
    service: str | None  # who owns the copy (the subscriber's table)
    source_service: str | None  # who owns the table copied, on the publisher (None: unowned or not found)
    published: bool  # the publisher's publications send it
    columns: tuple[str, ...]  # the columns sent (empty: all, or unknown)


@dataclass(frozen=True)
class Link:
    cluster_id: int
    cluster: str
    database: str
    subscription: str
    enabled: bool
    slot: str
    publications: tuple[str, ...]
    service: str | None  # the subscribing service: the one owning its tables, else its database
    tables: tuple[Table, ...]
    publisher_id: int | None  # None: no catalogued cluster has its slot (or several do)
    publisher: str  # the publisher's cluster name, "" when unknown
    publisher_database: str

    @property
    def not_ready(self) -> list[str]:
        return [f"{t.schema}.{t.name}" for t in self.tables if t.state != Subscription.READY]


def links() -> list[Link]:
    """Every synced subscription with its publisher; kept until the catalog changes. Five queries."""
    return memoized("logical-links", (), read_links)


def read_links() -> list[Link]:
    """``links`` read now (for a caller already inside a memo of the catalog's version): one query without
    subscriptions, five with."""
    subscriptions = list(
        Subscription.objects.values_list(
            "database__cluster_id",
            "database__cluster__name",
            "database__name",
            "name",
            "enabled",
            "slot_name",
            "publications",
            "tables",
        )  # fmt: skip
    )
    if not subscriptions:
        return []
    slots: dict[str, list[tuple[int, str, str]]] = defaultdict(list)  # slot -> (cluster id, cluster, database)
    for cluster_id, cluster, name, database in LogicalSlot.objects.values_list(
        "cluster_id", "cluster__name", "name", "database"
    ):
        slots[name].append((cluster_id, cluster, database))
    candidates = {c for s in subscriptions for c in slots.get(s[5], ())}
    # what each candidate database publishes: (cluster id, database) -> {(schema, name): (publications, owner, cols)}
    published: dict[tuple[int, str], dict[tuple[str, str], tuple[set[str], str | None, tuple[str, ...]]]]
    published = defaultdict(dict)
    rows = PublishedTable.objects.filter(
        relation__schema__database__cluster_id__in={c[0] for c in candidates},
        relation__schema__database__name__in={c[2] for c in candidates},
    ).values_list(
        "relation__schema__database__cluster_id", "relation__schema__database__name", "relation__schema__name",
        "relation__name", "publication", "relation__schema__service__name", "columns",
    )  # fmt: skip
    for cluster_id, database, schema, name, publication, owner, columns in rows:
        entry = published[(cluster_id, database)].setdefault((schema, name), (set(), owner, tuple(columns)))
        entry[0].add(publication)
    owners = _table_owners(subscriptions)
    whole = {
        (cluster_id, database): service
        for cluster_id, database, service in Ownership.objects.filter(schema="").values_list(
            "cluster_id", "database", "service__name"
        )
    }

    out = []
    for cluster_id, cluster, database, name, enabled, slot, publications, tables in subscriptions:
        wanted = set(publications)
        found = [c for c in slots.get(slot, ()) if (c[0], c[2]) != (cluster_id, database)] if slot else []
        if len(found) > 1:  # the ones whose database publishes every publication the subscription wants
            found = [c for c in found if wanted <= _publications(published[(c[0], c[2])])]
        if len(found) > 1:  # one server catalogued twice: the subscriber's own cluster is the one it means
            found = [c for c in found if c[0] == cluster_id] or found
        publisher = found[0] if len(found) == 1 else None
        sent = published[(publisher[0], publisher[2])] if publisher else {}
        copies = []
        for t in tables:
            key = (t["schema"], t["name"])
            pubs, source_service, columns = sent.get(key, (set(), None, ()))
            copies.append(
                Table(
                    t["schema"],
                    t["name"],
                    t["state"],
                    owners.get((cluster_id, database, *key)),
                    source_service,
                    bool(pubs & wanted),
                    columns,
                )
            )
        services = {c.service for c in copies if c.service}
        out.append(
            Link(
                cluster_id=cluster_id,
                cluster=cluster,
                database=database,
                subscription=name,
                enabled=enabled,
                slot=slot,
                publications=tuple(publications),
                service=services.pop() if len(services) == 1 else whole.get((cluster_id, database)),
                tables=tuple(copies),
                publisher_id=publisher[0] if publisher else None,
                publisher=publisher[1] if publisher else "",
                publisher_database=publisher[2] if publisher else "",
            )
        )
    return sorted(out, key=lambda link: (link.cluster, link.database, link.subscription))


def _publications(tables: dict[tuple[str, str], tuple[set[str], str | None, tuple[str, ...]]]) -> set[str]:
    return set().union(*(publications for publications, _, _ in tables.values()))


def _table_owners(subscriptions: list[tuple]) -> dict[tuple[int, str, str, str], str | None]:
    """(cluster id, database, schema, name) -> the owning service, of every subscribed table: one query."""
    names = {t["name"] for s in subscriptions for t in s[7]}
    return {
        (cluster_id, database, schema, name): service
        for cluster_id, database, schema, name, service in Relation.objects.filter(
            schema__database__cluster_id__in={s[0] for s in subscriptions},
            schema__database__name__in={s[2] for s in subscriptions},
            name__in=names,
        ).values_list(
            "schema__database__cluster_id", "schema__database__name", "schema__name", "name", "schema__service__name"
        )
    }


def slot_users(among: list[Link]) -> dict[tuple[int, str], Link]:
    """(publisher cluster id, slot name) -> the subscription streaming from it, for attributing logical slots."""
    return {(link.publisher_id, link.slot): link for link in among if link.publisher_id is not None}
