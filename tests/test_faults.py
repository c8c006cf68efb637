"""What Seamline shows, and how fast, when what it watches breaks: a server that accepts and never answers, Redis
gone and back, a catalog query stalled behind a lock."""

from __future__ import annotations

import socket
import subprocess
import threading
import time

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import AuditRun, Cluster
from dashboard import snapshots
from dashboard.sampling import PRIMARY, sample_node

from .conftest import ROOT, pg, wait_for


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_a_server_that_never_answers_is_shown_unreachable_fast_and_the_others_stay_fresh(
    silent_server, pools_cluster, viewer_client, settings
):
    settings.MONITOR_CONNECT_TIMEOUT = 2
    hung = Cluster.objects.create(name="hung", dsn=f"host=127.0.0.1 port={silent_server} user=postgres dbname=postgres")
    started = time.monotonic()
    snapshot = sample_node(hung, PRIMARY)
    assert time.monotonic() - started < 2 + 2  # the connect timeout, not a hang (the task's limit is far above)
    assert snapshot["status"] == "unreachable" and snapshot["error"] in ("ConnectionTimeout", "OperationalError")
    assert sample_node(pools_cluster, PRIMARY)["status"] == "ok"
    for url in ("/", "/pools/", f"/pools/{hung.pk}/", "/replication/"):
        started = time.monotonic()
        html = viewer_client.get(url).content.decode()
        assert time.monotonic() - started < 1, url
        assert "unreachable since" in html or "cannot be reached" in html, url


def test_redis_gone_leaves_pages_up_and_triggers_answer_clearly_then_everything_resumes(
    pools_cluster, client, admin_user
):
    client.force_login(admin_user)
    sample_node(pools_cluster, PRIMARY)
    port = settings.REDIS_URL.rsplit(":", 1)[1].split("/")[0]
    subprocess.run(["redis-cli", "-p", port, "shutdown", "nosave"], capture_output=True)
    try:
        wait_for(lambda: subprocess.run(["redis-cli", "-p", port, "ping"], capture_output=True).returncode != 0)
        for url in ("/", "/pools/", f"/pools/{pools_cluster.pk}/", "/replication/", "/audits/"):
            response = client.get(url)
            assert response.status_code == 200, url
            if url != "/audits/":
                assert "Live data unavailable" in response.content.decode(), url
        started = time.monotonic()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("django.db.transaction.on_commit", lambda fn, *a, **k: fn())  # as in production
            response = client.post(f"/clusters/{pools_cluster.pk}/audit")
        assert time.monotonic() - started < 5
        run = AuditRun.objects.get(cluster=pools_cluster)
        assert run.status == "failed" and "the job queue (Redis) cannot be reached" in run.error
        assert "the job queue (Redis) cannot be reached" in client.get("/audits/?cluster=pt").content.decode()
    finally:
        subprocess.run([str(ROOT / "scripts" / "devstack"), "start"], check=True, capture_output=True)
    # no process restarted: the same Redis client reconnects
    assert sample_node(pools_cluster, PRIMARY)["status"] == "ok"
    html = client.get(f"/pools/{pools_cluster.pk}/").content.decode()
    assert "Live data unavailable" not in html and "sampled" in html
    assert snapshots.read(pools_cluster.pk, PRIMARY)["status"] == "ok"


def test_a_catalog_query_stalled_behind_a_lock_times_out_and_says_so(db):
    name = "seamline_fault_lock"
    with pg() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    Cluster.objects.create(
        name="locked", dsn=f"host=127.0.0.1 port={pg().info.port} user=postgres dbname=postgres", databases=[name]
    )
    holder = pg(dbname=name)
    holder.autocommit = False
    try:
        holder.execute("LOCK TABLE pg_catalog.pg_namespace IN ACCESS EXCLUSIVE MODE")  # as a long DDL would
        started = time.monotonic()
        with pytest.raises(CommandError, match="LockNotAvailable|QueryCanceled"):
            call_command("sync", "locked")
        assert time.monotonic() - started < settings.MONITOR_LOCK_TIMEOUT_MS / 1000 + 5
    finally:
        holder.rollback()
        holder.close()
        with pg() as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
