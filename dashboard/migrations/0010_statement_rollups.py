"""Hourly rollups of the statements samples (what windows of a day and more read), partitioned by UTC day on bucket
like the rest of the history; the existing samples rolled up. The SQL is frozen here, as in 0007 and 0009."""

from datetime import UTC, datetime, time, timedelta

import django.db.models.deletion
from django.db import migrations, models

COUNTERS = ("calls", "rows", "shared_blks_hit", "shared_blks_read", "temp_blks_written", "wal_bytes")
TABLE = "dashboard_statementrollup"
KEY = "cluster_id, node, bucket, service, shared, database, role, queryid, toplevel"
AHEAD_DAYS = 2


def create(apps, schema_editor):
    with schema_editor.connection.cursor() as cur:
        cur.execute(
            f"""CREATE TABLE {TABLE} (cluster_id bigint NOT NULL, node varchar(100) NOT NULL,
            bucket timestamptz NOT NULL, service varchar(100) NOT NULL, shared boolean NOT NULL,
            database varchar(63) NOT NULL, role varchar(63) NOT NULL, queryid bigint NOT NULL, toplevel boolean NOT NULL,
            total_ms double precision NOT NULL, {", ".join(f"{c} bigint NOT NULL" for c in COUNTERS)},
            CONSTRAINT {TABLE}_pkey PRIMARY KEY ({KEY})) PARTITION BY RANGE (bucket)"""
        )
        cur.execute(
            "SELECT DISTINCT (ended_at AT TIME ZONE 'UTC')::date FROM dashboard_statementsample"
            " UNION SELECT (now() AT TIME ZONE 'UTC')::date + n FROM generate_series(0, %s) AS n",
            [AHEAD_DAYS],
        )
        for (day,) in sorted(cur.fetchall()):
            start = datetime.combine(day, time(0), tzinfo=UTC)
            cur.execute(
                f"CREATE TABLE {TABLE}_p{day:%Y%m%d} PARTITION OF {TABLE}"
                f" FOR VALUES FROM ('{start.isoformat()}') TO ('{(start + timedelta(days=1)).isoformat()}')"
            )
        sums = ", ".join(f"sum({c})" for c in ("total_ms", *COUNTERS))
        cur.execute(
            f"INSERT INTO {TABLE} ({KEY}, total_ms, {', '.join(COUNTERS)})"
            f" SELECT cluster_id, node, date_trunc('hour', ended_at, 'UTC'), service, shared, database, role, queryid,"
            f" toplevel, {sums} FROM dashboard_statementsample GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9"
        )


def drop(apps, schema_editor):
    with schema_editor.connection.cursor() as cur:
        cur.execute(f"DROP TABLE {TABLE}")


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0009_statements")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(create, drop)],
            state_operations=[
                migrations.CreateModel(
                    name="StatementRollup",
                    fields=[
                        ("pk", models.CompositePrimaryKey("cluster", "node", "bucket", "service", "shared", "database", "role", "queryid", "toplevel", blank=True, editable=False, primary_key=True, serialize=False)),
                        ("node", models.CharField(max_length=100, verbose_name="node")),
                        ("bucket", models.DateTimeField(verbose_name="hour")),
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
                        ("cluster", models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="statement_rollups", to="catalog.cluster", verbose_name="cluster")),
                    ],
                    options={"verbose_name": "statement rollup (1 h)", "verbose_name_plural": "statement rollups (1 h)"},
                ),
            ],
        ),
    ]
