from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from catalog.credentials import rotate_password
from catalog.errors import CredentialsError
from catalog.models import Cluster


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored cluster password with the first key of SEAMLINE_FERNET_KEYS. Rotate a key by putting "
        "the new key first (keeping the old one after it), running this, then removing the old key."
    )

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            clusters = list(Cluster.objects.select_for_update().exclude(encrypted_password=""))
            for cluster in clusters:
                try:
                    cluster.encrypted_password = rotate_password(cluster.encrypted_password)
                except CredentialsError as exc:
                    raise CommandError(f"cluster {cluster.name}: {exc}; nothing was changed") from None
            Cluster.objects.bulk_update(clusters, ["encrypted_password"])
        self.stdout.write(f"re-encrypted {len(clusters)} stored password(s) with the newest key")
