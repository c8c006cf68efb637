"""Replication: what a primary says of its standbys and slots, and what a standby says of itself.

One statement per side and sample, chosen by ``pg_is_in_recovery()`` (read by the activity sampler first): functions
that only a primary can answer (``pg_current_wal_lsn()``) are never sent to a node in recovery, so a promotion shows
on the next sample. LSNs come back as bytes since the start of WAL (``lsn - '0/0'``), so any two can be subtracted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from catalog.readers.statement import Statement


@dataclass(frozen=True)
class PrimarySide:
    wal_lsn: int  # the primary's position, in bytes
    standbys: list[dict[str, Any]]  # pg_stat_replication (physical), with the slot each standby streams through
    slots: list[dict[str, Any]]  # pg_replication_slots, with the WAL each one retains
    subscriptions: list[dict[str, Any]]  # the cluster's logical replication subscriptions and their apply workers


# On the primary: its position, each connected standby (with the slot it streams through, if any), every slot (a
# logical one with how far its consumer confirmed), and every subscription of the cluster (pg_subscription is shared
# by its databases; only the columns every role may read) with its apply worker (the leader: relid and, from 16,
# leader_pid empty) and, from 15, its error counts. Subscriptions are read on primaries only: a standby carries their
# catalog rows but runs no apply worker.
_PRIMARY_SQL = """
SELECT
    pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint AS wal_lsn,
    coalesce((
        SELECT json_agg(json_build_object(
            'pid', r.pid,
            'application_name', r.application_name,
            'client_addr', host(r.client_addr),
            'state', r.state,
            'sync_state', r.sync_state,
            'slot_name', s.slot_name,
            'sent_lag_bytes', pg_wal_lsn_diff(pg_current_wal_lsn(), r.sent_lsn)::bigint,
            'write_lag_bytes', pg_wal_lsn_diff(pg_current_wal_lsn(), r.write_lsn)::bigint,
            'flush_lag_bytes', pg_wal_lsn_diff(pg_current_wal_lsn(), r.flush_lsn)::bigint,
            'replay_lag_bytes', pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::bigint,
            'write_lag_seconds', extract(epoch FROM r.write_lag)::float8,
            'flush_lag_seconds', extract(epoch FROM r.flush_lag)::float8,
            'replay_lag_seconds', extract(epoch FROM r.replay_lag)::float8,
            -- hot_standby_feedback: the oldest snapshot the standby's queries need, held on the primary
            'xmin', r.backend_xmin::text::bigint,
            'xmin_age', age(r.backend_xmin)
        ) ORDER BY r.application_name, r.pid)
        FROM pg_stat_replication r
        LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid
        -- a logical replication connection is a subscriber's, not a standby: it shows with its slot
        WHERE s.slot_type IS DISTINCT FROM 'logical'
    ), '[]'::json) AS standbys,
    coalesce((
        SELECT json_agg(json_build_object(
            'slot_name', s.slot_name,
            'slot_type', s.slot_type,
            'active', s.active,
            'wal_status', s.wal_status,
            'retained_bytes', pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint,
            'safe_wal_size', s.safe_wal_size,
            'xmin', s.xmin::text::bigint,
            'xmin_age', age(s.xmin),
            'catalog_xmin', s.catalog_xmin::text::bigint,
            'catalog_xmin_age', age(s.catalog_xmin),
            'database', s.database,
            'plugin', s.plugin,
            'confirmed_flush_lag_bytes', pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint,
            -- who consumes it now: the WAL sender streaming from it
            'consumer_application', c.application_name,
            'consumer_user', c.usename
        ) ORDER BY s.slot_name)
        FROM pg_replication_slots s
        LEFT JOIN pg_stat_replication c ON c.pid = s.active_pid
    ), '[]'::json) AS slots,
    coalesce((
        SELECT json_agg(json_build_object(
            'name', s.subname,
            'database', d.datname,
            'enabled', s.subenabled,
            'slot_name', s.subslotname,
            'worker_pid', w.pid,
            'last_message_seconds', extract(epoch FROM clock_timestamp() - w.last_msg_receipt_time)::float8,
            'apply_error_count', {apply_errors},
            'sync_error_count', {sync_errors}
        ) ORDER BY d.datname, s.subname)
        FROM pg_subscription s
        JOIN pg_database d ON d.oid = s.subdbid
        LEFT JOIN pg_stat_subscription w
          ON w.subid = s.oid AND w.relid IS NULL AND (to_jsonb(w) ->> 'leader_pid') IS NULL
        {stats_join}
    ), '[]'::json) AS subscriptions
