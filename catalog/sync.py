"""Introspection sync: read a cluster's catalog (catalog.readers) and upsert it into the catalog tables.

Idempotent: unchanged rows are left untouched, new ones added, changed ones updated, dropped ones removed. The
monitored server sees a constant number of statements per database, whatever its size, in one read-only REPEATABLE
READ snapshot; a database whose catalog fingerprint has not changed since the last sync is not read again.

Rows never pass through Python objects: each reader statement of ``catalog.readers.database.SECTIONS`` is streamed
with COPY from the monitored server into a temporary table of Seamline's database made from the statement's own row
(so the staged columns are the tested reader's, never a list restated here), and a few set-based statements merge
those into the catalog tables (the MERGE_* statements). Each database is staged and merged in one transaction of
Seamline's database; two connections sharing one exported snapshot read the monitored database side by side.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from . import bodies, locks, sql
from .credentials import password_for
from .errors import SyncError
from .models import Cluster, Database, LogicalSlot
from .monitored import MonitoredConnection, connect
from .ownership import assign_owners
from .readers import server
from .readers.database import SECTIONS
from .readers.server import DatabaseInfo
from .versioning import bump

LABELS = {
    "catalog.Database": "databases",
    "catalog.Schema": "schemas",
    "catalog.Relation": "relations",
    "catalog.Function": "functions",
    "catalog.Dependency": "dependencies",
    "catalog.Grant": "grants",
    "catalog.ForeignTable": "foreign tables",
    "catalog.PublishedTable": "published tables",
    "catalog.Subscription": "subscriptions",
}
Progress = Callable[[str, int, int], None]  # (database being synced, databases done, databases in all)


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

    ``full`` reads every database even when its catalog fingerprint says nothing changed. One sync or audit of a
    cluster runs at a time (catalog.locks): this waits for one under way, and raises locks.Busy if it lasts too long.
    """
    with locks.held(cluster):
        return _sync_cluster(cluster, databases, progress, full)


def _sync_cluster(cluster: Cluster, databases: list[str] | None, progress: Progress | None, full: bool) -> SyncSummary:
    summary = SyncSummary(cluster=cluster.name)
    password = password_for(cluster)
    with connect(cluster.dsn, password, target=cluster.name, auth=cluster.auth) as conn:
        server_settings = server.cluster_settings(conn)
        present = server.list_databases(conn)
        slots = [] if server_settings.in_recovery else server.logical_slots(conn)
        summary.statements_sent += conn.statements_sent
    wanted = databases or cluster.databases or present
    missing = [name for name in wanted if name not in present]
    if missing:
        raise SyncError(f"cluster {cluster.name} has no database named {', '.join(repr(m) for m in missing)}")
    known = dict(Database.objects.filter(cluster=cluster).values_list("name", "fingerprint"))

    for done, name in enumerate(wanted):
        if progress:
            progress(name, done, len(wanted))
        summary.databases.append(name)
        with transaction.atomic():
            staged = stage_database(cluster, password, name, None if full else known.get(name), summary)
            if staged is None:
                summary.not_changed.append(name)
                summary.unchanged["databases"] += 1
                Database.objects.filter(cluster=cluster, name=name).update(synced_at=timezone.now())
            else:
                apply_database(cluster, staged, summary)

    with transaction.atomic():
        if databases is None:
            _, deleted = Database.objects.filter(cluster=cluster).exclude(name__in=wanted).delete()
            for model_label, n in deleted.items():
                summary.deleted[LABELS.get(model_label, model_label)] += n
        Cluster.objects.filter(pk=cluster.pk).update(
            server_version=server_settings.server_version,
            max_connections=server_settings.max_connections,
            superuser_reserved_connections=server_settings.superuser_reserved_connections,
            monitor_role=server_settings.current_user,
            monitor_role_is_superuser=server_settings.current_user_is_superuser,
            synced_at=timezone.now(),
        )
        _replace_logical_slots(cluster, slots)
        assign_owners([cluster.pk])
        bump()
    if progress:
        progress("", len(wanted), len(wanted))
    return summary


# The largest section by far: read on a second connection while the first reads all the others.
ALONGSIDE = "relations"


@dataclass(frozen=True)
class Staged:
    """A database's catalog, copied into the staging tables (seamline_stage_<section>) of the current transaction."""

    database: DatabaseInfo
    fingerprint: str
    oldest_tables: list[dict]  # by age(relfrozenxid), the oldest first
    # the changed string bodies, parsed while the rest is copied and merged: (key, signature) -> Analysis
    analyses: Future[dict[tuple, bodies.Analysis]] | None = None


