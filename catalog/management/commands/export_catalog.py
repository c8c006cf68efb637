from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from catalog import catalog_file


class Command(BaseCommand):
    help = "Print the catalog (clusters and services) as a catalog file that import_catalog reads back unchanged."

    requires_system_checks = []  # scripted and fast: no need to import the web side first

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", help="write to this file instead of standard output")

    def handle(self, *args, output: str | None = None, **options) -> None:
        text = catalog_file.dump(catalog_file.export())
        if output:
            with open(output, "w", encoding="utf-8") as f:
                f.write(text)
        else:
            self.stdout.write(text, ending="")
