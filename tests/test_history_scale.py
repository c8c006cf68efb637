"""History at scale: 5-minute rollups that sum up exactly what the samples hold, and chart queries that read one series
through its primary key in the window's partitions only (EXPLAIN on a history of a million rows), the 7-day chart a
bounded number of rows. (The daily partitions themselves: tests/test_partitions.py.)"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace
from unittest import mock

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import Cluster
from dashboard import history, partitions, rollups
from dashboard.models import NodeRollup, NodeSample, ReplicaRollup, ReplicaSample, ServiceRollup, ServiceSample
from dashboard.nodes import PRIMARY
from dashboard.recording import record_history

from .conftest import history_snapshot

DAY = timedelta(days=1)
FLEET = 100  # other nodes in the big history, each with a service: their rows must not be read


def days_back(now: datetime, n: int) -> list:
    return [partitions.day_of(now - i * DAY) for i in range(n + 1)]


def bucket_of(at: datetime) -> datetime:
    """The start of the rollup bucket ``at`` falls in."""
    return at - (at - rollups.ORIGIN) % rollups.BUCKET


# --- (a) the chart queries on a big history ------------------------------------------------------------------------


@pytest.fixture
def big_history(db):
    """Eight days of history: the watched node, its service and its replica sampled every 5 s (3 × 138,240 rows), and
    FLEET other nodes, each with a service and a replica, every 5 minutes (3 × 230,400 rows); rollups rebuilt, tables
    analysed. The charts' clock is set to 23:12:47 UTC yesterday, so that the window's last day holds a day's rows
    whatever the time the test runs (a partition of a few minutes' rows may rightly be read whole)."""
    cluster = Cluster.objects.create(name="hs", dsn="host=127.0.0.1 dbname=postgres")
    cluster.replicas.create(name="hs-replica", dsn="host=127.0.0.1 dbname=postgres")
    today = datetime.combine(partitions.day_of(timezone.now()), time(0), tzinfo=UTC)
    now = today - timedelta(minutes=47, seconds=13)
    start = now - 8 * DAY
    partitions.ensure(days_back(now, 8))
    series = "generate_series(%(start)s::timestamptz, %(now)s, %(step)s) AS t"
    watched = {"cluster": cluster.pk, "start": start, "now": now, "step": timedelta(seconds=5)}
    fleet = {"start": start, "now": now, "step": timedelta(minutes=5), "fleet": FLEET}
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO dashboard_nodesample (cluster_id, node, sampled_at, reachable, total)"
            f" SELECT %(cluster)s, 'primary', t, extract(second FROM t)::int <> 0, 20 FROM {series}",
            watched,
        )
        cur.execute(
            "INSERT INTO dashboard_servicesample (cluster_id, node, sampled_at, service, active, idle,"
            " idle_in_transaction, idle_in_transaction_aborted, waiting, total)"
            " SELECT %(cluster)s, 'primary', t, 'hs_orders', 2, 5, 1, 0, extract(minute FROM t)::int %% 3, 10"
            f" FROM {series}",
            watched,
        )
        cur.execute(
            "INSERT INTO dashboard_replicasample (cluster_id, node, sampled_at, receiving, replay_lag_bytes,"
            " replay_lag_seconds) SELECT %(cluster)s, 'hs-replica', t, true, extract(epoch FROM t)::bigint %% 100000,"
            f" extract(second FROM t) / 10 FROM {series}",
            watched,
        )
        # the rest of the fleet, under cluster ids nothing else uses (the history keeps no foreign key constraint)
        for table, node, columns, values in (
            ("dashboard_nodesample", "primary", "reachable, total", "true, 7"),
            ("dashboard_servicesample", "primary", "service, active, idle, idle_in_transaction,"
             " idle_in_transaction_aborted, waiting, total", "'hs_orders', 1, 1, 0, 0, 0, 2"),
            ("dashboard_replicasample", "hs-replica", "receiving, replay_lag_bytes", "true, 1"),
        ):  # fmt: skip
            cur.execute(
                f"INSERT INTO {table} (cluster_id, node, sampled_at, {columns})"
                f" SELECT 1000000 + g, '{node}', t, {values} FROM generate_series(1, %(fleet)s) AS g, {series}",
                fleet,
            )
    rollups.rebuild(bucket_of(start), bucket_of(now) + rollups.BUCKET)
    with connection.cursor() as cur:
        for table in partitions.TABLES:
            cur.execute(f"ANALYZE {table}")
    with mock.patch.object(history, "timezone", SimpleNamespace(now=lambda: now)):
        yield cluster, now


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def read_plans(captured: list[dict]) -> list[dict]:
    """EXPLAIN ANALYZE of each captured query that reads history: its scans of history tables, as
    {"partition", "type", "index", "rows"} (rows read: returned plus removed by a filter)."""
    plans = []
    for query in captured:
        sql = query["sql"]
        if not any(table in sql for table in partitions.TABLES):
            continue
        with connection.cursor() as cur:
            cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
            plan = cur.fetchone()[0][0]["Plan"]
        scans = [
            {
                "partition": node["Relation Name"],
                "type": node["Node Type"],
                "index": node.get("Index Name")
                or next((c.get("Index Name") for c in node.get("Plans", []) if "Index Name" in c), None),
                "rows": (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"],
            }
            for node in _nodes(plan)
            if node.get("Relation Name", "").startswith(tuple(partitions.TABLES))
        ]
        plans.append({"sql": sql, "scans": scans})
    return plans


def day_of_partition(name: str):
    return datetime.strptime(name.rsplit("_p", 1)[1], "%Y%m%d").replace(tzinfo=UTC)


def test_the_chart_queries_read_one_series_by_its_key_in_the_windows_partitions_only(big_history, viewer_client):
    cluster, now = big_history
    urls = {
        window: [
            f"/pools/{cluster.pk}/history.json?service=hs_orders&window={window}",
            f"/replication/{cluster.pk}/history.json?replica=hs-replica&window={window}",
            f"/api/v1/pools/hs/history?service=hs_orders&window={window}",
        ]
        for window in history.WINDOWS
    }
    read = {}
    for window, window_urls in urls.items():
        span, bucket = history.WINDOWS[window]
        per_query = (span + bucket) / (rollups.BUCKET if history.reads_rollups(window) else timedelta(seconds=5)) + 1
        read[window] = 0
        for url in window_urls:
            with CaptureQueriesContext(connection) as ctx:
                assert viewer_client.get(url).status_code == 200, url
            plans = read_plans(ctx.captured_queries)
            assert len(plans) == (1 if "replication" in url else 2), url
            for plan in plans:
                assert plan["scans"], plan["sql"]
                for scan in plan["scans"]:
                    # through the primary key, never a sequential scan of the big table
                    assert scan["type"] in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan"), (url, scan)
                    assert scan["index"] and scan["index"].endswith("_pkey"), (url, scan)
                    # partition pruning: only the days the window overlaps
                    day = day_of_partition(scan["partition"])
                    assert day + DAY > now - span - bucket and day <= now, (url, scan["partition"])
                    assert history.reads_rollups(window) == ("rollup" in scan["partition"]), (url, scan)
                assert len(plan["scans"]) <= span / DAY + 2
                rows = sum(scan["rows"] for scan in plan["scans"])
                assert rows <= per_query, (url, rows, per_query)  # bounded by the buckets, not the fleet
                read[window] += rows
    # the 7-day chart of a service: at most 2 × 2,022 rows (node and service rollups), where its samples are 241,920
    assert read["7d"] <= 3 * 2 * (7 * 288 + 7)
    raw_7d = NodeSample.objects.filter(cluster=cluster, node=PRIMARY, sampled_at__gte=now - 7 * DAY).count()
    assert raw_7d > 120_000
    total = sum(m.objects.count() for m in (NodeSample, ServiceSample, ReplicaSample))
    assert total > 1_000_000
    print(f"\nhistory rows: {total:,}; rows read by 3 charts per window: {read}; 7-day samples of a node: {raw_7d:,}")


# --- (b) rollups equal the samples ---------------------------------------------------------------------------------


def test_rollups_give_the_figures_the_samples_give(db):
    """Samples at irregular times over eight days (unreachable ones, services coming and going, a standby with and
    without a byte lag) written through the sampler's own path: the 24-hour and 7-day figures read from the rollups
    are those the samples give, and the rollups written sample by sample are those recomputed from the samples."""
    cluster = Cluster.objects.create(name="hs-sum", dsn="host=127.0.0.1 dbname=postgres")
    rng = random.Random(8)
    now = timezone.now()
    partitions.ensure(days_back(now, 8))
    times = [now - timedelta(minutes=m) for m in range(0, 8 * 24 * 60, 23)]  # sparse over the week
    times += [now - timedelta(seconds=s) for s in range(7, 3600, 20)]  # several samples per bucket lately
    for at in sorted(set(times)):
        if rng.random() < 0.05:
            record_history(cluster, PRIMARY, at, None)  # unreachable
            record_history(cluster, "hs-replica", at, None)
            continue
        services = {
            name: {state: rng.randint(0, 4) for state in ("active", "idle", "idle_in_transaction", "waiting")}
            for name in ("a", "b", "")
            if rng.random() < 0.8
        }
        total = sum(sum(c.values()) for c in services.values())
        record_history(cluster, PRIMARY, at, history_snapshot(total, services))
        lag = {
            "role": "standby",
            "receiver_status": rng.choice(["streaming", "streaming", "stopping"]),
            "replay_lag_bytes": rng.choice([None, rng.randint(0, 10**9)]),
            "replay_delay_seconds": rng.choice([None, rng.random() * 100]),
        }
        record_history(cluster, "hs-replica", at, history_snapshot(0, {}, lag))

    for window in ("24h", "7d"):
        assert history.reads_rollups(window)
        for service in ("a", "b", ""):
            from_rollups = history.service_series(cluster, PRIMARY, service, window, now)
            from_samples = history.service_series(cluster, PRIMARY, service, window, now, rollups=False)
            assert from_rollups == from_samples
            assert sum(v is not None for v in from_rollups.by_state["active"]) > 1
        lag_rollups = history.replica_series(cluster, "hs-replica", window, now)
        lag_samples = history.replica_series(cluster, "hs-replica", window, now, rollups=False)
        assert lag_rollups == lag_samples
        assert any(v is not None for v in lag_rollups[2])

    def rows():
        return [
            sorted(model.objects.filter(cluster=cluster).values_list())
            for model in (NodeRollup, ServiceRollup, ReplicaRollup)
        ]

    written = rows()
    assert sum(NodeRollup.objects.filter(cluster=cluster, node=PRIMARY).values_list("samples", flat=True)) == len(
        set(times)
    )
    rollups.rebuild(bucket_of(now - 9 * DAY), bucket_of(now) + rollups.BUCKET)
    assert rows() == written


# --- the migration carries the history over ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_carries_the_history_over_and_back():
    cluster = Cluster.objects.create(name="hs-migrate", dsn="host=127.0.0.1 dbname=postgres")
    before, after = ("dashboard", "0006_action_log_append_only_and_roles"), ("dashboard", "0007_partitioned_history")
    now = timezone.now()
    samples = 3 * 24 * 60 + 1
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    try:
        with connection.cursor() as cur:
            cur.execute(
                "INSERT INTO dashboard_nodesample (cluster_id, node, sampled_at, reachable, total)"
                " SELECT %s, 'primary', t, true, 4 FROM generate_series(%s::timestamptz, %s, '1 minute') t",
                [cluster.pk, now - 3 * DAY, now],
            )
            cur.execute(
                "INSERT INTO dashboard_servicesample (cluster_id, node, sampled_at, service, active, idle,"
                " idle_in_transaction, idle_in_transaction_aborted, waiting, total)"
                " SELECT %s, 'primary', t, 'svc', 1, 3, 0, 0, 0, 4"
                " FROM generate_series(%s::timestamptz, %s, '1 minute') t",
                [cluster.pk, now - 3 * DAY, now],
            )
            cur.execute(
                "INSERT INTO dashboard_replicasample (cluster_id, node, sampled_at, receiving, replay_lag_bytes)"
                " VALUES (%s, 'r', %s, true, 100)",
                [cluster.pk, now],
            )
        executor = MigrationExecutor(connection)
        executor.migrate([after])
        assert NodeSample.objects.filter(cluster=cluster).count() == samples
        assert ServiceSample.objects.filter(cluster=cluster, active=1).count() == samples
        assert ReplicaSample.objects.get(cluster=cluster).replay_lag_bytes == 100
        assert sum(NodeRollup.objects.filter(cluster=cluster).values_list("samples", flat=True)) == samples
        assert sum(ServiceRollup.objects.filter(cluster=cluster).values_list("idle", flat=True)) == 3 * samples
        assert ReplicaRollup.objects.get(cluster=cluster).replay_lag_bytes_sum == 100
        days = {p.start.date() for p in partitions.partitions() if p.table == "dashboard_nodesample"}
        assert {partitions.day_of(now - n * DAY) for n in range(4)} <= days
        assert partitions.day_of(now + partitions.AHEAD_DAYS * DAY) in days

        executor = MigrationExecutor(connection)
        executor.migrate([before])
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM dashboard_nodesample WHERE cluster_id = %s", [cluster.pk])
            assert cur.fetchone()[0] == samples
            cur.execute("SELECT relkind FROM pg_class WHERE relname = 'dashboard_nodesample'")
            assert cur.fetchone()[0] == "r"
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert NodeSample.objects.filter(cluster=cluster).count() == samples