# What the readers read, as a digest of their statements: kept with each database's fingerprint, so that a Seamline
# whose readers read more (or differently) reads every database again at its next sync, changed or not.
READERS = hashlib.md5("".join(st.sql for st in SECTIONS.values()).encode()).hexdigest()[:8]


def _with_readers(fingerprint: str) -> str:
    return f"{fingerprint}/{READERS}"


def stage_database(
    cluster: Cluster, password: str | None, name: str, known_fingerprint: str | None, summary: SyncSummary
) -> Staged | None:
    """Copy one database's catalog into the staging tables; None when its fingerprint equals ``known_fingerprint``.

    Runs inside the caller's transaction (the tables go with it). A database synced before costs one statement when
    unchanged. Otherwise its snapshot is exported and, while this connection reads and copies the sections one by
    one, a second connection that joins the snapshot reads the largest section and, for a database not synced
    before, the fingerprint: about the time of the largest section instead of the sum of all. (A third connection
    for the fingerprint gained nothing on two cores.)
    """
    target = f"{cluster.name}/{name}"
    with connect(cluster.dsn, password, dbname=name, target=target, auth=cluster.auth) as conn:
        try:
            fingerprint, oldest = None, []
            if known_fingerprint is not None:
                fingerprint, oldest = server.fingerprint_and_oldest(conn)
                fingerprint = _with_readers(fingerprint)
                Database.objects.filter(cluster=cluster, name=name).update(oldest_tables=oldest)
                if fingerprint == known_fingerprint:
                    return None
            # a table per section, its columns the section's row's fields (COPY's text format carries every value
            # exactly: names with quotes, spaces, tabs, newlines, backslashes or any unicode, arrays, NULLs)
            with connection.cursor() as cursor:
                cursor.execute(
                    "; ".join(
                        f"DROP TABLE IF EXISTS pg_temp.seamline_stage_{section}; "
                        f"CREATE TEMP TABLE seamline_stage_{section} ({statement.columns_sql()}) ON COMMIT DROP"
                        for section, statement in SECTIONS.items()
                    )
                )
            snapshot = server.export_snapshot(conn)

            def alongside(joined: MonitoredConnection) -> tuple[list[bytes], str]:
                """ALONGSIDE's rows as COPY data, kept until this connection has copied the others; the fingerprint."""
                server.join_snapshot(joined, snapshot)
                with SECTIONS[ALONGSIDE].copy_out(joined) as source:
                    blocks = [bytes(block) for block in source]
                if fingerprint is not None:
                    return blocks, fingerprint, None
                read, oldest = server.fingerprint_and_oldest(joined)
                return blocks, _with_readers(read), oldest

            with (
                connect(cluster.dsn, password, dbname=name, target=target, auth=cluster.auth) as joined,
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="seamline-sync") as pool,
            ):
                try:
                    second = pool.submit(alongside, joined)
                    info = server.database_info(conn)
                    # the bodies first: they are parsed (Python's work) while the server sends the rest
                    with SECTIONS[BODIES].copy_out(conn) as source:
                        _copy_in(BODIES, source)
                    analyses = _parse_changed(cluster, name)
                    for section, statement in SECTIONS.items():
                        if section not in (ALONGSIDE, BODIES):
                            with statement.copy_out(conn) as source:
                                _copy_in(section, source)
                    blocks, fingerprint, oldest_read = second.result()
                    if oldest_read is not None:
                        oldest = oldest_read
                    _copy_in(ALONGSIDE, blocks)
                finally:
                    summary.statements_sent += joined.statements_sent
        finally:
            summary.statements_sent += conn.statements_sent
    return Staged(database=info, fingerprint=fingerprint, oldest_tables=oldest, analyses=analyses)


BODIES = "function_bodies"
# The staged bodies whose key the database's synced function does not hold yet (all of them, for a new database).
STAGED_CHANGED_BODIES = """
SELECT DISTINCT t.key, t.language, t.source, t.argument_names, t.argument_modes, t.returns, t.returns_set
FROM seamline_stage_function_bodies t
WHERE NOT EXISTS (
    SELECT FROM catalog_function f
    JOIN catalog_schema s ON s.id = f.schema_id
    JOIN catalog_database d ON d.id = s.database_id
    WHERE d.cluster_id = %s AND d.name = %s AND s.name = t.schema AND f.name = t.name
      AND f.identity_arguments = t.identity_arguments AND f.body_key = t.key
)
"""


