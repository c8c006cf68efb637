"""Benchmark: the fleet simulation. The real sampler (Celery beat and a prefork worker) over 120 monitored nodes
with 1, 2 and 4 worker processes, and beat's dispatch at 3,000 nodes (issue 8). docs/scaling.md turns the figures
into the sizes of a 1,000-cluster fleet.

The fleet is 40 clusters of a primary and two streaming replicas each (``--clusters``), the shape of the fleet
docs/scaling.md sizes, on three local PostgreSQL instances each registered under many cluster names: the primaries
alternate between a throwaway instance started here (in ``/tmp/seamline-bench-fleet/monitored``) and the dev
primary, and every replica is the dev stack's real streaming replica, so the standby-side queries are real. The
sampler connects as a monitoring role of its own (``seamline_bench_fleet``, member of pg_monitor, as
docs/security.md's role), so pg_stat_statements tells its statements from everyone else's. Sessions are held on the
three instances for the whole run under the application_names of four services (idle; on the throwaway instance also
idle in transaction and running ``pg_sleep``) plus a few unattributed ones, so that every sample writes service rows.

Seamline's own side is production's and has nothing else on it: its tables in a second throwaway instance
(``/tmp/seamline-bench-fleet/app``, durable: fsync, synchronous_commit and full_page_writes on, so that commit
latency and WAL volume are real), its snapshots and Celery's queues in a throwaway Redis (a free port from 16390,
no persistence), ``SEAMLINE_DEBUG=0``. The real ``celery beat`` runs with the DatabaseScheduler and the migration's
schedule (dispatch every second; the hourly sync and nightly audit disabled), and a real ``celery worker --pool
prefork --concurrency N`` on the sampling queue (and ``celery``, as deploy/'s unit), started afresh for each N: the
sessions samples alone, as a sampling worker takes them (statements samples go to their own queue, which the audits
workers take, and nothing consumes here).

For each N: a window of ``--seconds`` (default 40) at a 5 s interval, the production default (120 nodes need 24
samples/s), after a warm-up of two intervals; then every cluster's interval is set to 1 s, which no worker keeps up
with here, and a window of ``--saturate-seconds`` (default 20) measures the capacity. In each window:

- samples written (history rows) per second, and per worker process;
- snapshot freshness: every node's snapshot read from Redis every 0.5 s, age = now - sampled_at, p50 and p95;
- beat drift: the gap between consecutive samples of a node minus the interval, p50 and p95;
- the sampling queue's length (every 0.5 s), CPU time (from /proc: the worker and its pool, beat, each PostgreSQL
  instance with its backends, Redis) per sample, the machine's busy share;
- Seamline's database: statements and their time per sample (pg_stat_statements, workers and beat), WAL bytes per
  sample (pg_current_wal_lsn), connections;
- each monitored instance: the sampler's statement time per sample (pg_stat_statements of the monitoring role,
  planning + execution) and the whole server's CPU per sample (backends started and ended included);
- Redis: commands per sample, memory of each node's keys (``MEMORY USAGE``) after the 5 s windows.

After the windows: what each monitored instance uses idle, and what opening and closing a connection costs a quiet
server (Django's to Seamline's database, the sampler's to a monitored node: each sample opens one of each); history
rows and bytes per node per day (rows per sample by table, bytes per row from the partitions' sizes, summed over
pg_inherits since a partitioned parent's own size is 0; rollups compacted first); and beat's tick with 3,000 nodes
registered (1,000 clusters x 3): the real ``dispatch_sampling`` task in process, its
Redis claims real and its messages sent to a queue nobody reads, all nodes due and none due; and ``dispatch_due``
with a no-op send (the claims and the catalog query alone).

Goals: snapshot freshness p95 <= 2 x interval at 5 s with every worker count; beat drift p95 <= 1 s (one tick) at
5 s with one worker process; beat's tick with 3,000 nodes all due <= 1 s; the sampler's CPU cost on a monitored
server <= 1 % of a core per node at 5 s. Capacity, Redis memory, history volume and Seamline's database cost are
reported.

Run: ``make bench``, or ``.venv/bin/python bench/fleet.py [--clusters N] [--seconds N] [--saturate-seconds N]
[--workers 1,2,4] [--no-docs]``, or ``... --drop`` to remove what a killed run left behind (the throwaway instances
and Redis, the role and the meter database on the dev stack) and exit. Everything it starts (instances, Redis,
sessions, worker, beat) is stopped when it ends, on failure and Ctrl-C too. Exit status 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench._common import (  # noqa: E402
    Processes,
    argument_parser,
    bullet,
    connect_dev_stack,
    exit_on_sigterm,
    machine,
    machine_ticks,
    median,
    paragraph,
    percentile,
    pg_client,
    run_timed,
    setup_django,
    write_report,
)
from bench.pools import Instance, free_port  # noqa: E402

NAME = "fleet"
PY = sys.executable
CELERY = str(ROOT / ".venv" / "bin" / "celery")
BASE = Path("/tmp/seamline-bench-fleet")
APP_DB = "seamline_bench_fleet"
METER_DB = "seamline_bench_fleet_meter"  # pg_stat_statements is read from here on each monitored instance
MONITOR_ROLE = "seamline_bench_fleet"  # the sampler's role on the monitored instances
APP_METER_ROLE = "bench_meter"  # the benchmark's own reads of Seamline's database, kept out of its statistics
VOID_QUEUE = "seamline-bench-fleet-void"  # where the dispatch measurement's messages go: nobody reads it
REDIS_FIRST_PORT = 16390
SECRET_KEY = "seamline-bench-fleet-not-a-secret"
INTERVAL = 5  # the production default (Cluster.sample_interval)
SATURATING_INTERVAL = 1
POLL = 0.5  # seconds between two reads of every snapshot
SAMPLES_PER_DAY = 86_400 // INTERVAL
BUCKETS_PER_DAY = 86_400 // 300  # 5-minute rollups
FLEET_CLUSTERS, FLEET_REPLICAS = 1000, 2  # the fleet docs/scaling.md sizes
GOAL_FRESHNESS = 2.0  # p95 age <= this many intervals
GOAL_DRIFT = 1.0  # s: p95 of a node's gap between samples, beyond the interval
GOAL_DISPATCH = 1.0  # s: beat ticks every second
GOAL_MONITORED_SHARE = 0.01  # of one core, per node, at 5 s
APP_CPU = "Seamline's PostgreSQL"  # its CPU time's key
HISTORY = ("nodesample", "servicesample", "replicasample", "noderollup", "servicerollup", "replicarollup")


@dataclass(frozen=True)
class Held:
    """Sessions held on one instance under one application_name: idle, idle in transaction, running pg_sleep."""

    application_name: str
    idle: int
    idle_in_transaction: int = 0
    active: int = 0


SERVICES = {  # service -> its application_name
    "fleet_users": "users-api",
    "fleet_orders": "orders-api",
    "fleet_catalog": "catalog-api",
    "fleet_payments": "payments-api",
}
HELD = {  # instance label -> sessions held there
    "throwaway primary": (
        Held("users-api", 12, 2, 1),
        Held("orders-api", 12, 2, 1),
        Held("catalog-api", 8, 2, 1),
        Held("payments-api", 8, 2, 1),
        Held("psql", 4),  # unattributed
    ),
    "dev primary": tuple(Held(name, 3) for name in SERVICES.values()) + (Held("psql", 1),),
    "dev replica": (Held("users-api", 2), Held("catalog-api", 2), Held("psql", 1)),
}


def log(text: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {text}", flush=True)


# --- processes and their CPU time ------------------------------------------------------------------------------

CLOCK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process, of the children it has reaped (a PostgreSQL backend that ended) and of its living
    children (the backends, a worker's pool processes)."""
    own = _stat(pid)
    if own is None:
        return 0.0
    ticks = sum(int(v) for v in own[11:15])  # utime, stime, cutime, cstime
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and int(fields[1]) == pid:
                ticks += int(fields[11]) + int(fields[12])
    return ticks / CLOCK


