from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Make sure the login user 'admin' exists. With SEAMLINE_DEMO_PASSWORD set, that is its password; otherwise "
        "a password generated once and kept in the state folder, so later runs keep the same login."
    )

    def handle(self, *args, **options) -> None:
        stored = settings.STATE_DIR / "admin-password"
        from_env = os.environ.get("SEAMLINE_DEMO_PASSWORD", "")
        user, created = get_user_model().objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        if from_env:
            password, source = from_env, "SEAMLINE_DEMO_PASSWORD"
            _store(stored, password)  # a later run without the variable keeps this login
        elif stored.exists():
            password, source = stored.read_text().strip(), str(stored)
        else:
            password, source = secrets.token_urlsafe(12), str(stored)
            _store(stored, password)
        if created or from_env:
            if not user.check_password(password):
                user.set_password(password)
                user.save(update_fields=["password"])
        elif not user.check_password(password):
            # someone changed it in the app since: leave it, but say how to reset it
            self.stdout.write(
                "login: admin (its password was changed in Seamline; set SEAMLINE_DEMO_PASSWORD to reset it)"
            )
            return
        self.stdout.write(f"login: admin / {password}  (from {source})")


def _store(path: Path, password: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