def _parse_changed(cluster: Cluster, name: str) -> Future[dict[tuple, bodies.Analysis]]:
    """Start parsing the staged bodies that changed, in a thread of their own (parsing needs no database): the
    copying and merging that follow wait on the servers meanwhile. parse_bodies takes the results."""
    with connection.cursor() as cursor:
        cursor.execute(STAGED_CHANGED_BODIES, [cluster.pk, name])
        changed = cursor.fetchall()

    def parse() -> dict[tuple, bodies.Analysis]:
        out = {}
        for key, language, source, *signature in changed:
            sig = _signature(*signature)
            out[(key, sig)] = bodies.analyse(language, source, sig)
        return out

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seamline-bodies")
    try:
        return pool.submit(parse)
    finally:
        pool.shutdown(wait=False)  # the thread ends with its work


def _signature(names: list[str], modes: list[str], returns: str, returns_set: bool) -> bodies.Signature:
    return bodies.Signature(tuple(names), tuple(modes), returns, returns_set)


def _copy_in(section: str, blocks) -> None:
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY seamline_stage_{section} FROM STDIN") as copy:
        for block in blocks:
            copy.write(block)


def apply_database(cluster: Cluster, staged: Staged, summary: SyncSummary) -> Database:
    """Merge the staged catalog into the catalog tables: parents before children are added, after they are removed."""
    info = staged.database
    db = Database.objects.filter(cluster=cluster, name=info.name).first()
    fresh = db is None
    if db is None:
        db = Database.objects.create(cluster=cluster, name=info.name, owner=info.owner, size_bytes=info.size_bytes)
        summary.created["databases"] += 1
    elif db.owner != info.owner:  # its size moves with every write (autovacuum's too): kept, not a catalog change
        summary.updated["databases"] += 1
    else:
        summary.unchanged["databases"] += 1
    Database.objects.filter(pk=db.pk).update(
        owner=info.owner,
        size_bytes=info.size_bytes,
        fingerprint=staged.fingerprint,
        oldest_tables=staged.oldest_tables,
        synced_at=timezone.now(),
    )
    with connection.cursor() as cursor:
        # Every statement below joins thousands of rows to thousands: hash joins, always. The planner would otherwise
        # trust statistics taken before this transaction added its rows (a table ANALYZEd empty, temporary tables
        # never analysed) and pick nested loops that take seconds. Reset at the end, should a caller's transaction
        # (SET LOCAL's scope) go on after this one.
        cursor.execute("SET LOCAL enable_nestloop = off")

        def run(label: str, statement: str) -> None:
            cursor.execute(statement, {"db": db.pk, "fresh": fresh})
            created, updated, deleted, staged_rows = cursor.fetchone()
            for counter, count in (
                (summary.created, created),
                (summary.updated, updated),
                (summary.deleted, deleted),
                (summary.unchanged, staged_rows - created - updated),
            ):
                if count:
                    counter[label] += count

        run("schemas", MERGE_SCHEMAS)
        run("relations", MERGE_RELATIONS)
        run("functions", MERGE_FUNCTIONS)
        parse_bodies(cursor, db.pk, staged.analyses.result() if staged.analyses else {})
        run("dependencies", MERGE_DEPENDENCIES)
        run("grants", MERGE_GRANTS)
        run("foreign tables", MERGE_FOREIGN_TABLES)
        run("published tables", MERGE_PUBLISHED_TABLES)
        run("subscriptions", MERGE_SUBSCRIPTIONS)
        run("relations", DELETE_RELATIONS)
        run("functions", DELETE_FUNCTIONS)
        run("schemas", DELETE_SCHEMAS)
        cursor.execute("SET LOCAL enable_nestloop TO DEFAULT")
    return db


# Functions whose string body, language or settings changed since their body was last read (or that are new), with
# what the body is read against; then, those that no longer have a body to read (their uses go, their state clears).
CHANGED_BODIES = """
SELECT f.id, t.language, t.source, t.key, f.search_path, f.owner, s.name,
       t.argument_names, t.argument_modes, t.returns, t.returns_set
FROM seamline_stage_function_bodies t
JOIN catalog_schema s ON s.database_id = %(db)s AND s.name = t.schema
JOIN catalog_function f ON f.schema_id = s.id AND f.name = t.name AND f.identity_arguments = t.identity_arguments
WHERE f.body_key <> t.key
"""
BODIES_GONE = """
WITH gone AS (
    UPDATE catalog_function f SET body_key = '', body_state = ''
    FROM catalog_schema s
    WHERE s.id = f.schema_id AND s.database_id = %(db)s AND f.body_key <> ''
      AND NOT EXISTS (
          SELECT FROM seamline_stage_function_bodies t
          WHERE t.schema = s.name AND t.name = f.name AND t.identity_arguments = f.identity_arguments
      )
    RETURNING f.id
)
DELETE FROM catalog_functionbodyuse u WHERE u.function_id IN (SELECT id FROM gone)
"""


