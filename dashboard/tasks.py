"""Celery entry points of the live side. Thin: they take ids and call the plain functions tests call too (the sampler,
beat's dispatch, history maintenance)."""

from __future__ import annotations

import time

from celery import shared_task
from django.conf import settings
from django.db import connection

from catalog.models import Cluster

from . import dispatch, outbox, partitions, retention, sampling
from .celery import app as _app  # noqa: F401  the app exists before a task is sent
from .nodes import PRIMARY
from .statements import sampler as statements_sampler


@shared_task
def ping() -> dict:
    """Round trip through the broker, a worker and Seamline's database: what a health check of the job system needs."""
    with connection.cursor() as cur:
        cur.execute("SELECT current_database(), pg_backend_pid()")
        database, backend_pid = cur.fetchone()
    return {"pong": True, "database": database, "backend_pid": backend_pid, "at": time.time()}


@shared_task(ignore_result=True)
def dispatch_sampling() -> int:
    """Beat runs this every second: it queues one sample_node per node that is due, and one sample_statements."""

    def send(cluster_id: int, node: str, interval: int) -> None:
        # a sample still queued when the next one is due is dropped, not run late
        sample_node.apply_async((cluster_id, node), expires=interval)

    def send_statements(cluster_id: int, node: str, interval: int) -> None:
        sample_statements.apply_async((cluster_id, node), expires=interval)

    queued = dispatch.dispatch_due(send)
    return queued + dispatch.dispatch_due(send_statements, "statements-due", "statements_interval")


@shared_task(
    ignore_result=True,
    soft_time_limit=settings.SAMPLE_SOFT_TIME_LIMIT,
    time_limit=settings.SAMPLE_TIME_LIMIT,
)
def sample_node(cluster_id: int, node: str) -> None:
    cluster = Cluster.objects.prefetch_related("replicas").filter(pk=cluster_id).first()
    if cluster is not None:  # removed since it was queued
        sampling.sample_node(cluster, node)


@shared_task(
    ignore_result=True,
    soft_time_limit=settings.STATEMENTS_SOFT_TIME_LIMIT,
    time_limit=settings.STATEMENTS_TIME_LIMIT,
)
def sample_statements(cluster_id: int, node: str) -> None:
    cluster = Cluster.objects.prefetch_related("replicas").filter(pk=cluster_id).first()
    if cluster is not None:
        statements_sampler.sample_statements(cluster, node)
        if node == PRIMARY:  # outbox tables: their row counts, at the same slow cadence
            outbox.sample(cluster)


@shared_task(ignore_result=True)
def prune_records() -> dict[str, int]:
    """Daily: audit runs, sync runs and login records past their retention (dashboard.retention)."""
    return retention.prune()


@shared_task(ignore_result=True)
def prune_history() -> dict[str, list[str]]:
    """Hourly: the history's partitions made ahead, and the days past the retention dropped whole (the name is the
    beat entry's since the history was pruned by DELETE)."""
    return partitions.maintain()
