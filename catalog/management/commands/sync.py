from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog import locks
from catalog.errors import CredentialsError, SyncError, UnreachableError
from catalog.models import Cluster
from catalog.sync import sync_cluster


class Command(BaseCommand):
    help = "Introspect a cluster's databases now and update the catalog (read-only on the cluster)."
    # scripts and cron run this often: Django's system checks would import the whole web side for nothing
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("cluster", help="cluster name")
        parser.add_argument(
            "--database", action="append", dest="databases", metavar="DB", help="only this database (repeatable)"
        )
        parser.add_argument("--format", choices=["text", "json"], default="text")
        parser.add_argument(
            "--full", action="store_true", help="read every database even if its catalog has not changed"
        )

    def handle(self, *args, cluster: str, databases: list[str] | None, format: str, full: bool, **options) -> None:
        try:
            target = Cluster.objects.get(name=cluster)
        except Cluster.DoesNotExist:
            raise CommandError(f"no cluster named {cluster!r} in the catalog") from None

        def progress(database: str, done: int, total: int) -> None:
            if database and format == "text" and options["verbosity"] > 1:
                self.stderr.write(f"[{done + 1}/{total}] {database}")

        try:
            summary = sync_cluster(target, databases, progress, full=full)
        except locks.Busy as exc:
            raise CommandError(str(exc), returncode=locks.EX_TEMPFAIL) from None
        except UnreachableError as exc:
            raise CommandError(f"cluster {cluster} cannot be reached: {exc.kind}: {exc.message}") from None
        except (CredentialsError, SyncError) as exc:
            raise CommandError(f"cluster {cluster}: {exc}") from None
        if format == "json":
            self.stdout.write(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2))
            return
        self.stdout.write(
            f"synced {cluster}: {', '.join(summary.databases)} ({summary.statements_sent} statements sent)"
        )
        if summary.not_changed:
            self.stdout.write(
                f"  catalog unchanged since the last sync, not read again: {', '.join(summary.not_changed)}"
            )
        labels = sorted(set(summary.created) | set(summary.updated) | set(summary.deleted) | set(summary.unchanged))
        width = max((len(label) for label in labels), default=0)
        for label in labels:
            self.stdout.write(
                f"  {label:{width}} {summary.created[label]:6} new {summary.updated[label]:6} changed "
                f"{summary.deleted[label]:6} removed {summary.unchanged[label]:6} unchanged"
            )
