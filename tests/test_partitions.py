"""dashboard/partitions.py on the test stack: the history tables' daily partitions listed with their bounds, made
ahead idempotently, dropped whole past the retention (detached concurrently, never a DELETE), a leftover of an
interrupted drop cleaned up, one maintenance run at a time, and a missing day made by the sampler itself."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import Cluster
from dashboard import partitions
from dashboard.models import NodeRollup, NodeSample, ReplicaSample, ServiceRollup, ServiceSample
from dashboard.nodes import PRIMARY
from dashboard.recording import record_history

from .conftest import history_snapshot, pg

DAY = timedelta(days=1)


def exists(table: str) -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
        return cur.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_pruning_drops_whole_partitions_past_the_retention_and_keeps_the_rest(settings):
    settings.HISTORY_RETENTION_DAYS = 7
    cluster = Cluster.objects.create(name="hs-prune", dsn="host=127.0.0.1 dbname=postgres")
    now = timezone.now()
    old = [now - timedelta(days=10), now - timedelta(days=9)]
    kept = [now - timedelta(days=6), now - timedelta(hours=1), now]
    partitions.ensure(partitions.day_of(at) for at in old + kept)
    for at in old + kept:
        record_history(cluster, PRIMARY, at, history_snapshot(3, {"svc": {"idle": 3}}, {"role": "standby"}))
    gone = [partitions.name_of(table, partitions.day_of(at)) for at in old for table in partitions.TABLES]
    assert all(exists(name) for name in gone)

    with CaptureQueriesContext(connection) as ctx:
        done = partitions.maintain(now)
    assert sorted(done["dropped"]) == sorted(gone)
    assert not any(exists(name) for name in gone)
    statements = [q["sql"] for q in ctx.captured_queries]
    assert not any(sql.lstrip().upper().startswith("DELETE") for sql in statements)  # never row by row
    assert sum("DETACH PARTITION" in sql and sql.endswith("CONCURRENTLY") for sql in statements) == len(gone)
    for model in (NodeSample, ServiceSample, ReplicaSample):
        assert sorted(model.objects.values_list("sampled_at", flat=True)) == kept
    assert sum(NodeRollup.objects.values_list("samples", flat=True)) == len(kept)

    # today's partitions and the next days' are there, and making them again does nothing
    ahead = [partitions.day_of(now + n * DAY) for n in range(partitions.AHEAD_DAYS + 1)]
    assert all(exists(partitions.name_of(table, day)) for table in partitions.TABLES for day in ahead)
    assert partitions.ensure_ahead(now) == []
    assert partitions.maintain(now) == {"created": [], "dropped": []}
    assert partitions.ensure(ahead) == []


def test_inside_a_transaction_a_plain_detach_drops_the_day(db, settings):
    settings.HISTORY_RETENTION_DAYS = 7
    now = timezone.now()
    day = partitions.day_of(now - timedelta(days=12))
    partitions.ensure([day])
    with CaptureQueriesContext(connection) as ctx:
        dropped = partitions.maintain(now)["dropped"]
    assert partitions.name_of("dashboard_nodesample", day) in dropped
    assert not exists(partitions.name_of("dashboard_nodesample", day))
    assert not any("CONCURRENTLY" in q["sql"] for q in ctx.captured_queries)


def test_a_sample_for_a_day_without_a_partition_makes_the_day(db):
    cluster = Cluster.objects.create(name="hs-ahead", dsn="host=127.0.0.1 dbname=postgres")
    at = timezone.now() + timedelta(days=partitions.AHEAD_DAYS + 3)  # as if maintenance had not run for days
    assert not exists(partitions.name_of("dashboard_nodesample", partitions.day_of(at)))
    record_history(cluster, PRIMARY, at, history_snapshot(1, {"": {"active": 1}}))
    assert NodeSample.objects.get(cluster=cluster).sampled_at == at
    assert ServiceRollup.objects.get(cluster=cluster).active == 1
    assert exists(partitions.name_of("dashboard_servicerollup", partitions.day_of(at)))


def test_a_timestamp_is_stored_under_its_utc_day():
    late_in_shanghai = datetime(2026, 3, 1, 7, 30, tzinfo=UTC).astimezone(timezone.get_fixed_timezone(8 * 60))
    assert partitions.day_of(late_in_shanghai) == date(2026, 3, 1)
    assert partitions.day_of(datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC)) == date(2026, 3, 1)
    assert partitions.name_of("dashboard_nodesample", date(2026, 3, 1)) == "dashboard_nodesample_p20260301"


def test_every_table_has_a_partition_per_day_with_the_days_bounds(db):
    day = partitions.day_of(timezone.now()) + 20 * DAY  # beyond what maintenance makes ahead
    created = partitions.ensure([day, day])  # the same day twice: made once
    assert sorted(created) == sorted(partitions.name_of(table, day) for table in partitions.TABLES)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    listed = [p for p in partitions.partitions() if p.start == start]
    assert {p.table for p in listed} == set(partitions.TABLES)
    assert all(p.end == start + DAY and not p.detach_pending for p in listed)
    assert partitions.ensure([day]) == []  # idempotent


def test_a_row_for_a_day_without_a_partition_is_refused_and_recognised_as_such(db):
    at = timezone.now() + 30 * DAY
    cluster = Cluster.objects.create(name="pt-missing", dsn="host=127.0.0.1 dbname=postgres")
    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        NodeSample.objects.create(cluster=cluster, node=PRIMARY, sampled_at=at, reachable=False)
    assert partitions.is_missing_partition(refused.value)
    with pytest.raises(IntegrityError) as other, transaction.atomic():
        Cluster.objects.create(name="pt-missing", dsn="host=127.0.0.1")  # a unique name: another integrity error
    assert not partitions.is_missing_partition(other.value)


@pytest.mark.django_db(transaction=True)
def test_a_table_left_detached_by_an_interrupted_drop_is_dropped_next_time():
    now = timezone.now()
    day = partitions.day_of(now - 20 * DAY)
    partitions.ensure([day])
    leftover = partitions.name_of("dashboard_noderollup", day)
    with connection.cursor() as cur:  # what a run killed between DETACH and DROP leaves behind
        cur.execute(f"ALTER TABLE dashboard_noderollup DETACH PARTITION {leftover}")
    assert exists(leftover) and leftover not in {p.name for p in partitions.partitions()}
    assert leftover in partitions.maintain(now)["dropped"]
    assert not exists(leftover)


@pytest.mark.django_db(transaction=True)
def test_a_maintenance_run_that_finds_another_in_progress_does_nothing():
    now = timezone.now()
    day = partitions.day_of(now - 20 * DAY)
    partitions.ensure([day])
    db = django_settings.DATABASES["default"]
    with pg(dbname=db["NAME"]) as other:  # another process holds the maintenance lock
        other.execute("SELECT pg_advisory_lock(%s)", [partitions.LOCK_KEY])
        assert partitions.maintain(now) == {"created": [], "dropped": []}
        assert exists(partitions.name_of("dashboard_nodesample", day))
        # released before the connection closes: a closed connection's backend may still hold it for a moment
        other.execute("SELECT pg_advisory_unlock(%s)", [partitions.LOCK_KEY])
    assert partitions.name_of("dashboard_nodesample", day) in partitions.maintain(now)["dropped"]
