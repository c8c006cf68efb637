"""dashboard/health.py: ``assess`` on planted node views (snapshots written here, no server, no Redis): every reason a
replica, a slot or the cluster turns WARN or CRIT, and the matching of a registered replica to the primary's view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from catalog.models import Cluster
from dashboard.health import CRIT, OK, WARN, Logical, assess, worst
from dashboard.nodes import PRIMARY
from dashboard.pools import NodeView

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
MB = 1024**2


def cluster(**thresholds: Any) -> Cluster:
    """Unsaved: assess reads the thresholds only (defaults: 30 s / 16 MiB WARN, 300 s / 1 GiB CRIT)."""
    return Cluster(name="planted", sample_interval=5, **thresholds)


def primary_snapshot(standbys: list[dict] | None = None, slots: list[dict] | None = None, age: float = 1) -> dict:
    return {
        "status": "ok",
        "sampled_at": (NOW - timedelta(seconds=age)).isoformat(),
        "interval": 5,
        "replication": {"role": "primary", "wal_lsn": 10 * MB, "wal_bytes_per_second": 100, "standbys": standbys or [],
                        "slots": slots or []},
    }  # fmt: skip


def standby_row(pid: int = 101, slot: str | None = "r1_slot", app: str = "r1", replay_lag_bytes: int = 0) -> dict:
    return {"pid": pid, "application_name": app, "client_addr": "10.0.0.2", "state": "streaming",
            "sync_state": "async", "slot_name": slot, "sent_lag_bytes": 0,
            "replay_lag_bytes": replay_lag_bytes}  # fmt: skip


def replica_snapshot(age: float = 1, **side: Any) -> dict:
    replication = {"role": "standby", "receiver_status": "streaming", "slot_name": "r1_slot", "application_name": "r1",
                   "replay_paused": False, "replay_delay_seconds": 0.0, "replay_lag_bytes": 0,
                   "last_message_seconds": 0.5}  # fmt: skip
    replication.update(side)
    return {"status": "ok", "sampled_at": (NOW - timedelta(seconds=age)).isoformat(), "interval": 5,
            "replication": replication}  # fmt: skip


def unreachable(timed_out: bool = False, last_ok: dict | None = None) -> dict:
    return {"status": "unreachable", "sampled_at": NOW.isoformat(), "interval": 5, "error": "OperationalError",
            "message": "connection refused", "timed_out": timed_out, "unreachable_since": NOW.isoformat(),
            "last_ok": last_ok}  # fmt: skip


def run(c: Cluster, primary: dict | None, replicas: dict[str, dict | None]) -> dict:
    views = [NodeView(c, PRIMARY, primary, NOW)] + [NodeView(c, name, snap, NOW) for name, snap in replicas.items()]
    return assess(c, views, Logical.none())  # logical replication: tests/test_logical.py


def replica(body: dict, name: str = "r1") -> dict:
    return next(r for r in body["replicas"] if r["name"] == name)


def test_a_healthy_pair_is_ok_with_the_primarys_lag_figures():
    body = run(cluster(), primary_snapshot([standby_row(replay_lag_bytes=4096)]), {"r1": replica_snapshot()})
    r = replica(body)
    assert body["status"] == OK and body["reasons"] == []
    assert (r["status"], r["state"], r["sync_state"], r["slot_name"]) == (OK, "streaming", "async", "r1_slot")
    assert r["replay_lag_bytes"] == 4096  # the primary's own figure wins over the replica's estimate
    assert body["primary"] == {"node": PRIMARY, "node_status": "fresh", "wal_bytes_per_second": 100}
    assert body["unregistered_standbys"] == []


@pytest.mark.parametrize(
    ("side", "status", "reason"),
    [
        ({"replay_delay_seconds": 31.0}, WARN, "r1 replays 31 s"),
        ({"replay_delay_seconds": 301.0}, CRIT, "r1 replays 301 s"),
        ({"replay_paused": True}, WARN, "replay is paused on r1"),
        ({"receiver_status": "stopping"}, CRIT, "its WAL receiver is stopping"),
        ({"receiver_status": None}, CRIT, "its WAL receiver is not running"),
        ({"role": "primary"}, CRIT, "r1 is not in recovery"),
    ],
)
def test_what_the_replica_says_of_itself_turns_it_warn_or_crit(side, status, reason):
    body = run(cluster(), primary_snapshot([standby_row()]), {"r1": replica_snapshot(**side)})
    r = replica(body)
    assert r["status"] == status and any(reason in text for text in r["reasons"]), r["reasons"]
    assert body["status"] == status and r["reasons"][0] in body["reasons"]


def test_byte_lag_against_the_thresholds_of_its_own_cluster():
    c = cluster(lag_warn_bytes=1 * MB, lag_crit_bytes=8 * MB)
    warn = run(c, primary_snapshot([standby_row(replay_lag_bytes=2 * MB)]), {"r1": replica_snapshot()})
    crit = run(c, primary_snapshot([standby_row(replay_lag_bytes=9 * MB)]), {"r1": replica_snapshot()})
    assert (replica(warn)["status"], replica(crit)["status"]) == (WARN, CRIT)
    assert (
        replica(run(cluster(), primary_snapshot([standby_row(replay_lag_bytes=2 * MB)]), {"r1": replica_snapshot()}))[
            "status"
        ]
        == OK
    )  # the defaults allow 16 MiB


def test_a_replica_is_matched_by_slot_then_by_application_name_and_an_unmatched_one_is_not_streaming():
    by_app = run(cluster(), primary_snapshot([standby_row(slot=None)]), {"r1": replica_snapshot(slot_name=None)})
    assert replica(by_app)["status"] == OK and replica(by_app)["state"] == "streaming"
    by_name = run(  # no slot, no application_name of its own: its registered name
        cluster(),
        primary_snapshot([standby_row(slot=None)]),
        {"r1": replica_snapshot(slot_name=None, application_name=None)},
    )
    assert replica(by_name)["status"] == OK
    missing = run(cluster(), primary_snapshot([]), {"r1": replica_snapshot()})
    assert replica(missing)["status"] == CRIT
    assert "missing from the primary's pg_stat_replication" in replica(missing)["reasons"][0]


def test_a_standby_no_replica_is_registered_for_is_listed_apart():
    stray = standby_row(pid=202, slot=None, app="somebody_else")
    body = run(cluster(), primary_snapshot([standby_row(), stray]), {"r1": replica_snapshot()})
    assert body["unregistered_standbys"] == [stray] and body["status"] == OK


def test_an_unreachable_replica_is_crit_and_still_matched_by_what_it_last_said():
    last_ok = replica_snapshot()
    body = run(cluster(), primary_snapshot([standby_row()]), {"r1": unreachable(last_ok=last_ok)})
    r = replica(body)
    assert r["status"] == CRIT and r["node_status"] == "unreachable"
    assert "r1 cannot be reached (OperationalError)" in r["reasons"]
    assert r["state"] == "streaming"  # the primary still streams to it: matched by its last slot
    timed_out = replica(run(cluster(), primary_snapshot([standby_row()]), {"r1": unreachable(timed_out=True)}))
    assert "r1 did not answer in time (OperationalError)" in timed_out["reasons"]


def test_a_replica_never_sampled_or_stale_is_warn():
    never = replica(run(cluster(), primary_snapshot([standby_row()]), {"r1": None}))
    assert never["status"] == WARN and "r1 has not been sampled yet" in never["reasons"]
    stale = replica(run(cluster(), primary_snapshot([standby_row()]), {"r1": replica_snapshot(age=60)}))
    assert stale["status"] == WARN and "the last sample of r1 is 60 s old" in stale["reasons"]


def test_the_primary_unreachable_or_in_recovery_is_crit_for_the_cluster():
    down = run(cluster(), unreachable(), {"r1": replica_snapshot()})
    assert down["status"] == CRIT and "the primary cannot be reached (OperationalError)" in down["reasons"]
    assert down["primary"]["node_status"] == "unreachable" and down["slots"] == []
    in_recovery = run(cluster(), replica_snapshot(), {})
    assert in_recovery["status"] == CRIT
    assert "the registered primary is in recovery: a standby, not a primary" in in_recovery["reasons"]


@pytest.mark.parametrize(
    ("slot", "status", "reason"),
    [
        ({"active": True, "wal_status": "reserved", "retained_bytes": MB}, OK, None),
        ({"active": True, "wal_status": "unreserved", "retained_bytes": MB}, WARN, "about to lose WAL"),
        ({"active": True, "wal_status": "lost", "retained_bytes": MB}, CRIT, "has lost WAL"),
        ({"active": False, "wal_status": "reserved", "retained_bytes": MB}, WARN, "no active consumer"),
        ({"active": False, "wal_status": "reserved", "retained_bytes": 2 * 1024**3}, CRIT, "retains 2.0 GiB"),
    ],
)
def test_each_slot_is_judged_by_its_wal_and_its_consumer(slot, status, reason):
    planted = {"slot_name": "s1", "slot_type": "logical", **slot}
    body = run(cluster(), primary_snapshot([standby_row()], [planted]), {"r1": replica_snapshot()})
    (judged,) = body["slots"]
    assert judged["status"] == status and body["status"] == status
    assert (reason is None and judged["reasons"] == []) or any(reason in r for r in judged["reasons"])


def test_worst_orders_the_statuses():
    assert worst() == OK and worst(OK, WARN) == WARN and worst(CRIT, WARN, OK) == CRIT
