"""Pool sampling on the real test stack: sessions held in known states are attributed and counted correctly in the
snapshot (Redis), the history (PostgreSQL), the CLI and the API; unreachable nodes and weak monitoring roles are
shown as what they are."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import Cluster
from dashboard import snapshots
from dashboard.dispatch import dispatch_due
from dashboard.masking import mask_literals
from dashboard.models import NodeSample, ServiceSample
from dashboard.nodes import PRIMARY
from dashboard.sampling import sample_node

from .conftest import HELD_DB, pg, wait_for


def service(snapshot: dict, name: str) -> dict:
    return next(s for s in snapshot["services"] if s["service"] == name)


def pids(sessions: list[dict]) -> set[int]:
    return {s["pid"] for s in sessions}


def test_it_attributes_and_counts_every_held_session(held_sessions, pools_cluster):
    snapshot = sample_node(pools_cluster, PRIMARY)
    p = held_sessions.pids
    assert snapshot["status"] == "ok" and snapshot["sees_all_sessions"]
    orders = service(snapshot, "pt_orders")  # by application_name
    assert {k: orders[k] for k in ("total", "active", "idle_in_transaction", "idle_in_transaction_aborted")} == {
        "total": 3,
        "active": 0,
        "idle_in_transaction": 1,
        "idle_in_transaction_aborted": 1,
    }
    assert orders["waiting"] == 1 and orders["budget"] == 6 and orders["team"] == "checkout"
    assert orders["oldest_xact_seconds"] >= 0
    reports = service(snapshot, "pt_reports")  # by role
    assert (reports["total"], reports["active"], reports["idle"]) == (1, 1, 0)
    assert reports["longest_query_seconds"] >= 0
    assert ["Timeout:PgSleep", 1] in reports["wait_events"]
    assert p["stranger"] in pids(snapshot["unattributed_sessions"])
    assert snapshot["unattributed"]["total"] >= 1
    # offenders (thresholds are 0 s here)
    assert {p["idle_in_xact"], p["aborted"]} <= pids(snapshot["idle_in_transaction"])
    assert {p["sleeper"], p["blocked"]} <= pids(snapshot["long_queries"])
    blocked = next(s for s in snapshot["blocked"] if s["pid"] == p["blocked"])
    assert blocked["blocked_by"] == [p["idle_in_xact"]] and blocked["service"] == "pt_orders"
    assert p["idle_in_xact"] in pids(snapshot["blockers"])
    # query text: masked in the snapshot, full under its own key
    assert blocked["query"] == "UPDATE pt_items SET v = v + ? WHERE id = ?"
    queries = snapshots.read_queries(pools_cluster.pk, PRIMARY)
    assert queries[p["blocked"]] == "UPDATE pt_items SET v = v + 2 WHERE id = 1"
    assert snapshots.read(pools_cluster.pk, PRIMARY) == snapshot


def test_it_records_compact_history(held_sessions, pools_cluster):
    sample_node(pools_cluster, PRIMARY)
    node = NodeSample.objects.get(cluster=pools_cluster, node=PRIMARY)
    assert node.reachable and node.total >= 5 and node.max_connections > 0
    row = ServiceSample.objects.get(cluster=pools_cluster, node=PRIMARY, service="pt_orders")
    assert (row.total, row.idle_in_transaction, row.idle_in_transaction_aborted, row.waiting) == (3, 1, 1, 1)
    assert ServiceSample.objects.filter(cluster=pools_cluster, service="").exists()  # the unattributed
    assert not ServiceSample.objects.filter(cluster=pools_cluster, total=0).exists()  # nothing stored for nobody


def test_an_unreachable_node_is_recorded_as_such_and_the_others_stay_fresh(pools_cluster):
    gone = pools_cluster.replicas.create(name="gone", dsn="host=127.0.0.1 port=9 user=postgres dbname=postgres")
    first = sample_node(pools_cluster, gone.name)
    assert first["status"] == "unreachable" and first["error"] == "OperationalError"
    second = sample_node(pools_cluster, gone.name)
    assert second["unreachable_since"] == first["unreachable_since"]  # since the first failure
    assert sample_node(pools_cluster, PRIMARY)["status"] == "ok"
    assert sample_node(pools_cluster, "pt-replica")["in_recovery"] is True
    assert not NodeSample.objects.get(cluster=pools_cluster, node="gone", sampled_at=first["sampled_at"]).reachable


def test_the_dispatcher_queues_each_node_once_per_interval(pools_cluster):
    sent: list[tuple[int, str, int]] = []
    Cluster.objects.exclude(pk=pools_cluster.pk).delete()
    assert dispatch_due(lambda *a: sent.append(a)) == 2
    assert sorted(sent) == [(pools_cluster.pk, "primary", 5), (pools_cluster.pk, "pt-replica", 5)]
    assert dispatch_due(lambda *a: sent.append(a)) == 0  # not due again within the interval


def test_a_burst_of_due_nodes_is_spread_over_ticks_within_the_budget(pools_cluster, monkeypatch):
    """Every node due at once (beat starting): a tick queues at most 1.5x the fleet's steady rate, the rest go on the
    next ticks, and no node is queued twice within its interval."""
    from dashboard import dispatch

    monkeypatch.setattr(dispatch, "DISPATCH_FLOOR", 10)
    Cluster.objects.exclude(pk=pools_cluster.pk).delete()
    Cluster.objects.bulk_create(
        Cluster(name=f"burst-{i:02d}", dsn="host=127.0.0.1 port=9 dbname=postgres", sample_interval=5)
        for i in range(28)
    )  # with pt's two nodes: 30 nodes at 5 s = 6 samples/s, a budget of 9, raised to the floor of 10
    ticks: list[list[tuple[int, str, int]]] = []
    for _ in range(4):
        ticks.append([])
        dispatch_due(lambda *a: ticks[-1].append(a))
    assert [len(tick) for tick in ticks] == [10, 10, 10, 0]
    every = [sent for tick in ticks for sent in tick]
    assert len(set(every)) == 30 == Cluster.objects.count() + 1  # each node once (pt has a replica)


def test_a_monitoring_role_with_pg_monitor_sees_every_session(held_sessions, pools_cluster):
    with pg() as admin:
        admin.execute("DROP ROLE IF EXISTS seamline_pt_monitor")
        admin.execute("CREATE ROLE seamline_pt_monitor LOGIN NOSUPERUSER IN ROLE pg_monitor CONNECTION LIMIT 5")
    try:
        pools_cluster.dsn = pools_cluster.dsn.replace("user=postgres", "user=seamline_pt_monitor")
        snapshot = sample_node(pools_cluster, PRIMARY)
        assert snapshot["status"] == "ok" and snapshot["sees_all_sessions"] is True
        orders = service(snapshot, "pt_orders")
        assert (orders["idle_in_transaction"], orders["waiting"]) == (1, 1)
    finally:
        with pg() as admin:
            admin.execute("DROP ROLE IF EXISTS seamline_pt_monitor")


def test_a_monitoring_role_without_pg_monitor_is_told_to_get_it(held_sessions, pools_cluster, client, admin_user):
    with pg() as admin:
        admin.execute("DROP ROLE IF EXISTS seamline_pt_plain")
        admin.execute("CREATE ROLE seamline_pt_plain LOGIN NOSUPERUSER")
    try:
        pools_cluster.dsn = pools_cluster.dsn.replace("user=postgres", "user=seamline_pt_plain")
        pools_cluster.save()
        snapshot = sample_node(pools_cluster, PRIMARY)
        assert snapshot["sees_all_sessions"] is False
        orders = service(snapshot, "pt_orders")
        assert orders["total"] == 3  # counted (the role and application are visible) ...
        assert orders["idle_in_transaction"] == orders["waiting"] == 0  # ... but not their states, never as idle
        assert orders["unknown"] == 3 and orders["idle"] == 0
        client.force_login(admin_user)
        page = client.get(f"/pools/{pools_cluster.pk}/").content.decode()
        assert "insufficient privilege: grant pg_monitor" in page
    finally:
        with pg() as admin:
            admin.execute("DROP ROLE IF EXISTS seamline_pt_plain")


def test_the_pools_command_prints_the_snapshot_as_json_and_as_a_table(held_sessions, pools_cluster, capsys):
    call_command("pools", "pt", "--now", "--format", "json")
    body = json.loads(capsys.readouterr().out)
    assert {"cluster", "node", "sampled_at", "max_connections", "reserved_connections", "services"} <= set(body)
    assert (body["cluster"], body["node"], body["status"]) == ("pt", "primary", "fresh")
    orders = service(body, "pt_orders")
    assert (orders["total"], orders["waiting"], orders["budget"]) == (3, 1, 6)
    assert set(body["unattributed"]) >= {"total", "active", "idle", "idle_in_transaction", "waiting"}
    call_command("pools", "pt")  # the latest snapshot, without sampling
    table = capsys.readouterr().out
    assert "pt/primary: sampled" in table and "pt_orders" in table and "(unattributed)" in table


def test_the_pools_command_fails_clearly(pools_cluster):
    with pytest.raises(CommandError, match="no cluster named 'nope'"):
        call_command("pools", "nope")
    with pytest.raises(CommandError, match="has not been sampled yet"):
        call_command("pools", "pt", "--format", "json")
    pools_cluster.replicas.create(name="gone", dsn="host=127.0.0.1 port=9 user=postgres dbname=postgres")
    with pytest.raises(CommandError, match="pt/gone is unreachable: OperationalError"):
        call_command("pools", "pt", "--node", "gone", "--now")


@pytest.mark.django_db(transaction=True)
def test_beat_and_a_real_worker_sample_every_node(celery_worker_process, held_sessions):
    from dashboard.tasks import dispatch_sampling

    for key in snapshots.client().scan_iter("seamline:pools:*"):
        snapshots.client().delete(key)
    cluster = Cluster.objects.create(
        name="pt-worker", dsn=f"host=127.0.0.1 port={pg().info.port} user=postgres dbname=postgres"
    )
    dispatch_sampling.delay()
    snapshot = wait_for(lambda: snapshots.read(cluster.pk, PRIMARY), timeout=30, message="the worker's sample")
    assert snapshot["status"] == "ok"
    assert held_sessions.pids["stranger"] in pids(snapshot["unattributed_sessions"])
    # the history row follows the snapshot (the live pages first): moments later
    wait_for(lambda: NodeSample.objects.filter(cluster=cluster).exists(), timeout=10, message="the history row")


@pytest.mark.parametrize(
    ("query", "masked"),
    [
        ("SELECT * FROM t WHERE a = 'x''y' AND b = 42", "SELECT * FROM t WHERE a = ? AND b = ?"),
        ("SELECT E'\\n', B'0101', X'ff', $$secret$$, $t$x$t$", "SELECT ?, ?, ?, ?, ?"),
        ("SELECT -3.5e3, .5, 1_000, $1", "SELECT ?, ?, ?, $1"),
        (
            'SELECT "Quoted ""Ident""" FROM "订单" WHERE x IN (1, 2)',
            'SELECT "Quoted ""Ident""" FROM "订单" WHERE x IN (?, ?)',
        ),
        ("UPDATE users SET password = 'hunter2' WHERE id = 7", "UPDATE users SET password = ? WHERE id = ?"),
        ("SELECT 'cut off at track_activity_query_size, secret", "SELECT ?"),
        ("SELECT 1 /* keep */ -- and this", "SELECT ? /* keep */ -- and this"),
    ],
)
def test_literals_are_masked(query, masked):
    assert mask_literals(query) == masked
    assert "hunter2" not in mask_literals(query) and "secret" not in mask_literals(query)


def test_the_held_database_is_the_one_sampled(held_sessions, pools_cluster):
    snapshot = sample_node(pools_cluster, PRIMARY)
    listed = [s for s in snapshot["idle_in_transaction"] if s["pid"] == held_sessions.pids["idle_in_xact"]]
    assert listed[0]["database"] == HELD_DB and listed[0]["application_name"] == "pt_orders"


def test_a_stopped_replica_shows_as_unreachable_the_primary_stays_fresh_and_it_recovers(pools_cluster):
    import subprocess

    from .conftest import ROOT

    devstack = [str(ROOT / "scripts" / "devstack")]
    subprocess.run([*devstack, "stop-node", "replica"], check=True, capture_output=True)
    try:
        down = sample_node(pools_cluster, "pt-replica")
        assert (down["status"], down["error"]) == ("unreachable", "OperationalError")
        assert sample_node(pools_cluster, PRIMARY)["status"] == "ok"
    finally:
        subprocess.run([*devstack, "start"], check=True, capture_output=True)
    back = wait_for(
        lambda: (s := sample_node(pools_cluster, "pt-replica"))["status"] == "ok" and s,
        timeout=30,
        message="the replica to answer again",
    )
    assert back["in_recovery"] is True
