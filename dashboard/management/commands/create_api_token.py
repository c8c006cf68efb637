from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.models import ApiToken


class Command(BaseCommand):
    help = (
        "Create a bearer token for the JSON API (/api/v1/) on behalf of USER. The token is printed once, alone on "
        "stdout (TOKEN=$(manage.py create_api_token alice)); only its SHA-256 is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", help="username the token acts for")
        parser.add_argument("--name", default="", help="what the token is for, shown in the admin")

    def handle(self, *args, user: str, name: str, **options) -> None:
        User = get_user_model()
        account = User._default_manager.filter(**{User.USERNAME_FIELD: user}).first()
        if account is None:
            raise CommandError(f"no user named {user!r}")
        if not account.is_active:
            raise CommandError(f"user {user!r} is inactive: its tokens would not authenticate")
        row, token = ApiToken.objects.issue(account, name)
        self.stderr.write(
            f"API token {row.name or row.prefix!r} for {user} (prefix {row.prefix}); it is shown once, store it now:"
        )
        self.stdout.write(token)
