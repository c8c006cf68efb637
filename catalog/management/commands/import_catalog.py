from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog import catalog_file, claims


class Command(BaseCommand):
    help = (
        "Import a catalog file (YAML: clusters and services). The whole file is validated first; on any problem "
        "nothing is written and the command exits 1. A valid file is applied in one transaction."
    )

    requires_system_checks = []  # scripted and fast: no need to import the web side first

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="path to the YAML file, or - for standard input")

    def handle(self, *args, file: str, **options) -> None:
        try:
            text = (options.get("stdin") or sys.stdin).read() if file == "-" else Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(
                f"cannot read {file}: {exc.__class__.__name__}: {getattr(exc, 'strerror', None) or exc}"
            ) from None
        try:
            result = catalog_file.apply(catalog_file.load(text))
        except catalog_file.CatalogFileError as exc:
            for problem in exc.problems:
                self.stderr.write(f"{file}: {problem}")
            raise CommandError(f"{len(exc.problems)} problem(s) in {file}; the catalog is unchanged") from None
        for conflict in claims.conflicts():  # a standing condition of the catalog, said on every import
            self.stderr.write(f"warning: {conflict}")
        for name in result.passwords_cleared:
            self.stderr.write(
                f"warning: the stored password of cluster {name} was removed: its nodes changed (a node added, or a "
                f"host, port, user or database), and a password goes only where it was entered for; set it again "
                f"with `manage.py set_cluster_password {name}`"
            )
        if not result.changed:
            self.stdout.write("catalog unchanged")
            return
        for verb, counts in (("created", result.created), ("updated", result.updated), ("deleted", result.deleted)):
            if counts:
                self.stdout.write(f"{verb}: " + ", ".join(f"{n} {label}" for label, n in sorted(counts.items())))
