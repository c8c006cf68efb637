"""The Celery app: Redis broker, Django settings under the CELERY_ prefix, tasks found in each app's tasks.py."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.conf import settings
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("seamline")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Each task's queue, by the name of the setting that holds it (settings.py, docs/deploy.md). Named here rather than in
# a static CELERY_TASK_ROUTES map so that the settings are read when a task is sent: web, workers and beat alike.
QUEUE_SETTINGS = {
    "dashboard.tasks.dispatch_sampling": "SAMPLING_QUEUE",
    "dashboard.tasks.sample_node": "SAMPLING_QUEUE",
    "dashboard.tasks.sample_statements": "STATEMENTS_QUEUE",
    "dashboard.tasks.prune_history": "SAMPLING_QUEUE",
    "catalog.tasks.sync_task": "SYNC_QUEUE",
    "catalog.tasks.sync_all_clusters": "SYNC_QUEUE",
    "catalog.tasks.audit_task": "AUDIT_QUEUE",
    "catalog.tasks.audit_all_clusters": "AUDIT_QUEUE",
}


def route_task(name: str, args, kwargs, options, task=None, **kw) -> dict | None:
    """Celery router (CELERY_TASK_ROUTES): a queue given to apply_async still wins over this one."""
    setting = QUEUE_SETTINGS.get(name)
    return {"queue": getattr(settings, setting)} if setting else None


@task_prerun.connect
@task_postrun.connect
def recycle_connections(task=None, **kwargs) -> None:
    """What Django does around each request, around each task: drop a connection that broke or outlived CONN_MAX_AGE
    (and have the next query check the connection first, CONN_HEALTH_CHECKS). A task run eagerly, in the caller's
    process, leaves the caller's connection alone."""
    if not getattr(getattr(task, "request", None), "is_eager", False):
        close_old_connections()
