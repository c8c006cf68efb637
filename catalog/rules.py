"""Audit rules: the seed's recommendations as small pure functions over one cluster's synced catalog.

``load(cluster)`` reads the catalog once, in a constant number of queries, into plain objects; each rule is a
function of that snapshot (and nothing else) yielding findings. ``evaluate`` runs them all with each rule's
configured severity. docs/rules.md says why each matters and how to fix what it finds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from django.db.models import Prefetch
from psycopg import sql as psql

from . import outbox
from .models import (
    OUTSIDE,
    UNOWNED,
    Cluster,
    Contract,
    Dependency,
    Function,
    Grant,
    Relation,
    RuleSeverity,
    Schema,
    Service,
    Severity,
)
from .paths import Edge, cross_service_edges

CRITICAL, HIGH, MEDIUM, LOW = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW
REMOTE_KINDS = ("fdw", "dblink", "replication")  # paths that cross databases
TABLES = ("table", "partitioned", "foreign")
WRITES = ("INSERT", "UPDATE", "DELETE", "TRUNCATE")


@dataclass(frozen=True)
class Finding:
    """What a rule found on one object. A rule yields it without ``rule`` and ``severity``: ``evaluate`` sets those
    (the rule's code, and its configured severity)."""

    object: str  # raw identifiers joined by dots (database.schema.relation, database.schema, or the cluster)
    object_parts: tuple[str, ...]
    message: str
    service: str | None = None  # the object's owning service
    related_service: str | None = None  # the other side, for cross-service rules
    remediation: str = ""
    rule: str = ""
    severity: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes a finding the same one from run to run."""
        return (self.rule, self.object, self.related_service or "")


@dataclass
class Rel:
    id: int
    database: str
    schema: str
    name: str
    kind: str
    owner: str
    columns: tuple[str, ...]
    has_primary_key: bool
    service: str | None

    @property
    def parts(self) -> tuple[str, ...]:
        return (self.database, self.schema, self.name)

    @property
    def label(self) -> str:
        return ".".join(self.parts)

    @property
    def sql(self) -> str:
        return psql.Identifier(self.schema, self.name).as_string()


@dataclass
class Fn:
    id: int
    database: str
    schema: str
    name: str
    arguments: str
    security_definer: bool
    search_path: str | None
    service: str | None

    @property
    def parts(self) -> tuple[str, ...]:
        return (self.database, self.schema, f"{self.name}({self.arguments})")

    @property
    def label(self) -> str:
        return ".".join(self.parts)

    @property
    def sql(self) -> str:
        return f"{psql.Identifier(self.schema, self.name).as_string()}({self.arguments})"


@dataclass
class Snapshot:
    """One cluster's catalog, as the rules see it."""

    cluster: Cluster
    services: dict[str, Service]
    consumes: dict[str, set[str]]  # service -> services it declares it may read
    role_service: dict[str, str]  # db role -> service
    schemas: list[tuple[str, str, str | None, int]]  # (database, schema, service, objects in it)
    relations: dict[int, Rel]
    functions: dict[int, Fn]
    edges: list[tuple[str, int | None, int | None, int, str]]  # (kind, consumer rel, consumer fn, source rel, name)
    grants: list[tuple[int, str, tuple[str, ...]]]  # (relation, grantee role, privileges)
    cluster_services: set[str] = field(default_factory=set)  # services that own data on the cluster
    remote: list[Edge] = field(default_factory=list)  # fdw, dblink, replication paths of the cluster (catalog.paths)
    view_columns: dict[tuple[int, int], tuple[str, ...]] = field(default_factory=dict)  # (view, source) -> read
    # (consumer, provider) -> the (schema, table, column) the contract allows, for contracts that list columns
    contract_columns: dict[tuple[str, str], set[tuple[str, str, str]]] = field(default_factory=dict)


def load(cluster: Cluster) -> Snapshot:
    """The cluster's synced catalog, in a constant number of queries whatever its size."""
    services = {s.name: s for s in Service.objects.prefetch_related(
        Prefetch("contracts_out", queryset=Contract.objects.select_related("provider"))
    )}  # fmt: skip
    consumes = {name: {c.provider.name for c in s.contracts_out.all()} for name, s in services.items()}
    role_service: dict[str, str] = {}
    for name in sorted(services):
        for role in services[name].db_roles:
            role_service.setdefault(role, name)
    scope = {"schema__database__cluster": cluster}
    relations = {
        r[0]: Rel(r[0], r[1], r[2], r[3], r[4], r[5], tuple(r[6]), r[7], r[8])
        for r in Relation.objects.filter(**scope).values_list(
            "id",
            "schema__database__name",
            "schema__name",
            "name",
            "kind",
            "owner",
            "columns",
            "has_primary_key",
            "schema__service__name",
        )
    }
    functions = {
        f[0]: Fn(*f)
        for f in Function.objects.filter(**scope).values_list(
            "id",
            "schema__database__name",
            "schema__name",
            "name",
            "identity_arguments",
            "security_definer",
            "search_path",
            "schema__service__name",
        )
    }
    counts: dict[tuple[str, str], int] = {}
    for rel in relations.values():
        counts[(rel.database, rel.schema)] = counts.get((rel.database, rel.schema), 0) + 1
    for fn in functions.values():
        counts[(fn.database, fn.schema)] = counts.get((fn.database, fn.schema), 0) + 1
    schemas = [
        (db, name, service, counts.get((db, name), 0))
        for db, name, service in Schema.objects.filter(database__cluster=cluster).values_list(
            "database__name", "name", "service__name"
        )
    ]
    rows = Dependency.objects.filter(source__schema__database__cluster=cluster).values_list(
        "kind", "consumer_relation_id", "consumer_function_id", "source_id", "name", "columns"
    )
    edges, view_columns = [], {}
    for kind, rel, fn, source, name, columns in rows:
        edges.append((kind, rel, fn, source, name))
        if kind == Dependency.Kind.VIEW:
            view_columns[(rel, source)] = tuple(columns)
    contract_columns = {
        (name, c.provider.name): {tuple(col) for col in c.columns}
        for name, s in services.items()
        for c in s.contracts_out.all()
        if c.columns
    }
    grants = [
        (rel, grantee, tuple(privs))
        for rel, grantee, privs in Grant.objects.filter(relation__schema__database__cluster=cluster).values_list(
            "relation_id", "grantee", "privileges"
        )
    ]
    owners = set(cluster.ownerships.values_list("service__name", flat=True))
    remote = [e for e in cross_service_edges([cluster.pk]) if e.kind in REMOTE_KINDS]
    return Snapshot(
        cluster,
        services,
        consumes,
        role_service,
        schemas,
        relations,
        functions,
        edges,
        grants,
        owners,
        remote,
        view_columns,
        contract_columns,
    )


Rule = Callable[[Snapshot], Iterator[Finding]]
RULES: dict[str, tuple[str, Rule]] = {}  # code -> (default severity, rule)


def rule(code: str, severity: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        RULES[code] = (severity, fn)
        return fn

    return register


@rule("unowned_schema", MEDIUM)
def unowned_schema(s: Snapshot):
    for database, schema, service, objects in s.schemas:
        if service is None and objects:
            yield Finding(
                f"{database}.{schema}",
                (database, schema),
                f"schema {database}.{schema} holds {objects} relations or functions, and no service owns it",
            )


@rule("unowned_relation", MEDIUM)
def unowned_relation(s: Snapshot):
    for rel in s.relations.values():
        if rel.service is None and rel.kind in ("table", "partitioned"):
            where = "public" if rel.schema == "public" else "a schema no service owns"
            yield Finding(rel.label, rel.parts, f"table {rel.label} is in {where}: no service owns it")


@rule("cross_service_fk", HIGH)
def cross_service_fk(s: Snapshot):
    for kind, consumer, _, source, name in s.edges:
        if kind != "fk" or consumer not in s.relations or source not in s.relations:
            continue
        a, b = s.relations[consumer], s.relations[source]
        if a.service and b.service and a.service != b.service:
            constraint = psql.Identifier(name).as_string()
            yield Finding(
                a.label,
                a.parts,
                f"{a.label} of {a.service} has a foreign key {name} to {b.label} of {b.service}",
                service=a.service,
                related_service=b.service,
                remediation=f"ALTER TABLE {a.sql} DROP CONSTRAINT {constraint};",
            )


def _consumer(s: Snapshot, relation: int | None, function: int | None) -> Rel | Fn | None:
    return s.relations.get(relation) if relation else s.functions.get(function)


@rule("undeclared_read", HIGH)
def undeclared_read(s: Snapshot):
    seen = set()
    for kind, rel_id, fn_id, source, _ in s.edges:
        if kind not in ("view", "function") or source not in s.relations:
            continue
        consumer, provider = _consumer(s, rel_id, fn_id), s.relations[source]
        if not consumer or not consumer.service or not provider.service or consumer.service == provider.service:
            continue
        if provider.service in s.consumes.get(consumer.service, set()) or (consumer.label, provider.service) in seen:
            continue
        seen.add((consumer.label, provider.service))
        what = "function" if fn_id else "view"
        yield Finding(
            consumer.label,
            consumer.parts,
            f"{what} {consumer.label} of {consumer.service} reads {provider.label} of {provider.service}, "
            f"and {consumer.service} does not declare that it consumes {provider.service}",
            service=consumer.service,
            related_service=provider.service,
        )


HOW = {"fdw": "foreign table", "dblink": "function (through dblink)", "replication": "logical replication copy"}


@rule("undeclared_cross_database_read", HIGH)
def undeclared_cross_database_read(s: Snapshot):
    """A's foreign table, dblink call or logical replication copy reads B's relation in another database without a
    contract; or reads a server or relation the catalog does not hold (no contract can cover what it cannot see)."""
    seen = set()
    for e in s.remote:  # sorted: the first of an object's paths to one provider is the one reported
        if e.declared or e.provider == UNOWNED or (e.object, e.provider) in seen:
            continue
        seen.add((e.object, e.provider))
        how = HOW[e.kind]
        where = f"{e.source} on {e.source_cluster}"
        if e.kind == "replication" and e.provider == OUTSIDE:
            message = (
                f"{how} {e.object} of {e.consumer} is received by subscription {e.subscription} from a publisher "
                "outside the catalog: catalog the cluster whose primary has its slot to know whose data it is"
            )
        elif e.provider == OUTSIDE:
            message = (
                f"{how} {e.object} of {e.consumer} reads {where}, outside the catalog: "
                "catalog that server (or give its cluster the address as an alias) to know whose data it is"
            )
        else:
            message = (
                f"{how} {e.object} of {e.consumer} {'writes' if e.access == 'write' else 'reads'} {where} of "
                f"{e.provider}, and {e.consumer} does not declare that it consumes {e.provider}"
            )
        yield Finding(
            e.object,
            e.object_parts,
            message,
            service=e.consumer,
            related_service=None if e.provider == OUTSIDE else e.provider,
        )


@rule("outbox_not_drained", HIGH)
def outbox_not_drained(s: Snapshot):
    """A declared outbox table whose live rows only grew across the last hour's samples: its relay is not taking
    them out, and the services subscribing to its topics are not getting them."""
    for v in outbox.verdicts(s.cluster.pk):
        if v.drained is not False:
            continue
        minutes = int((outbox.WINDOW.total_seconds()) // 60)
        waiting = ", ".join(v.subscribers) or "no subscriber declared"
        yield Finding(
            ".".join(v.parts),
            v.parts,
            f"outbox {'.'.join(v.parts)} of {v.publisher} (topics {', '.join(v.topics)}) is not being drained: its "
            f"live rows only grew across {v.samples} samples in the last {minutes} min, from {v.first_rows} to "
            f"{v.last_rows}; waiting for its events: {waiting}",
            service=v.publisher,
        )


@rule("full_exposure_view", HIGH)
def full_exposure_view(s: Snapshot):
    for kind, rel_id, _, source, _ in s.edges:
        if kind != "view" or rel_id not in s.relations or source not in s.relations:
            continue
        view, table = s.relations[rel_id], s.relations[source]
        if view.kind not in ("view", "matview") or table.kind not in TABLES or not view.service:
            continue
        if table.service == view.service or not table.columns:
            continue
        provider = table.service or UNOWNED
        whose = f"of {table.service}" if table.service else "(no service owns it)"
        allowed = s.contract_columns.get((view.service, table.service)) if table.service else None
        if allowed is not None:  # the contract names the columns: anything more is beyond it
            beyond = [
                c for c in s.view_columns.get((rel_id, source), ()) if (table.schema, table.name, c) not in allowed
            ]
            if not beyond:
                continue
            message = (
                f"view {view.label} of {view.service} exposes columns of {table.label} {whose} beyond the contract: "
                f"{', '.join(beyond)}"
            )
        elif not set(table.columns) <= set(view.columns):
            continue
        else:
            message = f"view {view.label} of {view.service} exposes every column of {table.label} {whose}"
        yield Finding(
            view.label,
            view.parts,
            message,
            service=view.service,
            related_service=provider,
            remediation=f"CREATE OR REPLACE VIEW {view.sql} AS SELECT <only the columns {view.service} needs> "
            f"FROM {table.sql};",
        )


@rule("cross_service_select_grant", MEDIUM)
def cross_service_select_grant(s: Snapshot):
    yield from _grants(s, reads=True)


@rule("cross_service_write_grant", CRITICAL)
def cross_service_write_grant(s: Snapshot):
    yield from _grants(s, reads=False)


def _grants(s: Snapshot, *, reads: bool):
    for rel_id, grantee, privileges in s.grants:
        rel, holder = s.relations.get(rel_id), s.role_service.get(grantee)
        if not rel or not rel.service or not holder or holder == rel.service:
            continue
        if reads:
            if "SELECT" not in privileges or rel.kind not in TABLES:
                continue  # SELECT on a view of B is the recommended way
            privs = ["SELECT"]
        else:
            privs = [p for p in privileges if p in WRITES]
            if not privs:
                continue
        role = psql.Identifier(grantee).as_string()
        yield Finding(
            rel.label,
            rel.parts,
            f"role {grantee} of {holder} holds {', '.join(privs)} on {rel.label} of {rel.service}",
            service=rel.service,
            related_service=holder,
            remediation=f"REVOKE {', '.join(privs)} ON {rel.sql} FROM {role};",
        )


@rule("owner_mismatch", LOW)
def owner_mismatch(s: Snapshot):
    for rel in s.relations.values():
        service = s.services.get(rel.service or "")
        if not service or not service.db_roles or rel.owner in service.db_roles:
            continue
        role = psql.Identifier(service.db_roles[0]).as_string()
        keyword = {"view": "VIEW", "matview": "MATERIALIZED VIEW", "foreign": "FOREIGN TABLE"}.get(rel.kind, "TABLE")
        yield Finding(
            rel.label,
            rel.parts,
            f"{rel.label} of {rel.service} is owned by {rel.owner}, which is not one of {rel.service}'s roles",
            service=rel.service,
            remediation=f"ALTER {keyword} {rel.sql} OWNER TO {role};",
        )


@rule("security_definer_search_path", HIGH)
def security_definer_search_path(s: Snapshot):
    for fn in s.functions.values():
        if fn.security_definer and not (fn.search_path or "").strip():
            schema = psql.Identifier(fn.schema).as_string()
            yield Finding(
                fn.label,
                fn.parts,
                f"SECURITY DEFINER function {fn.label} has no fixed search_path",
                service=fn.service,
                remediation=f"ALTER FUNCTION {fn.sql} SET search_path = pg_catalog, {schema}, pg_temp;",
            )


@rule("table_without_primary_key", LOW)
def table_without_primary_key(s: Snapshot):
    for rel in s.relations.values():
        if rel.kind in ("table", "partitioned") and not rel.has_primary_key:
            yield Finding(rel.label, rel.parts, f"table {rel.label} has no primary key", service=rel.service)


@rule("pool_overcommit", HIGH)
def pool_overcommit(s: Snapshot):
    usable = s.cluster.usable_connections
    on_cluster = [s.services[name] for name in sorted(s.cluster_services) if name in s.services]
    budget = sum(service.connection_budget for service in on_cluster)
    if usable is not None and budget > usable:
        detail = ", ".join(f"{x.name} {x.connection_budget}" for x in on_cluster if x.connection_budget)
        yield Finding(
            s.cluster.name,
            (s.cluster.name,),
            f"the pools of the services on {s.cluster.name} may open {budget} connections ({detail}), "
            f"more than the {usable} it can give",
        )


@rule("monitoring_superuser", MEDIUM)
def monitoring_superuser(s: Snapshot):
    if s.cluster.monitor_role_is_superuser:
        role = s.cluster.monitor_role or "?"
        yield Finding(
            s.cluster.name,
            (s.cluster.name,),
            f"Seamline monitors {s.cluster.name} as {role}, a superuser",
            remediation="CREATE ROLE seamline_monitor LOGIN PASSWORD '…' IN ROLE pg_monitor CONNECTION LIMIT 10;",
        )


def evaluate(snapshot: Snapshot) -> list[Finding]:
    """Every rule over the snapshot, with each rule's configured severity; sorted by severity, rule, object."""
    configured = dict(RuleSeverity.objects.values_list("rule", "severity"))
    order = {severity: i for i, severity in enumerate(Severity.values)}
    findings = [
        # a configured severity, else the finding's own (a rule may grade its findings), else the rule's
        replace(found, rule=code, severity=configured.get(code) or found.severity or default)
        for code, (default, fn) in RULES.items()
        for found in fn(snapshot)
    ]
    return sorted(findings, key=lambda f: (order[f.severity], f.rule, f.object, f.related_service or ""))
