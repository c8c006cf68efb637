"""Replication health on the real test stack: replay paused while the primary writes WAL turns the replica WARN then
CRIT with its reason, and OK again once resumed; a stopped replica is not streaming and its slot, inactive, retains
growing WAL; started again, all recovers. Seen through the CLI, the API and the page."""

from __future__ import annotations

import json
import subprocess

import pytest
from django.core.management import call_command

from dashboard.nodes import PRIMARY, nodes_of
from dashboard.sampling import sample_node

from .conftest import ROOT, pg, wait_for

MB = 1024**2


@pytest.fixture
def watched(pools_cluster):
    """The test cluster with thresholds small enough to cross with a few MB of WAL."""
    pools_cluster.lag_warn_bytes, pools_cluster.lag_crit_bytes = 2 * MB, 12 * MB
    pools_cluster.lag_warn_seconds, pools_cluster.lag_crit_seconds = 3600, 7200
    pools_cluster.slot_crit_bytes = 12 * MB
    pools_cluster.save()
    with pg() as conn:
        conn.execute("DROP TABLE IF EXISTS public.seamline_wal_writer")
        conn.execute("CREATE TABLE public.seamline_wal_writer (payload text)")
    yield pools_cluster
    with pg() as conn:
        conn.execute("DROP TABLE IF EXISTS public.seamline_wal_writer")


def write_wal(megabytes: int) -> None:
    with pg() as conn:
        conn.execute(
            "INSERT INTO public.seamline_wal_writer SELECT repeat(md5(g::text), 32) FROM generate_series(1, %s) g",
            [megabytes * 1024],  # 1 KiB a row, plus its WAL overhead
        )


def health(cluster) -> dict:
    for node in nodes_of(cluster):  # the primary first
        sample_node(cluster, node.name)
    out = _cli(cluster.name)
    return out


def _cli(name: str) -> dict:
    from io import StringIO

    buffer = StringIO()
    call_command("replication", name, "--format", "json", stdout=buffer)
    return json.loads(buffer.getvalue())


def replica(body: dict) -> dict:
    return next(r for r in body["replicas"] if r["name"] == "pt-replica")


def test_it_reads_both_sides_and_matches_the_replica(watched):
    body = health(watched)
    r = replica(body)
    assert (body["status"], r["status"], r["state"], r["receiver_status"]) == ("OK", "OK", "streaming", "streaming")
    assert r["slot_name"] == "seamline_replica" and r["sync_state"] == "async"
    assert r["replay_paused"] is False and r["replay_lag_seconds"] is not None
    slot = next(s for s in body["slots"] if s["slot_name"] == "seamline_replica")
    assert (slot["active"], slot["status"], slot["slot_type"]) == (True, "OK", "physical")
    assert body["unregistered_standbys"] == []
    assert health(watched)["primary"]["wal_bytes_per_second"] is not None  # from two samples


def test_paused_replay_turns_warn_then_crit_and_back_to_ok(watched, viewer_client, settings):
    with pg(port=settings.REPLICA_PORT) as standby:
        standby.execute("SELECT pg_wal_replay_pause()")
        try:
            write_wal(4)
            # the WAL writer flushes within moments (the test stack commits asynchronously): wait for the lag
            warn = wait_for(
                lambda: (b := health(watched)) and (replica(b)["replay_lag_bytes"] or 0) >= 2 * MB and b,
                timeout=30,
                message="the paused replica to fall 2 MB behind",
            )
            r = replica(warn)
            assert r["status"] == "WARN" and r["replay_paused"] is True
            assert any("replay is paused on pt-replica" in reason for reason in r["reasons"])
            assert any("behind (WARN at" in reason for reason in r["reasons"])
            write_wal(16)
            crit = wait_for(lambda: (b := health(watched)) and replica(b)["status"] == "CRIT" and b, timeout=30)
            assert crit["status"] == "CRIT" and any("(CRIT at" in reason for reason in crit["reasons"])
            api = viewer_client.get("/api/v1/health").json()
            pt = next(c for c in api["clusters"] if c["cluster"] == "pt")
            assert pt["status"] == "CRIT" and pt["replicas"][0]["replay_paused"] is True
            page = viewer_client.get("/replication/").content.decode()
            assert "replay is paused on pt-replica" in page and 'class="status crit"' in page
            settings.METRICS_TOKEN = "scrape-me"
            scraped = viewer_client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me").content.decode()
            assert 'seamline_replica_status{cluster="pt",replica="pt-replica"} 2.0' in scraped
            assert 'seamline_cluster_replication_status{cluster="pt"} 2.0' in scraped
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")
    ok = wait_for(lambda: (b := health(watched)) and b["status"] == "OK" and b, timeout=60, message="catch-up")
    assert replica(ok)["replay_paused"] is False and replica(ok)["reasons"] == []