def parse_bodies(cursor: Any, db: int, parsed: dict[tuple, bodies.Analysis] | None = None) -> int:
    """Read the string bodies that changed (catalog.bodies) into their uses; return how many were read. A body is
    parsed once per change, whatever the number of syncs: its key (body, language, settings) is kept. ``parsed``:
    the bodies already parsed, by key and signature (stage_database's)."""
    cursor.execute(BODIES_GONE, {"db": db})
    cursor.execute(CHANGED_BODIES, {"db": db})
    changed = cursor.fetchall()
    if not changed:
        return 0
    ids, keys, states, uses = [], [], [], []
    for function_id, language, source, key, search_path, owner, schema, *signature in changed:
        sig = _signature(*signature)
        analysis = (parsed or {}).get((key, sig)) or bodies.analyse(language, source, sig)
        path, assumed = _body_path(search_path, owner, schema)
        ids.append(function_id)
        keys.append(key)
        states.append(analysis.state)
        for use in analysis.uses:
            where = [use.schema] if use.schema is not None else path
            here = ("", "", "")  # this database
            uses.append((function_id, use.schema, use.name, where, use.access, assumed and use.schema is None, *here))
        for remote in analysis.remote:  # the remote role's search_path is unknown: "$user" left out, public assumed
            for use in remote.uses:
                where = [use.schema] if use.schema is not None else ["public"]
                unqualified = use.schema is None
                where_to = (remote.host, remote.port, remote.dbname)
                uses.append((function_id, use.schema, use.name, where, use.access, unqualified, *where_to))
    cursor.execute("DELETE FROM catalog_functionbodyuse WHERE function_id = ANY(%s)", [ids])
    with cursor.cursor.copy(
        "COPY catalog_functionbodyuse (function_id, schema, name, path, access, assumed, host, port, dbname) FROM STDIN"
    ) as copy:
        for row in uses:
            copy.write_row(row)
    cursor.execute(
        "UPDATE catalog_function f SET body_key = v.key, body_state = v.state"
        " FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v (id, key, state) WHERE f.id = v.id",
        [ids, keys, states],
    )
    return len(ids)


def _body_path(search_path: str | None, owner: str, schema: str) -> tuple[list[str], bool]:
    """The schemas an unqualified name of a function's body is looked up in, and whether that is an assumption:
    the function's own search_path setting when it has one, else the caller's decides, and the function's schema
    then ``public`` stand for it."""
    if search_path is not None:
        try:
            return [s for s in sql.search_path_of(search_path, owner) if s != "pg_temp"], False
        except ValueError:
            pass
    return [schema, "public"], True


# The merge statements. Each returns (created, updated, deleted, staged rows), counted by data-modifying CTEs that
# touch disjoint rows. Rows are matched on their natural keys; an UPDATE writes only rows whose values differ, so an
# unchanged catalog writes nothing. The tables are named as Django names them (catalog.models); the synced rows'
# foreign keys have no database constraint (see SYNCED there), so the statements keep them whole themselves:
# children of a removed parent are removed first, by the statements that follow the parents' upserts.
#
# %(fresh)s is true when the database has just been added, so that it has no rows yet: Django binds parameters
# client-side, PostgreSQL folds the constant, and a first sync skips every comparison with existing rows
# (``WHERE NOT true`` plans as a one-time filter that never runs its subtree).

_RELATIONS_OF_DB = """
    rel AS (
        SELECT r.id, s.name AS schema, r.name
        FROM catalog_relation r JOIN catalog_schema s ON s.id = r.schema_id
        WHERE s.database_id = %(db)s
    )"""

_FUNCTIONS_OF_DB = """
    fn AS (
        SELECT f.id, s.name AS schema, f.name, f.identity_arguments
        FROM catalog_function f JOIN catalog_schema s ON s.id = f.schema_id
        WHERE s.database_id = %(db)s
    )"""

