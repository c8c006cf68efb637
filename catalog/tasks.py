"""Celery entry points of the ownership side: thin, they take ids and call plain functions."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import Cluster, SyncRun
from .monitored import CredentialsError, UnreachableError
from .sync import SyncError, sync_cluster

# the project's Celery app must exist before these tasks are sent from any process (catalog never imports dashboard)
import_string(settings.CELERY_APP)


def start_sync(cluster: Cluster, requested_by: str = "") -> SyncRun:
    """Queue a sync unless one is already queued or running for the cluster; return the run either way."""
    with transaction.atomic():
        Cluster.objects.select_for_update().get(pk=cluster.pk)  # one claim at a time per cluster
        active = SyncRun.objects.filter(
            cluster=cluster, status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]
        ).first()
        if active and active.created_at < timezone.now() - timedelta(seconds=660 * SYNC_ATTEMPTS):
            # its message was lost (a broker flushed, a worker that never knew the task): it would block every sync
            SyncRun.objects.filter(pk=active.pk).update(
                status=SyncRun.Status.FAILED, finished_at=timezone.now(), error="no worker completed it in time"
            )
            active = None
        if active:
            return active
        run = SyncRun.objects.create(cluster=cluster, requested_by=requested_by)
        run.task_id = f"sync-{run.pk}"
        run.save(update_fields=["task_id"])
        # only once the run is committed can a worker find it
        transaction.on_commit(lambda: _send(sync_task, run.pk, run.task_id, SyncRun, "status"))
    return run


QUEUE_DOWN = "the job queue (Redis) cannot be reached: nothing was queued; try again when it is back"


def _send(task, run_id: int, task_id: str, model, status_field: str, **options) -> bool:
    """Queue a run's task, failing fast (no retries) when the broker is down: the run then ends failed with the
    reason, so a click gets a clear answer instead of a long wait or a server error."""
    try:
        task.apply_async((run_id,), task_id=task_id, retry=False, **options)
        return True
    except Exception:  # noqa: BLE001 - kombu/redis raise several classes for a broker that is down
        model.objects.filter(pk=run_id).update(**{status_field: "failed"}, finished_at=timezone.now(), error=QUEUE_DOWN)
        return False


SYNC_ATTEMPTS = 3  # a sync whose worker was lost is taken up again by the redelivered task, this many times in all


def run_sync(run_id: int) -> SyncRun:
    """Run a queued sync, recording progress and the outcome on the SyncRun; never raises for a cluster's fault.

    A run still "running" is one whose worker was lost (the message came back: acks_late, reject_on_worker_lost):
    it is taken up again, up to SYNC_ATTEMPTS; a sync is idempotent, so running it again is safe."""
    active = [SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]
    claimed = SyncRun.objects.filter(pk=run_id, status__in=active, attempts__lt=SYNC_ATTEMPTS).update(
        status=SyncRun.Status.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1
    )
    run = SyncRun.objects.select_related("cluster").get(pk=run_id)
    if not claimed:
        if run.status in active:  # lost too often
            SyncRun.objects.filter(pk=run_id).update(
                status=SyncRun.Status.FAILED,
                finished_at=timezone.now(),
                error=f"gave up after {run.attempts} attempts: the worker was lost each time",
            )
            run.refresh_from_db()
        return run  # done already, or given up

    def progress(database: str, done: int, total: int) -> None:
        SyncRun.objects.filter(pk=run_id).update(current_database=database, databases_done=done, databases_total=total)

    try:
        summary = sync_cluster(run.cluster, progress=progress)
    except UnreachableError as exc:
        outcome = {"status": SyncRun.Status.FAILED, "error": f"unreachable: {exc.kind}: {exc.message}"}
    except (CredentialsError, SyncError) as exc:
        outcome = {"status": SyncRun.Status.FAILED, "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - recorded for the user; the worker keeps going
        outcome = {"status": SyncRun.Status.FAILED, "error": f"{type(exc).__name__}: {exc}"}
    else:
        outcome = {"status": SyncRun.Status.OK, "summary": summary.as_dict()}
    SyncRun.objects.filter(pk=run_id).update(finished_at=timezone.now(), current_database="", **outcome)
    run.refresh_from_db()
    return run


# The SyncRun row is the result. A stored Celery result would also be wrong: task ids are "sync-<pk>", and a result
# left in Redis under the same id (a database re-created, ids counting from 1 again) made a worker lost mid-sync look
# like one that had succeeded, so the message was acknowledged instead of redelivered.
@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=600, time_limit=660, ignore_result=True)
def sync_task(run_id: int) -> str:
    return run_sync(run_id).status


@shared_task
def sync_all_clusters() -> int:
    """Beat's periodic entry: queue a sync of every cluster (one already under way is left to finish)."""
    clusters = list(Cluster.objects.all())
    for cluster in clusters:
        start_sync(cluster, requested_by="schedule")
    return len(clusters)


# --- audits --------------------------------------------------------------------------------------------------------
# At-least-once: the message is acknowledged only when the task ends (acks_late), and handed back to the broker when
# the worker process running it dies (reject_on_worker_lost), so a killed audit is run again by another worker;
# run_audit counts the attempts itself and gives up after MAX_ATTEMPTS. The hard time limit stays below the Redis
# visibility timeout (settings), so a running task is never delivered twice at once.


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.AUDIT_SOFT_TIME_LIMIT,
    time_limit=settings.AUDIT_TIME_LIMIT,
    ignore_result=True,
)
def audit_task(run_id: int) -> str:
    from .audits import run_audit

    return run_audit(run_id).status


def enqueue_audit(run) -> None:
    from .models import AuditRun

    _send(audit_task, run.pk, run.task_id, AuditRun, "status")  # to settings.AUDIT_QUEUE: dashboard.celery


@shared_task
def audit_all_clusters() -> int:
    """Beat's daily entry: an audit of every cluster (one already under way is joined, not doubled)."""
    from .audits import start_audit

    clusters = list(Cluster.objects.all())
    for cluster in clusters:
        start_audit(cluster, trigger="scheduled")
    return len(clusters)
