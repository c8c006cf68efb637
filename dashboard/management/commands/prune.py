from __future__ import annotations

from django.core.management.base import BaseCommand

from dashboard import retention


class Command(BaseCommand):
    help = (
        "Delete audit runs (the latest of each cluster kept), sync runs and login records past their retention, as "
        "the daily schedule does (SEAMLINE_AUDIT_RETENTION_DAYS, SEAMLINE_SYNC_RUN_RETENTION_DAYS, "
        "SEAMLINE_LOGIN_RECORD_RETENTION_DAYS). The session action log is left alone: see prune_action_log."
    )
    requires_system_checks = []

    def handle(self, *args, **options) -> None:
        gone = retention.prune()
        self.stdout.write(", ".join(f"{n} {kind}" for kind, n in gone.items()) + " deleted")
