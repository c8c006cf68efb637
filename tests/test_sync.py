"""Introspection sync against the real test primary: idempotent upserts, constant cost to the monitored server,
clear failures, and the demo's ownership as the seed describes it."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.credentials import encrypt_password
from catalog.errors import CredentialsError
from catalog.models import (
    Cluster,
    Database,
    Dependency,
    ForeignTable,
    Function,
    FunctionBodyUse,
    Grant,
    Relation,
    Schema,
)
from catalog.sync import READERS, SyncError, sync_cluster

from . import leakwatch
from .conftest import pg
from .hostile import QUOTED, monitor_connection


@pytest.fixture
def demo(demo_catalog):
    return Cluster.objects.get(name="demo")


def relation(database: str, schema: str, name: str) -> Relation:
    return Relation.objects.get(schema__database__name=database, schema__name=schema, name=name)


def test_it_syncs_the_demo_with_its_owners(demo):
    summary = sync_cluster(demo)
    assert summary.databases == ["shop", "payments", "analytics"]
    owners = {
        (db, name): service
        for db, name, service in Schema.objects.filter(database__cluster=demo).values_list(
            "database__name", "name", "service__name"
        )
    }
    assert owners == {
        ("shop", "public"): None,  # public is never owned implicitly, not even in a database owned whole
        ("shop", "user_service"): "user_service",
        ("shop", "order_service"): "order_service",
        ("shop", "product_service"): "product_service",
        ("payments", "public"): None,
        ("payments", "payments"): "payment_service",
        ("analytics", "public"): None,
        # its copy of shop's orders: analytics owns its database whole, the schema named like the publisher's too
        ("analytics", "order_service"): "analytics",
        ("analytics", "reporting"): "analytics",
    }
    shared = relation("shop", "user_service", "shared_users")
    assert shared.kind == "view"
    assert shared.columns == relation("shop", "public", "users").columns
    assert Dependency.objects.filter(consumer_relation=shared, source=relation("shop", "public", "users")).exists()
    demo.refresh_from_db()
    assert demo.max_connections == 100
    assert demo.usable_connections == 97
    assert demo.monitor_role_is_superuser is True


def test_a_second_sync_of_an_unchanged_database_touches_nothing(demo):
    sync_cluster(demo)
    before = {r.pk: r for r in Relation.objects.all()}
    summary = sync_cluster(demo)
    assert not summary.created and not summary.deleted
    # the simulator keeps writing, so row estimates and sizes may move; nothing else may
    assert set(summary.updated) <= {"relations", "databases"}
    assert {r.pk for r in Relation.objects.all()} == set(before)


def test_it_sends_a_constant_number_of_statements_whatever_the_size(demo, demo_databases):
    small = sync_cluster(demo, ["payments"]).statements_sent
    with pg(dbname="payments") as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS bulk")
        for i in range(60):
            conn.execute(f"CREATE TABLE IF NOT EXISTS bulk.t{i} (id int primary key, v text)")
            conn.execute(f"CREATE OR REPLACE VIEW bulk.v{i} AS SELECT * FROM bulk.t{i}")
    try:
        big = sync_cluster(demo, ["payments"])
        assert big.created["relations"] == 120
        assert big.statements_sent == small
    finally:
        with pg(dbname="payments") as conn:
            conn.execute("DROP SCHEMA bulk CASCADE")
    gone = sync_cluster(demo, ["payments"])
    assert (gone.deleted["schemas"], gone.deleted["relations"], gone.deleted["dependencies"]) == (1, 120, 60)
    assert dangling() == {}


def dangling() -> dict[str, int]:
    """Synced rows whose parent is gone (their foreign keys have no database constraint: the sync keeps them whole)."""
    relations, functions = Relation.objects.values("id"), Function.objects.values("id")
    found = {
        "relations": Relation.objects.exclude(schema_id__in=Schema.objects.values("id")).count(),
        "grants": Grant.objects.exclude(relation_id__in=relations).count(),
        "dependency sources": Dependency.objects.exclude(source_id__in=relations).count(),
        "dependency consumers": Dependency.objects.exclude(consumer_relation_id__in=relations)
        .exclude(consumer_function_id__in=functions)
        .count(),
        "function body uses": FunctionBodyUse.objects.exclude(function_id__in=functions).count(),
        "foreign tables": ForeignTable.objects.exclude(relation_id__in=relations).count(),
    }
    return {what: n for what, n in found.items() if n}


def test_the_merge_knows_every_row_that_points_at_synced_rows():
    """apply_database removes rows with SQL, not through Django's cascade: a model that comes to point at a schema,
    relation or function must be handled there too, and added here."""

    def referrers(model) -> list[str]:
        return sorted(f"{r.related_model._meta.label}.{r.field.name}" for r in model._meta.related_objects)

    assert referrers(Schema) == ["catalog.Function.schema", "catalog.Relation.schema"]
    assert referrers(Relation) == [
        "catalog.Dependency.consumer_relation",
        "catalog.Dependency.source",
        "catalog.ForeignTable.relation",
        "catalog.Grant.relation",
        "catalog.PublishedTable.relation",
    ]
    assert referrers(Function) == ["catalog.Dependency.consumer_function", "catalog.FunctionBodyUse.function"]


def test_it_follows_changes_in_the_database(demo, demo_databases):
    sync_cluster(demo, ["payments"])
    with pg(dbname="payments") as conn:
        conn.execute("CREATE TABLE payments.sync_probe (id int)")
        conn.execute("GRANT SELECT ON payments.sync_probe TO analyst")
    try:
        summary = sync_cluster(demo, ["payments"])
        probe = relation("payments", "payments", "sync_probe")
        assert not probe.has_primary_key
        assert Grant.objects.get(relation=probe).privileges == ["SELECT"]
        assert summary.created["relations"] == 1 and summary.created["grants"] == 1
        with pg(dbname="payments") as conn:
            conn.execute("ALTER TABLE payments.sync_probe ADD PRIMARY KEY (id)")
        sync_cluster(demo, ["payments"])
        probe.refresh_from_db()
        assert probe.has_primary_key
    finally:
        with pg(dbname="payments") as conn:
            conn.execute("DROP TABLE IF EXISTS payments.sync_probe")
    dropped = sync_cluster(demo, ["payments"])
    assert not Relation.objects.filter(name="sync_probe").exists()
    assert (dropped.deleted["relations"], dropped.deleted["grants"]) == (1, 1)
    assert dangling() == {}


def test_it_reports_an_unreachable_cluster_with_exit_1(db, capsys):
    Cluster.objects.create(name="gone", dsn="host=127.0.0.1 port=9 user=postgres dbname=postgres")
    with pytest.raises(CommandError, match="gone cannot be reached: OperationalError"):
        call_command("sync", "gone")


def test_it_refuses_a_database_the_cluster_does_not_have(demo):
    with pytest.raises(SyncError, match="no database named 'nope'"):
        sync_cluster(demo, ["nope"])


def test_a_missing_password_variable_fails_closed(demo, monkeypatch):
    monkeypatch.delenv("SEAMLINE_CLUSTER_PASSWORD_NO_SUCH_VAR", raising=False)
    demo.password_env = "SEAMLINE_CLUSTER_PASSWORD_NO_SUCH_VAR"
    with pytest.raises(CredentialsError, match="SEAMLINE_CLUSTER_PASSWORD_NO_SUCH_VAR .* is not set"):
        sync_cluster(demo)


def test_an_encrypted_password_without_its_key_fails_closed(demo, settings):
    from cryptography.fernet import Fernet

    settings.FERNET_KEYS = [Fernet.generate_key().decode()]
    demo.encrypted_password = encrypt_password(leakwatch.secret("s3cret-value"))
    settings.FERNET_KEYS = []
    with pytest.raises(CredentialsError, match="SEAMLINE_FERNET_KEYS"):
        sync_cluster(demo)
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]  # the wrong key
    with pytest.raises(CredentialsError, match="cannot be decrypted"):
        sync_cluster(demo)


def test_the_sync_command_prints_a_summary(demo, capsys):
    call_command("sync", "demo", "--database", "payments")
    out = capsys.readouterr().out
    assert "synced demo: payments" in out
    assert "statements sent" in out


def test_it_runs_read_only_with_timeouts(demo, demo_databases):
    from catalog.monitored import connect

    with connect(demo.dsn, dbname="shop") as conn:
        settings_seen = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('transaction_read_only', 'statement_timeout', 'lock_timeout', 'application_name')"
            ).fetchall()
        )
        assert settings_seen["transaction_read_only"] == "on"
        assert int(settings_seen["statement_timeout"]) == settings.MONITOR_STATEMENT_TIMEOUT_MS
        assert int(settings_seen["lock_timeout"]) == settings.MONITOR_LOCK_TIMEOUT_MS
        assert settings_seen["application_name"] == "seamline"
        with pytest.raises(Exception, match="read-only transaction"):
            conn.execute("CREATE TABLE public.must_not_exist (id int)")


def test_beat_queues_a_sync_of_every_cluster_hourly(db):
    from django_celery_beat.models import PeriodicTask

    from catalog.models import SyncRun
    from catalog.tasks import sync_all_clusters

    task = PeriodicTask.objects.get(task="catalog.tasks.sync_all_clusters")
    assert (task.interval.every, task.interval.period, task.enabled) == (1, "hours", True)
    Cluster.objects.create(name="a", dsn="host=x")
    Cluster.objects.create(name="b", dsn="host=y")
    assert sync_all_clusters() == 2
    assert sync_all_clusters() == 2  # still queued: no second run per cluster
    assert sorted(SyncRun.objects.values_list("cluster__name", "requested_by")) == [
        ("a", "schedule"),
        ("b", "schedule"),
    ]


def test_an_unchanged_catalog_is_not_read_again(demo, demo_databases):
    first = sync_cluster(demo, ["payments"])
    assert first.not_changed == []
    again = sync_cluster(demo, ["payments"])
    assert again.not_changed == ["payments"]
    assert again.statements_sent == 4  # settings, database list, logical slots, the fingerprint
    assert not again.changed
    # any change to the catalog, here a comment, is seen at the next sync
    with pg(dbname="payments") as conn:
        conn.execute("COMMENT ON TABLE payments.refunds IS 'fingerprint probe'")
    try:
        changed = sync_cluster(demo, ["payments"])
        assert changed.not_changed == []
        assert relation("payments", "payments", "refunds").comment == "fingerprint probe"
    finally:
        with pg(dbname="payments") as conn:
            conn.execute("COMMENT ON TABLE payments.refunds IS NULL")
    assert sync_cluster(demo, ["payments"], full=True).not_changed == []
    # a database last read by readers that read less (an older Seamline) is read again, changed or not
    stored = Database.objects.get(cluster=demo, name="payments").fingerprint
    assert stored.endswith("/" + READERS)
    Database.objects.filter(cluster=demo, name="payments").update(fingerprint=stored.replace(READERS, "0ld0ld00"))
    assert sync_cluster(demo, ["payments"]).not_changed == []
    assert sync_cluster(demo, ["payments"]).not_changed == ["payments"]


@pytest.mark.parametrize(
    ("ddl", "undo"),
    [
        (
            "ALTER TABLE payments.refunds RENAME COLUMN reason TO why",
            "ALTER TABLE payments.refunds RENAME why TO reason",
        ),
        ("GRANT SELECT ON payments.refunds TO analyst", "REVOKE SELECT ON payments.refunds FROM analyst"),
        ("CREATE FUNCTION payments.fp_probe() RETURNS int LANGUAGE sql RETURN 1", "DROP FUNCTION payments.fp_probe()"),
        ("ALTER TABLE payments.refunds OWNER TO postgres", "ALTER TABLE payments.refunds OWNER TO payment_svc"),
        ("ANALYZE payments.fp_scratch", "DROP TABLE payments.fp_scratch"),
    ],
)
def test_the_fingerprint_sees_every_kind_of_change(demo, demo_databases, ddl, undo):
    from catalog.monitored import connect
    from catalog.readers import server

    def fingerprint():
        with connect(demo.dsn, dbname="payments") as conn:
            return server.catalog_fingerprint(conn)

    with pg(dbname="payments") as conn:
        if ddl.startswith("ANALYZE"):  # ANALYZE updates pg_class in place, xmin unchanged: counts must show it
            conn.execute("DROP TABLE IF EXISTS payments.fp_scratch")
            conn.execute("CREATE TABLE payments.fp_scratch AS SELECT g AS n FROM generate_series(1, 5000) g")
        before = fingerprint()
        conn.execute("BEGIN")
        conn.execute(ddl)
        if not ddl.startswith("ANALYZE"):  # ANALYZE's page counts are written in place, visible at once
            assert fingerprint() == before  # not committed yet: not seen
        conn.execute("COMMIT")
        try:
            assert fingerprint() != before
        finally:
            conn.execute(undo)


def _stored(database: Database) -> dict[str, set]:
    """What the catalog tables hold for a database, in the shapes the catalog readers read."""
    relations = Relation.objects.filter(schema__database=database)
    functions = Function.objects.filter(schema__database=database)
    edges = Dependency.objects.filter(source__schema__database=database).select_related(
        "consumer_relation__schema", "consumer_function__schema", "source__schema"
    )
    return {
        "schemas": set(database.schemas.values_list("name", "owner", "comment")),
        "relations": {
            (*row[:7], tuple(row[7]), row[8])
            for row in relations.values_list(
                "schema__name",
                "name",
                "kind",
                "owner",
                "estimated_rows",
                "size_bytes",
                "has_primary_key",
                "columns",
                "comment",
            )
        },
        "functions": set(
            functions.values_list(
                "schema__name",
                "name",
                "identity_arguments",
                "kind",
                "owner",
                "language",
                "security_definer",
                "search_path",
                "comment",
            )
        ),
        "view": {
            (e.consumer_relation.schema.name, e.consumer_relation.name, e.source.schema.name, e.source.name)
            for e in edges
            if e.kind == "view"
        },
        "fk": {
            (e.name, e.consumer_relation.schema.name, e.consumer_relation.name, e.source.schema.name, e.source.name)
            for e in edges
            if e.kind == "fk"
        },
        "function": {
            (
                e.consumer_function.schema.name,
                e.consumer_function.name,
                e.consumer_function.identity_arguments,
                e.source.schema.name,
                e.source.name,
            )
            for e in edges
            if e.kind == "function" and e.recorded
        },
        # found in string bodies (catalog.bodies): (function schema, name, arguments, source schema, name, access,
        # whether PostgreSQL records it too, whether it rests on the caller's search_path)
        "parsed": {
            (
                e.consumer_function.schema.name,
                e.consumer_function.name,
                e.consumer_function.identity_arguments,
                e.source.schema.name,
                e.source.name,
                e.access,
                e.recorded,
                e.assumed,
            )
            for e in edges
            if e.parsed
        },
        "grants": {
            (schema, name, grantee, tuple(privileges))
            for schema, name, grantee, privileges in Grant.objects.filter(
                relation__schema__database=database
            ).values_list("relation__schema__name", "relation__name", "grantee", "privileges")
        },
    }


def _as_read(catalog) -> dict[str, set]:
    return {
        "schemas": {(s.name, s.owner, s.comment) for s in catalog.schemas},
        "relations": {
            (r.schema, r.name, r.kind, r.owner, r.estimated_rows, r.size_bytes, r.has_primary_key, r.columns, r.comment)
            for r in catalog.relations
        },
        "functions": {
            (
                f.schema,
                f.name,
                f.identity_arguments,
                f.kind,
                f.owner,
                f.language,
                f.security_definer,
                f.search_path,
                f.comment,
            )
            for f in catalog.functions
        },
        "view": {(d.view_schema, d.view_name, d.source_schema, d.source_name) for d in catalog.view_dependencies},
        "fk": {(k.name, k.table_schema, k.table_name, k.source_schema, k.source_name) for k in catalog.foreign_keys},
        "function": {
            (d.schema, d.name, d.identity_arguments, d.source_schema, d.source_name)
            for d in catalog.function_dependencies
        },
        "grants": {(p.schema, p.name, p.grantee, p.privileges) for p in catalog.privileges},
    }


def test_the_synced_catalog_is_exactly_what_the_catalog_sql_reads(hostile_db, db):
    """Quotes, spaces, markup, unicode and 63-byte names go through COPY and the merge statements unchanged."""
    from catalog.readers.database import read_database

    cluster = Cluster.objects.create(
        name="hostile",
        dsn=f"host={settings.PG_HOST} port={settings.PG_PORT} user=postgres dbname=postgres",
        databases=[hostile_db],
    )
    summary = sync_cluster(cluster)
    with monitor_connection(hostile_db) as conn:
        catalog = read_database(conn)
    stored = _stored(Database.objects.get(cluster=cluster, name=hostile_db))
    expected = _as_read(catalog)
    # the PL/pgSQL bodies that read a table: one through a qualified name only PostgreSQL's parser finds, one that
    # PostgreSQL records too (its result type); the SQL string bodies read none
    expected["parsed"] = {
        (QUOTED, "definer_with_path", "p_order_id bigint", QUOTED, "Orders", "read", False, False),
        ("public", "first_order", "", QUOTED, "Orders", "read", True, False),
    }
    assert stored == expected
    assert all(expected.values())  # every kind of row and edge is there to compare
    assert summary.created["relations"] == len(expected["relations"])
    recorded = len(expected["view"]) + len(expected["fk"]) + len(expected["function"])
    assert summary.created["dependencies"] == recorded + 1  # definer_with_path's, found in its body alone

    again = sync_cluster(cluster, full=True)  # read again in full: nothing differs, nothing is written
    assert not again.changed
    assert again.unchanged["relations"] == len(expected["relations"])
    assert again.unchanged["grants"] == len(expected["grants"])


def test_a_latin1_database_syncs_its_names_exactly(db):
    """The server converts a LATIN1 catalog to the client's UTF8 on the way out of COPY."""
    name = "seamline_sync_latin1"
    with pg() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f"CREATE DATABASE \"{name}\" ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    try:
        with pg(dbname=name) as conn:
            conn.execute('CREATE SCHEMA "café"')
            conn.execute('CREATE TABLE "café"."crème brûlée" ("naïve" int PRIMARY KEY)')
            conn.execute("""COMMENT ON TABLE "café"."crème brûlée" IS 'déjà vu ©'""")
        cluster = Cluster.objects.create(
            name="latin1",
            dsn=f"host={settings.PG_HOST} port={settings.PG_PORT} user=postgres dbname=postgres",
            databases=[name],
        )
        sync_cluster(cluster)
        table = Relation.objects.get(schema__database__name=name, schema__name="café")
        assert (table.name, table.columns, table.comment) == ("crème brûlée", ["naïve"], "déjà vu ©")
    finally:
        with pg() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
