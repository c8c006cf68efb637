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


def test_a_worker_keeps_its_database_connection_across_tasks_and_replaces_a_broken_one(celery_worker_process):
    from .conftest import pg

    first = ping.delay().get(timeout=60)["backend_pid"]
    assert ping.delay().get(timeout=60)["backend_pid"] == first  # reused, not opened again for each task
    with pg(dbname=settings.DATABASES["default"]["NAME"]) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [first])
    after = ping.delay().get(timeout=60)  # the health check finds it dead and the task reconnects
    assert after["pong"] and after["backend_pid"] != first


@pytest.mark.django_db(transaction=True)
def test_sync_now_runs_on_a_real_worker_and_records_the_outcome(celery_worker_process, demo_databases, operator_client):
    from django.urls import reverse

    from catalog.models import Cluster, Schema, SyncRun
    from demo.loader import load_catalog

    from .conftest import wait_for

    load_catalog(settings.DEMO_PRIMARY, settings.DEMO_REPLICA)
    cluster = Cluster.objects.get(name="demo")
    response = operator_client.post(reverse("cluster_sync", args=[cluster.pk]), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert 'hx-trigger="every 1s"' in response.content.decode()  # the panel polls while the sync runs

    def finished():
        run = SyncRun.objects.get(cluster=cluster)
        return run if not run.is_active else None

    run = wait_for(finished, timeout=60, message="the worker to finish the sync")
    assert run.status == SyncRun.Status.OK, run.error
    assert run.summary["databases"] == ["shop", "payments", "analytics"]
    assert run.databases_done == 3
    assert Schema.objects.filter(database__cluster=cluster, service__name="user_service").exists()
    body = operator_client.get(reverse("cluster", args=[cluster.pk])).content.decode()
    assert "Synced" in body and 'hx-trigger="every 1s"' not in body


@pytest.mark.django_db(transaction=True)
def test_a_failed_sync_says_why(celery_worker_process):
    from catalog.models import Cluster, SyncRun
    from catalog.sync_runs import start_sync

    from .conftest import wait_for

    cluster = Cluster.objects.create(name="nowhere", dsn="host=127.0.0.1 port=9 user=postgres dbname=postgres")
    start_sync(cluster, requested_by="test")
    run = wait_for(
        lambda: SyncRun.objects.filter(cluster=cluster, status=SyncRun.Status.FAILED).first(),
        timeout=60,
        message="the sync to fail",
    )
    assert run.error.startswith("unreachable: OperationalError")
