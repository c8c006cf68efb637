"""dashboard/retention.py: Seamline's own records do not grow without bound (issue 19): audit runs with their
findings, sync runs and login records go after their retention, the latest audit of each cluster and active runs
stay; the action log goes only by its explicit command."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from catalog.models import AuditFinding, AuditRun, Cluster, SyncRun
from dashboard.models import ActionLog


@pytest.fixture
def clusters(db):
    return [Cluster.objects.create(name=n, dsn="host=127.0.0.1 port=9 dbname=postgres") for n in ("a", "b")]


def aged(model, days: int, **fields):
    row = model.objects.create(**fields)
    model.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(days=days))
    return row


def test_old_runs_and_login_records_go_the_latest_audit_of_each_cluster_and_active_runs_stay(clusters, settings):
    a, b = clusters
    old_a = aged(AuditRun, 200, cluster=a, status=AuditRun.Status.SUCCEEDED)
    AuditFinding.objects.create(run=old_a, rule="r", severity="low", object="o", message="m")
    latest_a = aged(AuditRun, 120, cluster=a, status=AuditRun.Status.SUCCEEDED)  # old, but a's latest
    recent_b = aged(AuditRun, 10, cluster=b, status=AuditRun.Status.SUCCEEDED)
    old_b = aged(AuditRun, 100, cluster=b, status=AuditRun.Status.FAILED)  # made last, but older than recent_b
    failed_a = aged(AuditRun, 150, cluster=a, status=AuditRun.Status.FAILED)  # older than latest_a: goes
    old_sync = aged(SyncRun, 40, cluster=a, status=SyncRun.Status.OK)
    stuck_sync = aged(SyncRun, 40, cluster=b, status=SyncRun.Status.RUNNING)
    recent_sync = aged(SyncRun, 5, cluster=a, status=SyncRun.Status.OK)
    for model in (AccessAttempt, AccessFailureLog, AccessLog):
        for days in (45, 1):
            extra = {"failures_since_start": 1} if model is AccessAttempt else {}
            row = model.objects.create(username="vera", ip_address="127.0.0.1", user_agent=f"t{days}", **extra)
            model.objects.filter(pk=row.pk).update(attempt_time=timezone.now() - timedelta(days=days))
    kept_log = ActionLog.objects.create(
        user="olga", cluster="a", node="primary", pid=1, backend_start="t", action="cancel", result="signalled"
    )
    call_command("prune", verbosity=0)
    assert set(AuditRun.objects.values_list("pk", flat=True)) == {latest_a.pk, recent_b.pk}
    assert not AuditRun.objects.filter(pk__in=[old_a.pk, old_b.pk, failed_a.pk]).exists()
    assert not AuditFinding.objects.filter(run_id=old_a.pk).exists()
    assert set(SyncRun.objects.values_list("pk", flat=True)) == {stuck_sync.pk, recent_sync.pk}
    assert not SyncRun.objects.filter(pk=old_sync.pk).exists()
    for model in (AccessAttempt, AccessFailureLog, AccessLog):
        assert model.objects.count() == 1, model
    assert ActionLog.objects.filter(pk=kept_log.pk).exists()
    settings.AUDIT_RETENTION_DAYS = 5  # shorter: still the latest of each cluster
    call_command("prune", verbosity=0)
    assert set(AuditRun.objects.values_list("pk", flat=True)) == {latest_a.pk, recent_b.pk}


def test_the_action_log_goes_only_by_its_command_and_only_before_the_date(db):
    with connection.cursor() as cursor:  # rows of a year ago and of last week, as the log wrote them then
        for days in (400, 10):
            cursor.execute(
                'INSERT INTO dashboard_actionlog (at, "user", cluster, node, pid, backend_start, service, query,'
                " action, reason, result) VALUES (now() - %s * interval '1 day', 'olga', 'a', 'primary', 1, 't', '',"
                " '', 'cancel', '', 'signalled')",
                [days],
            )
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():  # the trigger stands otherwise
        ActionLog.objects.all().delete()
    with pytest.raises(CommandError, match="not a date"):
        call_command("prune_action_log", "--before", "last year")
    before = (timezone.now() - timedelta(days=100)).date().isoformat()
    out = io.StringIO()
    call_command("prune_action_log", "--before", before, stdout=out)
    assert out.getvalue().strip() == f"1 action log entries from before {before} deleted"
    assert ActionLog.objects.count() == 1
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():  # and stands again after
        ActionLog.objects.all().delete()
