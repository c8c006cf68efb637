"""History at scale: the sample tables become range-partitioned by UTC day on sampled_at, each keyed by its natural
primary key (cluster, node[, service], sampled_at) instead of a serial id plus an index; three 5-minute rollup tables,
partitioned alike on their bucket, are added. The existing rows are carried over and rolled up.

Django models the result (CompositePrimaryKey, the cluster's foreign key without a database constraint); the
database side is written here by hand because Django cannot declare a partitioned table. Partitions are made for
every day that has rows, through today and the next two days; dashboard.partitions keeps them from then on.
The SQL is frozen here on purpose (a migration must not change when the app's code does).
"""

from datetime import UTC, datetime, time, timedelta

import django.db.models.deletion
from django.db import migrations, models

COUNTS = ("active", "idle", "idle_in_transaction", "idle_in_transaction_aborted", "waiting", "total")

# table -> (columns, primary key, partition key)
TABLES = {
    "dashboard_nodesample": (
        """cluster_id bigint NOT NULL, node varchar(100) NOT NULL, sampled_at timestamptz NOT NULL,
        reachable boolean NOT NULL,
        total integer NOT NULL CONSTRAINT dashboard_nodesample_total_check CHECK (total >= 0),
        max_connections integer NULL CONSTRAINT dashboard_nodesample_max_connections_check CHECK (max_connections >= 0),
        reserved_connections integer NULL
            CONSTRAINT dashboard_nodesample_reserved_connections_check CHECK (reserved_connections >= 0)""",
        "cluster_id, node, sampled_at",
        "sampled_at",
    ),
    "dashboard_servicesample": (
        "cluster_id bigint NOT NULL, node varchar(100) NOT NULL, sampled_at timestamptz NOT NULL,"
        " service varchar(100) NOT NULL, "
        + ", ".join(f"{c} integer NOT NULL CONSTRAINT dashboard_servicesample_{c}_check CHECK ({c} >= 0)" for c in COUNTS),
        "cluster_id, node, service, sampled_at",
        "sampled_at",
    ),
    "dashboard_replicasample": (
        """cluster_id bigint NOT NULL, node varchar(100) NOT NULL, sampled_at timestamptz NOT NULL,
        receiving boolean NOT NULL, replay_lag_bytes bigint NULL, replay_lag_seconds double precision NULL""",
        "cluster_id, node, sampled_at",
        "sampled_at",
    ),
    "dashboard_noderollup": (
        "cluster_id bigint NOT NULL, node varchar(100) NOT NULL, bucket timestamptz NOT NULL, "
        + ", ".join(
            f"{c} integer NOT NULL CONSTRAINT dashboard_noderollup_{c}_check CHECK ({c} >= 0)"
            for c in ("samples", "reachable", "total", "total_max")
        ),
        "cluster_id, node, bucket",
        "bucket",
    ),
    "dashboard_servicerollup": (
        "cluster_id bigint NOT NULL, node varchar(100) NOT NULL, bucket timestamptz NOT NULL,"
        " service varchar(100) NOT NULL, "
        + ", ".join(
            f"{c} integer NOT NULL CONSTRAINT dashboard_servicerollup_{c}_check CHECK ({c} >= 0)"
            for c in (*COUNTS, "total_max")
        ),
        "cluster_id, node, service, bucket",
        "bucket",
    ),
    "dashboard_replicarollup": (
        """cluster_id bigint NOT NULL, node varchar(100) NOT NULL, bucket timestamptz NOT NULL,
        samples integer NOT NULL CONSTRAINT dashboard_replicarollup_samples_check CHECK (samples >= 0),
        receiving integer NOT NULL CONSTRAINT dashboard_replicarollup_receiving_check CHECK (receiving >= 0),
        replay_lag_seconds_max double precision NULL,
        replay_lag_bytes_sum bigint NOT NULL,
        replay_lag_bytes_samples integer NOT NULL
            CONSTRAINT dashboard_replicarollup_replay_lag_bytes_samples_check CHECK (replay_lag_bytes_samples >= 0)""",
        "cluster_id, node, bucket",
        "bucket",
    ),
}
SAMPLES = {
    "dashboard_nodesample": "cluster_id, node, sampled_at, reachable, total, max_connections, reserved_connections",
    "dashboard_servicesample": f"cluster_id, node, sampled_at, service, {', '.join(COUNTS)}",
    "dashboard_replicasample": "cluster_id, node, sampled_at, receiving, replay_lag_bytes, replay_lag_seconds",
}
BIN = "date_bin('5 minutes', sampled_at, '2000-01-01 00:00:00+00')"
ROLLUPS = (
    f"""INSERT INTO dashboard_noderollup (cluster_id, node, bucket, samples, reachable, total, total_max)
    SELECT cluster_id, node, {BIN}, count(*), count(*) FILTER (WHERE reachable), sum(total), max(total)
    FROM dashboard_nodesample GROUP BY 1, 2, 3""",
    f"""INSERT INTO dashboard_servicerollup (cluster_id, node, service, bucket, {", ".join(COUNTS)}, total_max)
    SELECT cluster_id, node, service, {BIN}, {", ".join(f"sum({c})" for c in COUNTS)}, max(total)
    FROM dashboard_servicesample GROUP BY 1, 2, 3, 4""",
    f"""INSERT INTO dashboard_replicarollup (cluster_id, node, bucket, samples, receiving, replay_lag_seconds_max,
                                         replay_lag_bytes_sum, replay_lag_bytes_samples)
    SELECT cluster_id, node, {BIN}, count(*), count(*) FILTER (WHERE receiving), max(replay_lag_seconds),
           coalesce(sum(replay_lag_bytes), 0), count(replay_lag_bytes)
    FROM dashboard_replicasample GROUP BY 1, 2, 3""",
)
AHEAD_DAYS = 2


