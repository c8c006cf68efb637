"""Statement statistics (issue 16): the intervals of each node's statements samples and the statements' deltas,
range-partitioned by UTC day on ended_at like the history (dashboard.partitions keeps their partitions from then
on), and the statements' texts. The partitioned tables' SQL is written here by hand, as in 0007: Django cannot
declare a partitioned table, and a migration must not change when the app's code does."""

from datetime import UTC, datetime, time, timedelta

import django.db.models.deletion
from django.db import migrations, models

COUNTERS = ("calls", "rows", "shared_blks_hit", "shared_blks_read", "temp_blks_written", "wal_bytes")
TABLES = {
    "dashboard_statementinterval": (
        """cluster_id bigint NOT NULL, node varchar(100) NOT NULL, started_at timestamptz NULL,
        ended_at timestamptz NOT NULL, reset boolean NOT NULL, evicted bigint NULL,
        entries integer NOT NULL CONSTRAINT dashboard_statementinterval_entries_check CHECK (entries >= 0)""",
        "cluster_id, node, ended_at",
    ),
    "dashboard_statementsample": (
        "cluster_id bigint NOT NULL, node varchar(100) NOT NULL, ended_at timestamptz NOT NULL,"
        " service varchar(100) NOT NULL, shared boolean NOT NULL, database varchar(63) NOT NULL,"
        " role varchar(63) NOT NULL, queryid bigint NOT NULL, toplevel boolean NOT NULL,"
        " total_ms double precision NOT NULL, "
        + ", ".join(f"{c} bigint NOT NULL" for c in COUNTERS),
        "cluster_id, node, ended_at, service, shared, database, role, queryid, toplevel",
    ),
}
AHEAD_DAYS = 2


def create(apps, schema_editor):
    with schema_editor.connection.cursor() as cur:
        cur.execute("SELECT (now() AT TIME ZONE 'UTC')::date")
        today = cur.fetchone()[0]
        for table, (columns, pk) in TABLES.items():
            cur.execute(
                f"CREATE TABLE {table} ({columns}, CONSTRAINT {table}_pkey PRIMARY KEY ({pk}))"
                " PARTITION BY RANGE (ended_at)"
            )
            for n in range(AHEAD_DAYS + 1):
                day = today + timedelta(days=n)
                start = datetime.combine(day, time(0), tzinfo=UTC)
                cur.execute(
                    f"CREATE TABLE {table}_p{day:%Y%m%d} PARTITION OF {table}"
                    f" FOR VALUES FROM ('{start.isoformat()}') TO ('{(start + timedelta(days=1)).isoformat()}')"
                )


def drop(apps, schema_editor):
    with schema_editor.connection.cursor() as cur:
        for table in TABLES:
            cur.execute(f"DROP TABLE {table}")


CLUSTER = {"db_constraint": False, "db_index": False, "on_delete": django.db.models.deletion.CASCADE}


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0014_statements_sampling"),
        ("dashboard", "0008_session"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(create, drop)],
            state_operations=[
                migrations.CreateModel(
                    name="StatementInterval",
                    fields=[
                        ("pk", models.CompositePrimaryKey("cluster", "node", "ended_at", blank=True, editable=False, primary_key=True, serialize=False)),
                        ("node", models.CharField(max_length=100, verbose_name="node")),
                        ("started_at", models.DateTimeField(blank=True, null=True, verbose_name="from")),
                        ("ended_at", models.DateTimeField(verbose_name="to")),
                        ("reset", models.BooleanField(default=False, verbose_name="statistics reset in the interval")),
                        ("evicted", models.BigIntegerField(blank=True, null=True, verbose_name="entries evicted in the interval")),
                        ("entries", models.PositiveIntegerField(default=0, verbose_name="entries read")),
                        ("cluster", models.ForeignKey(related_name="statement_intervals", to="catalog.cluster", verbose_name="cluster", **CLUSTER)),
                    ],
                    options={"verbose_name": "statements interval", "verbose_name_plural": "statements intervals"},
                ),
                migrations.CreateModel(
                    name="StatementSample",
                    fields=[
                        ("pk", models.CompositePrimaryKey("cluster", "node", "ended_at", "service", "shared", "database", "role", "queryid", "toplevel", blank=True, editable=False, primary_key=True, serialize=False)),
                        ("node", models.CharField(max_length=100, verbose_name="node")),
                        ("ended_at", models.DateTimeField(verbose_name="interval end")),
                        ("service", models.CharField(blank=True, max_length=100, verbose_name="service")),
                        ("shared", models.BooleanField(default=False, verbose_name="shared role")),
                        ("database", models.CharField(blank=True, max_length=63, verbose_name="database")),
                        ("role", models.CharField(blank=True, max_length=63, verbose_name="role")),
                        ("queryid", models.BigIntegerField(verbose_name="statement id")),
                        ("toplevel", models.BooleanField(default=True, verbose_name="top level")),
                        ("calls", models.BigIntegerField(verbose_name="calls")),
                        ("total_ms", models.FloatField(verbose_name="execution time (ms)")),
                        ("rows", models.BigIntegerField(verbose_name="rows")),
                        ("shared_blks_hit", models.BigIntegerField(verbose_name="shared blocks hit")),
                        ("shared_blks_read", models.BigIntegerField(verbose_name="shared blocks read")),
                        ("temp_blks_written", models.BigIntegerField(verbose_name="temp blocks written")),
                        ("wal_bytes", models.BigIntegerField(verbose_name="WAL bytes")),
                        ("cluster", models.ForeignKey(related_name="statement_samples", to="catalog.cluster", verbose_name="cluster", **CLUSTER)),
                    ],
                    options={"verbose_name": "statement sample", "verbose_name_plural": "statement samples"},
                ),
            ],
        ),
        migrations.CreateModel(
            name="StatementText",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("queryid", models.BigIntegerField(verbose_name="statement id")),
                ("command", models.CharField(max_length=60, verbose_name="command")),
                ("utility", models.BooleanField(verbose_name="utility statement")),
                ("text", models.TextField(blank=True, verbose_name="text, literals masked")),
                ("parsed", models.BooleanField(default=True, verbose_name="parsed")),
                ("relations", models.JSONField(default=list, verbose_name="relations")),
                ("first_seen", models.DateTimeField(auto_now_add=True, verbose_name="first seen")),
                ("cluster", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="statement_texts", to="catalog.cluster")),
            ],
            options={"verbose_name": "statement text", "verbose_name_plural": "statement texts"},
        ),
        migrations.AddConstraint(
            model_name="statementtext",
            constraint=models.UniqueConstraint(fields=("cluster", "queryid"), name="statement_text_unique"),
        ),
    ]
