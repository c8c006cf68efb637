"""One row per dependency edge: the sync's merge keys, as unique constraints (issue 19)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0022_cluster_auth_and_safe_links'),
    ]

    operations = [
        # duplicates a concurrent sync may have left (before catalog.locks serialised syncs): the oldest row stays
        migrations.RunSQL(
            """
            DELETE FROM catalog_dependency d USING (
                SELECT id, row_number() OVER (
                    PARTITION BY kind, consumer_relation_id, consumer_function_id, source_id, name ORDER BY id
                ) AS n
                FROM catalog_dependency
            ) dup
            WHERE d.id = dup.id AND dup.n > 1
            """,
            migrations.RunSQL.noop,
        ),
        migrations.AddConstraint(
            model_name='dependency',
            constraint=models.UniqueConstraint(condition=models.Q(('consumer_relation__isnull', False)), fields=('kind', 'consumer_relation', 'source', 'name'), name='dependency_unique_relation_edge'),
        ),
        migrations.AddConstraint(
            model_name='dependency',
            constraint=models.UniqueConstraint(condition=models.Q(('consumer_function__isnull', False)), fields=('kind', 'consumer_function', 'source', 'name'), name='dependency_unique_function_edge'),
        ),
    ]
