"""The demo traffic misbehaves on purpose, so the live pages have something to show: a leaked transaction that
blocks another session, a slow query, an unattributed connection, replica reads and replica lag. Each must show in
the real server's statistics within the first half minute of a run."""

from __future__ import annotations

import threading
import time

import psycopg
from django.conf import settings

from demo import simulator

from .conftest import pg, wait_for_simulator_gone

CHECKS = {
    "idle in transaction": "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'order_service' "
    "AND state = 'idle in transaction'",
    "blocked": "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'order_service' "
    "AND cardinality(pg_blocking_pids(pid)) > 0",
    "slow query": "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'product_service' "
    "AND state = 'active' AND now() - query_start > interval '2 seconds'",
    "unattributed": "SELECT count(*) FROM pg_stat_activity WHERE usename = 'analyst' AND application_name = ''",
    "replica lag": "SELECT count(*) FROM pg_stat_replication WHERE pg_wal_lsn_diff(sent_lsn, replay_lsn) > 1000000",
}
REPLICA_CHECK = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'order_service' AND datname = 'shop'"


def test_the_simulator_shows_every_kind_of_trouble_then_stops_cleanly(demo_databases):
    stop = threading.Event()
    lines: list[str] = []
    thread = threading.Thread(
        target=simulator.run,
        args=(settings.DEMO_PRIMARY, settings.DEMO_REPLICA),
        kwargs={"stop": stop, "log": lines.append},
        daemon=True,
    )
    thread.start()
    seen: set[str] = set()
    try:
        deadline = time.monotonic() + 60
        with pg() as primary, pg(settings.REPLICA_PORT) as replica:
            while time.monotonic() < deadline and len(seen) < len(CHECKS) + 1:
                for name, sql in CHECKS.items():
                    if name not in seen and primary.execute(sql).fetchone()[0]:
                        seen.add(name)
                if "replica reads" not in seen and replica.execute(REPLICA_CHECK).fetchone()[0]:
                    seen.add("replica reads")
                time.sleep(0.2)
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive(), "the simulator did not stop within 15 s"
    assert seen == {*CHECKS, "replica reads"}, f"never seen: {set(CHECKS) | {'replica reads'} - seen}; log: {lines}"
    assert lines[-1] == "simulator stopped, all pools closed"
    wait_for_simulator_gone()


def test_a_payment_left_in_doubt_by_a_killed_run_is_rolled_back(demo_databases):
    """The demo's two-phase commit leaves a prepared transaction for minutes; a run killed meanwhile must not leave
    it forever (it would hold the vacuum horizon and block DROP DATABASE): the next start, or a stop, rolls it back."""
    from demo.traffic import IN_DOUBT_PREFIX, PAYMENT, Traffic

    params = simulator._service_params(settings.DEMO_PRIMARY, PAYMENT)
    gid = IN_DOUBT_PREFIX + "killed-run"
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute("BEGIN")
        conn.execute("SELECT txid_current()")
        conn.execute(f"PREPARE TRANSACTION '{gid}'")
    Traffic.resolve_in_doubt(params)
    with pg() as admin:
        assert admin.execute("SELECT count(*) FROM pg_prepared_xacts WHERE gid = %s", [gid]).fetchone()[0] == 0
