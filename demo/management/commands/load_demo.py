from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo.loader import DEMO_DATABASES, load_demo


class Command(BaseCommand):
    help = (
        "Load the seed's demo (databases shop, payments and analytics, their roles, the demo catalog) onto the dev "
        "primary."
    )

    def handle(self, *args, **options) -> None:
        try:
            report = load_demo(settings.DEMO_PRIMARY, settings.DEMO_REPLICA)
        except Exception as exc:
            raise CommandError(f"loading the demo failed: {type(exc).__name__}: {exc}") from exc
        if report.created_databases:
            self.stdout.write(f"demo: created and loaded {', '.join(report.created_databases)}")
        else:
            self.stdout.write(f"demo: databases {', '.join(DEMO_DATABASES)} already loaded")
        self.stdout.write("demo: catalog " + ("updated" if report.catalog_changed else "unchanged"))
