"""The lifecycle that sync runs (catalog.sync_runs) and audit runs (catalog.audits) share, step by step:

- **queue**: one active run per cluster. A trigger while a run is queued or running joins it; one active for longer
  than its task could take in all (``lost_after``) lost its message (a broker flushed, a worker that never knew the
  task) and ends failed, so that it blocks nothing. A new run's task is sent once the run is committed, and fails fast
  when the broker is down: the run then ends failed with the reason, and a click gets a clear answer.
- **claim** (``taken``): the worker that receives the task takes its cluster's run lock (catalog.locks), then the run
  with one conditional UPDATE (queued or running, fewer than RUN_ATTEMPTS attempts: running, one attempt more). The
  task is acknowledged late and handed back to the broker when the worker running it dies (acks_late,
  reject_on_worker_lost), so **a redelivered task** finds its run still running and, once the lost worker's lock is
  gone with its connection, takes it up again; past RUN_ATTEMPTS it ends failed; a run already finished is left as it
  is.
- **execute**: the run's own work (a sync; a sync and the rules), which never raises for a cluster's fault.
- **finish**: the outcome written only while the run is still active.

The Celery tasks (catalog.tasks) only call ``run_sync`` / ``run_audit``; runs send them by name, so that this module
and the lifecycles never import the task module that imports them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.module_loading import import_string

from . import locks, versioning
from .errors import CredentialsError, SyncError, UnreachableError
from .models import Cluster, Run

Enqueue = Callable[[Run], None]

QUEUE_DOWN = "the job queue (Redis) cannot be reached: nothing was queued; try again when it is back"
LOST = "no worker completed it in time: the task was lost"


def queue[R: Run](model: type[R], cluster: Cluster, lost_after: timedelta, enqueue: Enqueue | None, **fields) -> R:
    """The cluster's active run, or a new one whose task is sent (``enqueue``, default ``send``) once committed."""
    with transaction.atomic():
        Cluster.objects.select_for_update().get(pk=cluster.pk)  # one claim at a time per cluster
        active = model.objects.filter(cluster=cluster, status__in=model.ACTIVE).first()
        if active and active.created_at < timezone.now() - lost_after:
            finish(model, active.pk, status=model.Status.FAILED, error=LOST)
            active = None
        if active:
            return active
        run = model.objects.create(cluster=cluster, **fields)
        transaction.on_commit(lambda: (enqueue or send)(run))
    return run


def send(run: Run) -> None:
    """Queue a run's task (routed to its queue by dashboard.celery), without the retries that would make a click wait
    for a broker that is down: the run then ends failed, saying why."""
    app = import_string(settings.CELERY_APP)  # catalog never imports dashboard: the app is named in the settings
    try:
        # no result: the run is the result (catalog.tasks), and a result store that is down would be waited for
        app.send_task(run.task_name, args=(run.pk,), task_id=run.task_id, retry=False, ignore_result=True)
    except Exception:  # noqa: BLE001 - kombu/redis raise several classes for a broker that is down
        finish(type(run), run.pk, status=run.Status.FAILED, error=QUEUE_DOWN)


@contextmanager
def taken[R: Run](model: type[R], run_id: int, **fields) -> Iterator[R | None]:
    """The run, its cluster's run lock held for the block (catalog.locks) and the run claimed (``claim``, ``fields``
    set); None when there is nothing to do: the run is done or given up, or the lock stayed held longer than
    settings.RUN_LOCK_WAIT (a redelivered task whose run is still running then leaves it to its worker, which is
    alive: a lost worker's connection, and the lock with it, is gone; a run nobody took yet ends failed, saying what
    ran instead)."""
    run = model.objects.select_related("cluster").get(pk=run_id)
    lock = ExitStack()
    try:
        lock.enter_context(locks.held(run.cluster))
    except locks.Busy as busy:
        if run.status == model.Status.QUEUED:
            finish(model, run_id, status=model.Status.FAILED, error=str(busy))
        yield None
        return
    with lock:
        run, claimed = claim(model, run_id, **fields)
        yield run if claimed else None


def claim[R: Run](model: type[R], run_id: int, **fields) -> tuple[R, bool]:
    """Take the run for this worker (``fields`` set too); the run, and whether it was taken."""
    claimed = model.objects.filter(pk=run_id, status__in=model.ACTIVE, attempts__lt=settings.RUN_ATTEMPTS).update(
        status=model.Status.RUNNING,
        attempts=F("attempts") + 1,
        started_at=Coalesce(F("started_at"), timezone.now()),
        **fields,
    )
    run = model.objects.select_related("cluster").get(pk=run_id)
    if not claimed and run.is_active:  # its worker was lost too often
        finish(model, run_id, status=model.Status.FAILED, error=f"gave up after {run.attempts} attempts: the "
               "worker was lost each time")  # fmt: skip
        run.refresh_from_db()
    return run, bool(claimed)


def finish(model: type[Run], run_id: int, **fields) -> bool:
    """Write the run's outcome, if it is still active (whether it was); the progress it showed while active goes.
    Pages that show the last runs (the overview) hear of it once it is committed."""
    finished = model.objects.filter(pk=run_id, status__in=model.ACTIVE).update(
        finished_at=timezone.now(), **model.progress_cleared, **fields
    )
    if finished:
        versioning.announce()
    return bool(finished)


def describe(exc: Exception, unreachable: str) -> str:
    """An exception as the run's error: what the user can act on, never a password (none is in these messages)."""
    if isinstance(exc, UnreachableError):
        return f"{unreachable}: {exc.kind}: {exc.message}"
    if isinstance(exc, (CredentialsError, SyncError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