def children(pid: int) -> list[int]:
    return [
        int(e.name) for e in os.scandir("/proc") if e.name.isdigit() and (_stat(int(e.name)) or [0, 0])[1] == str(pid)
    ]


def pss_kib(pid: int) -> int:
    """Proportional set size: a forked process' pages shared with its parent counted once between them."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    match = re.search(r"^Pss:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def postmaster_pid(data_directory: str | Path) -> int:
    return int(Path(data_directory, "postmaster.pid").read_text().split()[0])


# --- the monitored side ----------------------------------------------------------------------------------------


@dataclass
class Monitored:
    """One monitored instance: how the sampler and the benchmark reach it, and its postmaster (for its CPU time)."""

    label: str
    port: int
    pid: int = 0
    version: str = ""

    def connect(self, dbname: str = METER_DB, **kwargs: Any) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, connect_timeout=5, autocommit=True,
            **kwargs,
        )  # fmt: skip

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} dbname=postgres user={MONITOR_ROLE}"


def prepare_primary(node: Monitored) -> None:
    """The monitoring role (pg_monitor; its statements' planning tracked too) and a database to read
    pg_stat_statements from; the replica gets both by replication."""
    with node.connect("postgres") as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {METER_DB} WITH (FORCE)")
        conn.execute(f"DROP ROLE IF EXISTS {MONITOR_ROLE}")
        conn.execute(f"CREATE ROLE {MONITOR_ROLE} LOGIN IN ROLE pg_monitor")
        conn.execute(f"ALTER ROLE {MONITOR_ROLE} SET pg_stat_statements.track_planning = on")
        conn.execute(f"CREATE DATABASE {METER_DB}")
    with node.connect() as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")


def describe(node: Monitored) -> None:
    with node.connect("postgres") as conn:
        node.version = conn.execute("SHOW server_version").fetchone()[0].split()[0]
        node.pid = postmaster_pid(conn.execute("SHOW data_directory").fetchone()[0])


def wait_for_replay(replica: Monitored) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with replica.connect() as conn:
                if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'").fetchone():
                    return
        except psycopg.OperationalError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"the dev replica did not replay {METER_DB} in 30 s: is it streaming?")
        time.sleep(0.2)


def drop_dev_objects(primary: Monitored) -> None:
    with contextlib.suppress(psycopg.Error), primary.connect("postgres") as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {METER_DB} WITH (FORCE)")
        conn.execute(f"DROP ROLE IF EXISTS {MONITOR_ROLE}")


class Sessions:
    """The client sessions held on the monitored instances for the whole run."""

    def __init__(self) -> None:
        self.conns: list[psycopg.Connection] = []

    def open(self, nodes: dict[str, Monitored]) -> None:
        for label, groups in HELD.items():
            for group in groups:
                for _ in range(group.idle):
                    self._connect(nodes[label], group)
                for _ in range(group.idle_in_transaction):
                    self._connect(nodes[label], group, autocommit=False).execute("SELECT 1")
                for _ in range(group.active):
                    self._connect(nodes[label], group).pgconn.send_query(b"SELECT pg_sleep(600)")

    def _connect(self, node: Monitored, group: Held, autocommit: bool = True) -> psycopg.Connection:
        conn = node.connect("postgres", application_name=group.application_name)
        conn.autocommit = autocommit
        self.conns.append(conn)
        return conn

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(Exception):  # whatever state it is in
                conn.close()
        self.conns.clear()


# --- Seamline's side -------------------------------------------------------------------------------------------


class AppInstance(Instance):
    """bench.pools.Instance made durable as a production server is: commit latency and WAL volume are measured."""

    def create(self) -> None:
        super().create()
        with psycopg.connect(**self.conninfo, user="postgres", dbname="postgres", autocommit=True) as conn:
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                conn.execute(f"ALTER SYSTEM SET {setting} = on")
            conn.execute("SELECT pg_reload_conf()")
            self.version = conn.execute("SHOW server_version").fetchone()[0].split()[0]
            conn.execute(f"CREATE ROLE {APP_METER_ROLE} SUPERUSER LOGIN")
            conn.execute(f'CREATE DATABASE "{APP_DB}"')
        with self.meter() as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")

    def meter(self) -> psycopg.Connection:
        return psycopg.connect(
            **self.conninfo, user=APP_METER_ROLE, dbname=APP_DB, autocommit=True, application_name="bench-meter"
        )

    @property
    def pid(self) -> int:
        return postmaster_pid(self.data)


class Redis:
    """A throwaway redis-server: Seamline's snapshots and Celery's queues, and nothing else, so that its memory,
    commands and CPU are the sampler's."""

    pidfile = BASE / "redis.pid"

    def __init__(self) -> None:
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.version = ""
        self.baseline = 0  # used_memory of the empty server

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.port = free_port(REDIS_FIRST_PORT)
        with (BASE / "redis.log").open("wb") as out:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(BASE), "--maxmemory-policy", "noeviction", "--loglevel", "warning"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.pidfile.write_text(str(self.proc.pid))
        import redis

        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    self.version = client.info("server")["redis_version"]
                    self.baseline = client.info("memory")["used_memory"]
                    return
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"redis-server did not start on port {self.port}: see {BASE / 'redis.log'}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.pidfile.unlink(missing_ok=True)

    @classmethod
    def stop_leftover(cls) -> None:
        """The redis-server a killed run left behind: its pid from our pidfile, if that process is one."""
        with contextlib.suppress(OSError, ValueError):
            pid = int(cls.pidfile.read_text())
            if b"redis-server" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGTERM)
        cls.pidfile.unlink(missing_ok=True)


def bench_env(app: AppInstance, redis_url: str) -> dict[str, str]:
    return {
        "SEAMLINE_DB_HOST": "127.0.0.1",
        "SEAMLINE_DB_PORT": str(app.port),
        "SEAMLINE_DB_NAME": APP_DB,
        "SEAMLINE_REDIS_URL": redis_url,
        "SEAMLINE_DEBUG": "0",
        "SEAMLINE_SECRET_KEY": SECRET_KEY,
        "SEAMLINE_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


def register(clusters: int, primaries: list[Monitored], replica: Monitored) -> list[tuple[int, str, str]]:
    """The services and the fleet's clusters, primaries alternating between the instances; returns every node as
    (cluster id, node, instance label)."""
    from django_celery_beat.models import PeriodicTask

    from catalog.models import Cluster, Service
    from dashboard.nodes import PRIMARY

    for name, application in SERVICES.items():
        Service.objects.create(name=name, team="bench", application_names=[application], pool_size=20)
    PeriodicTask.objects.filter(
        task__in=["catalog.tasks.sync_all_clusters", "catalog.tasks.audit_all_clusters"]
    ).update(enabled=False)
    nodes = []
    for i in range(clusters):
        primary = primaries[i % len(primaries)]
        cluster = Cluster.objects.create(name=f"fleet-{i + 1:03d}", dsn=primary.dsn, sample_interval=INTERVAL)
        nodes.append((cluster.pk, PRIMARY, primary.label))
        for r in range(1, 3):
            cluster.replicas.create(name=f"replica-{r}", dsn=replica.dsn)
            nodes.append((cluster.pk, f"replica-{r}", replica.label))
    return nodes


def set_interval(seconds: int) -> None:
    from catalog.models import Cluster

    Cluster.objects.filter(name__startswith="fleet-").update(sample_interval=seconds)


# --- measuring a window ----------------------------------------------------------------------------------------

SAMPLED_AT = re.compile(rb'"sampled_at": "([^"]+)"')


class Poller(threading.Thread):
    """Every node's snapshot read from Redis every POLL seconds: each one's age; and the sampling queue's length."""

    def __init__(self, redis_url: str, nodes: list[tuple[int, str, str]], queue: str) -> None:
        super().__init__(daemon=True)
        import redis

        from dashboard.snapshots import key

        self.client = redis.Redis.from_url(redis_url)
        self.keys = [key(cluster_id, node) for cluster_id, node, _ in nodes]
        self.queue = queue
        self.ages: list[float] = []
        self.backlog: list[int] = []
        self.missing = 0
        self.done = threading.Event()

    def newest(self) -> float:
        """The newest sampled_at of any node (epoch seconds), 0 if none."""
        stamps = [self._stamp(v) for v in self.client.mget(self.keys)]
        return max((s for s in stamps if s is not None), default=0.0)

    @staticmethod
    def _stamp(value: bytes | None) -> float | None:
        match = SAMPLED_AT.search(value) if value else None
        return datetime.fromisoformat(match.group(1).decode()).timestamp() if match else None

    def run(self) -> None:
        while not self.done.wait(POLL):
            values = self.client.mget(self.keys)
            now = time.time()
            for value in values:
                stamp = self._stamp(value)
                if stamp is None:
                    self.missing += 1
                else:
                    self.ages.append(now - stamp)
            self.backlog.append(self.client.llen(self.queue))

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=5)


