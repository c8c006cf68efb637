from __future__ import annotations

import getpass
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.credentials import encrypt_password
from catalog.errors import CredentialsError
from catalog.models import Cluster


class Command(BaseCommand):
    help = (
        "Store a cluster's password encrypted at rest (Fernet, key from SEAMLINE_FERNET_KEYS). The password is read "
        "from a prompt, or from standard input with --stdin; it is never echoed, logged or exported."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("cluster")
        parser.add_argument(
            "--stdin", action="store_true", dest="read_stdin", help="read the password from standard input"
        )
        parser.add_argument("--clear", action="store_true", help="remove the stored password")

    stealth_options = ("input_stream",)  # tests hand in a stream

    def handle(self, *args, cluster: str, read_stdin: bool, clear: bool, **options) -> None:
        target = Cluster.objects.filter(name=cluster).first()
        if target is None:
            raise CommandError(f"no cluster named {cluster!r} in the catalog")
        if clear:
            target.encrypted_password = ""
            target.save(update_fields=["encrypted_password"])
            self.stdout.write(f"cluster {cluster}: stored password removed")
            return
        if read_stdin:
            password = (options.get("input_stream") or sys.stdin).readline().rstrip("\n")
        else:
            password = getpass.getpass()
        if not password:
            raise CommandError("an empty password was given; nothing stored")
        try:
            target.encrypted_password = encrypt_password(password)
        except CredentialsError as exc:
            raise CommandError(str(exc)) from None
        target.save(update_fields=["encrypted_password"])
        self.stdout.write(f"cluster {cluster}: password stored encrypted")