def test_a_stopped_replica_is_not_streaming_and_its_slot_retains_growing_wal(watched, viewer_client):
    devstack = [str(ROOT / "scripts" / "devstack")]
    before = health(watched)
    assert replica(before)["status"] == "OK"
    subprocess.run([*devstack, "stop-node", "replica"], check=True, capture_output=True)
    try:
        write_wal(2)
        first = wait_for(
            lambda: (b := health(watched)) and not _slot(b)["active"] and b, timeout=30, message="the slot inactive"
        )
        r = replica(first)
        assert r["status"] == "CRIT" and r["state"] == "not streaming"
        assert any("cannot be reached" in reason for reason in r["reasons"])
        assert any("not streaming" in reason for reason in r["reasons"])
        write_wal(16)
        second = health(watched)
        assert _slot(second)["retained_bytes"] > _slot(first)["retained_bytes"] + 8 * MB  # growing
        assert _slot(second)["status"] == "CRIT"
        assert any("has no active consumer and retains" in reason for reason in second["reasons"])
        page = viewer_client.get("/replication/").content.decode()
        assert "not streaming" in page
    finally:
        subprocess.run([*devstack, "start"], check=True, capture_output=True)
    ok = wait_for(lambda: (b := health(watched)) and b["status"] == "OK" and b, timeout=60, message="recovery")
    assert _slot(ok)["active"] and replica(ok)["state"] == "streaming"


def _slot(body: dict) -> dict:
    return next(s for s in body["slots"] if s["slot_name"] == "seamline_replica")


def test_the_replication_command_prints_a_table(watched, capsys):
    call_command("replication", "pt", "--now")
    out = capsys.readouterr().out
    assert out.startswith("pt: OK") and "pt-replica" in out and "seamline_replica" in out


def test_an_unknown_cluster_is_refused(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no cluster named 'nope'"):
        call_command("replication", "nope")


def test_the_overview_shows_every_cluster_worst_first(watched, viewer_client):
    from catalog.models import Cluster

    Cluster.objects.create(name="aaa-gone", dsn="host=127.0.0.1 port=9 user=postgres dbname=postgres")
    for cluster in Cluster.objects.prefetch_related("replicas"):
        for node in nodes_of(cluster):
            sample_node(cluster, node.name)
    html = viewer_client.get("/").content.decode()
    assert html.index("aaa-gone") < html.index(">pt<")  # CRIT before OK, whatever the names
    assert "the primary cannot be reached (OperationalError)" in html
    assert "free" in html  # pt's headroom
    partial = viewer_client.get("/", HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<section id="live"')


def test_a_promoted_or_wrong_primary_is_named(watched):
    from django.conf import settings

    watched.dsn = f"host={settings.PG_HOST} port={settings.REPLICA_PORT} user=postgres dbname=postgres"
    watched.save()
    sample_node(watched, PRIMARY)
    body = _cli("pt")
    assert body["status"] == "CRIT"
    assert "the registered primary is in recovery: a standby, not a primary" in body["reasons"]
