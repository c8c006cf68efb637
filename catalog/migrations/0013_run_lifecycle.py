"""State only: the sync run's stored task id is no longer written (both kinds of run derive it, catalog.runs), and
audit findings take their severity from the one set of severities. No table changes."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("catalog", "0012_syncrun_attempts")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RenameField("syncrun", "task_id", "stored_task_id"),
                migrations.AlterField(
                    "syncrun", "stored_task_id", models.CharField(blank=True, db_column="task_id", max_length=64)
                ),
            ],
        ),
        migrations.AlterField(
            "auditfinding",
            "severity",
            models.CharField(
                choices=[("critical", "critical"), ("high", "high"), ("medium", "medium"), ("low", "low")],
                max_length=10,
                verbose_name="severity",
            ),
        ),
    ]
