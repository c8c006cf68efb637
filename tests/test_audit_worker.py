"""Audits and syncs through real Celery workers: a worker SIGKILLed mid-run leaves nothing half done and the run is
completed once by redelivery; concurrent triggers for one cluster give one run."""

from __future__ import annotations

import os
import signal
import subprocess
import threading

import psycopg
import pytest
from django.conf import settings

from catalog import audits
from catalog.models import AuditFinding, AuditRun, Cluster, Relation, SyncRun
from catalog.sync import sync_cluster
from catalog.sync_runs import start_sync

from .conftest import celery_worker, pg, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

QUEUE = "audits-kill-test"


def cluster() -> Cluster:
    return Cluster.objects.create(
        name="kill-test",
        dsn=f"host={settings.PG_HOST} port={settings.PG_PORT} user=postgres dbname=postgres",
        databases=["postgres"],
    )


@pytest.fixture
def prefork_worker(django_db_blocker):
    """A prefork worker with one child on a queue of its own: killing the child is what losing a worker looks like."""
    with celery_worker(
        "kill", "--pool", "prefork", "--concurrency", "1", "--queues", QUEUE,
        SEAMLINE_AUDIT_QUEUE=QUEUE, SEAMLINE_SYNC_QUEUE=QUEUE,
    ) as proc:  # fmt: skip
        yield proc


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_a_worker_killed_mid_run_leaves_nothing_half_done_and_redelivery_completes_it(prefork_worker, monkeypatch):
    monkeypatch.setattr(settings, "AUDIT_QUEUE", QUEUE)
    target = cluster()
    sync_cluster(target)  # the Database row the run's sync will update, and block on
    db = settings.DATABASES["default"]
    lock = psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=False)
    try:
        lock.execute("SELECT 1 FROM catalog_database WHERE cluster_id = %s FOR UPDATE", [target.pk])
        run = audits.start_audit(target, "manual")
        wait_for(lambda: children(prefork_worker.pid), timeout=30, message="the worker's child")
        running = wait_for(
            lambda: AuditRun.objects.filter(pk=run.pk, status="running", attempts=1).exists(),
            timeout=30,
            message="the run to start (and block on the lock)",
        )
        assert running
        for child in children(prefork_worker.pid):
            os.kill(child, signal.SIGKILL)
        # killed mid-run: nothing of it shows
        run.refresh_from_db()
        assert run.status == "running" and not AuditFinding.objects.filter(run=run).exists()
        wait_for(
            lambda: AuditRun.objects.filter(pk=run.pk, attempts=2).exists(),
            timeout=60,
            message="the redelivered task to take the run up again",
        )
    finally:
        lock.rollback()
        lock.close()
    done = wait_for(
        lambda: AuditRun.objects.filter(pk=run.pk, status__in=["succeeded", "failed"]).first(),
        timeout=60,
        message="the run to end",
    )
    assert done.status == "succeeded" and done.attempts == 2
    assert AuditRun.objects.filter(cluster=target).count() == 1
    written = AuditFinding.objects.filter(run=done).count()
    assert written == sum(done.counts.values()) + done.resolved_count  # once, not twice


def test_a_worker_killed_mid_sync_leaves_the_catalog_as_it_was_and_redelivery_completes_it(prefork_worker, monkeypatch):
    monkeypatch.setattr(settings, "SYNC_QUEUE", QUEUE)
    target = cluster()
    sync_cluster(target)
    probe = "seamline_kill_probe"  # what the killed sync was bringing in
    with pg() as monitored:
        monitored.execute(f"CREATE TABLE {probe} (id int)")
    db = settings.DATABASES["default"]
    lock = psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=False)
    try:
        try:
            # the sync's merge updates its Database row: held here, the sync stops inside its one transaction
            lock.execute("SELECT 1 FROM catalog_database WHERE cluster_id = %s FOR UPDATE", [target.pk])
            run = start_sync(target, requested_by="kill-test")
            wait_for(lambda: children(prefork_worker.pid), timeout=30, message="the worker's child")
            wait_for(
                lambda: SyncRun.objects.filter(pk=run.pk, status="running", attempts=1).exists(),
                timeout=30,
                message="the sync to start (and block on the lock)",
            )
            with pg(dbname=db["NAME"]) as watch:  # autocommit: pg_stat_activity is read once per transaction
                wait_for(
                    lambda: watch.execute(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    ).fetchone()[0],
                    message="the sync's merge waiting on the Database row",
                )
            for child in children(prefork_worker.pid):
                os.kill(child, signal.SIGKILL)
            # killed mid-merge: the catalog is as it was, the run still says running
            assert not Relation.objects.filter(name=probe).exists()
            wait_for(
                lambda: SyncRun.objects.filter(pk=run.pk, attempts=2).exists(),
                timeout=60,
                message="the redelivered task to take the sync up again",
            )
            assert not Relation.objects.filter(name=probe).exists()
        finally:
            lock.rollback()
            lock.close()
        # the probe stays until the run ends: the redelivered attempt may reach the cluster only after its claim
        done = wait_for(
            lambda: SyncRun.objects.filter(pk=run.pk).exclude(status__in=["queued", "running"]).first(),
            timeout=60,
            message="the sync to end",
        )
    finally:
        with pg() as monitored:
            monitored.execute(f"DROP TABLE IF EXISTS {probe}")
    assert done.status == "ok" and done.attempts == 2, done.error
    assert SyncRun.objects.filter(cluster=target).count() == 1
    assert Relation.objects.filter(name=probe).count() == 1  # brought in once


def test_concurrent_triggers_give_one_run():
    target = cluster()
    barrier, runs = threading.Barrier(4), []

    def trigger() -> None:
        from django.db import connection

        barrier.wait()
        try:
            runs.append(audits.start_audit(target, "manual", enqueue=lambda run: None).pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=trigger) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(runs)) == 1 and AuditRun.objects.filter(cluster=target).count() == 1
