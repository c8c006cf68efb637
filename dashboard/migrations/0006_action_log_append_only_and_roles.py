"""The session action log refuses UPDATE and DELETE (append-only, enforced by the database); and the three roles,
as Django groups: Viewer reads everything except full query text; Operator also syncs, runs audits, sees full
query text, cancels or terminates sessions and reads the action log; Admin also edits the catalog and the
credentials, suppresses findings and manages users."""

from django.db import migrations

APPEND_ONLY = """
CREATE FUNCTION dashboard_actionlog_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the session action log is append-only';
END
$$;
CREATE TRIGGER dashboard_actionlog_append_only BEFORE UPDATE OR DELETE ON dashboard_actionlog
    FOR EACH ROW EXECUTE FUNCTION dashboard_actionlog_append_only();
"""
DROP_APPEND_ONLY = """
DROP TRIGGER IF EXISTS dashboard_actionlog_append_only ON dashboard_actionlog;
DROP FUNCTION IF EXISTS dashboard_actionlog_append_only();
"""

OPERATOR = [
    "catalog.add_syncrun",
    "catalog.add_auditrun",
    "dashboard.view_full_query",
    "dashboard.signal_session",
    "dashboard.view_actionlog",
]
CATALOG_MODELS = ["cluster", "replica", "service", "ownership", "contract", "suppression", "ruleseverity"]
ADMIN = OPERATOR + [
    f"catalog.{verb}_{model}" for model in CATALOG_MODELS for verb in ("add", "change", "delete", "view")
] + [f"auth.{verb}_{model}" for model in ("user", "group") for verb in ("add", "change", "delete", "view")] + [
    f"django_celery_beat.{verb}_{model}"  # the sync and audit schedules
    for model in ("periodictask", "intervalschedule", "crontabschedule", "clockedschedule", "solarschedule")
    for verb in ("add", "change", "delete", "view")
] + ["catalog.view_syncrun", "catalog.view_auditrun", "catalog.delete_auditrun"] + [
    "dashboard.add_apitoken",
    "dashboard.change_apitoken",
    "dashboard.delete_apitoken",
    "dashboard.view_apitoken",
]
GROUPS = {"Viewer": [], "Operator": OPERATOR, "Admin": ADMIN}


def create_groups(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():  # permissions are otherwise made after the last migration
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for perm in perms:
            app_label, codename = perm.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0005_action_log"),
        ("catalog", "0011_daily_audit"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunSQL(APPEND_ONLY, DROP_APPEND_ONLY),
        migrations.RunPython(create_groups, remove_groups),
    ]
