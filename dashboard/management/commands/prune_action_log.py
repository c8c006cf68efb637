from __future__ import annotations

from datetime import UTC, datetime, time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils.dateparse import parse_date

from dashboard import retention


class Command(BaseCommand):
    help = (
        "Delete the session action log's entries from before a date. The log is the audit trail of every cancel and "
        "terminate: nothing else ever deletes from it. Needs the table's owner (docs/security.md)."
    )
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--before", required=True, metavar="YYYY-MM-DD", help="entries before this day (UTC) go")

    def handle(self, *args, before: str, **options) -> None:
        day = parse_date(before) if len(before) == 10 else None
        if day is None:
            raise CommandError(f"--before: not a date (YYYY-MM-DD): {before!r}")
        cutoff = datetime.combine(day, time.min, tzinfo=UTC)
        try:
            deleted = retention.prune_action_log(cutoff)
        except DatabaseError as exc:
            raise CommandError(f"the action log was not pruned: {type(exc).__name__}: {str(exc).strip()}") from None
        self.stdout.write(f"{deleted} action log entries from before {day.isoformat()} deleted")