"""
PRIMARY = Statement(
    _PRIMARY_SQL.format(
        apply_errors="e.apply_error_count",
        sync_errors="e.sync_error_count",
        stats_join="LEFT JOIN pg_stat_subscription_stats e ON e.subid = s.oid",
    ),
    PrimarySide,
)
# 14 has no pg_stat_subscription_stats: its errors are in the server log only
PRIMARY_14 = Statement(_PRIMARY_SQL.format(apply_errors="NULL", sync_errors="NULL", stats_join=""), PrimarySide)


def primary(conn: psycopg.Connection) -> PrimarySide:
    """Position (bytes), standbys as pg_stat_replication shows them, slots and subscriptions."""
    return (PRIMARY if conn.info.server_version >= 150000 else PRIMARY_14).fetch_one(conn)


@dataclass(frozen=True)
class StandbySide:
    receiver_status: str | None  # the WAL receiver's status (streaming, ...); None when it is not running
    sender_host: str | None
    sender_port: int | None
    slot_name: str | None
    application_name: str | None  # from the receiver's conninfo: what the primary's pg_stat_replication shows
    last_message_seconds: float | None  # since the last message from the primary
    received_lsn: int | None  # bytes
    replayed_lsn: int | None  # bytes
    replay_paused: bool
    replay_delay_seconds: float | None


# On a standby. The replay delay must not lie when the primary is idle: a standby that has replayed all it received
# is 0 s behind only while its WAL receiver streams and has heard from the primary lately (the primary sends a
# keepalive every wal_sender_timeout / 2 at the latest); otherwise it is as far behind as its last message.
# Ages are taken against clock_timestamp() read after the receiver's figures, not now(): now() is the transaction's
# start, earlier than a message the receiver got since, and the age would come out negative.
STANDBY = Statement(
    """
WITH w AS (
    SELECT status, sender_host, sender_port, slot_name, latest_end_lsn,
           substring(conninfo FROM 'application_name=([^ ]+)') AS application_name,
           clock_timestamp() - last_msg_receipt_time AS since_message
    FROM pg_stat_wal_receiver
), pos AS (
    SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0')::bigint AS received,
           pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint AS replayed,
           clock_timestamp() - pg_last_xact_replay_timestamp() AS since_replayed
)
SELECT
    (SELECT status FROM w) AS receiver_status,
    (SELECT sender_host FROM w) AS sender_host,
    (SELECT sender_port FROM w) AS sender_port,
    (SELECT slot_name FROM w) AS slot_name,
    (SELECT application_name FROM w) AS application_name,
    extract(epoch FROM (SELECT since_message FROM w))::float8 AS last_message_seconds,
    pos.received AS received_lsn,
    pos.replayed AS replayed_lsn,
    pg_is_wal_replay_paused() AS replay_paused,
    CASE
        WHEN pos.received IS NOT NULL AND pos.received = pos.replayed
             AND (SELECT status FROM w) = 'streaming'
             AND (SELECT since_message FROM w) < interval '1 minute'
        THEN 0
        WHEN pos.received IS NOT NULL AND pos.received = pos.replayed
        THEN extract(epoch FROM (SELECT since_message FROM w))::float8
        ELSE extract(epoch FROM pos.since_replayed)::float8
    END AS replay_delay_seconds
FROM pos
""",
    StandbySide,
)


def standby(conn: psycopg.Connection) -> StandbySide:
    """The WAL receiver, received and replayed positions (bytes), whether replay is paused, the replay delay (s)."""
    return STANDBY.fetch_one(conn)
