"""catalog/locks.py: one sync or audit of a cluster at a time, whatever starts it (issue 19): two syncs of a cluster
never synced, started at once, both end cleanly with one set of rows; a caller that waits too long gets a clear
message and exit status 75, never a traceback; a redelivered task leaves a run whose worker is alive to that worker
and takes up one whose worker is gone."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection, connections

from catalog import locks
from catalog.models import AuditRun, Cluster, Database, Relation, Schema, SyncRun
from catalog.sync_runs import run_sync, start_sync

from .conftest import pg

DB = "seamline_locks"


@pytest.fixture
def never_synced(transactional_db):
    """A cluster of one small database, never synced; its rows removed after (a transactional test keeps them)."""
    with pg() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DB}")
    with pg(dbname=DB) as conn:
        conn.execute("CREATE SCHEMA app")
        for n in range(30):
            conn.execute(f"CREATE TABLE app.t{n} (id int PRIMARY KEY, v text)")
            conn.execute(f"CREATE VIEW app.v{n} AS SELECT id FROM app.t{n}")
    cluster = Cluster.objects.create(
        name="locks", dsn=f"host={settings.PG_HOST} port={settings.PG_PORT} user=postgres dbname=postgres",
        databases=[DB],
    )  # fmt: skip
    yield cluster
    Cluster.objects.filter(pk=cluster.pk).delete()
    with pg() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


def lock_held_elsewhere(cluster: Cluster) -> psycopg.Connection:
    """Another session holding the cluster's lock, as a worker running a sync of it would."""
    other = pg(dbname=connection.settings_dict["NAME"])  # advisory locks are per database: Seamline's own
    other.execute("SELECT pg_advisory_lock(%s, %s)", [locks.NAMESPACE, cluster.pk])
    return other


def test_two_syncs_of_a_cluster_never_synced_started_at_once_both_end_cleanly_with_one_set_of_rows(never_synced):
    for _ in range(3):  # without the lock, one of the two died on the database's unique name in most rounds
        Database.objects.filter(cluster=never_synced).delete()
        barrier, errors = threading.Barrier(2), []

        def sync(barrier: threading.Barrier = barrier, errors: list = errors) -> None:
            try:
                barrier.wait()
                call_command("sync", never_synced.name, verbosity=0)
            except BaseException as exc:  # noqa: BLE001 - what the test reports
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=sync) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        assert Database.objects.filter(cluster=never_synced, name=DB).count() == 1
        assert Schema.objects.filter(database__cluster=never_synced, name="app").count() == 1
        assert Relation.objects.filter(schema__database__cluster=never_synced).count() == 60


def test_a_sync_that_waits_too_long_says_so_and_exits_75(never_synced, settings):
    settings.RUN_LOCK_WAIT = 0.5
    other = lock_held_elsewhere(never_synced)
    try:
        with pytest.raises(CommandError) as raised:
            call_command("sync", never_synced.name, verbosity=0)
        assert raised.value.returncode == locks.EX_TEMPFAIL == 75
        assert str(raised.value) == "a sync of locks is already running (on its own or as part of an audit)"
        assert not Database.objects.filter(cluster=never_synced).exists()
        with pytest.raises(CommandError) as audit:
            call_command("audit", never_synced.name, verbosity=0)
        assert audit.value.returncode == 75 and "a sync of locks is already running" in str(audit.value)
        assert AuditRun.objects.get(cluster=never_synced).status == AuditRun.Status.FAILED
    finally:
        other.close()
    call_command("sync", never_synced.name, verbosity=0)  # the lock went with the session that held it
    assert Database.objects.filter(cluster=never_synced).count() == 1


def test_a_sync_waits_for_the_one_under_way_then_runs(never_synced, settings):
    settings.RUN_LOCK_WAIT = 30
    other = lock_held_elsewhere(never_synced)
    timer = threading.Timer(1.0, other.close)  # the other sync ends a second later
    timer.start()
    try:
        call_command("sync", never_synced.name, verbosity=0)
    finally:
        timer.cancel()
        other.close()
    assert Database.objects.filter(cluster=never_synced).count() == 1


def test_a_redelivered_task_leaves_a_run_to_its_live_worker_and_takes_up_one_whose_worker_is_gone(
    never_synced, settings
):
    settings.RUN_LOCK_WAIT = 0.5
    run = start_sync(never_synced, requested_by="t", enqueue=lambda run: None)
    SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.RUNNING, attempts=1)  # its first worker took it
    worker = lock_held_elsewhere(never_synced)  # ... and runs it still
    try:
        again = run_sync(run.pk)  # the message delivered again
        assert again.status == SyncRun.Status.RUNNING and again.attempts == 1  # left as it was
        assert not Database.objects.filter(cluster=never_synced).exists()
    finally:
        worker.close()  # that worker died: its connection, and the lock, are gone
    again = run_sync(run.pk)
    assert again.status == SyncRun.Status.OK and again.attempts == 2
    assert Database.objects.filter(cluster=never_synced).count() == 1


def test_a_queued_run_that_cannot_get_the_lock_ends_failed_saying_why(never_synced, settings):
    settings.RUN_LOCK_WAIT = 0.2
    run = start_sync(never_synced, requested_by="t", enqueue=lambda run: None)
    other = lock_held_elsewhere(never_synced)
    try:
        done = run_sync(run.pk)
    finally:
        other.close()
    assert done.status == SyncRun.Status.FAILED
    assert done.error == "a sync of locks is already running (on its own or as part of an audit)"


def test_a_dependency_edge_cannot_be_written_twice(db):
    from django.db import IntegrityError, transaction

    from catalog.models import Dependency, Function

    cluster = Cluster.objects.create(name="edges", dsn="host=127.0.0.1 dbname=postgres")
    schema = Schema.objects.create(database=Database.objects.create(cluster=cluster, name="db"), name="s")
    view, table = (Relation.objects.create(schema=schema, name=n, kind=k) for n, k in (("v", "view"), ("t", "table")))
    function = Function.objects.create(schema=schema, name="f")
    for edge in (
        {"kind": "view", "consumer_relation": view, "source": table},
        {"kind": "function", "consumer_function": function, "source": table},
    ):
        Dependency.objects.create(**edge)
        with pytest.raises(IntegrityError), transaction.atomic():
            Dependency.objects.create(**edge)
    Dependency.objects.create(kind="fk", consumer_relation=view, source=table, name="a")
    Dependency.objects.create(kind="fk", consumer_relation=view, source=table, name="b")  # two foreign keys: two edges
