"""Cross-service paths: every way one service reaches into another's data, computed from the synced catalog.

Kinds (the ownership map's edge kinds):
- ``view``: a view or matview of the consumer reads the provider's relation, directly or through other views
  (the object is the consumer's view);
- ``fk``: a table of the consumer references the provider's table (the object is the referencing table);
- ``grant``: one of the consumer's db_roles holds privileges on the provider's relation (the object is the role);
- ``function``: a function of the consumer depends on the provider's relation: where PostgreSQL records it
  (``recorded``), where its string body names it (``parsed``, catalog.bodies; ``assumed`` when the name resolved
  along the function's schema then public because the function sets no search_path of its own), or both;
- ``fdw``: a foreign table of the consumer reads the provider's relation in another database, perhaps of another
  cluster (``source_cluster``), as its foreign server's host, port and database and its options name it; a server
  or relation the catalog does not hold has the provider ``(outside the catalog)``;
- ``dblink``: a function of the consumer calls dblink with a constant connection string and statement that reads
  or writes the provider's relation in another database (``access``; ``assumed`` for an unqualified name, looked up
  in ``public``); resolved and listed like ``fdw``;
- ``replication``: a table of the consumer is a logical replication copy of the provider's table (the object is the
  copy; ``source_cluster`` the publisher's cluster, ``subscription`` the subscription), its publisher found through
  the subscription's slot (catalog.logical); a publisher the catalog does not hold, or a table its publications do
  not send, has the provider ``(outside the catalog)``;
- ``event``: the consumer subscribes to a topic the provider publishes from an outbox table (both declared in the
  catalog file: ``subscribes``, ``publishes``); the object is the topic, the source the outbox table; declared by
  the subscription itself;
- ``runtime``: the consumer's statements really read or wrote the provider's relation (the object is that relation),
  as the live side observed them (``OBSERVERS``; dashboard.statements registers one), with the access and calls.
A relation in a schema no service owns has the provider ``(unowned)``. ``declared`` says whether a contract covers it;
``used`` (with an observer) whether the consumer's statements touched the path's object or source in the window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from . import addresses, logical
from .models import (
    OUTSIDE,
    UNOWNED,
    Cluster,
    Contract,
    Database,
    Dependency,
    EventPublication,
    ForeignTable,
    FunctionBodyUse,
    Grant,
    Relation,
    Service,
)
from .versioning import OBSERVED, memoized

KINDS = ("view", "fk", "grant", "function", "fdw", "dblink", "replication", "event", "runtime")


@dataclass(frozen=True)
class Edge:
    consumer: str
    provider: str
    kind: str
    object_parts: tuple[str, ...]
    source_parts: tuple[str, ...]
    declared: bool
    cluster: str
    privileges: tuple[str, ...] = ()
    via: tuple[str, ...] = field(default=(), compare=False)  # views passed through, for view paths
    # the source's columns the path uses (view: read by the last view on the way; fk: referenced; replication: sent;
    # fdw: the foreign table's); empty: none in particular, or not known
    columns: tuple[str, ...] = field(default=(), compare=False)
    access: str = ""  # runtime, and a function's body: read or write
    recorded: bool = field(default=True, compare=False)  # function: PostgreSQL records the dependency
    parsed: bool = field(default=False, compare=False)  # function: its body names the relation
    assumed: bool = field(default=False, compare=False)  # function: resolved along an assumed search_path
    source_cluster: str = ""  # fdw: the cluster of the source (HOST:PORT when outside the catalog)
    server: str = field(default="", compare=False)  # fdw: the foreign server
    subscription: str = field(default="", compare=False)  # replication
    calls: int = field(default=0, compare=False)  # runtime: in the window
    used: bool | None = field(default=None, compare=False)  # None: nothing observes what runs

    @property
    def object(self) -> str:
        return ".".join(self.object_parts)

    @property
    def source(self) -> str:
        return ".".join(self.source_parts)

    def as_dict(self) -> dict:
        data = {
            "consumer": self.consumer,
            "provider": self.provider,
            "kind": self.kind,
            "object": self.object,
            "source": self.source,
            "object_parts": list(self.object_parts),
            "source_parts": list(self.source_parts),
            "declared": self.declared,
            "cluster": self.cluster,
            "columns": list(self.columns),
        }
        if self.kind == "grant":
            data["privileges"] = list(self.privileges)
        if self.via:
            data["via"] = list(self.via)
        if self.kind == "runtime":
            data["access"], data["calls"] = self.access, self.calls
        if self.kind in ("fdw", "dblink"):
            data["source_cluster"] = self.source_cluster
        if self.kind == "fdw":
            data["server"] = self.server
        if self.kind == "replication":
            data["source_cluster"], data["subscription"] = self.source_cluster, self.subscription
        if self.kind == "dblink":
            data["access"], data["assumed_search_path"] = self.access, self.assumed
        if self.kind == "function":
            data["recorded"], data["parsed"] = self.recorded, self.parsed
            if self.parsed:
                data["access"], data["assumed_search_path"] = self.access, self.assumed
        if self.used is not None:
            data["used"] = self.used
        return data


@dataclass(frozen=True)
class Observation:
    """What ran in some clusters, as an observer saw it: the run-time edges, and per cluster and consumer the
    relations its statements touched, (database, schema, name)."""

    edges: list[Edge]
    touched: dict[tuple[str, str], set[tuple[str, ...]]]  # (cluster, consumer) -> relations


OBSERVERS: list[Callable[[list[int] | None], Observation]] = []


def all_edges(cluster_ids: list[int] | None = None) -> list[Edge]:
    """The catalog's paths, each saying whether it was used, and the run-time ones, when something observes what
    runs (else the catalog's alone); kept until the catalog or what ran changes."""
    if not OBSERVERS or not OBSERVED:
        return cross_service_edges(cluster_ids)
    ids = tuple(sorted(cluster_ids)) if cluster_ids is not None else None
    return memoized("edges+observed", (ids,), lambda: _observed_edges(cluster_ids), observed=True)


def _observed_edges(cluster_ids: list[int] | None) -> list[Edge]:
    seen = [observe(cluster_ids) for observe in OBSERVERS]
    touched: dict[tuple[str, str], set[tuple[str, ...]]] = defaultdict(set)
    for observation in seen:
        for key, relations in observation.touched.items():
            touched[key] |= relations

    def used(e: Edge) -> bool:
        reached = touched.get((e.cluster, e.consumer), set())
        return e.object_parts in reached or e.source_parts in reached

    edges = [replace(e, used=used(e)) for e in cross_service_edges(cluster_ids)]
    edges += [e for observation in seen for e in observation.edges]
    return sorted(edges, key=lambda e: (e.cluster, e.consumer, e.provider, e.kind, e.object_parts, e.source_parts))


@dataclass(frozen=True)
class _Rel:
    id: int
    parts: tuple[str, str, str]  # database, schema, name
    service: str | None
    cluster: str
    is_view: bool


def cross_service_edges(cluster_ids: list[int] | None = None) -> list[Edge]:
    """Every cross-service path in the given clusters (default: all), sorted; kept until the catalog changes."""
    ids = tuple(sorted(cluster_ids)) if cluster_ids is not None else None
    return memoized("edges", (ids,), lambda: _compute_edges(cluster_ids))


def _compute_edges(cluster_ids: list[int] | None) -> list[Edge]:
    """A fixed number of queries, whatever the catalog's size."""
    relations = Relation.objects.all()
    deps = Dependency.objects.all()
    grants = Grant.objects.all()
    if cluster_ids is not None:
        relations = relations.filter(schema__database__cluster_id__in=cluster_ids)
        deps = deps.filter(source__schema__database__cluster_id__in=cluster_ids)
        grants = grants.filter(relation__schema__database__cluster_id__in=cluster_ids)

    rels: dict[int, _Rel] = {}
    for pk, db, schema, name, service, cluster, kind in relations.values_list(
        "pk",
        "schema__database__name",
        "schema__name",
        "name",
        "schema__service__name",
        "schema__database__cluster__name",
        "kind",
    ):
        rels[pk] = _Rel(pk, (db, schema, name), service, cluster, kind in (Relation.Kind.VIEW, Relation.Kind.MATVIEW))

    contracts = set(Contract.objects.values_list("consumer__name", "provider__name"))

    def edge(consumer: str, source: _Rel, kind: str, object_parts: tuple[str, ...], **extra) -> Edge:
        provider = source.service or UNOWNED
        return Edge(
            consumer=consumer,
            provider=provider,
            kind=kind,
            object_parts=object_parts,
            source_parts=source.parts,
            declared=(consumer, provider) in contracts,
            cluster=source.cluster,
            **extra,
        )

    edges: set[Edge] = set()
    reads: dict[int, list[tuple[int, tuple[str, ...]]]] = defaultdict(list)  # view -> (relation, columns) read
    for (
        kind,
        consumer_rel,
        source_id,
        fn_db,
        fn_schema,
        fn_name,
        fn_args,
        fn_service,
        recorded,
        parsed,
        assumed,
        access,
        columns,
    ) in deps.values_list(
        "kind",
        "consumer_relation_id",
        "source_id",
        "consumer_function__schema__database__name",
        "consumer_function__schema__name",
        "consumer_function__name",
        "consumer_function__identity_arguments",
        "consumer_function__schema__service__name",
        "recorded",
        "parsed",
        "assumed",
        "access",
        "columns",
    ):
        source = rels.get(source_id)
        if source is None:
            continue
        if kind == Dependency.Kind.VIEW:
            reads[consumer_rel].append((source_id, tuple(columns)))
        elif kind == Dependency.Kind.FK:
            table = rels.get(consumer_rel)
            if table and table.service and table.service != source.service:
                edges.add(edge(table.service, source, "fk", table.parts, columns=tuple(columns)))
        elif kind == Dependency.Kind.FUNCTION and fn_service and fn_service != source.service:
            found = {"recorded": recorded, "parsed": parsed, "assumed": assumed, "access": access}
            edges.add(edge(fn_service, source, "function", (fn_db, fn_schema, f"{fn_name}({fn_args})"), **found))

    # views: everything a service's view reaches, through any number of other views
    for view_id in list(reads):
        view = rels.get(view_id)
        if view is None or not view.service:
            continue
        seen: set[int] = set()
        stack = [(s, (), cols) for s, cols in reads[view_id]]
        while stack:
            source_id, via, cols = stack.pop()
            if source_id in seen or source_id == view_id:
                continue
            seen.add(source_id)
            source = rels[source_id]
            if source.service != view.service:
                edges.add(edge(view.service, source, "view", view.parts, via=via, columns=cols))
            if source.is_view:
                stack.extend((s, (*via, ".".join(source.parts)), c) for s, c in reads.get(source_id, ()))

    # grants: a service's db_roles holding privileges on another service's relations (a role two services declare
    # gives both of them the path: the catalog cannot tell which one uses it)
    role_users = _role_users()
    for relation_id, grantee, privileges in grants.filter(grantee__in=list(role_users)).values_list(
        "relation_id", "grantee", "privileges"
    ):
        source = rels.get(relation_id)
        for consumer in role_users[grantee]:
            if source and source.service != consumer:
                edges.add(edge(consumer, source, "grant", (grantee,), privileges=tuple(sorted(privileges))))

    edges |= _remote_edges(cluster_ids, contracts)
    edges |= _replication_edges(cluster_ids, contracts)
    edges |= _event_edges(cluster_ids)
    return sorted(edges, key=lambda e: (e.cluster, e.consumer, e.provider, e.kind, e.object_parts, e.source_parts))


@dataclass(frozen=True)
class _Remote:
    """A read of another database's relation: a foreign table's (fdw), or a function body's through dblink."""

    own: int  # the cluster it is read from
    cluster: str
    consumer: str
    kind: str
    object_parts: tuple[str, ...]
    wrapper: str
    host: str
    port: str
    dbname: str
    schema: str
    name: str
    server: str = ""
    access: str = ""
    assumed: bool = False
    columns: tuple[str, ...] = ()


def _remote_edges(cluster_ids: list[int] | None, contracts: set[tuple[str, str]]) -> set[Edge]:
    """Foreign tables and dblink calls of a service reading another database's relation, wherever its server
    resolves (catalog.addresses): the provider is the relation's owner; a server or relation the catalog does not
    hold gives the provider OUTSIDE. A fixed number of queries, whatever the number of them and of clusters."""
    reads = _foreign_tables(cluster_ids) + _dblink_reads(cluster_ids)
    if not reads:
        return set()
    book = _address_book()
    resolved = {r: book.resolve(r.own, r.wrapper, r.host, r.port, r.dbname) for r in reads}
    targets = {cluster_id for cluster_id in resolved.values() if cluster_id is not None}
    remote: dict[tuple[int, str, str, str], str | None] = {
        (cluster_id, db, schema, name): service
        for cluster_id, db, schema, name, service in Relation.objects.filter(
            schema__database__cluster_id__in=targets, name__in={r.name for r in reads}
        ).values_list(
            "schema__database__cluster_id", "schema__database__name", "schema__name", "name", "schema__service__name"
        )
    }
    edges = set()
    for r in reads:
        target = resolved[r]
        key = (target, r.dbname, r.schema, r.name)
        if target is not None and key in remote:
            provider, source_cluster = remote[key] or UNOWNED, book.names[target]
        else:
            provider = OUTSIDE
            source_cluster = book.names[target] if target is not None else addresses.label(r.host, r.port)
        if provider == r.consumer:
            continue
        edges.add(
            Edge(
                consumer=r.consumer,
                provider=provider,
                kind=r.kind,
                object_parts=r.object_parts,
                source_parts=(r.dbname, r.schema, r.name),
                declared=(r.consumer, provider) in contracts,
                cluster=r.cluster,
                source_cluster=source_cluster,
                server=r.server,
                access=r.access,
                assumed=r.assumed,
                columns=r.columns,
            )
        )
    return edges


def _replication_edges(cluster_ids: list[int] | None, contracts: set[tuple[str, str]]) -> set[Edge]:
    """Each table a service keeps as a logical replication copy, to the owner of the table it copies."""
    edges = set()
    for link in logical.read_links():
        if cluster_ids is not None and link.cluster_id not in cluster_ids:
            continue
        for t in link.tables:
            provider = (t.source_service or UNOWNED) if link.publisher_id is not None and t.published else OUTSIDE
            if not t.service or provider == t.service:
                continue
            edges.add(
                Edge(
                    consumer=t.service,
                    provider=provider,
                    kind="replication",
                    object_parts=(link.database, t.schema, t.name),
                    source_parts=(link.publisher_database, t.schema, t.name),
                    declared=(t.service, provider) in contracts,
                    cluster=link.cluster,
                    source_cluster=link.publisher,
                    subscription=link.subscription,
                    columns=t.columns,
                )
            )
    return edges


def _event_edges(cluster_ids: list[int] | None) -> set[Edge]:
    """Each service subscribing to a topic, to each service publishing it: two queries."""
    publications = EventPublication.objects.all()
    if cluster_ids is not None:
        publications = publications.filter(cluster_id__in=cluster_ids)
    rows = list(publications.values_list("topic", "service__name", "cluster__name", "database", "schema", "table"))
    if not rows:
        return set()
    subscribers = Service.objects.subscribers({r[0] for r in rows})
    return {
        Edge(
            consumer=consumer,
            provider=publisher,
            kind="event",
            object_parts=(topic,),
            source_parts=(database, schema, table),
            declared=True,
            cluster=cluster,
        )
        for topic, publisher, cluster, database, schema, table in rows
        for consumer in subscribers.get(topic, ())
        if consumer != publisher
    }


def _address_book() -> addresses.AddressBook:
    """Every cluster's addresses and synced databases: three queries."""
    book = addresses.AddressBook()
    for cluster in Cluster.objects.prefetch_related("replicas").only("id", "name", "dsn", "aliases"):
        book.add(cluster.pk, cluster.name, [cluster.dsn, *(r.dsn for r in cluster.replicas.all())], cluster.aliases)
    book.databases = set(Database.objects.values_list("cluster_id", "name"))
    return book


def _foreign_tables(cluster_ids: list[int] | None) -> list[_Remote]:
    tables = ForeignTable.objects.filter(relation__schema__service__isnull=False)
    if cluster_ids is not None:
        tables = tables.filter(relation__schema__database__cluster_id__in=cluster_ids)
    return [
        _Remote(
            own,
            cluster,
            consumer,
            "fdw",
            (db, schema, name),
            wrapper,
            host,
            port,
            dbname,
            r_schema,
            r_name,
            server,
            columns=tuple(cols),
        )  # fmt: skip
        for own, cluster, db, schema, name, consumer, server, wrapper, host, port, dbname, r_schema, r_name, cols in (
            tables.values_list(
                "relation__schema__database__cluster_id",
                "relation__schema__database__cluster__name",
                "relation__schema__database__name",
                "relation__schema__name",
                "relation__name",
                "relation__schema__service__name",
                "server",
                "wrapper",
                "host",
                "port",
                "dbname",
                "remote_schema",
                "remote_name",
                "relation__columns",
            )
        )
    ]


def _dblink_reads(cluster_ids: list[int] | None) -> list[_Remote]:
    uses = FunctionBodyUse.objects.exclude(dbname="").filter(function__schema__service__isnull=False)
    if cluster_ids is not None:
        uses = uses.filter(function__schema__database__cluster_id__in=cluster_ids)
    return [
        _Remote(
            own,
            cluster,
            consumer,
            "dblink",
            (db, schema, f"{fn}({args})"),
            addresses.RESOLVED_WRAPPERS[0],
            host,
            port,
            dbname,
            path[0],
            name,
            access=access,
            assumed=assumed,
        )  # fmt: skip
        for own, cluster, db, schema, fn, args, consumer, host, port, dbname, path, name, access, assumed in (
            uses.values_list(
                "function__schema__database__cluster_id",
                "function__schema__database__cluster__name",
                "function__schema__database__name",
                "function__schema__name",
                "function__name",
                "function__identity_arguments",
                "function__schema__service__name",
                "host",
                "port",
                "dbname",
                "path",
                "name",
                "access",
                "assumed",
            )
        )
    ]


def _role_users() -> dict[str, list[str]]:
    """db role -> the services that declare it, by name."""
    users: dict[str, list[str]] = defaultdict(list)
    for name, roles in Service.objects.order_by("name").values_list("name", "db_roles"):
        for role in roles:
            users[role].append(name)
    return users


def services_with_owned(cluster_ids: list[int] | None = None) -> list[dict]:
    """Services with what they own, as ``database.schema`` (or ``database`` for a whole database)."""
    out = []
    services = Service.objects.prefetch_related("ownerships").order_by("name")
    for service in services:
        owns = [o.label for o in service.ownerships.all() if cluster_ids is None or o.cluster_id in cluster_ids]
        if cluster_ids is not None and not owns:
            continue
        out.append({"name": service.name, "team": service.team, "owns": sorted(owns)})
    return out


@dataclass(frozen=True)
class Dependent:
    """Something that breaks if a relation changes: a view (maybe through others), an FK, a grant or a function."""

    kind: str
    object_parts: tuple[str, ...]
    service: str | None
    via: tuple[str, ...] = ()
    privileges: tuple[str, ...] = ()
    object_id: int | None = None  # the dependent relation's id, for a link
    parsed: bool = False  # a function whose body names it (PostgreSQL may record nothing of it)
    access: str = ""  # such a function's: read or write
    cluster: str = ""  # from another database (fdw, dblink, replication, event): the dependent's cluster

    @property
    def object(self) -> str:
        return ".".join(self.object_parts)


def blast_radius(relation: Relation, column: str | None = None) -> list[Dependent]:
    """Everything that depends on the relation (``column``: on that column of it), views through any depth, and
    what reads it from other databases; constant queries.

    For a column: the views whose query reads it (PostgreSQL records views' reads per column) and every view over
    those, the foreign keys referencing it, the foreign tables and replicated copies carrying it; never a grant (it
    survives the change) nor a function (PostgreSQL records no column of a function's use)."""
    db = relation.schema.database
    names: dict[int, tuple[tuple[str, str, str], str | None]] = {
        pk: ((db.name, schema, name), service)
        for pk, schema, name, service in Relation.objects.filter(schema__database=db).values_list(
            "pk", "schema__name", "name", "schema__service__name"
        )
    }
    readers: dict[int, list[int]] = defaultdict(list)  # relation -> views reading it directly
    out: set[Dependent] = set()
    deps = Dependency.objects.filter(source__schema__database=db).values_list(
        "kind",
        "consumer_relation_id",
        "source_id",
        "consumer_function__schema__name",
        "consumer_function__name",
        "consumer_function__identity_arguments",
        "consumer_function__schema__service__name",
        "parsed",
        "access",
        "columns",
    )
    for kind, consumer, source, fn_schema, fn_name, fn_args, fn_service, parsed, access, columns in deps:
        uses = column is None or column in columns
        if kind == Dependency.Kind.VIEW:
            if source != relation.pk or uses:
                readers[source].append(consumer)
        elif source == relation.pk and kind == Dependency.Kind.FK and uses:
            parts, service = names[consumer]
            out.add(Dependent("fk", parts, service, object_id=consumer))
        elif source == relation.pk and kind == Dependency.Kind.FUNCTION and column is None:
            parts = (db.name, fn_schema, f"{fn_name}({fn_args})")
            out.add(Dependent("function", parts, fn_service, parsed=parsed, access=access))
    stack = [(v, ()) for v in readers.get(relation.pk, ())]
    seen: set[int] = set()
    while stack:
        view, via = stack.pop()
        if view in seen:
            continue
        seen.add(view)
        parts, service = names[view]
        out.add(Dependent("view", parts, service, via=via, object_id=view))
        stack.extend((v, (*via, ".".join(parts))) for v in readers.get(view, ()))
    if column is None:
        role_users = _role_users()
        for grantee, privileges in relation.grants.values_list("grantee", "privileges"):
            for service in role_users.get(grantee) or [None]:
                out.add(Dependent("grant", (grantee,), service, privileges=tuple(sorted(privileges))))
    # from other databases: foreign tables, dblink calls and replicated copies reading it, subscribers to its events
    here, parts = db.cluster.name, (db.name, relation.schema.name, relation.name)
    for e in cross_service_edges():
        if (
            e.kind in REMOTE
            and e.source_parts == parts
            and (e.cluster if e.kind == "event" else e.source_cluster) == here
            and (column is None or (e.kind in ("fdw", "replication") and column in e.columns))
        ):
            out.add(Dependent(e.kind, e.object_parts, e.consumer, access=e.access, cluster=e.cluster))
    return sorted(out, key=lambda d: (d.service or "", d.kind, d.object_parts))


def column_readers(relation: Relation) -> dict[str, list[Dependent]]:
    """Per column of the relation, what reads it directly: views, foreign keys, foreign tables and replicated
    copies (a view over those reads it through them: the column's blast radius lists those too). Two queries, and
    the memoized paths."""
    db = relation.schema.database
    out: dict[str, set[Dependent]] = {c: set() for c in relation.columns}
    for kind, consumer, schema, name, service, columns in Dependency.objects.filter(
        source=relation, kind__in=(Dependency.Kind.VIEW, Dependency.Kind.FK)
    ).values_list(
        "kind",
        "consumer_relation_id",
        "consumer_relation__schema__name",
        "consumer_relation__name",
        "consumer_relation__schema__service__name",
        "columns",
    ):
        for c in columns:
            out.setdefault(c, set()).add(Dependent(kind, (db.name, schema, name), service, object_id=consumer))
    here, parts = db.cluster.name, (db.name, relation.schema.name, relation.name)
    for e in cross_service_edges():
        if e.kind in ("fdw", "replication") and e.source_parts == parts and e.source_cluster == here:
            for c in e.columns:
                out.setdefault(c, set()).add(Dependent(e.kind, e.object_parts, e.consumer, cluster=e.cluster))
    return {c: sorted(found, key=lambda d: (d.service or "", d.kind, d.object_parts)) for c, found in out.items()}


REMOTE = ("fdw", "dblink", "replication", "event")  # kinds whose consumer may be in another database
