"""One sync or audit of a cluster at a time, whatever starts it (``manage.py sync`` or ``audit``, the web's buttons,
beat, a redelivered task): a session-level advisory lock in Seamline's own database, keyed by the cluster's id.

PostgreSQL holds it for the connection that took it, so a worker that dies mid-run lets go of it with its
connection, and a redelivered task can tell a run whose worker is alive (the lock is held) from one whose worker was
lost (it is free). A second caller waits for it up to ``settings.RUN_LOCK_WAIT`` seconds, then runs, or gets
``Busy`` (``manage.py sync`` and ``audit`` then exit with status 75, EX_TEMPFAIL: try again later). The lock is
re-entrant within a connection: an audit holds it and the sync it begins takes it again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, connection

from .models import Cluster

# The first key of Seamline's advisory locks (the second is the cluster's id): no other application's, by chance.
NAMESPACE = 0x5EA1_1E00 - 2**31  # an int4
POLL_SECONDS = 0.2
EX_TEMPFAIL = 75  # sysexits.h: what ``manage.py sync`` and ``audit`` exit with when they gave up waiting


class Busy(Exception):
    """Another sync or audit of the cluster held the lock for longer than this caller would wait."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(f"a sync of {cluster.name} is already running (on its own or as part of an audit)")


@contextmanager
def held(cluster: Cluster, wait: float | None = None) -> Iterator[None]:
    """Hold the cluster's run lock for the block, waiting up to ``wait`` seconds (default settings.RUN_LOCK_WAIT) for
    it."""
    deadline = time.monotonic() + (settings.RUN_LOCK_WAIT if wait is None else wait)
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [NAMESPACE, cluster.pk])
            if cursor.fetchone()[0]:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                raise Busy(cluster)
            time.sleep(min(POLL_SECONDS, left))
    try:
        yield
    finally:
        _release(cluster)


def _release(cluster: Cluster) -> None:
    if connection.connection is None:  # closed since: the lock went with it
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [NAMESPACE, cluster.pk])
    except DatabaseError:  # a transaction left failed: closing the connection is what lets go of the lock then
        connection.close()
