"""Celery entry points of the live side. Thin: they take ids and call plain functions that tests call too."""

from __future__ import annotations

import time

from celery import shared_task
from django.db import connection

from .celery import app as _app  # noqa: F401  the app exists before a task is sent


@shared_task
def ping() -> dict:
    """Round trip through the broker, a worker and Seamline's database: what a health check of the job system needs."""
    with connection.cursor() as cur:
        cur.execute("SELECT current_database()")
        (database,) = cur.fetchone()
    return {"pong": True, "database": database, "at": time.time()}
