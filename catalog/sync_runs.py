"""Sync runs: a sync of one cluster queued for a worker, with its progress and outcome on a SyncRun row (the
lifecycle of catalog.runs: queue, claim, execute, finish; a redelivered task takes a run up again, a sync being
idempotent). ``start_sync`` is what the web and beat call, ``run_sync`` what the Celery task does."""

from __future__ import annotations

from django.conf import settings

from . import runs
from .models import Cluster, SyncRun
from .sync import sync_cluster


def start_sync(cluster: Cluster, requested_by: str = "", enqueue: runs.Enqueue | None = None) -> SyncRun:
    """Queue a sync unless one is already queued or running for the cluster; return the run either way."""
    return runs.queue(SyncRun, cluster, settings.SYNC_LOST_AFTER, enqueue, requested_by=requested_by)


def run_sync(run_id: int) -> SyncRun:
    """Take the run (its cluster's lock held, catalog.runs.taken), sync, record the outcome; never raises for a
    cluster's fault (the run ends failed)."""
    with runs.taken(SyncRun, run_id) as run:
        if run is None:
            return SyncRun.objects.get(pk=run_id)  # done already, given up, or still run by a live worker

        def progress(database: str, done: int, total: int) -> None:
            SyncRun.objects.filter(pk=run_id).update(
                current_database=database, databases_done=done, databases_total=total
            )

        try:
            summary = sync_cluster(run.cluster, progress=progress)
        except Exception as exc:  # noqa: BLE001 - recorded for the user; the worker keeps going
            runs.finish(SyncRun, run_id, status=SyncRun.Status.FAILED, error=runs.describe(exc, "unreachable"))
        else:
            runs.finish(SyncRun, run_id, status=SyncRun.Status.OK, summary=summary.as_dict())
    return SyncRun.objects.get(pk=run_id)
