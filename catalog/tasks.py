"""Celery entry points of the ownership side: thin, they take ids and call the run lifecycles (catalog.sync_runs,
catalog.audits), which tests call too.

Syncs and audits are at-least-once: a task is acknowledged only when it ends (acks_late) and handed back to the
broker when the worker process running it dies (reject_on_worker_lost), so a killed run is taken up again by another
worker (catalog.runs says how). The hard time limits stay below the Redis visibility timeout (settings), so a running
task is never delivered twice at once. The run's row is the result: a stored Celery result would also be wrong, since
a result left in Redis under the same task id (a database re-created, ids counting from 1 again) made a worker lost
mid-run look like one that had succeeded, so the message was acknowledged instead of redelivered.
"""

from __future__ import annotations

from collections.abc import Callable

from celery import shared_task
from django.conf import settings
from django.utils.module_loading import import_string

from .audits import run_audit, start_audit
from .models import AuditRun, Cluster
from .sync_runs import run_sync, start_sync

# the project's Celery app must exist before these tasks are declared (catalog never imports dashboard)
import_string(settings.CELERY_APP)

AT_LEAST_ONCE = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


@shared_task(soft_time_limit=settings.SYNC_SOFT_TIME_LIMIT, time_limit=settings.SYNC_TIME_LIMIT, **AT_LEAST_ONCE)
def sync_task(run_id: int) -> str:
    return run_sync(run_id).status


@shared_task
def sync_all_clusters() -> int:
    """Beat's periodic entry: queue a sync of every cluster (one already under way is left to finish)."""
    return _every_cluster(lambda cluster: start_sync(cluster, requested_by="schedule"))


@shared_task(soft_time_limit=settings.AUDIT_SOFT_TIME_LIMIT, time_limit=settings.AUDIT_TIME_LIMIT, **AT_LEAST_ONCE)
def audit_task(run_id: int) -> str:
    return run_audit(run_id).status


@shared_task
def audit_all_clusters() -> int:
    """Beat's daily entry: an audit of every cluster (one already under way is joined, not doubled)."""
    return _every_cluster(lambda cluster: start_audit(cluster, trigger=AuditRun.Trigger.SCHEDULED))


def _every_cluster(start: Callable[[Cluster], object]) -> int:
    clusters = list(Cluster.objects.all())
    for cluster in clusters:
        start(cluster)
    return len(clusters)
