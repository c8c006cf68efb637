"""Beat dispatches pool sampling every second (each node is sampled at its cluster's own interval) and prunes the
history hourly; both schedules are editable in the admin (django-celery-beat)."""

from django.db import migrations

DISPATCH = "Sample every node that is due"
PRUNE = "Prune sampling history past its retention"


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
    every_hour, _ = IntervalSchedule.objects.get_or_create(every=1, period="hours")
    PeriodicTask.objects.get_or_create(
        name=DISPATCH,
        defaults={"task": "dashboard.tasks.dispatch_sampling", "interval": every_second, "expire_seconds": 2},
    )
    PeriodicTask.objects.get_or_create(
        name=PRUNE, defaults={"task": "dashboard.tasks.prune_history", "interval": every_hour}
    )


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[DISPATCH, PRUNE]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0002_pool_history"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