def partition(apps, schema_editor):
    with schema_editor.connection.cursor() as cur:
        cur.execute("SET LOCAL statement_timeout = 0")  # the copy of a big history may take minutes
        days = set()
        cur.execute("SELECT (now() AT TIME ZONE 'UTC')::date")
        today = cur.fetchone()[0]
        days.update(today + timedelta(days=n) for n in range(AHEAD_DAYS + 1))
        for table in SAMPLES:
            cur.execute(f"ALTER TABLE {table} RENAME TO {table}_unpartitioned")
            cur.execute(f"ALTER TABLE {table}_unpartitioned RENAME CONSTRAINT {table}_pkey TO {table}_unpartitioned_pkey")
            cur.execute(f"SELECT DISTINCT (sampled_at AT TIME ZONE 'UTC')::date FROM {table}_unpartitioned")
            days.update(day for (day,) in cur.fetchall())
        for table, (columns, pk, key) in TABLES.items():
            cur.execute(
                f"CREATE TABLE {table} ({columns}, CONSTRAINT {table}_pkey PRIMARY KEY ({pk}))"
                f" PARTITION BY RANGE ({key})"
            )
            for day in sorted(days):
                start = datetime.combine(day, time(0), tzinfo=UTC)
                cur.execute(
                    f"CREATE TABLE {table}_p{day:%Y%m%d} PARTITION OF {table}"
                    f" FOR VALUES FROM ('{start.isoformat()}') TO ('{(start + timedelta(days=1)).isoformat()}')"
                )
        for table, columns in SAMPLES.items():
            cur.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {table}_unpartitioned ON CONFLICT DO NOTHING"
            )
            cur.execute(f"DROP TABLE {table}_unpartitioned")
        for sql in ROLLUPS:
            cur.execute(sql)