@dataclass
class Statements:
    """One role's statements in one database (pg_stat_statements, planning + execution), by statement text, and the
    sessions opened in that database (pg_stat_database)."""

    by_query: dict[str, tuple[int, float]] = field(default_factory=dict)  # text -> (calls, ms)
    sessions: int = 0

    @property
    def calls(self) -> int:
        return sum(calls for calls, _ in self.by_query.values())

    @property
    def ms(self) -> float:
        return sum(ms for _, ms in self.by_query.values())

    def __sub__(self, other: Statements) -> Statements:
        return Statements(
            {
                query: (calls - other.by_query.get(query, (0, 0.0))[0], ms - other.by_query.get(query, (0, 0.0))[1])
                for query, (calls, ms) in self.by_query.items()
            },
            self.sessions - other.sessions,
        )


def read_statements(conn: psycopg.Connection, role: str, database: str) -> Statements:
    out = Statements()
    rows = conn.execute(
        "SELECT query, calls, total_plan_time + total_exec_time FROM pg_stat_statements"
        " WHERE userid = %s::regrole AND dbid = (SELECT oid FROM pg_database WHERE datname = %s)",
        [role, database],
    ).fetchall()
    for query, calls, ms in rows:
        text = " ".join(query.split())
        before = out.by_query.get(text, (0, 0.0))
        out.by_query[text] = (before[0] + calls, before[1] + ms)
    (out.sessions,) = conn.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", [database]).fetchone()
    return out


def monitored_statements(node: Monitored) -> Statements:
    """The sampler's, in database postgres where its DSN points."""
    with node.connect() as conn:
        return read_statements(conn, MONITOR_ROLE, "postgres")


def app_statements(app: AppInstance) -> Statements:
    """The workers' and beat's (role postgres) in Seamline's database."""
    with app.meter() as conn:
        return read_statements(conn, "postgres", APP_DB)


@dataclass
class Reading:
    """Counters read at a window's start and end."""

    wall: datetime
    mono: float
    cpu: dict[str, float]
    ticks: tuple[int, int]
    redis_commands: int
    redis_cpu: float
    wal: int
    app: Statements
    monitored: dict[str, Statements]


@dataclass
class Fixture:
    """Everything a window reads from."""

    app: AppInstance
    redis: Redis
    monitored: dict[str, Monitored]
    procs: Processes
    nodes: list[tuple[int, str, str]]
    queue: str

    def cpu(self) -> dict[str, float]:
        out = {
            "worker": tree_cpu(self.procs.pid("worker")),
            "beat": tree_cpu(self.procs.pid("beat")),
            APP_CPU: tree_cpu(self.app.pid),
            "Redis": tree_cpu(self.redis.proc.pid if self.redis.proc else 0),
            "benchmark": sum(os.times()[:2]),
        }
        for label, node in self.monitored.items():
            out[label] = tree_cpu(node.pid)
        return out

    def read(self) -> Reading:
        import redis

        client = redis.Redis.from_url(self.redis.url)
        stats, cpu = client.info("stats"), client.info("cpu")
        with self.app.meter() as conn:
            (wal,) = conn.execute("SELECT pg_current_wal_lsn() - '0/0'").fetchone()
        return Reading(
            wall=datetime.now(UTC),
            mono=time.monotonic(),
            cpu=self.cpu(),
            ticks=machine_ticks(),
            redis_commands=stats["total_commands_processed"],
            redis_cpu=cpu["used_cpu_user"] + cpu["used_cpu_sys"],
            wal=int(wal),
            app=app_statements(self.app),
            monitored={label: monitored_statements(node) for label, node in self.monitored.items()},
        )


@dataclass
class Window:
    workers: int
    interval: int
    nodes: int
    seconds: float = 0.0
    samples: int = 0
    by_instance: Counter[str] = field(default_factory=Counter)
    service_rows: int = 0
    replica_rows: int = 0
    ages: list[float] = field(default_factory=list)
    missing: int = 0
    drift: list[float] = field(default_factory=list)  # gap between a node's samples minus the interval
    backlog: list[int] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds in the window
    busy: float = 0.0  # the machine's busy share
    redis_commands: int = 0
    redis_cpu: float = 0.0
    wal: int = 0
    app: Statements = field(default_factory=Statements)
    monitored: dict[str, Statements] = field(default_factory=dict)
    app_connections: int = 0
    redis_bytes: dict[str, list[int]] = field(default_factory=dict)  # by instance label: each node's keys' bytes
    redis_used: int = 0  # used_memory over the empty server's, after the window
    worker_pss: tuple[int, list[int]] = (0, [])  # KiB: the worker's main process, its pool processes
    message_bytes: float | None = None  # a queued sample's size in Redis

    @property
    def rate(self) -> float:
        return self.samples / self.seconds

    @property
    def due(self) -> float:
        return self.nodes / self.interval

    def per_sample_ms(self, component: str) -> float:
        return 1000 * self.cpu.get(component, 0.0) / max(1, self.samples)


def run_window(fx: Fixture, workers: int, interval: int, seconds: float) -> Window:
    win = Window(workers, interval, len(fx.nodes))
    poller = Poller(fx.redis.url, fx.nodes, fx.queue)
    before = fx.read()
    poller.start()
    end = before.mono + seconds
    while time.monotonic() < end:
        fx.procs.check()
        time.sleep(min(1.0, max(0.0, end - time.monotonic())))
    poller.stop()
    main = fx.procs.pid("worker")
    win.worker_pss = (pss_kib(main), [pss_kib(pid) for pid in children(main)])
    after = fx.read()
    win.seconds = after.mono - before.mono
    win.ages, win.backlog, win.missing = poller.ages, poller.backlog, poller.missing
    win.cpu = {k: after.cpu[k] - before.cpu.get(k, 0.0) for k in after.cpu}
    busy, total = (a - b for a, b in zip(after.ticks, before.ticks, strict=True))
    win.busy = busy / max(1, total)
    win.redis_commands = after.redis_commands - before.redis_commands
    win.redis_cpu = after.redis_cpu - before.redis_cpu
    win.wal = after.wal - before.wal
    win.app = after.app - before.app
    win.monitored = {k: after.monitored[k] - before.monitored[k] for k in after.monitored}
    instance_of = {(cluster_id, node): label for cluster_id, node, label in fx.nodes}
    with fx.app.meter() as conn:
        rows = conn.execute(
            "SELECT cluster_id, node, extract(epoch FROM sampled_at)::float8 FROM dashboard_nodesample"
            " WHERE sampled_at >= %s AND sampled_at < %s ORDER BY 1, 2, 3",
            [before.wall, after.wall],
        ).fetchall()
        for table, attr in (("servicesample", "service_rows"), ("replicasample", "replica_rows")):
            (n,) = conn.execute(
                f"SELECT count(*) FROM dashboard_{table} WHERE sampled_at >= %s AND sampled_at < %s",
                [before.wall, after.wall],
            ).fetchone()
            setattr(win, attr, n)
        (win.app_connections,) = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'"
            " AND usename = 'postgres'",
            [APP_DB],
        ).fetchone()
    win.samples = len(rows)
    last: dict[tuple[int, str], float] = {}
    for cluster_id, node, at in rows:
        win.by_instance[instance_of[(cluster_id, node)]] += 1
        if (cluster_id, node) in last:
            win.drift.append(at - last[(cluster_id, node)] - interval)
        last[(cluster_id, node)] = at
    return win


