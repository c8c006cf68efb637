"""catalog/runs.py: the one lifecycle of sync runs and audit runs, step by step for both kinds (queue, claim, a
redelivered task, giving up, finish), on the test database; the work itself is the sync's and the audit's own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from catalog import runs
from catalog.audits import run_audit, start_audit
from catalog.models import AuditRun, Cluster, SyncRun
from catalog.sync_runs import run_sync, start_sync

KINDS = {
    "sync": (SyncRun, lambda c, enqueue: start_sync(c, requested_by="t", enqueue=enqueue), run_sync, "ok"),
    "audit": (AuditRun, lambda c, enqueue: start_audit(c, "manual", enqueue=enqueue), run_audit, "succeeded"),
}


@pytest.fixture(params=KINDS, ids=list(KINDS))
def kind(request):
    return KINDS[request.param]


@pytest.fixture
def cluster(db):
    """Reachable: the test primary's postgres database, nothing else, so a run's work is quick."""
    return Cluster.objects.create(
        name="runs",
        dsn=f"host={settings.PG_HOST} port={settings.PG_PORT} user=postgres dbname=postgres",
        databases=["postgres"],
    )


def test_a_trigger_while_a_run_is_active_joins_it_and_the_task_is_sent_once_committed(
    kind, cluster, django_capture_on_commit_callbacks
):
    model, start, _, _ = kind
    sent: list = []
    with django_capture_on_commit_callbacks(execute=False) as on_commit:
        first = start(cluster, sent.append)
    assert sent == [] and len(on_commit) == 1  # nothing is sent before the run is committed
    on_commit[0]()
    with django_capture_on_commit_callbacks(execute=True) as joined:
        second = start(cluster, sent.append)
    assert first.pk == second.pk and model.objects.filter(cluster=cluster).count() == 1
    assert sent == [first] and joined == []  # the trigger that joined sent nothing
    assert first.task_id == f"{model.task_prefix}-{first.pk}"


def test_a_run_whose_message_was_lost_is_failed_and_does_not_block_the_next(kind, cluster):
    model, start, _, _ = kind
    lost = start(cluster, lambda run: None)
    lost_after = settings.SYNC_LOST_AFTER if model is SyncRun else settings.AUDIT_LOST_AFTER
    model.objects.filter(pk=lost.pk).update(created_at=timezone.now() - lost_after - timedelta(seconds=1))
    fresh = start(cluster, lambda run: None)
    lost.refresh_from_db()
    assert fresh.pk != lost.pk and fresh.status == "queued"
    assert (lost.status, lost.error) == ("failed", runs.LOST) and lost.finished_at


def test_a_claimed_run_is_done_once_and_a_redelivery_after_it_changes_nothing(kind, cluster):
    model, start, execute, succeeded = kind
    run = start(cluster, lambda run: None)
    done = execute(run.pk)
    assert (done.status, done.attempts, done.error) == (succeeded, 1, "")
    assert done.started_at and done.finished_at >= done.started_at
    again = execute(run.pk)  # the message delivered once more after the run completed
    assert (again.status, again.attempts, again.finished_at) == (succeeded, 1, done.finished_at)


def test_a_redelivered_task_takes_up_a_running_run_keeping_its_first_start(kind, cluster):
    model, start, execute, succeeded = kind
    run = start(cluster, lambda run: None)
    began = timezone.now() - timedelta(minutes=3)
    model.objects.filter(pk=run.pk).update(status="running", attempts=1, started_at=began)  # its worker was lost
    done = execute(run.pk)
    assert (done.status, done.attempts, done.started_at) == (succeeded, 2, began)


def test_a_run_whose_worker_was_lost_every_time_ends_failed_saying_so(kind, cluster):
    model, start, execute, _ = kind
    run = start(cluster, lambda run: None)
    model.objects.filter(pk=run.pk).update(status="running", attempts=settings.RUN_ATTEMPTS)
    given_up = execute(run.pk)
    assert given_up.status == "failed" and given_up.attempts == settings.RUN_ATTEMPTS
    assert given_up.error == f"gave up after {settings.RUN_ATTEMPTS} attempts: the worker was lost each time"


def test_a_cluster_that_cannot_be_reached_fails_the_run_with_the_reason(kind, db):
    model, start, execute, _ = kind
    gone = Cluster.objects.create(name="runs-gone", dsn="host=127.0.0.1 port=9 user=postgres dbname=postgres")
    failed = execute(start(gone, lambda run: None).pk)
    assert failed.status == "failed" and "OperationalError" in failed.error and failed.finished_at
    assert failed.error.startswith("unreachable: " if model is SyncRun else "the cluster cannot be reached: ")


def test_finishing_writes_only_an_active_run_and_clears_its_progress(cluster):
    run = start_audit(cluster, "manual", enqueue=lambda run: None)
    AuditRun.objects.filter(pk=run.pk).update(status="running", phase="checking")
    assert runs.finish(AuditRun, run.pk, status="failed", error="stopped")
    run.refresh_from_db()
    assert (run.status, run.phase, run.error) == ("failed", "", "stopped")
    assert not runs.finish(AuditRun, run.pk, status="succeeded")  # finished already: left as it is
    run.refresh_from_db()
    assert run.status == "failed"
