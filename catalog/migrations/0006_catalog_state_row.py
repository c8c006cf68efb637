from django.db import migrations


def create(apps, schema_editor):
    apps.get_model("catalog", "CatalogState").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0005_catalog_state")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