def redis_usage(fx: Fixture, win: Window) -> None:
    """Each node's keys in Redis (snapshot, full query texts, the dispatcher's claim), by instance label."""
    import redis

    from dashboard.snapshots import key

    client = redis.Redis.from_url(fx.redis.url)
    win.redis_used = client.info("memory")["used_memory"] - fx.redis.baseline
    claim = None
    for cluster_id, node, label in fx.nodes:
        sizes = [client.memory_usage(key(cluster_id, node, part), samples=0) for part in ("snapshot", "queries", "due")]
        if sizes[2]:
            claim = sizes[2]
        win.redis_bytes.setdefault(label, []).append(sum(s or 0 for s in sizes[:2]))
    # a claim exists for part of each interval only: every node is counted with one
    for sizes in win.redis_bytes.values():
        sizes[:] = [s + (claim or 0) for s in sizes]


def queued_message_bytes(fx: Fixture) -> float | None:
    import redis

    client = redis.Redis.from_url(fx.redis.url)
    n = client.llen(fx.queue)
    return client.memory_usage(fx.queue, samples=0) / n if n >= 20 else None


def start_worker(fx: Fixture, workers: int) -> None:
    """A fresh worker, as deploy/'s unit runs it; waits for its first sample. The queue is emptied first: what beat
    sent while no worker ran would be a burst no deployment sees."""
    import redis

    redis.Redis.from_url(fx.redis.url).delete(fx.queue, "celery")
    started = time.time()
    fx.procs.start(
        "worker", CELERY, "-A", "dashboard", "worker", "--pool", "prefork", "--concurrency", str(workers),
        "--queues", f"{fx.queue},celery", "--hostname", f"bench-fleet-{workers}@%h", "--loglevel", "WARNING",
    )  # fmt: skip
    poller = Poller(fx.redis.url, fx.nodes, fx.queue)
    deadline = time.monotonic() + 60
    while poller.newest() < started:
        fx.procs.check()
        if time.monotonic() > deadline:
            raise SystemExit(f"no sample in 60 s after the worker started:\n{fx.procs.tail('worker')}")
        time.sleep(0.2)


# --- after the windows: history volume and the dispatcher at 3,000 nodes -------------------------------------


@dataclass
class Table:
    rows: int
    bytes: int

    @property
    def per_row(self) -> float:
        return self.bytes / max(1, self.rows)


def history_tables(app: AppInstance) -> dict[str, Table]:
    """Rows and bytes (heap, indexes and TOAST of every partition) of each history table. The rollups are compacted
    first: their rows are updated in place by every sample of their bucket, and the dead versions a short run leaves
    would be counted as size."""
    out = {}
    with app.meter() as conn:
        for table in ("noderollup", "servicerollup", "replicarollup"):
            conn.execute(f"VACUUM FULL dashboard_{table}")
        conn.execute("ANALYZE")
        for table in HISTORY:
            (rows,) = conn.execute(f"SELECT count(*) FROM dashboard_{table}").fetchone()
            (size,) = conn.execute(
                "SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits"
                " WHERE inhparent = %s::regclass",
                [f"dashboard_{table}"],
            ).fetchone()
            out[table] = Table(int(rows), int(size))
    return out


@dataclass
class Dispatch:
    nodes: int = 0
    first_tick: int = 0  # samples the first tick queues when every node is due (the tick's budget)
    drain_ticks: int = 0  # ticks until every node due at once has been queued
    all_due: list[float] = field(default_factory=list)  # the real dispatch_sampling, every node due
    none_due: list[float] = field(default_factory=list)  # the same, every claim still held
    claims_only: list[float] = field(default_factory=list)  # dispatch_due with a no-op send, every node due
    catalog: list[float] = field(default_factory=list)  # dispatch_due's query of the clusters and their replicas
    message_bytes: float = 0.0


def measure_dispatch(redis_url: str, runs: int = 3) -> Dispatch:
    """Beat's tick with 1,000 clusters x 3 nodes registered (the fleet's clusters among them), in process."""
    import redis
    from django.test import override_settings

    from catalog.models import Cluster, Replica
    from dashboard import dispatch, tasks
    from dashboard.nodes import nodes_of

    missing = FLEET_CLUSTERS - Cluster.objects.count()
    if missing > 0:
        added = Cluster.objects.bulk_create(
            Cluster(name=f"dispatch-{i:04d}", dsn="host=127.0.0.1 port=9 dbname=postgres", sample_interval=INTERVAL)
            for i in range(missing)
        )
        Replica.objects.bulk_create(
            Replica(cluster=c, name=f"replica-{r}", dsn="host=127.0.0.1 port=9 dbname=postgres")
            for c in added
            for r in range(1, FLEET_REPLICAS + 1)
        )
    Cluster.objects.update(sample_interval=INTERVAL)
    client = redis.Redis.from_url(redis_url)

    def release_claims() -> None:
        keys = [
            k for what in ("due", "statements-due") for k in client.scan_iter(f"seamline:pools:*:{what}", count=1000)
        ]
        for i in range(0, len(keys), 1000):
            client.delete(*keys[i : i + 1000])

    def hold_statements_claims() -> None:
        # the steady state: a node's statements are sampled once a minute, so at any tick almost none is due; the
        # tick still asks (its cost is in the figures), but the drain below is the sessions' samples alone: with
        # every statements sample due too, their burst (75 a tick) outlasts the 5 s interval and the sessions'
        # claims lapse before the drain ends
        while dispatch.dispatch_due(lambda *_: None, "statements-due", "statements_interval"):
            pass

    def clusters() -> Any:  # as dispatch_due reads them
        return Cluster.objects.prefetch_related("replicas").only("id", "dsn", "sample_interval")

    def timed(fn: Any) -> tuple[float, int]:
        start = time.perf_counter()
        n = fn()
        return time.perf_counter() - start, n

    res = Dispatch(nodes=sum(len(nodes_of(c)) for c in clusters()))
    with override_settings(SAMPLING_QUEUE=VOID_QUEUE):  # dashboard.celery.route_task reads it at each send
        for run in range(runs + 1):  # the first, untimed, opens the connections
            release_claims()
            hold_statements_claims()
            client.delete(VOID_QUEUE)
            # every node due at once: the first tick queues its budget, the next ticks the rest, then none is due
            drain_started = time.monotonic()
            seconds, res.first_tick = timed(tasks.dispatch_sampling)
            queued, res.drain_ticks = res.first_tick, 1
            # until every node is queued (a drain longer than the interval would otherwise never end: the first
            # nodes' claims lapse and they are due again), then one tick more, which finds none due unless the drain
            # outlasted the interval
            while queued < res.nodes:
                _, sent = timed(tasks.dispatch_sampling)
                if not sent:
                    break
                queued, res.drain_ticks = queued + sent, res.drain_ticks + 1
            drained = time.monotonic() - drain_started
            _, late = timed(tasks.dispatch_sampling)
            queued += late
            # exactly once while the drain is shorter than the interval; after it, a node's claim has lapsed and the
            # node is rightly due again (a busy machine can take that long): then at least once
            within = drained < min(c.sample_interval for c in clusters())
            lost = queued < res.nodes or client.llen(VOID_QUEUE) < res.nodes
            twice = within and (queued != res.nodes or client.llen(VOID_QUEUE) != res.nodes)
            if lost or twice:
                raise SystemExit(
                    f"{queued} samples queued for {res.nodes} nodes in {drained:.1f} s: "
                    + ("one lost" if lost else "one sent twice")
                )
            release_claims()
            claims, _ = timed(lambda: dispatch.dispatch_due(lambda *_: None))
            # the tick with none due, as beat's tick is nearly always: every node claimed (without sending), then
            # the real dispatch, which finds nothing to send
            hold_statements_claims()
            while dispatch.dispatch_due(lambda *_: None):
                pass
            held, idle = timed(tasks.dispatch_sampling)
            if idle:
                raise SystemExit(f"{idle} samples queued by a tick with every node claimed")
            release_claims()
            catalog, _ = timed(lambda: sum(len(nodes_of(c)) for c in clusters()))
            if run:
                res.all_due.append(seconds)
                res.none_due.append(held)
                res.claims_only.append(claims)
                res.catalog.append(catalog)
    res.message_bytes = client.memory_usage(VOID_QUEUE, samples=0) / max(1, client.llen(VOID_QUEUE))
    client.delete(VOID_QUEUE)
    release_claims()
    return res


