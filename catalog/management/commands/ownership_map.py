from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog import ownership_map
from catalog.models import Cluster


class Command(BaseCommand):
    help = "Print the ownership map: services, what they own, and every cross-service path (view, fk, grant, function)."

    requires_system_checks = []  # scripted and fast: no need to import the web side first

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cluster", help="only this cluster")
        parser.add_argument("--format", choices=ownership_map.FORMATS, default="json")

    def handle(self, *args, cluster: str | None, format: str, **options) -> None:
        target = None
        if cluster:
            target = Cluster.objects.filter(name=cluster).first()
            if target is None:
                raise CommandError(f"no cluster named {cluster!r} in the catalog")
        self.stdout.write(ownership_map.render(format, target), ending="")