MERGE_SCHEMAS = """
WITH updated AS (
    UPDATE catalog_schema s SET owner = t.owner, comment = t.comment
    FROM seamline_stage_schemas t
    WHERE NOT %(fresh)s AND s.database_id = %(db)s AND s.name = t.name
      AND (s.owner, s.comment) IS DISTINCT FROM (t.owner, t.comment)
    RETURNING 1
), created AS (
    INSERT INTO catalog_schema (database_id, name, owner, comment)
    SELECT %(db)s, t.name, t.owner, t.comment
    FROM seamline_stage_schemas t
    WHERE NOT EXISTS (SELECT FROM catalog_schema s WHERE s.database_id = %(db)s AND s.name = t.name)
    RETURNING 1
)
SELECT (SELECT count(*) FROM created), (SELECT count(*) FROM updated), 0, (SELECT count(*) FROM seamline_stage_schemas)
"""

MERGE_RELATIONS = """
WITH staged AS (
    SELECT s.id AS schema_id, t.*
    FROM seamline_stage_relations t JOIN catalog_schema s ON s.database_id = %(db)s AND s.name = t.schema
), updated AS (
    UPDATE catalog_relation r
    SET kind = t.kind, owner = t.owner, estimated_rows = t.estimated_rows, size_bytes = t.size_bytes,
        has_primary_key = t.has_primary_key, columns = t.columns, comment = t.comment
    FROM staged t
    WHERE NOT %(fresh)s AND r.schema_id = t.schema_id AND r.name = t.name
      AND (r.kind, r.owner, r.estimated_rows, r.size_bytes, r.has_primary_key, r.columns::text[], r.comment)
          IS DISTINCT FROM (t.kind, t.owner, t.estimated_rows, t.size_bytes, t.has_primary_key, t.columns, t.comment)
    RETURNING 1
), created AS (
    INSERT INTO catalog_relation
        (schema_id, name, kind, owner, estimated_rows, size_bytes, has_primary_key, columns, comment)
    SELECT t.schema_id, t.name, t.kind, t.owner, t.estimated_rows, t.size_bytes, t.has_primary_key, t.columns, t.comment
    FROM staged t
    WHERE %(fresh)s OR NOT EXISTS (SELECT FROM catalog_relation r WHERE r.schema_id = t.schema_id AND r.name = t.name)
    RETURNING 1
)
SELECT (SELECT count(*) FROM created), (SELECT count(*) FROM updated), 0, (SELECT count(*) FROM staged)
"""

MERGE_FUNCTIONS = """
WITH staged AS (
    SELECT s.id AS schema_id, t.*
    FROM seamline_stage_functions t JOIN catalog_schema s ON s.database_id = %(db)s AND s.name = t.schema
), updated AS (
    UPDATE catalog_function f
    SET kind = t.kind, owner = t.owner, language = t.language, security_definer = t.security_definer,
        search_path = t.search_path, comment = t.comment
    FROM staged t
    WHERE NOT %(fresh)s
      AND f.schema_id = t.schema_id AND f.name = t.name AND f.identity_arguments = t.identity_arguments
      AND (f.kind, f.owner, f.language, f.security_definer, f.search_path, f.comment)
          IS DISTINCT FROM (t.kind, t.owner, t.language, t.security_definer, t.search_path, t.comment)
    RETURNING 1
), created AS (
    INSERT INTO catalog_function
        (schema_id, name, identity_arguments, kind, owner, language, security_definer, search_path, comment)
    SELECT t.schema_id, t.name, t.identity_arguments, t.kind, t.owner, t.language, t.security_definer,
           t.search_path, t.comment
    FROM staged t
    WHERE %(fresh)s OR NOT EXISTS (
        SELECT FROM catalog_function f
        WHERE f.schema_id = t.schema_id AND f.name = t.name AND f.identity_arguments = t.identity_arguments
    )
    RETURNING 1
)
SELECT (SELECT count(*) FROM created), (SELECT count(*) FROM updated), 0, (SELECT count(*) FROM staged)
"""

