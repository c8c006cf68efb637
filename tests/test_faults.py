"""What Seamline shows, and how fast, when what it watches breaks: a server that accepts and never answers, a
primary and a replica stopped and restarted, Redis gone and back, queries stalled behind a lock."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from datetime import datetime

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import AuditRun, Cluster
from dashboard import snapshots
from dashboard.nodes import PRIMARY
from dashboard.pools import UNREACHABLE, load
from dashboard.sampling import sample_node

from .conftest import ROOT, free_port, pg, redis_stopped, wait_for


class Pair:
    """A monitored primary and its streaming replica of their own, made by the project's devstack script on free
    ports, so that they can be stopped and stalled without touching the test stack (where Seamline's database lives)."""

    def __init__(self) -> None:
        self.state = ROOT / (os.environ.get("SEAMLINE_STATE_DIR", ".teststack") + "-fault")
        self.env = dict(
            os.environ,
            SEAMLINE_STATE_DIR=str(self.state),
            SEAMLINE_PG_PORT=str(free_port()),
            SEAMLINE_REPLICA_PORT=str(free_port()),
            # the test stack's Redis, already running: devstack leaves it be
            SEAMLINE_REDIS_PORT=settings.REDIS_URL.rsplit(":", 1)[1].split("/")[0],
        )
        self.port, self.replica_port = int(self.env["SEAMLINE_PG_PORT"]), int(self.env["SEAMLINE_REPLICA_PORT"])

    def devstack(self, *args: str) -> None:
        subprocess.run([str(ROOT / "scripts" / "devstack"), *args], env=self.env, check=True, capture_output=True)

    def remove(self) -> None:
        self.devstack("stop")
        data = self.state / "pg"
        if data.is_symlink():  # devstack kept the data where the postgres OS user can write
            shutil.rmtree(data.resolve(), ignore_errors=True)
        shutil.rmtree(self.state, ignore_errors=True)


@pytest.fixture(scope="module")
def pair():
    made = Pair()
    made.devstack("start")
    yield made
    made.remove()


def register(pair: Pair, name: str, interval: int = 2) -> Cluster:
    cluster = Cluster.objects.create(
        name=name, dsn=f"host=127.0.0.1 port={pair.port} user=postgres dbname=postgres", sample_interval=interval
    )
    cluster.replicas.create(name=f"{name}-replica", dsn=f"host=127.0.0.1 port={pair.replica_port} user=postgres")
    return cluster


class Beat(threading.Thread):
    """What beat does, here: the real dispatch_sampling task every second, its samples run by the real worker."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.halt = threading.Event()

    def run(self) -> None:
        from django.db import connection

        from dashboard.tasks import dispatch_sampling

        try:
            while not self.halt.wait(1):
                dispatch_sampling()
        finally:
            connection.close()


def at(snapshot: dict) -> datetime:
    return datetime.fromisoformat(snapshot["sampled_at"])


def states(cluster: Cluster) -> dict[str, str]:
    return {view.name: view.status for view in load([cluster], node=None)[cluster.pk]}


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


@pytest.mark.django_db(transaction=True)
def test_a_stopped_primary_and_replica_show_within_two_intervals_and_recover_after(
    pair, celery_worker_process, client, viewer
):
    for key in snapshots.client().scan_iter("seamline:pools:*"):
        snapshots.client().delete(key)
    cluster = register(pair, "faulty")
    replica = f"{cluster.name}-replica"
    both_fresh = {PRIMARY: "fresh", replica: "fresh"}
    two_intervals = 2 * cluster.sample_interval
    client.force_login(viewer)
    beat = Beat()
    beat.start()
    try:
        wait_for(lambda: states(cluster) == both_fresh, timeout=30, message="both nodes sampled")

        pair.devstack("stop-node", "primary")
        stopped = time.monotonic()
        wait_for(lambda: states(cluster)[PRIMARY] == UNREACHABLE, timeout=two_intervals, message="primary shown down")
        shown = time.monotonic() - stopped
        assert shown <= two_intervals
        assert states(cluster)[replica] == "fresh"  # a standby whose primary is gone still answers
        html = client.get(f"/pools/{cluster.pk}/").content.decode()
        assert "unreachable since" in html and "OperationalError" in html
        replication = client.get("/replication/").content.decode()
        assert "faulty" in replication and "cannot be reached" in replication

        pair.devstack("stop-node", "replica")
        wait_for(lambda: states(cluster)[replica] == UNREACHABLE, timeout=two_intervals, message="replica shown down")
        failed = snapshots.read(cluster.pk, PRIMARY)

        # another sample of the stopped primary (a newer failed attempt) keeps its first failure's time
        def newer_sample() -> dict | None:
            latest = snapshots.read(cluster.pk, PRIMARY)
            return latest if at(latest) > at(failed) else None

        newer = wait_for(newer_sample, timeout=two_intervals, message="a newer sample of the stopped primary")
        assert newer["status"] == "unreachable" and newer["unreachable_since"] == failed["unreachable_since"]

        pair.devstack("start")  # both back
        wait_for(lambda: states(cluster) == both_fresh, timeout=two_intervals, message="both nodes recovered")
        html = client.get(f"/pools/{cluster.pk}/").content.decode()
        assert "unreachable since" not in html and "sampled" in html
        standby = wait_for(
            lambda: (
                (snapshots.read(cluster.pk, replica) or {}).get("replication", {}).get("receiver_status") == "streaming"
            ),
            timeout=two_intervals * 3,
            message="the replica streaming again",
        )
        assert standby
    finally:
        beat.halt.set()
        beat.join()


@pytest.mark.django_db(transaction=True)
def test_a_connection_stalled_behind_a_lock_gives_up_at_connect_timeout(pair, settings, viewer_client):
    """Every new connection reads pg_authid: a lock on it (VACUUM FULL pg_authid, or LOCK TABLE in a forgotten
    transaction) stalls each sample at connect time. connect_timeout bounds the wait; the node shows unreachable
    (from outside, a stalled server and a silent one look alike) and the other node stays fresh."""
    settings.MONITOR_CONNECT_TIMEOUT = 2
    cluster = register(pair, "stalled")
    holder = psycopg.connect(host="127.0.0.1", port=pair.port, user="postgres", dbname="postgres")
    try:
        holder.execute("LOCK TABLE pg_catalog.pg_authid IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        snapshot = sample_node(cluster, PRIMARY)
        assert time.monotonic() - started < settings.MONITOR_CONNECT_TIMEOUT + 2
        assert snapshot["status"] == "unreachable" and snapshot["error"] == "ConnectionTimeout"
        assert sample_node(cluster, f"{cluster.name}-replica")["status"] == "ok"  # the standby is not stalled
        html = viewer_client.get(f"/pools/{cluster.pk}/").content.decode()
        assert "unreachable since" in html and "ConnectionTimeout" in html
    finally:
        holder.rollback()
        holder.close()
    snapshot = sample_node(cluster, PRIMARY)
    assert snapshot["status"] == "ok"


@pytest.mark.parametrize(
    ("lock_timeout_ms", "statement_timeout_ms", "error"),
    [(1_000, 60_000, "LockNotAvailable"), (60_000, 1_000, "QueryCanceled")],
    ids=["lock_timeout", "statement_timeout"],
)
def test_a_sample_query_stalled_behind_a_lock_is_cancelled_and_marked_timed_out(
    pair, settings, viewer_client, lock_timeout_ms, statement_timeout_ms, error
):
    """The lock is taken once the sampler has connected and before its first statement (the moment is chosen by
    wrapping the sampler's first query; the query itself runs as in production): the server cancels the statement
    at lock_timeout or statement_timeout, whichever is shorter, and the sample ends as timed out."""
    from dashboard.readers import activity

    cluster = register(pair, f"slow-{error}")
    settings.MONITOR_LOCK_TIMEOUT_MS = lock_timeout_ms
    settings.SAMPLE_STATEMENT_TIMEOUT_MS = statement_timeout_ms
    holder = psycopg.connect(host="127.0.0.1", port=pair.port, user="postgres", dbname="postgres")
    original = activity.node_settings

    def locked_first(conn):
        holder.execute("LOCK TABLE pg_catalog.pg_authid IN ACCESS EXCLUSIVE MODE")  # pg_roles reads it
        return original(conn)

    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(activity, "node_settings", locked_first)
            started = time.monotonic()
            snapshot = sample_node(cluster, PRIMARY)
        assert time.monotonic() - started < 1 + 2
        assert snapshot["status"] == "unreachable" and snapshot["timed_out"] and snapshot["error"] == error
        html = viewer_client.get(f"/pools/{cluster.pk}/").content.decode()
        assert "timed out since" in html and error in html
        assert "did not answer in time" in viewer_client.get("/replication/").content.decode()
    finally:
        holder.rollback()
        holder.close()
    assert sample_node(cluster, PRIMARY)["status"] == "ok"


@pytest.mark.django_db(transaction=True)
def test_a_worker_sampling_a_server_that_never_answers_is_free_again_within_the_connect_timeout(
    silent_server, celery_worker_process
):
    from dashboard.tasks import ping
    from dashboard.tasks import sample_node as sample_task

    hung = Cluster.objects.create(name="hung", dsn=f"host=127.0.0.1 port={silent_server} user=postgres dbname=postgres")
    started = time.monotonic()
    sample_task.delay(hung.pk, PRIMARY)
    # the suite's worker runs one task at a time, and a queue is first in, first out: a ping sent after the sample on
    # its queue is answered once the sample has given up
    assert ping.apply_async(queue=settings.SAMPLING_QUEUE).get(timeout=settings.SAMPLE_TIME_LIMIT)["pong"]
    assert time.monotonic() - started < settings.MONITOR_CONNECT_TIMEOUT + 5 < settings.SAMPLE_TIME_LIMIT
    snapshot = snapshots.read(hung.pk, PRIMARY)
    assert snapshot["status"] == "unreachable" and snapshot["error"] in ("ConnectionTimeout", "OperationalError")


def test_a_host_that_does_not_resolve_is_reported_clearly(db, viewer_client):
    typo = Cluster.objects.create(
        name="typo", dsn="host=db-typo.invalid user=postgres dbname=postgres", databases=["postgres"]
    )
    with pytest.raises(
        CommandError, match="cannot be reached: OperationalError: failed to resolve host 'db-typo.invalid'"
    ):
        call_command("sync", "typo")
    snapshot = sample_node(typo, PRIMARY)
    assert snapshot["status"] == "unreachable" and "resolve host 'db-typo.invalid'" in snapshot["message"]
    html = viewer_client.get(f"/pools/{typo.pk}/").content.decode()
    assert "unreachable since" in html and "OperationalError" in html


def test_redis_gone_leaves_pages_up_and_triggers_answer_clearly_then_everything_resumes(
    pools_cluster, client, admin_user
):
    client.force_login(admin_user)
    sample_node(pools_cluster, PRIMARY)
    with redis_stopped():
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
