"""The stack the project starts itself: a primary, a streaming replica on a physical slot, and Redis."""

from __future__ import annotations

import redis
from django.conf import settings

from .conftest import pg, wait_for


def test_it_runs_the_replica_in_recovery():
    with pg(settings.REPLICA_PORT) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)


def test_it_streams_from_the_primary_through_a_physical_slot():
    with pg() as conn:
        rows = conn.execute(
            "SELECT r.application_name, r.state, s.slot_type, s.active FROM pg_stat_replication r "
            "JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_type = 'physical'"
        ).fetchall()  # (the demo's logical subscription streams too, through a logical slot: tests/test_logical.py)
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
    assert rows == [("seamline_replica", "streaming", "physical", True)]


def test_it_replicates_writes_to_the_replica():
    with pg() as primary:
        primary.execute("CREATE TABLE IF NOT EXISTS devstack_probe (v text)")
        primary.execute("TRUNCATE devstack_probe")
        primary.execute("INSERT INTO devstack_probe VALUES ('replicated')")
    with pg(settings.REPLICA_PORT) as replica:

        def seen():
            return (
                replica.execute(
                    "SELECT v FROM devstack_probe WHERE to_regclass('devstack_probe') IS NOT NULL"
                ).fetchall()
                if replica.execute("SELECT to_regclass('devstack_probe')").fetchone()[0]
                else None
            )

        assert wait_for(seen, message="the write to reach the replica") == [("replicated",)]


def test_it_listens_on_loopback_only():
    with pg() as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)


def test_it_serves_redis_on_its_own_port():
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert client.ping() is True
    assert client.connection_pool.connection_kwargs["port"] == int(settings.REDIS_URL.rsplit(":", 1)[1].split("/")[0])