@dataclass(frozen=True)
class ConnectionCost:
    server_ms: float  # the server's CPU per connection opened and closed (a backend started and ended)
    client_ms: float  # the client's wall time for it


def connection_cost(server_pid: int, connect: Any, n: int = 100) -> ConnectionCost:
    """What opening and closing one connection costs a quiet server, as the sampler or Django opens it."""
    connect()
    time.sleep(0.5)
    cpu = tree_cpu(server_pid)
    start = time.perf_counter()
    for _ in range(n):
        connect()
    wall = time.perf_counter() - start
    time.sleep(0.5)  # the postmaster reaps the last backends, adding their CPU time to its own children's
    return ConnectionCost(1000 * (tree_cpu(server_pid) - cpu) / n, 1000 * wall / n)


def connection_costs(fx: Fixture) -> dict[str, ConnectionCost]:
    from django.db import connection

    from catalog.monitored import connect

    def django_connection() -> None:
        connection.connect()
        connection.close()

    def sampler_connection() -> None:
        with connect(fx.monitored["throwaway primary"].dsn):
            pass

    return {
        APP_CPU: connection_cost(fx.app.pid, django_connection),
        "throwaway primary": connection_cost(fx.monitored["throwaway primary"].pid, sampler_connection),
    }


# --- the run ---------------------------------------------------------------------------------------------------


@dataclass
class Results:
    windows: list[Window] = field(default_factory=list)
    tables: dict[str, Table] = field(default_factory=dict)
    dispatch: Dispatch = field(default_factory=Dispatch)
    held: dict[str, int] = field(default_factory=dict)
    snapshot_sessions: dict[str, int] = field(default_factory=dict)  # client sessions a node of each instance sees
    nodes: int = 0
    clusters: int = 0
    registered: Counter[str] = field(default_factory=Counter)  # nodes by monitored instance
    connections: dict[str, ConnectionCost] = field(default_factory=dict)  # by server
    idle_cpu: dict[str, float] = field(default_factory=dict)  # ms of CPU per second of each instance, not sampled


def measure(args: argparse.Namespace, fx: Fixture, logs: Path) -> Results:
    res = Results(nodes=len(fx.nodes), clusters=args.clusters, registered=Counter(label for *_, label in fx.nodes))
    res.held = {label: sum(g.idle + g.idle_in_transaction + g.active for g in groups) for label, groups in HELD.items()}
    fx.procs.start(
        "beat", CELERY, "-A", "dashboard", "beat", "--loglevel", "WARNING",
        "--schedule", str(logs / "beat-schedule"), "--pidfile", str(logs / "celerybeat.pid"),
    )  # fmt: skip
    for n in args.workers:
        set_interval(INTERVAL)
        start_worker(fx, n)
        log(f"{n} worker process(es) up; warm-up {2 * INTERVAL} s at a {INTERVAL} s interval")
        time.sleep(2 * INTERVAL)
        win = run_window(fx, n, INTERVAL, args.seconds)
        redis_usage(fx, win)
        res.windows.append(win)
        log(summary(win))
        set_interval(SATURATING_INTERVAL)
        time.sleep(3)
        win = run_window(fx, n, SATURATING_INTERVAL, args.saturate_seconds)
        win.message_bytes = queued_message_bytes(fx)
        res.windows.append(win)
        log(summary(win))
        fx.procs.stop("worker")
    fx.procs.stop_all()
    set_interval(INTERVAL)
    with fx.app.meter() as conn:
        for label in HELD:
            cluster_id, node, _ = next(n for n in fx.nodes if n[2] == label)
            (total,) = conn.execute(
                "SELECT total FROM dashboard_nodesample WHERE cluster_id = %s AND node = %s"
                " ORDER BY sampled_at DESC LIMIT 1",
                [cluster_id, node],
            ).fetchone()
            res.snapshot_sessions[label] = total
    log("what the instances use idle, and what a new connection costs Seamline's PostgreSQL and a monitored server")
    before, start = {label: tree_cpu(node.pid) for label, node in fx.monitored.items()}, time.monotonic()
    time.sleep(5)
    res.idle_cpu = {
        label: 1000 * (tree_cpu(node.pid) - before[label]) / (time.monotonic() - start)
        for label, node in fx.monitored.items()
    }
    res.connections = connection_costs(fx)
    log("history tables: compacting the rollups and measuring")
    res.tables = history_tables(fx.app)
    log(f"beat's tick with {FLEET_CLUSTERS} clusters x {1 + FLEET_REPLICAS} nodes registered")
    res.dispatch = measure_dispatch(fx.redis.url)
    return res


def summary(win: Window) -> str:
    return (
        f"{win.workers} process(es), {win.interval} s interval, {win.seconds:.0f} s: {win.rate:.1f} samples/s "
        f"(due {win.due:.0f}/s), freshness p50 {percentile(win.ages, 50):.1f} s p95 {percentile(win.ages, 95):.1f} s, "
        f"drift p95 {percentile(win.drift, 95) if win.drift else float('nan'):.2f} s, queue p95 "
        f"{percentile([float(b) for b in win.backlog], 95):.0f}, machine {win.busy:.0%} busy"
    )


# --- the report ------------------------------------------------------------------------------------------------


def yes_no(ok: bool | None) -> str:
    return "—" if ok is None else "yes" if ok else "**no**"


def pct(values: list[float], p: float) -> float:
    return percentile(values, p) if values else float("nan")


@dataclass
class Derived:
    """Per-sample and per-node figures from the windows, and what they make of the 1,000-cluster fleet."""

    worker_ms: float  # worker CPU per sample (1 process, 5 s)
    capacity: dict[int, float]  # samples/s per worker process at saturation, by process count
    app_ms: float  # Seamline's PostgreSQL CPU per sample
    app_statements: float  # statements per sample
    app_db_ms: float  # their time per sample
    app_sessions: float  # connections opened to Seamline's database per sample
    wal: float  # WAL bytes per sample
    redis_ms: float
    redis_commands: float
    redis_node: float  # bytes per node
    service_rows: float  # per sample
    replica_rows: float
    rows_day: dict[str, float]  # per node per day by table
    bytes_day: dict[str, float]
    # label: statements ms per sample, server CPU ms per sample, samples, connections opened per sample
    monitored: dict[str, tuple[float, float, int, float]]