# Edges are matched on (kind, consumer, source, constraint name); the consumer is a relation or a function, the
# other one NULL, so both are compared through coalesce(..., 0) (ids start at 1), which hashes where IS NOT DISTINCT
# FROM would not.
MERGE_DEPENDENCIES = f"""
WITH {_RELATIONS_OF_DB}, {_FUNCTIONS_OF_DB},
-- a body's names resolved: the first schema along its path that has the name (a qualified name: that schema)
-- each schema along a use's path a row of its own (set-returning functions in the select list: a lateral join
-- would be a nested loop, which this transaction turns off), so that the lookup is an equality join
use_path AS (
    SELECT u.id, u.function_id, u.name, u.access, u.assumed,
           unnest(u.path) AS schema, generate_subscripts(u.path, 1) AS n
    FROM catalog_functionbodyuse u
    JOIN fn f ON f.id = u.function_id AND u.dbname = ''
),
parsed AS (
    SELECT DISTINCT ON (p.id) p.function_id, src.id AS source_id, p.access, p.assumed
    FROM use_path p
    JOIN rel src ON src.name = p.name AND src.schema = p.schema
    ORDER BY p.id, p.n
),
wanted AS (
    SELECT kind, consumer_relation_id, consumer_function_id, source_id, name,
           bool_or(recorded) AS recorded, bool_or(NOT recorded) AS parsed,
           bool_or(NOT recorded) AND NOT bool_or(recorded) AND bool_and(assumed OR recorded) AS assumed,
           coalesce(max(access) FILTER (WHERE NOT recorded), '') AS access,
           coalesce(max(columns), '{{}}') AS columns
    FROM (
        SELECT 'view' AS kind, v.id AS consumer_relation_id, NULL::bigint AS consumer_function_id,
               src.id AS source_id, '' AS name, true AS recorded, false AS assumed, NULL AS access, t.columns
        FROM seamline_stage_view_dependencies t
        JOIN rel v ON v.schema = t.view_schema AND v.name = t.view_name
        JOIN rel src ON src.schema = t.source_schema AND src.name = t.source_name
        UNION ALL
        SELECT 'fk', tab.id, NULL, src.id, t.name, true, false, NULL, t.referenced_columns
        FROM seamline_stage_foreign_keys t
        JOIN rel tab ON tab.schema = t.table_schema AND tab.name = t.table_name
        JOIN rel src ON src.schema = t.source_schema AND src.name = t.source_name
        UNION ALL
        SELECT 'function', NULL, f.id, src.id, '', true, false, NULL, NULL
        FROM seamline_stage_function_dependencies t
        JOIN fn f ON f.schema = t.schema AND f.name = t.name AND f.identity_arguments = t.identity_arguments
        JOIN rel src ON src.schema = t.source_schema AND src.name = t.source_name
        UNION ALL
        -- "write" sorts after "read": max() is write when the body writes it anywhere
        SELECT 'function', NULL, p.function_id, p.source_id, '', false, p.assumed, p.access, NULL
        FROM parsed p
    ) edges
    GROUP BY kind, consumer_relation_id, consumer_function_id, source_id, name
), existing AS (
    SELECT d.id, d.kind, d.consumer_relation_id, d.consumer_function_id, d.source_id, d.name,
           d.recorded, d.parsed, d.assumed, d.access, d.columns::text[] AS columns
    FROM catalog_dependency d
    WHERE NOT %(fresh)s
      AND (d.consumer_relation_id IN (SELECT id FROM rel) OR d.consumer_function_id IN (SELECT id FROM fn))
), matched AS (
    SELECT e.id, w.recorded, w.parsed, w.assumed, w.access, w.columns,
           (e.recorded, e.parsed, e.assumed, e.access, e.columns)
               IS DISTINCT FROM (w.recorded, w.parsed, w.assumed, w.access, w.columns) AS differs
    FROM existing e
    JOIN wanted w
      ON w.kind = e.kind AND coalesce(w.consumer_relation_id, 0) = coalesce(e.consumer_relation_id, 0)
     AND coalesce(w.consumer_function_id, 0) = coalesce(e.consumer_function_id, 0)
     AND w.source_id = e.source_id AND w.name = e.name
), updated AS (
    UPDATE catalog_dependency d
    SET recorded = m.recorded, parsed = m.parsed, assumed = m.assumed, access = m.access, columns = m.columns
    FROM matched m
    WHERE d.id = m.id AND m.differs
    RETURNING 1
), deleted AS (
    DELETE FROM catalog_dependency d
    WHERE d.id IN (SELECT e.id FROM existing e WHERE e.id NOT IN (SELECT id FROM matched))
    RETURNING 1
), created AS (
    INSERT INTO catalog_dependency
        (kind, consumer_relation_id, consumer_function_id, source_id, name, recorded, parsed, assumed, access, columns)
    SELECT w.kind, w.consumer_relation_id, w.consumer_function_id, w.source_id, w.name,
           w.recorded, w.parsed, w.assumed, w.access, w.columns
    FROM wanted w
    WHERE NOT EXISTS (
        SELECT FROM existing e
        WHERE e.kind = w.kind AND coalesce(e.consumer_relation_id, 0) = coalesce(w.consumer_relation_id, 0)
          AND coalesce(e.consumer_function_id, 0) = coalesce(w.consumer_function_id, 0)
          AND e.source_id = w.source_id AND e.name = w.name
    )
    RETURNING 1
)
SELECT (SELECT count(*) FROM created), (SELECT count(*) FROM updated), (SELECT count(*) FROM deleted),
       (SELECT count(*) FROM wanted)
"""

