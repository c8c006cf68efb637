"""Bounded growth of what Seamline records about itself: audit runs with their findings, sync runs and login-attempt
records go after their retention (settings), daily, by beat (``dashboard.tasks.prune_records``) or ``manage.py
prune``. Each cluster's latest audit run is always kept, whatever its age, and so is its latest that succeeded (the
findings its pages show), and any run still active. The session action log is the audit trail: it is never cut by a
schedule, only by an explicit ``manage.py prune_action_log --before DATE``."""

from __future__ import annotations

from datetime import datetime, timedelta

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from catalog.models import AuditRun, SyncRun

from .models import ActionLog


def prune(now: datetime | None = None) -> dict[str, int]:
    """Delete what is past its retention; how many rows of each kind went."""
    now = now or timezone.now()
    gone: dict[str, int] = {}
    with transaction.atomic():
        # each cluster's newest run, and its newest that succeeded (whose findings its pages show)
        keep = {*AuditRun.objects.latest_per_cluster().values_list("pk", flat=True)}
        succeeded = AuditRun.objects.filter(status=AuditRun.Status.SUCCEEDED)
        keep |= {*succeeded.latest_per_cluster().values_list("pk", flat=True)}
        old_audits = AuditRun.objects.filter(created_at__lt=now - timedelta(days=settings.AUDIT_RETENTION_DAYS))
        deleted = old_audits.exclude(pk__in=keep).exclude(status__in=AuditRun.ACTIVE).delete()[1]
        gone["audit runs"] = deleted.get(AuditRun._meta.label, 0)
        old_syncs = SyncRun.objects.filter(created_at__lt=now - timedelta(days=settings.SYNC_RUN_RETENTION_DAYS))
        gone["sync runs"] = old_syncs.exclude(status__in=SyncRun.ACTIVE).delete()[0]
        before = now - timedelta(days=settings.LOGIN_RECORD_RETENTION_DAYS)
        gone["login records"] = sum(
            model.objects.filter(attempt_time__lt=before).delete()[0]
            for model in (AccessAttempt, AccessFailureLog, AccessLog)
        )
    return gone


def prune_action_log(before: datetime) -> int:
    """The action log's rows older than ``before`` deleted, its append-only trigger set aside for this transaction
    only (which only the table's owner may do: with docs/security.md's layout, run it as a superuser)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE dashboard_actionlog DISABLE TRIGGER dashboard_actionlog_append_only")
        deleted = ActionLog.objects.filter(at__lt=before).delete()[0]
        cursor.execute("ALTER TABLE dashboard_actionlog ENABLE TRIGGER dashboard_actionlog_append_only")
    return deleted