def derive(res: Results) -> Derived:
    slow = [w for w in res.windows if w.interval == INTERVAL]
    fast = [w for w in res.windows if w.interval == SATURATING_INTERVAL]

    def per_sample(get: Any, windows: list[Window] = slow) -> float:
        return sum(get(w) for w in windows) / max(1, sum(w.samples for w in windows))

    one = next((w for w in slow if w.workers == 1), slow[0])
    t = res.tables
    node_samples = max(1, t["nodesample"].rows)
    node_buckets = max(1, t["noderollup"].rows)
    per_day = {
        "nodesample": SAMPLES_PER_DAY,
        "servicesample": SAMPLES_PER_DAY * t["servicesample"].rows / node_samples,
        "replicasample": SAMPLES_PER_DAY * t["replicasample"].rows / node_samples,
        "noderollup": BUCKETS_PER_DAY,
        "servicerollup": BUCKETS_PER_DAY * t["servicerollup"].rows / node_buckets,
        "replicarollup": BUCKETS_PER_DAY * t["replicarollup"].rows / node_buckets,
    }
    monitored = {}
    for label in HELD:
        n = sum(w.by_instance[label] for w in slow)
        ms = sum(w.monitored[label].ms for w in slow) / max(1, n)
        cpu = 1000 * sum(w.cpu[label] for w in slow) / max(1, n)
        monitored[label] = (ms, cpu, n, sum(w.monitored[label].sessions for w in slow) / max(1, n))
    redis_all = [b for sizes in slow[-1].redis_bytes.values() for b in sizes]
    return Derived(
        worker_ms=one.per_sample_ms("worker"),
        capacity={w.workers: w.rate / w.workers for w in fast},
        app_ms=1000 * per_sample(lambda w: w.cpu[APP_CPU]),
        app_statements=per_sample(lambda w: w.app.calls),
        app_db_ms=per_sample(lambda w: w.app.ms),
        app_sessions=per_sample(lambda w: w.app.sessions),
        wal=per_sample(lambda w: w.wal),
        redis_ms=1000 * per_sample(lambda w: w.redis_cpu),
        redis_commands=per_sample(lambda w: w.redis_commands),
        redis_node=sum(redis_all) / max(1, len(redis_all)),
        service_rows=t["servicesample"].rows / node_samples,
        replica_rows=t["replicasample"].rows / node_samples,
        rows_day=per_day,
        bytes_day={k: v * t[k].per_row for k, v in per_day.items()},
        monitored=monitored,
    )


def fleet_answer(res: Results, d: Derived) -> list[str]:
    """The 1,000-cluster fleet at 5 s by these figures (docs/scaling.md explains and rounds them)."""
    nodes = FLEET_CLUSTERS * (1 + FLEET_REPLICAS)
    rate = nodes / INTERVAL
    cap1 = d.capacity.get(1, 0.0)
    processes = math.ceil(rate / (0.6 * cap1)) if cap1 else 0
    day = sum(d.bytes_day.values())
    samples_day = sum(d.bytes_day[k] for k in ("nodesample", "servicesample", "replicasample"))
    rows_per_sample = 1 + d.service_rows + d.replica_rows
    connect = res.connections.get(APP_CPU)
    connecting = rate * d.app_sessions * connect.server_ms / 1000 if connect else float("nan")
    return [
        f"{nodes:,} nodes at {INTERVAL} s: {rate:.0f} samples/s",
        f"worker processes at ≤ 60 % of the capacity one process had here ({cap1:.0f} samples/s): {processes}; "
        f"worker CPU {rate * d.worker_ms / 1000:.1f} cores at 100 % ({d.worker_ms:.1f} ms per sample)",
        f"Seamline's PostgreSQL: {rate:.0f} transactions/s writing {rate * rows_per_sample:,.0f} sample rows/s and "
        f"upserting as many rollup rows; {rate * d.app_statements:,.0f} statements/s; "
        f"{rate * d.app_sessions:,.0f} connections opened/s; CPU {rate * d.app_ms / 1000:.1f} cores, of which "
        f"{connecting:.1f} for the connections; WAL {rate * d.wal / 2**20:.1f} MiB/s "
        f"({rate * d.wal * 86_400 / 2**30:.0f} GiB/day)",
        f"history: {nodes * day / 2**30:.1f} GiB/day ({nodes * samples_day / 2**30:.1f} GiB of it samples), "
        f"{7 * nodes * day / 2**30:.0f} GiB for 7 days' retention",
        f"Redis: {nodes * d.redis_node / 2**20:.0f} MiB of snapshots, {rate * d.redis_commands:,.0f} commands/s, "
        f"CPU {rate * d.redis_ms / 1000:.2f} cores; a burst of {nodes:,} queued samples "
        f"{nodes * res.dispatch.message_bytes / 2**20:.1f} MiB",
        f"beat's dispatch: {median(res.dispatch.all_due):.1f} s for a tick when every node falls due at once (it "
        f"queues {res.dispatch.first_tick:,} and leaves the rest to the next ticks), "
        f"{median(res.dispatch.none_due):.1f} s for a tick with none due",
    ]


