"""dashboard/readers/replication.py on the real stack: the primary's view of its streaming replica and slot, and
the replica's view of itself."""

from __future__ import annotations

from django.conf import settings

from catalog.monitored import connect
from dashboard.readers import replication
from tests.conftest import pg, wait_for

SLOT = "seamline_replica"  # the test stack's replica streams through this physical slot (scripts/devstack)


def dsn(port: int) -> str:
    return f"host={settings.PG_HOST} port={port} user=postgres dbname=postgres"


def test_the_primary_shows_its_position_its_streaming_replica_and_its_slot():
    with pg() as admin:
        before = admin.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint").fetchone()[0]
    with connect(dsn(settings.PG_PORT)) as conn:
        side = replication.primary(conn)
    assert side.wal_lsn >= before > 0
    standby = next(s for s in side.standbys if s["slot_name"] == SLOT)
    assert standby["state"] == "streaming" and standby["application_name"] == "seamline_replica"
    assert standby["replay_lag_bytes"] >= 0 and standby["sent_lag_bytes"] <= standby["replay_lag_bytes"]
    slot = next(s for s in side.slots if s["slot_name"] == SLOT)
    assert slot["slot_type"] == "physical" and slot["active"] and slot["retained_bytes"] >= 0


def test_the_replica_shows_its_receiver_positions_and_delay():
    side = wait_for(_streaming, message="the replica's receiver streaming")
    assert side.slot_name == SLOT and side.application_name == "seamline_replica"
    assert side.sender_port == settings.PG_PORT
    assert side.received_lsn >= side.replayed_lsn > 0
    assert side.replay_paused is False
    assert side.replay_delay_seconds is not None and side.replay_delay_seconds >= 0
    assert side.last_message_seconds is not None and side.last_message_seconds >= 0


def _streaming() -> replication.StandbySide | None:
    with connect(dsn(settings.REPLICA_PORT)) as conn:  # a new transaction each time
        side = replication.standby(conn)
    return side if side.receiver_status == "streaming" else None
