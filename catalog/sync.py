"""Introspection sync: read a cluster's catalog (catalog.introspect) and upsert it into the catalog tables.

Idempotent: unchanged rows are left untouched, new ones added, changed ones updated, dropped ones removed. The
monitored server sees a constant number of statements per database, whatever its size, in one read-only REPEATABLE
READ transaction; a database whose catalog fingerprint has not changed since the last sync is not read again. Each
database is written to Seamline's own database in one transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone
from psycopg import sql

from . import introspect
from .introspect import DatabaseCatalog
from .models import Cluster, Database, Dependency, Function, Grant, Relation, Schema
from .monitored import connect, password_for
from .ownership import assign_owners
from .versioning import bump

LABELS = {
    "catalog.Database": "databases",
    "catalog.Schema": "schemas",
    "catalog.Relation": "relations",
    "catalog.Function": "functions",
    "catalog.Dependency": "dependencies",
    "catalog.Grant": "grants",
}
Progress = Callable[[str, int, int], None]  # (database being synced, databases done, databases in all)


class SyncError(Exception):
    pass


@dataclass
class SyncSummary:
    cluster: str
    databases: list[str] = field(default_factory=list)
    not_changed: list[str] = field(default_factory=list)  # skipped: same catalog fingerprint as last time
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    statements_sent: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "databases": self.databases,
            "not_changed": self.not_changed,
            "created": dict(self.created),
            "updated": dict(self.updated),
            "deleted": dict(self.deleted),
            "unchanged": dict(self.unchanged),
            "statements_sent": self.statements_sent,
        }


def sync_cluster(
    cluster: Cluster, databases: list[str] | None = None, progress: Progress | None = None, *, full: bool = False
) -> SyncSummary:
    """Sync the given databases (default: the cluster's configured ones, else every database) from its primary.

    ``full`` reads every database even when its catalog fingerprint says nothing changed.
    """
    summary = SyncSummary(cluster=cluster.name)
    password = password_for(cluster)
    with connect(cluster.dsn, password, target=cluster.name) as conn:
        server = introspect.cluster_settings(conn)
        present = introspect.list_databases(conn)
        summary.statements_sent += conn.statements_sent
    wanted = databases or cluster.databases or present
    missing = [name for name in wanted if name not in present]
    if missing:
        raise SyncError(f"cluster {cluster.name} has no database named {', '.join(repr(m) for m in missing)}")
    known = dict(Database.objects.filter(cluster=cluster).values_list("name", "fingerprint"))

    for done, name in enumerate(wanted):
        if progress:
            progress(name, done, len(wanted))
        with connect(cluster.dsn, password, dbname=name, target=f"{cluster.name}/{name}") as conn:
            fingerprint = introspect.catalog_fingerprint(conn)
            catalog = None
            if full or known.get(name) != fingerprint:
                catalog = introspect.read_database(conn)
            summary.statements_sent += conn.statements_sent
        summary.databases.append(name)
        if catalog is None:
            summary.not_changed.append(name)
            summary.unchanged["databases"] += 1
            Database.objects.filter(cluster=cluster, name=name).update(synced_at=timezone.now())
            continue
        with transaction.atomic():
            apply_database(cluster, catalog, summary, fingerprint)

    with transaction.atomic():
        if databases is None:
            _, deleted = Database.objects.filter(cluster=cluster).exclude(name__in=wanted).delete()
            for model_label, n in deleted.items():
                summary.deleted[LABELS.get(model_label, model_label)] += n
        Cluster.objects.filter(pk=cluster.pk).update(
            server_version=server.server_version,
            max_connections=server.max_connections,
            superuser_reserved_connections=server.superuser_reserved_connections,
            monitor_role=server.current_user,
            monitor_role_is_superuser=server.current_user_is_superuser,
            synced_at=timezone.now(),
        )
        assign_owners([cluster.pk])
        bump()
    if progress:
        progress("", len(wanted), len(wanted))
    return summary


def apply_database(cluster: Cluster, catalog: DatabaseCatalog, summary: SyncSummary, fingerprint: str = "") -> Database:
    info = catalog.database
    db = Database.objects.filter(cluster=cluster, name=info.name).first()
    if db is None:
        db = Database.objects.create(cluster=cluster, name=info.name, owner=info.owner, size_bytes=info.size_bytes)
        summary.created["databases"] += 1
    elif (db.owner, db.size_bytes) != (info.owner, info.size_bytes):
        summary.updated["databases"] += 1
    else:
        summary.unchanged["databases"] += 1
    Database.objects.filter(pk=db.pk).update(
        owner=info.owner, size_bytes=info.size_bytes, fingerprint=fingerprint, synced_at=timezone.now()
    )

    schema_ids = _reconcile(
        summary,
        "schemas",
        Schema,
        scope=Q(database=db),
        keys=("name",),
        values=("owner", "comment"),
        wanted={(r.name,): (r.owner, r.comment) for r in catalog.schemas},
        fixed={"database_id": db.pk},
    )
    relation_ids = _reconcile(
        summary,
        "relations",
        Relation,
        scope=Q(schema__database=db),
        keys=("schema_id", "name"),
        values=("kind", "owner", "estimated_rows", "size_bytes", "has_primary_key", "columns", "comment"),
        wanted={
            (schema_ids[(r.schema,)], r.name): (
                r.kind,
                r.owner,
                r.estimated_rows,
                r.size_bytes,
                r.has_primary_key,
                list(r.columns),
                r.comment,
            )
            for r in catalog.relations
            if (r.schema,) in schema_ids
        },
    )
    function_ids = _reconcile(
        summary,
        "functions",
        Function,
        scope=Q(schema__database=db),
        keys=("schema_id", "name", "identity_arguments"),
        values=("kind", "owner", "language", "security_definer", "search_path", "comment"),
        wanted={
            (schema_ids[(f.schema,)], f.name, f.identity_arguments): (
                f.kind,
                f.owner,
                f.language,
                f.security_definer,
                f.search_path,
                f.comment,
            )
            for f in catalog.functions
            if (f.schema,) in schema_ids
        },
    )

    def rel(ref: introspect.RelationRef) -> int | None:
        schema = schema_ids.get((ref.schema,))
        return relation_ids.get((schema, ref.name)) if schema else None

    def fn(ref: introspect.FunctionRef) -> int | None:
        schema = schema_ids.get((ref.schema,))
        return function_ids.get((schema, ref.name, ref.identity_arguments)) if schema else None

    edges: dict[tuple, tuple] = {}
    for d in catalog.view_dependencies:
        edges[("view", rel(d.view), None, rel(d.source), "")] = ()
    for k in catalog.foreign_keys:
        edges[("fk", rel(k.table), None, rel(k.references), k.name)] = ()
    for d in catalog.function_dependencies:
        edges[("function", None, fn(d.function), rel(d.source), "")] = ()
    _reconcile(
        summary,
        "dependencies",
        Dependency,
        scope=Q(consumer_relation__schema__database=db) | Q(consumer_function__schema__database=db),
        keys=("kind", "consumer_relation_id", "consumer_function_id", "source_id", "name"),
        values=(),
        wanted={key: v for key, v in edges.items() if (key[1] or key[2]) and key[3]},
        need_ids=False,
    )
    _reconcile(
        summary,
        "grants",
        Grant,
        scope=Q(relation__schema__database=db),
        keys=("relation_id", "grantee"),
        values=("privileges",),
        wanted={(rel(p.relation), p.grantee): (list(p.privileges),) for p in catalog.privileges if rel(p.relation)},
        need_ids=False,
    )
    return db


def _reconcile(
    summary: SyncSummary,
    label: str,
    model: type[models.Model],
    *,
    scope: Q,
    keys: tuple[str, ...],
    values: tuple[str, ...],
    wanted: dict[tuple, tuple],
    fixed: dict[str, Any] | None = None,
    need_ids: bool = True,
) -> dict[Hashable, int]:
    """Make the rows in ``scope`` look like ``wanted`` (natural key -> values), touching only what differs.

    Rows are compared as plain tuples, new ones written with COPY: a first sync of a large database writes tens of
    thousands of rows, which Django's object-per-row bulk_create makes several times slower. Returns key -> id.
    """
    fixed = fixed or {}
    n = len(keys)
    existing = {
        tuple(row[1 : n + 1]): (row[0], tuple(row[n + 1 :]))
        for row in model.objects.filter(scope).values_list("pk", *keys, *values)
    }
    new_rows, changed, changed_fields = [], [], set()
    for key, vals in wanted.items():
        found = existing.get(key)
        if found is None:
            new_rows.append((*fixed.values(), *key, *vals))
        elif found[1] != vals:
            changed_fields.update(f for f, old, new in zip(values, found[1], vals, strict=True) if old != new)
            changed.append(
                model(pk=found[0], **dict(zip(keys, key, strict=True)), **dict(zip(values, vals, strict=True)))
            )
    gone = [pk for key, (pk, _) in existing.items() if key not in wanted]
    if gone:
        # count what goes with them too (a dropped schema takes its relations), under the same labels
        _, deleted = model.objects.filter(pk__in=gone).delete()
        for model_label, count in deleted.items():
            summary.deleted[LABELS.get(model_label, model_label)] += count
    if new_rows:
        _copy(model, (*fixed, *keys, *values), new_rows)
    if changed:
        model.objects.bulk_update(changed, sorted(changed_fields), batch_size=500)
    for counter, count in (
        (summary.created, len(new_rows)),
        (summary.updated, len(changed)),
        (summary.unchanged, len(wanted) - len(new_rows) - len(changed)),
    ):
        if count:
            counter[label] += count
    if not need_ids:
        return {}
    ids = {key: pk for key, (pk, _) in existing.items() if key in wanted}
    if new_rows:
        ids = {tuple(row[1:]): row[0] for row in model.objects.filter(scope).values_list("pk", *keys)}
    return ids


def _copy(model: type[models.Model], fields: Iterable[str], rows: list[tuple]) -> None:
    opts = model._meta
    column_of = {f.attname: f.column for f in opts.concrete_fields}
    columns = [column_of[f] for f in fields]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(opts.db_table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