def report(res: Results) -> tuple[list[str], list[str], list[str], list[str], list[str], bool]:
    d = derive(res)
    slow = {w.workers: w for w in res.windows if w.interval == INTERVAL}
    fast = {w.workers: w for w in res.windows if w.interval == SATURATING_INTERVAL}
    goals: list[tuple[str, str, str, bool | None]] = []
    for n, w in slow.items():
        p50, p95 = pct(w.ages, 50), pct(w.ages, 95)
        goals.append((
            f"snapshot freshness at {INTERVAL} s, {res.nodes} nodes, {n} worker process{'es' if n > 1 else ''}: "
            "age p50 (p95)",
            f"{p50:.1f} s ({p95:.1f} s)",
            f"p95 ≤ {GOAL_FRESHNESS * INTERVAL:.0f} s",
            p95 <= GOAL_FRESHNESS * INTERVAL and w.missing == 0,
        ))  # fmt: skip
    if 1 in slow:
        w = slow[1]
        goals.append((
            f"beat drift at {INTERVAL} s, 1 worker process: a node's gap between samples minus the interval, p50 (p95)",
            f"{pct(w.drift, 50):+.2f} s ({pct(w.drift, 95):+.2f} s)",
            f"p95 ≤ {GOAL_DRIFT:.0f} s",
            pct(w.drift, 95) <= GOAL_DRIFT,
        ))  # fmt: skip
    goals.append((
        f"sampling capacity per worker process ({SATURATING_INTERVAL} s interval, saturated), by processes",
        ", ".join(f"{n}: {w.rate / n:.0f} samples/s" for n, w in fast.items()),
        "reported",
        None,
    ))  # fmt: skip
    disp = res.dispatch
    goals.append((
        f"beat's tick with {disp.nodes:,} nodes registered, every node due (none due); it queues "
        f"{disp.first_tick:,} and the rest on the next ticks",
        f"{median(disp.all_due):.2f} s ({median(disp.none_due):.2f} s)",
        f"≤ {GOAL_DISPATCH:.0f} s",
        median(disp.all_due) <= GOAL_DISPATCH,
    ))  # fmt: skip
    worst = max(d.monitored.items(), key=lambda kv: kv[1][1])
    share = worst[1][1] / 1000 / INTERVAL
    goals.append((
        f"a monitored server's CPU per node at {INTERVAL} s (worst instance: {worst[0]})",
        f"{share:.2%} of a core ({worst[1][1]:.1f} ms per sample)",
        f"≤ {GOAL_MONITORED_SHARE:.0%}",
        share <= GOAL_MONITORED_SHARE,
    ))  # fmt: skip
    goals.append((
        "Redis memory per node (snapshot, query texts, claim)",
        f"{d.redis_node / 1024:.1f} KiB",
        "reported",
        None,
    ))  # fmt: skip
    day_rows = sum(d.rows_day.values())
    goals.append((
        f"history per node per day at {INTERVAL} s (samples and 5-minute rollups)",
        f"{day_rows:,.0f} rows, {sum(d.bytes_day.values()) / 2**20:.1f} MiB",
        "reported",
        None,
    ))  # fmt: skip
    goals.append((
        "Seamline's PostgreSQL per sample: statements, their time, CPU, WAL",
        f"{d.app_statements:.1f}, {d.app_db_ms:.2f} ms, {d.app_ms:.1f} ms, {d.wal / 1024:.1f} KiB",
        "reported",
        None,
    ))  # fmt: skip
    table = ["| figure | measured | goal | holds |", "| --- | --- | --- | --- |"]
    table += [f"| {label} | {value} | {goal} | {yes_no(ok)} |" for label, value, goal, ok in goals]

    windows = [
        "| worker processes | interval | samples/s (due) | per process | freshness p50 / p95 | drift p50 / p95 "
        "| queue p95 | CPU ms per sample: worker / Seamline's PostgreSQL / Redis | machine busy |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for w in res.windows:
        windows.append(
            f"| {w.workers} | {w.interval} s | {w.rate:.1f} ({w.due:.0f}) | {w.rate / w.workers:.1f} "
            f"| {pct(w.ages, 50):.1f} / {pct(w.ages, 95):.1f} s | {pct(w.drift, 50):+.2f} / {pct(w.drift, 95):+.2f} s "
            f"| {pct([float(b) for b in w.backlog], 95):.0f} "
            f"| {w.per_sample_ms('worker'):.1f} / {w.per_sample_ms(APP_CPU):.1f} "
            f"/ {1000 * w.redis_cpu / max(1, w.samples):.2f} | {w.busy:.0%} |"
        )
    monitored = [
        "| monitored instance | nodes registered on it | client sessions a sample sees | samples (5 s windows) "
        "| connections opened per sample | statement time per sample | server CPU per sample | per node at 5 s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, (ms, cpu, n, opened) in d.monitored.items():
        monitored.append(
            f"| {label} | {res.registered[label]} | {res.snapshot_sessions.get(label, 0)} | {n} | {opened:.2f} "
            f"| {ms:.2f} ms | {cpu:.1f} ms | {cpu / 1000 / INTERVAL:.2%} of a core |"
        )
    t = res.tables
    figures = [
        f"the fleet: {res.clusters} clusters of a primary and {FLEET_REPLICAS} replicas, {res.nodes} nodes; client "
        "sessions held for the run: "
        + ", ".join(f"{label} {n}" for label, n in res.held.items())
        + f"; {len(SERVICES)} services, so a primary's sample writes {d.service_rows:.1f} service rows on average over "
        "the fleet (a service with sessions on the node, and the unattributed ones, each a row)",
        "history rows per sample: 1 node row, "
        f"{d.service_rows:.2f} service rows, {d.replica_rows:.2f} replica rows (the standbys'); per node and day at "
        f"{INTERVAL} s ({SAMPLES_PER_DAY:,} samples, {BUCKETS_PER_DAY} rollup buckets): "
        + ", ".join(
            f"{k} {d.rows_day[k]:,.0f} rows × {t[k].per_row:.0f} B = {d.bytes_day[k] / 2**20:.2f} MiB" for k in HISTORY
        )
        + " (bytes per row: heap, indexes and TOAST of the partitions over their rows; rollups compacted by VACUUM "
        "FULL first)",
        "Seamline's PostgreSQL (5 s windows): "
        + "; ".join(
            f"{w.workers} process{'es' if w.workers > 1 else ''}: {w.app.calls / max(1, w.samples):.1f} statements "
            f"and {w.app.ms / max(1, w.samples):.2f} ms per sample, {w.app.sessions / max(1, w.samples):.2f} "
            f"connections opened per sample, {w.wal / max(1, w.samples) / 1024:.1f} KiB WAL per sample, "
            f"{w.app_connections} connections of the workers and beat open at the end"
            for w in slow.values()
        ),
        f"Seamline's PostgreSQL, statements per sample ({one_label(slow)}): "
        + ", ".join(
            f"{calls / first_slow(slow).samples:.2f}× `{shorten(query)}` ({ms / max(1, calls):.3f} ms)"
            for query, (calls, ms) in sorted(first_slow(slow).app.by_query.items(), key=lambda kv: -kv[1][0])
            if calls >= 0.05 * first_slow(slow).samples
        ),
        "a new connection, opened and closed 100 times on the quiet server after the windows: "
        + "; ".join(
            f"{label} {c.server_ms:.1f} ms of server CPU ({c.client_ms:.1f} ms for the client)"
            for label, c in res.connections.items()
        )
        + " (Django's connection to Seamline's database, the sampler's to a monitored node); not sampled, over 5 s, "
        "the monitored instances used "
        + ", ".join(f"{label} {ms:.0f} ms" for label, ms in res.idle_cpu.items())
        + " of CPU per second (background processes, WAL replay on the replica; /proc counts 10 ms ticks): the "
        "table's server CPU includes it",
        "Redis per node after the last 5 s window, by instance: "
        + "; ".join(
            f"{label} {sum(v) / len(v) / 1024:.1f} KiB" for label, v in last_slow(slow).redis_bytes.items() if v
        )
        + f"; Redis' used_memory {last_slow(slow).redis_used / 2**20:.1f} MiB over the empty server's "
        f"({last_slow(slow).redis_used / res.nodes / 1024:.1f} KiB per node, Celery's own keys and the allocator's "
        f"overhead included); {d.redis_commands:.1f} commands per sample (broker and snapshots; the benchmark's "
        f"own reads every {POLL} s included), {d.redis_ms:.2f} ms of Redis CPU per sample; a queued sample message "
        f"{res.dispatch.message_bytes:,.0f} B",
        f"beat's tick, in process, {disp.nodes:,} nodes registered: the real `dispatch_sampling` with every node "
        f"due {fmt_runs(disp.all_due)} (it queues its budget, {disp.first_tick:,} samples, 1.5x the fleet's "
        f"steady rate; every node is queued once within {disp.drain_ticks} ticks), none due "
        f"{fmt_runs(disp.none_due)}, `dispatch_due` with a no-op send, every node due "
        f"{fmt_runs(disp.claims_only)} (which nodes are due, then their claims: two Redis round trips), of which "
        f"the query of the clusters and replicas {fmt_runs(disp.catalog)}",
        "the worker's memory (PSS, the pool processes' pages shared with the main process counted once) after "
        "the 5 s windows: "
        + "; ".join(
            f"{w.workers} process{'es' if w.workers > 1 else ''}: main {w.worker_pss[0] / 1024:.0f} MiB, each pool "
            f"process {median(w.worker_pss[1] or [0]) / 1024:.0f} MiB"
            for w in slow.values()
        ),
        "CPU in the 5 s windows, seconds per second: "
        + "; ".join(
            f"{w.workers} process{'es' if w.workers > 1 else ''}: "
            + ", ".join(f"{k} {v / w.seconds:.2f}" for k, v in w.cpu.items())
            for w in slow.values()
        ),
    ]
    answer = fleet_answer(res, d)
    ok = all(ok for *_, ok in goals if ok is not None)
    return table, windows, monitored, figures, answer, ok


def first_slow(slow: dict[int, Window]) -> Window:
    return next(iter(slow.values()))


def last_slow(slow: dict[int, Window]) -> Window:
    return list(slow.values())[-1]


def one_label(slow: dict[int, Window]) -> str:
    w = first_slow(slow)
    return f"{w.workers} process{'es' if w.workers > 1 else ''}, {w.interval} s, {w.samples} samples"


def shorten(query: str, width: int = 60) -> str:
    return query if len(query) <= width else query[: width - 1] + "…"


def fmt_runs(values: list[float]) -> str:
    return f"{median(values):.3f} s ({min(values):.3f}-{max(values):.3f} s over {len(values)} runs)"


def drop(dev: Monitored, bindir: Path) -> None:
    Processes.stop_leftovers(BASE, b"celery")  # the worker and beat, by the pid files they left in BASE
    Redis.stop_leftover()
    for name in ("monitored", "app"):
        Instance(bindir, BASE / name).remove()
    shutil.rmtree(BASE, ignore_errors=True)
    drop_dev_objects(dev)


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__, drop="remove what a killed run left behind, and exit")
    parser.add_argument("--clusters", type=int, default=40, help="clusters of 3 nodes (default 40: 120 nodes)")
    parser.add_argument("--seconds", type=float, default=40, help=f"each window at {INTERVAL} s (default 40)")
    parser.add_argument(
        "--saturate-seconds", type=float, default=20, help=f"each window at {SATURATING_INTERVAL} s (default 20)"
    )
    parser.add_argument("--workers", default="1,2,4", help="worker process counts (default 1,2,4)")
    args = parser.parse_args(argv)
    args.workers = [int(n) for n in args.workers.split(",")]
    if args.clusters * 3 < 100 or args.seconds < 10 or args.saturate_seconds < 5 or min(args.workers) < 1:
        parser.error("at least 34 clusters (100 nodes), --seconds 10, --saturate-seconds 5 and 1 worker process")

    exit_on_sigterm()
    # and Ctrl-C does so even when the shell that started it in the background left SIGINT ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    host = os.environ.get("SEAMLINE_PG_HOST", "127.0.0.1")
    dev_primary = Monitored("dev primary", int(os.environ.get("SEAMLINE_PG_PORT", "54329")))
    dev_replica = Monitored("dev replica", int(os.environ.get("SEAMLINE_REPLICA_PORT", "54330")))
    if host != "127.0.0.1":
        raise SystemExit("the fleet benchmark measures the dev stack's servers on this machine (127.0.0.1)")
    with connect_dev_stack(host, dev_primary.port) as conn:
        major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000
    bindir = pg_client("initdb", major).parent
    if args.drop:
        drop(dev_primary, bindir)
        print(f"removed {BASE} (instances, Redis), role {MONITOR_ROLE} and database {METER_DB} on the dev stack")
        return 0
    monitored_instance = Instance(bindir, BASE / "monitored")
    app = AppInstance(bindir, BASE / "app")
    if monitored_instance.running() or app.running():
        raise SystemExit(f"a previous run's instance still runs in {BASE}: run bench/fleet.py --drop first")

    started = time.perf_counter()
    print(
        f"fleet benchmark: {args.clusters * 3} nodes, worker processes {args.workers}; each: {args.seconds:.0f} s at "
        f"{INTERVAL} s, {args.saturate_seconds:.0f} s at {SATURATING_INTERVAL} s; then beat's tick at "
        f"{FLEET_CLUSTERS * 3:,} nodes"
    )
    redis_server = Redis()
    sessions = Sessions()
    procs: Processes | None = None
    try:
        Redis.stop_leftover()
        BASE.mkdir(mode=0o755, exist_ok=True)
        monitored_instance.create()
        app.create()
        throwaway = Monitored("throwaway primary", monitored_instance.port)
        for node in (throwaway, dev_primary):
            prepare_primary(node)
        wait_for_replay(dev_replica)
        for node in (throwaway, dev_primary, dev_replica):
            describe(node)
        redis_server.start()
        log(
            f"instances up: monitored 127.0.0.1:{throwaway.port}, Seamline's 127.0.0.1:{app.port}, Redis "
            f"127.0.0.1:{redis_server.port}"
        )
        env = bench_env(app, redis_server.url)
        setup_django(env)
        from django.conf import settings

        migrated = run_timed([PY, "manage.py", "migrate", "--noinput", "-v0"], env={**os.environ, **env})
        log(f"Seamline's database migrated ({migrated.seconds:.0f} s)")
        nodes = register(args.clusters, [throwaway, dev_primary], dev_replica)
        sessions.open({"throwaway primary": throwaway, "dev primary": dev_primary, "dev replica": dev_replica})
        log(f"{len(nodes)} nodes registered, {len(sessions.conns)} client sessions held")
        logs = BASE / "logs"  # the worker's and beat's, removed with the rest
        logs.mkdir()
        # a warm shutdown, as the systemd units' KillMode=mixed: TERM to the main process only, KILL to the group
        # after 10 s (what it was doing is measured already); pid files in BASE for --drop, should this run be killed
        procs = Processes(logs, env, kill_mode="mixed", grace=10, pids=BASE)
        fx = Fixture(
            app, redis_server, {n.label: n for n in (throwaway, dev_primary, dev_replica)}, procs, nodes,
            settings.SAMPLING_QUEUE,
        )  # fmt: skip
        res = measure(args, fx, logs)
    finally:
        if procs is not None:
            procs.stop_all()
        sessions.close()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        redis_server.stop()
        for instance in (monitored_instance, app):
            if instance.created:
                instance.remove()
        drop_dev_objects(dev_primary)
        shutil.rmtree(BASE, ignore_errors=True)
    elapsed = time.perf_counter() - started

    import celery
    from django import get_version

    info = machine(
        {
            "PostgreSQL": f"{dev_primary.version} (all instances, same machine)",
            "Redis": redis_server.version,
            "Django": get_version(),
            "Celery": celery.__version__,
            "psycopg": psycopg.__version__,
        }
    )
    table, windows, monitored, figures, answer, all_hold = report(res)
    print("\n" + "\n".join(table) + "\n")
    print("\n".join(windows) + "\n")
    print("\n".join(monitored) + "\n")
    print("\n".join(f"- {line}" for line in figures))
    print("\nextrapolated to the 1,000-cluster fleet:")
    print("\n".join(f"- {line}" for line in answer))
    print(f"\nthe benchmark took {elapsed:.0f} s")
    print("\n" + ("every goal holds" if all_hold else "GOAL MISSED: see the figures above"))

    if not args.no_docs:
        body = [
            f"## Fleet simulation: the real sampler over {res.nodes} nodes (issue 8)",
            "",
            paragraph(
                f"`bench/fleet.py`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, took {elapsed:.0f} s. {res.clusters} "
                f"clusters of a primary and {FLEET_REPLICAS} streaming replicas ({res.nodes} nodes) on three local "
                "PostgreSQL instances, each registered under many cluster names: the primaries alternate between a "
                "throwaway instance and the dev primary, every replica is the dev replica. A real `celery beat` "
                "(DatabaseScheduler, dispatch every second) and a real `celery worker --pool prefork --concurrency N` "
                f"sample them, for N = {', '.join(map(str, args.workers))}: {args.seconds:.0f} s at a {INTERVAL} s "
                f"interval after a warm-up, then {args.saturate_seconds:.0f} s at {SATURATING_INTERVAL} s, which the "
                "workers cannot keep up with here (their capacity). Seamline's tables are on a durable throwaway "
                "instance (fsync, synchronous_commit, full_page_writes on), its snapshots and queues on a throwaway "
                "Redis: nothing else uses either. Everything shares the machine's 2 cores: the worker, beat, four "
                "PostgreSQL servers, Redis and the benchmark. docs/scaling.md sizes a 1,000-cluster fleet from these "
                "figures."
            ),
            "",
            *table,
            "",
            paragraph(
                "Each window (freshness: every snapshot's age read every 0.5 s; drift: a node's gap between two "
                "samples minus the interval; CPU from /proc, PostgreSQL's and the worker's child processes included):"
            ),
            "",
            *windows,
            "",
            paragraph(
                f"What sampling costs each monitored server ({INTERVAL} s windows; statement time is "
                "pg_stat_statements' planning + execution of the monitoring role's statements, server CPU is the "
                "whole instance's, backends started and ended for each sample included):"
            ),
            "",
            *monitored,
            "",
            *[bullet(line) for line in figures],
            "",
            paragraph(
                f"Extrapolated to {FLEET_CLUSTERS:,} clusters × {1 + FLEET_REPLICAS} nodes at {INTERVAL} s (linear in "
                "the figures above; docs/scaling.md rounds them and says what is measured and what is not):"
            ),
            "",
            *[bullet(line) for line in answer],
        ]
        reproduce = (
            "Reproduce: `make bench`, or `.venv/bin/python bench/fleet.py [--clusters N] [--seconds N] "
            "[--saturate-seconds N] [--workers 1,2,4]` with the dev stack running (`make services`). It starts "
            f"and removes its own instances and Redis (in `{BASE}`) and, on the dev stack, a role "
            f"(`{MONITOR_ROLE}`) and a database (`{METER_DB}`); `--drop` removes what a killed run left behind."
        )
        write_report(NAME, body, info, reproduce)
    return 0 if all_hold else 1


if __name__ == "__main__":
    sys.exit(main())