MERGE_GRANTS = f"""
WITH {_RELATIONS_OF_DB},
wanted AS (
    SELECT r.id AS relation_id, t.grantee, t.privileges
    FROM seamline_stage_privileges t JOIN rel r ON r.schema = t.schema AND r.name = t.name
), updated AS (
    UPDATE catalog_grant g SET privileges = w.privileges
    FROM wanted w
    WHERE NOT %(fresh)s
      AND g.relation_id = w.relation_id AND g.grantee = w.grantee AND g.privileges::text[] <> w.privileges
    RETURNING 1
), deleted AS (
    DELETE FROM catalog_grant g
    WHERE NOT %(fresh)s AND g.relation_id IN (SELECT id FROM rel)
      AND NOT EXISTS (SELECT FROM wanted w WHERE w.relation_id = g.relation_id AND w.grantee = g.grantee)
    RETURNING 1
), created AS (
    INSERT INTO catalog_grant (relation_id, grantee, privileges)
    SELECT w.relation_id, w.grantee, w.privileges
    FROM wanted w
    WHERE %(fresh)s OR NOT EXISTS (
        SELECT FROM catalog_grant g WHERE g.relation_id = w.relation_id AND g.grantee = w.grantee
    )
    RETURNING 1
)
SELECT (SELECT count(*) FROM created), (SELECT count(*) FROM updated), (SELECT count(*) FROM deleted),
       (SELECT count(*) FROM wanted)
"""

MERGE_FOREIGN_TABLES = f"""
WITH {_RELATIONS_OF_DB},
wanted AS (
    SELECT r.id AS relation_id, t.server, t.wrapper, t.host, t.port, t.dbname, t.remote_schema, t.remote_name
    FROM seamline_stage_foreign_tables t JOIN rel r ON r.schema = t.schema AND r.name = t.name
), updated AS (
    UPDATE catalog_foreigntable f
    SET server = w.server, wrapper = w.wrapper, host = w.host, port = w.port, dbname = w.dbname,
        remote_schema = w.remote_schema, remote_name = w.remote_name
    FROM wanted w
    WHERE NOT %(fresh)s AND f.relation_id = w.relation_id
      AND (f.server, f.wrapper, f.host, f.port, f.dbname, f.remote_schema, f.remote_name)
          IS DISTINCT FROM (w.server, w.wrapper, w.host, w.port, w.dbname, w.remote_schema, w.remote_name)
    RETURNING 1
), deleted AS (
    DELETE FROM catalog_foreigntable f
    WHERE NOT %(fresh)s AND f.relation_id IN (SELECT id FROM rel)
      AND NOT EXISTS (SELECT FROM wanted w WHERE w.relation_id = f.relation_id)
    RETURNING 1
), created AS (
    INSERT INTO catalog_foreigntable
        (relation_id, server, wrapper, host, port, dbname, remote_schema, remote_name)
    SELECT w.relation_id, w.server, w.wrapper, w.host, w.port, w.dbname, w.remote_schema, w.remote_name
    FROM wanted w
    WHERE %(fresh)s OR NOT EXISTS (SELECT FROM catalog_foreigntable f WHERE f.relation_id = w.relation_id)
    RETURNING 1
)
SELECT (SELECT count(*) FROM created), (SELECT count(*) FROM updated), (SELECT count(*) FROM deleted),
       (SELECT count(*) FROM wanted)
"""

DELETE_RELATIONS = """
WITH deleted AS (
    DELETE FROM catalog_relation r
    USING catalog_schema s
    WHERE NOT %(fresh)s AND r.schema_id = s.id AND s.database_id = %(db)s
      AND NOT EXISTS (SELECT FROM seamline_stage_relations t WHERE t.schema = s.name AND t.name = r.name)
    RETURNING 1
)
SELECT 0, 0, count(*), 0 FROM deleted
"""