def unpartition(apps, schema_editor):
    """Back to plain tables, as migration 0006 left them (Django creates them from that state), rows carried back."""
    with schema_editor.connection.cursor() as cur:
        cur.execute("SET LOCAL statement_timeout = 0")
        for table in ("dashboard_noderollup", "dashboard_servicerollup", "dashboard_replicarollup"):
            cur.execute(f"DROP TABLE {table}")
        for table in SAMPLES:
            cur.execute(f"ALTER TABLE {table} RENAME TO {table}_partitioned")
            cur.execute(f"ALTER TABLE {table}_partitioned RENAME CONSTRAINT {table}_pkey TO {table}_partitioned_pkey")
    for name in ("NodeSample", "ServiceSample", "ReplicaSample"):
        schema_editor.create_model(apps.get_model("dashboard", name))
    with schema_editor.connection.cursor() as cur:
        for table, columns in SAMPLES.items():
            # the plain tables' foreign key holds again: a removed cluster's stray rows stay behind
            cur.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {table}_partitioned"
                f" WHERE cluster_id IN (SELECT id FROM catalog_cluster) ORDER BY sampled_at"
            )
            cur.execute(f"DROP TABLE {table}_partitioned")


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0012_syncrun_attempts"),
        ("dashboard", "0006_action_log_append_only_and_roles"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(partition, unpartition)],
            state_operations=[
                migrations.CreateModel(
                    name="NodeRollup",
                    fields=[
                        ("pk", models.CompositePrimaryKey("cluster", "node", "bucket", blank=True, editable=False, primary_key=True, serialize=False)),
                        ("node", models.CharField(max_length=100, verbose_name="node")),
                        ("bucket", models.DateTimeField(verbose_name="bucket start")),
                        ("samples", models.PositiveIntegerField(default=0, verbose_name="samples")),
                        ("reachable", models.PositiveIntegerField(default=0, verbose_name="reachable samples")),
                        ("total", models.PositiveIntegerField(default=0, verbose_name="client sessions (sum over the samples)")),
                        ("total_max", models.PositiveIntegerField(default=0, verbose_name="client sessions (peak)")),
                        ("cluster", models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="node_rollups", to="catalog.cluster", verbose_name="cluster")),
                    ],
                    options={"verbose_name": "node rollup (5 min)", "verbose_name_plural": "node rollups (5 min)"},
                ),
                migrations.CreateModel(
                    name="ReplicaRollup",
                    fields=[
                        ("pk", models.CompositePrimaryKey("cluster", "node", "bucket", blank=True, editable=False, primary_key=True, serialize=False)),
                        ("node", models.CharField(max_length=100, verbose_name="replica")),
                        ("bucket", models.DateTimeField(verbose_name="bucket start")),
                        ("samples", models.PositiveIntegerField(default=0, verbose_name="samples")),
                        ("receiving", models.PositiveIntegerField(default=0, verbose_name="samples with the WAL receiver streaming")),
                        ("replay_lag_seconds_max", models.FloatField(blank=True, null=True, verbose_name="worst replay lag (s)")),
                        ("replay_lag_bytes_sum", models.BigIntegerField(default=0, verbose_name="replay lag (bytes, sum over the samples)")),
                        ("replay_lag_bytes_samples", models.PositiveIntegerField(default=0, verbose_name="samples with a byte lag")),
                        ("cluster", models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="replica_rollups", to="catalog.cluster", verbose_name="cluster")),
                    ],
                    options={"verbose_name": "replica rollup (5 min)", "verbose_name_plural": "replica rollups (5 min)"},
                ),
                migrations.CreateModel(
                    name="ServiceRollup",
                    fields=[
                        ("pk", models.CompositePrimaryKey("cluster", "node", "service", "bucket", blank=True, editable=False, primary_key=True, serialize=False)),
                        ("node", models.CharField(max_length=100, verbose_name="node")),
                        ("bucket", models.DateTimeField(verbose_name="bucket start")),
                        ("service", models.CharField(blank=True, max_length=100, verbose_name="service")),
                        ("active", models.PositiveIntegerField(default=0, verbose_name="active")),
                        ("idle", models.PositiveIntegerField(default=0, verbose_name="idle")),
                        ("idle_in_transaction", models.PositiveIntegerField(default=0, verbose_name="idle in transaction")),
                        ("idle_in_transaction_aborted", models.PositiveIntegerField(default=0, verbose_name="idle in transaction (aborted)")),
                        ("waiting", models.PositiveIntegerField(default=0, verbose_name="waiting on a lock")),
                        ("total", models.PositiveIntegerField(default=0, verbose_name="total")),
                        ("total_max", models.PositiveIntegerField(default=0, verbose_name="total (peak)")),
                        ("cluster", models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="service_rollups", to="catalog.cluster", verbose_name="cluster")),
                    ],
                    options={"verbose_name": "service rollup (5 min)", "verbose_name_plural": "service rollups (5 min)"},
                ),
                migrations.RemoveIndex(model_name="nodesample", name="dashboard_n_cluster_cfdc51_idx"),
                migrations.RemoveIndex(model_name="replicasample", name="dashboard_r_cluster_0926bb_idx"),
                migrations.RemoveIndex(model_name="servicesample", name="dashboard_s_cluster_d493a9_idx"),
                migrations.AddField(
                    model_name="nodesample",
                    name="pk",
                    field=models.CompositePrimaryKey("cluster", "node", "sampled_at", blank=True, editable=False, primary_key=True, serialize=False),
                ),
                migrations.AddField(
                    model_name="replicasample",
                    name="pk",
                    field=models.CompositePrimaryKey("cluster", "node", "sampled_at", blank=True, editable=False, primary_key=True, serialize=False),
                ),
                migrations.AddField(
                    model_name="servicesample",
                    name="pk",
                    field=models.CompositePrimaryKey("cluster", "node", "service", "sampled_at", blank=True, editable=False, primary_key=True, serialize=False),
                ),
                migrations.AlterField(
                    model_name="nodesample",
                    name="cluster",
                    field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="node_samples", to="catalog.cluster", verbose_name="cluster"),
                ),
                migrations.AlterField(
                    model_name="replicasample",
                    name="cluster",
                    field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="replica_samples", to="catalog.cluster", verbose_name="cluster"),
                ),
                migrations.AlterField(
                    model_name="servicesample",
                    name="cluster",
                    field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="service_samples", to="catalog.cluster", verbose_name="cluster"),
                ),
                migrations.RemoveField(model_name="nodesample", name="id"),
                migrations.RemoveField(model_name="replicasample", name="id"),
                migrations.RemoveField(model_name="servicesample", name="id"),
            ],
        ),
    ]
