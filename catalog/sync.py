"""Introspection sync: read a cluster's catalog (catalog.introspect) and upsert it into the catalog tables.

Idempotent: unchanged rows are left untouched, new ones added, changed ones updated, dropped ones removed. The
monitored server sees a constant number of statements per database, whatever its size, each in one read-only
REPEATABLE READ transaction; each database is written to Seamline's own database in one transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from . import introspect
from .introspect import DatabaseCatalog
from .models import Cluster, Database, Dependency, Function, Grant, Relation, Schema
from .monitored import connect, password_for
from .ownership import assign_owners

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
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    statements_sent: int = 0
    owners_changed: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "databases": self.databases,
            "created": dict(self.created),
            "updated": dict(self.updated),
            "deleted": dict(self.deleted),
            "unchanged": dict(self.unchanged),
            "statements_sent": self.statements_sent,
        }


def sync_cluster(cluster: Cluster, databases: list[str] | None = None, progress: Progress | None = None) -> SyncSummary:
    """Sync the given databases (default: the cluster's configured ones, else every database) from its primary."""
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

    for done, name in enumerate(wanted):
        if progress:
            progress(name, done, len(wanted))
        with connect(cluster.dsn, password, dbname=name, target=f"{cluster.name}/{name}") as conn:
            catalog = introspect.read_database(conn)
            summary.statements_sent += conn.statements_sent
        with transaction.atomic():
            apply_database(cluster, catalog, summary)
        summary.databases.append(name)

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
        summary.owners_changed = assign_owners([cluster.pk])
    if progress:
        progress("", len(wanted), len(wanted))
    return summary


def apply_database(cluster: Cluster, catalog: DatabaseCatalog, summary: SyncSummary) -> Database:
    info = catalog.database
    db = Database.objects.filter(cluster=cluster, name=info.name).first()
    if db is None:
        db = Database.objects.create(cluster=cluster, name=info.name, owner=info.owner, size_bytes=info.size_bytes)
        summary.created["databases"] += 1
    elif (db.owner, db.size_bytes) != (info.owner, info.size_bytes):
        db.owner, db.size_bytes = info.owner, info.size_bytes
        db.save(update_fields=["owner", "size_bytes"])
        summary.updated["databases"] += 1
    else:
        summary.unchanged["databases"] += 1
    Database.objects.filter(pk=db.pk).update(synced_at=timezone.now())

    schemas = _reconcile(
        summary,
        "schemas",
        Schema,
        existing={s.name: s for s in Schema.objects.filter(database=db)},
        wanted={r.name: {"owner": r.owner, "comment": r.comment} for r in catalog.schemas},
        build=lambda name, values: Schema(database=db, name=name, **values),
    )
    schema_names = {s.pk: name for name, s in schemas.items()}

    relations = _reconcile(
        summary,
        "relations",
        Relation,
        existing={(schema_names[r.schema_id], r.name): r for r in Relation.objects.filter(schema__database=db)},
        wanted={
            (r.schema, r.name): {
                "kind": r.kind,
                "owner": r.owner,
                "estimated_rows": r.estimated_rows,
                "size_bytes": r.size_bytes,
                "has_primary_key": r.has_primary_key,
                "columns": list(r.columns),
                "comment": r.comment,
            }
            for r in catalog.relations
            if r.schema in schemas
        },
        build=lambda key, values: Relation(schema=schemas[key[0]], name=key[1], **values),
    )
    functions = _reconcile(
        summary,
        "functions",
        Function,
        existing={
            (schema_names[f.schema_id], f.name, f.identity_arguments): f
            for f in Function.objects.filter(schema__database=db)
        },
        wanted={
            (f.schema, f.name, f.identity_arguments): {
                "kind": f.kind,
                "owner": f.owner,
                "language": f.language,
                "security_definer": f.security_definer,
                "search_path": f.search_path,
                "comment": f.comment,
            }
            for f in catalog.functions
            if f.schema in schemas
        },
        build=lambda key, values: Function(schema=schemas[key[0]], name=key[1], identity_arguments=key[2], **values),
    )

    def rel(ref: introspect.RelationRef) -> int | None:
        found = relations.get((ref.schema, ref.name))
        return found.pk if found else None

    def fn(ref: introspect.FunctionRef) -> int | None:
        found = functions.get((ref.schema, ref.name, ref.identity_arguments))
        return found.pk if found else None

    edges: dict[tuple, dict] = {}
    for d in catalog.view_dependencies:
        edges[("view", rel(d.view), None, rel(d.source), "")] = {}
    for k in catalog.foreign_keys:
        edges[("fk", rel(k.table), None, rel(k.references), k.name)] = {}
    for d in catalog.function_dependencies:
        edges[("function", None, fn(d.function), rel(d.source), "")] = {}
    edges = {key: v for key, v in edges.items() if (key[1] or key[2]) and key[3]}
    _reconcile(
        summary,
        "dependencies",
        Dependency,
        existing={
            (d.kind, d.consumer_relation_id, d.consumer_function_id, d.source_id, d.name): d
            for d in Dependency.objects.filter(
                Q(consumer_relation__schema__database=db) | Q(consumer_function__schema__database=db)
            )
        },
        wanted=edges,
        build=lambda key, values: Dependency(
            kind=key[0], consumer_relation_id=key[1], consumer_function_id=key[2], source_id=key[3], name=key[4]
        ),
    )
    _reconcile(
        summary,
        "grants",
        Grant,
        existing={(g.relation_id, g.grantee): g for g in Grant.objects.filter(relation__schema__database=db)},
        wanted={
            (rel(p.relation), p.grantee): {"privileges": list(p.privileges)}
            for p in catalog.privileges
            if rel(p.relation)
        },
        build=lambda key, values: Grant(relation_id=key[0], grantee=key[1], **values),
    )
    return db


def _reconcile(
    summary: SyncSummary,
    label: str,
    model: type[models.Model],
    existing: dict[Hashable, models.Model],
    wanted: dict[Hashable, dict[str, Any]],
    build: Callable[[Any, dict[str, Any]], models.Model],
) -> dict[Hashable, models.Model]:
    """Make the rows keyed by ``existing`` look like ``wanted``, touching only what differs; return the rows by key."""
    result: dict[Hashable, models.Model] = {}
    created, changed, changed_fields = [], [], set()
    for key, values in wanted.items():
        obj = existing.get(key)
        if obj is None:
            obj = build(key, values)
            created.append(obj)
        else:
            diff = [name for name, value in values.items() if getattr(obj, name) != value]
            if diff:
                for name in diff:
                    setattr(obj, name, values[name])
                changed.append(obj)
                changed_fields.update(diff)
        result[key] = obj
    gone = [obj.pk for key, obj in existing.items() if key not in wanted]
    model.objects.bulk_create(created, batch_size=1000)
    if changed:
        model.objects.bulk_update(changed, sorted(changed_fields), batch_size=500)
    if gone:
        # count what goes with them too (a dropped schema takes its relations), under the same labels
        _, deleted = model.objects.filter(pk__in=gone).delete()
        for model_label, n in deleted.items():
            summary.deleted[LABELS.get(model_label, model_label)] += n
    for counter, n in (
        (summary.created, len(created)),
        (summary.updated, len(changed)),
        (summary.unchanged, len(wanted) - len(created) - len(changed)),
    ):
        if n:
            counter[label] += n
    return result
