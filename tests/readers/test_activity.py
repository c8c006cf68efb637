"""dashboard/readers/activity.py on the real stack: a node's connection settings and every client session, in the
state it is held in, as the monitoring role is allowed to see it."""

from __future__ import annotations

from django.conf import settings

from catalog.monitored import connect
from dashboard.readers import activity
from tests.conftest import pg

WEAK_ROLE = "seamline_activity_weak"  # a login role without pg_read_all_stats


def dsn(port: int, user: str = "postgres") -> str:
    return f"host={settings.PG_HOST} port={port} user={user} dbname=postgres"


def test_it_reads_the_primarys_connection_limits_and_that_it_sees_every_session():
    with connect(dsn(settings.PG_PORT)) as conn:
        node = activity.node_settings(conn)
    with pg() as admin:
        max_connections, reserved = admin.execute(
            "SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int"
        ).fetchone()
    assert (node.max_connections, node.reserved_connections) == (max_connections, reserved)
    assert node.sees_all_sessions and not node.in_recovery


def test_it_reads_a_replica_as_in_recovery():
    with connect(dsn(settings.REPLICA_PORT)) as conn:
        assert activity.node_settings(conn).in_recovery


def test_it_reads_each_held_session_in_its_state(held_sessions):
    with connect(dsn(settings.PG_PORT)) as conn:
        by_pid = {s.pid: s for s in activity.sessions(conn)}
        own = conn.info.backend_pid
    assert own not in by_pid  # the sampler leaves itself out
    p = held_sessions.pids
    assert by_pid[p["idle_in_xact"]].state == "idle in transaction"
    assert by_pid[p["aborted"]].state == "idle in transaction (aborted)"
    blocked = by_pid[p["blocked"]]
    assert blocked.waiting_on_lock and blocked.blocked_by == (p["idle_in_xact"],)
    assert blocked.query == "UPDATE pt_items SET v = v + 2 WHERE id = 1"  # the raw text: masking is the sampler's
    assert by_pid[p["sleeper"]].state == "active" and by_pid[p["sleeper"]].user == "seamline_pt_reporter"
    assert by_pid[p["sleeper"]].query_seconds >= 0 and by_pid[p["sleeper"]].wait_event == "PgSleep"
    assert by_pid[p["stranger"]].application_name == "pt_stranger"
    assert by_pid[p["stranger"]].database == "seamline_pools_test"
    assert by_pid[p["idle_in_xact"]].xact_seconds >= 0 and by_pid[p["stranger"]].xact_seconds is None
    assert all(not s.blocked_by for pid, s in by_pid.items() if pid != p["blocked"])


def test_it_leaves_out_what_is_not_a_client_backend():
    with pg() as admin:
        others = admin.execute("SELECT pid FROM pg_stat_activity WHERE backend_type <> 'client backend'").fetchall()
    background = {pid for (pid,) in others}
    with connect(dsn(settings.PG_PORT)) as conn:
        seen = {s.pid for s in activity.sessions(conn)}
    assert background and not background & seen  # the replica's WAL sender, the checkpointer, ...


def test_a_role_without_pg_read_all_stats_sees_other_sessions_without_their_state(held_sessions):
    with pg() as admin:
        admin.execute(f"DROP ROLE IF EXISTS {WEAK_ROLE}")
        admin.execute(f"CREATE ROLE {WEAK_ROLE} LOGIN")
    try:
        with connect(dsn(settings.PG_PORT, WEAK_ROLE)) as conn:
            node = activity.node_settings(conn)
            by_pid = {s.pid: s for s in activity.sessions(conn)}
        assert not node.sees_all_sessions
        hidden = by_pid[held_sessions.pids["idle_in_xact"]]  # still counted, as far as the role can tell
        assert (hidden.state, hidden.query, hidden.xact_seconds) == (None, "<insufficient privilege>", None)
        assert hidden.application_name == "pt_orders" and hidden.user == "postgres"
    finally:
        with pg() as admin:
            admin.execute(f"DROP ROLE IF EXISTS {WEAK_ROLE}")
