"""Sessions in dashboard.models.Session (table seamline_session): Django's, with the user's id beside the data, so
that a request reads the session and its user in one statement. Open sessions move over from django_session, their
user's id read from their data, so nobody is logged out by the upgrade."""

from django.conf import settings
from django.db import migrations, models


def move_sessions(apps, schema_editor):
    from django.contrib.auth import SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    Old = apps.get_model("sessions", "Session")
    New = apps.get_model("dashboard", "Session")
    store = SessionStore()
    alias = schema_editor.connection.alias
    moved = []
    for old in Old.objects.using(alias).filter(expire_date__gt=timezone.now()).iterator():
        user = store.decode(old.session_data).get(SESSION_KEY)  # {} when it cannot be read: a session with no user
        moved.append(
            New(
                session_key=old.session_key,
                session_data=old.session_data,
                expire_date=old.expire_date,
                user_id=int(user) if isinstance(user, str) and user.isdigit() else None,
            )
        )
    New.objects.using(alias).bulk_create(moved, batch_size=1000)
    Old.objects.using(alias).all().delete()  # no copy of a session outlives it where no one would delete it


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0007_partitioned_history"),
        ("sessions", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Session",
            fields=[
                ("session_key", models.CharField(max_length=40, primary_key=True, serialize=False, verbose_name="session key")),
                ("session_data", models.TextField(verbose_name="session data")),
                ("expire_date", models.DateTimeField(db_index=True, verbose_name="expire date")),
                (
                    "user",
                    models.ForeignKey(
                        db_constraint=False,
                        null=True,
                        on_delete=models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="user",
                    ),
                ),
            ],
            options={
                "verbose_name": "session",
                "verbose_name_plural": "sessions",
                "db_table": "seamline_session",
                "abstract": False,
            },
        ),
        migrations.RunPython(move_sessions, migrations.RunPython.noop),
    ]
