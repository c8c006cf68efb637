"""A real Celery worker on the real Redis broker runs tasks against Seamline's database."""

from __future__ import annotations

import pytest
from django.conf import settings

from dashboard.tasks import ping


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_task_through_redis(celery_worker_process):
    result = ping.delay()
    value = result.get(timeout=60)
    assert value["pong"] is True
    assert value["database"] == settings.DATABASES["default"]["NAME"]