DELETE_FUNCTIONS = """
WITH deleted AS (
    DELETE FROM catalog_function f
    USING catalog_schema s
    WHERE NOT %(fresh)s AND f.schema_id = s.id AND s.database_id = %(db)s
      AND NOT EXISTS (
          SELECT FROM seamline_stage_functions t
          WHERE t.schema = s.name AND t.name = f.name AND t.identity_arguments = f.identity_arguments
      )
    RETURNING f.id
), uses AS (
    DELETE FROM catalog_functionbodyuse u WHERE u.function_id IN (SELECT id FROM deleted)
)
SELECT 0, 0, count(*), 0 FROM deleted
"""

DELETE_SCHEMAS = """
WITH deleted AS (
    DELETE FROM catalog_schema s
    WHERE NOT %(fresh)s AND s.database_id = %(db)s
      AND NOT EXISTS (SELECT FROM seamline_stage_schemas t WHERE t.name = s.name)
    RETURNING 1
)
SELECT 0, 0, count(*), 0 FROM deleted
"""

MERGE_PUBLISHED_TABLES = f"""
WITH {_RELATIONS_OF_DB},
wanted AS (
    SELECT r.id AS relation_id, t.publication, t.columns
    FROM seamline_stage_published_tables t JOIN rel r ON r.schema = t.schema AND r.name = t.name
), updated AS (
    UPDATE catalog_publishedtable p SET columns = w.columns
    FROM wanted w
    WHERE NOT %(fresh)s AND p.relation_id = w.relation_id AND p.publication = w.publication
      AND p.columns::text[] <> w.columns
    RETURNING 1
), deleted AS (
    DELETE FROM catalog_publishedtable p
    WHERE NOT %(fresh)s AND p.relation_id IN (SELECT id FROM rel)
      AND NOT EXISTS (SELECT FROM wanted w WHERE w.relation_id = p.relation_id AND w.publication = p.publication)
    RETURNING 1
), created AS (
    INSERT INTO catalog_publishedtable (relation_id, publication, columns)
    SELECT w.relation_id, w.publication, w.columns
    FROM wanted w
    WHERE %(fresh)s OR NOT EXISTS (
        SELECT FROM catalog_publishedtable p WHERE p.relation_id = w.relation_id AND p.publication = w.publication
    )
    RETURNING 1
)
SELECT (SELECT count(*) FROM created), (SELECT count(*) FROM updated), (SELECT count(*) FROM deleted),
       (SELECT count(*) FROM wanted)
"""

MERGE_SUBSCRIPTIONS = """
WITH wanted AS (
    SELECT t.name, t.owner, t.enabled, t.slot_name, t.publications, t.tables::jsonb AS tables
    FROM seamline_stage_subscriptions t
), updated AS (
    UPDATE catalog_subscription s
    SET owner = w.owner, enabled = w.enabled, slot_name = w.slot_name, publications = w.publications,
        tables = w.tables
    FROM wanted w
    WHERE NOT %(fresh)s AND s.database_id = %(db)s AND s.name = w.name
      AND (s.owner, s.enabled, s.slot_name, s.publications::text[], s.tables)
          IS DISTINCT FROM (w.owner, w.enabled, w.slot_name, w.publications, w.tables)
    RETURNING 1
), deleted AS (
    DELETE FROM catalog_subscription s
    WHERE NOT %(fresh)s AND s.database_id = %(db)s AND NOT EXISTS (SELECT FROM wanted w WHERE w.name = s.name)
    RETURNING 1
), created AS (
    INSERT INTO catalog_subscription (database_id, name, owner, enabled, slot_name, publications, tables)
    SELECT %(db)s, w.name, w.owner, w.enabled, w.slot_name, w.publications, w.tables
    FROM wanted w
    WHERE %(fresh)s OR NOT EXISTS (SELECT FROM catalog_subscription s WHERE s.database_id = %(db)s AND s.name = w.name)
    RETURNING 1
)
SELECT (SELECT count(*) FROM created), (SELECT count(*) FROM updated), (SELECT count(*) FROM deleted),
       (SELECT count(*) FROM wanted)
"""


def _replace_logical_slots(cluster: Cluster, slots: list) -> None:
    """The cluster's logical slots as the primary listed them (few: replaced whole when they changed)."""
    wanted = {(s.name, s.database, s.plugin) for s in slots}
    if set(LogicalSlot.objects.filter(cluster=cluster).values_list("name", "database", "plugin")) == wanted:
        return
    LogicalSlot.objects.filter(cluster=cluster).delete()
    LogicalSlot.objects.bulk_create(
        LogicalSlot(cluster=cluster, name=name, database=database, plugin=plugin) for name, database, plugin in wanted
    )
