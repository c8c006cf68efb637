from __future__ import annotations

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Make sure the login user 'admin' exists. Its password is SEAMLINE_DEMO_PASSWORD when set, else one generated "
        "once and kept in the state folder."
    )

    def handle(self, *args, **options) -> None:
        password = os.environ.get("SEAMLINE_DEMO_PASSWORD", "")
        stored = settings.STATE_DIR / "admin-password"
        if password:
            source = "SEAMLINE_DEMO_PASSWORD"
        elif stored.exists():
            password, source = stored.read_text().strip(), str(stored)
        else:
            password, source = secrets.token_urlsafe(12), str(stored)
            stored.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(stored, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(password + "\n")
        user, created = get_user_model().objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        if created or not user.check_password(password):
            user.set_password(password)
            user.save()
        self.stdout.write(f"login: admin / {password}  (from {source})")
