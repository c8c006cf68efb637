"""dashboard/readers/signals.py on the real stack: a backend named by (pid, backend_start), and the cancel that
refuses what may not be signalled in the same statement that sends it."""

from __future__ import annotations

from django.conf import settings

from catalog.monitored import connect
from dashboard.readers import signals
from tests.conftest import REPORTER, pg, wait_for

DSN = f"host={settings.PG_HOST} port={settings.PG_PORT} user=postgres dbname=postgres"


def started(pid: int) -> str:
    with pg() as admin:
        return admin.execute("SELECT backend_start::text FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0]


def test_it_names_a_backend_by_pid_and_start(held_sessions):
    sleeper = held_sessions.pids["sleeper"]
    with connect(DSN) as conn:
        assert signals.backend(conn, sleeper, started(sleeper)) == signals.Backend(
            "client backend", REPORTER, "", False, False
        )
        assert signals.backend(conn, sleeper, "2000-01-01 00:00:00+00") is None  # the pid, since reused
        stranger = held_sessions.pids["stranger"]
        found = signals.backend(conn, stranger, started(stranger))
        assert found.is_superuser and found.is_own_role  # the fixture's sessions are postgres', as this connection is


def test_it_names_a_wal_sender_as_such():
    with pg() as admin:
        pid, start = admin.execute(
            "SELECT pid, backend_start::text FROM pg_stat_activity WHERE backend_type = 'walsender'"
        ).fetchone()
    with connect(DSN) as conn:
        assert signals.backend(conn, pid, start).backend_type == "walsender"
        assert signals.signal(conn, pid, start, terminate=True) is None  # not a client backend: refused


def test_the_signal_refuses_a_superusers_session(held_sessions):
    stranger = held_sessions.pids["stranger"]
    with connect(DSN) as conn:
        assert signals.signal(conn, stranger, started(stranger), terminate=True) is None
    assert started(stranger)  # still there


def test_it_cancels_a_query(held_sessions):
    sleeper = held_sessions.pids["sleeper"]
    with connect(DSN) as conn:
        assert signals.signal(conn, sleeper, started(sleeper), terminate=False) is True

    def idle() -> bool:
        with pg() as admin:
            return admin.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", [sleeper]).fetchone()[0] == "idle"

    assert wait_for(idle, timeout=10, message="the cancelled query to end")
