"""Benchmark: the Pools pages and what live sampling costs the monitored cluster (issue 4).

The monitored side is a throwaway PostgreSQL instance of the dev stack's major version, started here (as the
``postgres`` OS user when run as root) in ``/tmp/seamline-bench-pools`` on a free port from 54339 with
``max_connections = 300`` and pg_stat_statements (planning time tracked): the dev primary allows 100 connections
and cannot be restarted under the running stack. It gets the demo's roles and (empty) databases (``shop``,
``payments``, ``analytics``), and this benchmark holds 220 sessions on it for the whole run, spread over the four demo
services by ``application_name`` and role: idle, idle in transaction (``SELECT 1`` in an open transaction), running
``SELECT pg_sleep(600)``, waiting on an advisory lock another session holds, plus 10 unattributed ones
(``bench-stray``, user postgres). Seamline's own tables live in database ``seamline_bench_pools`` on the dev primary
(created and migrated here), holding only the demo catalog (demo/catalog.yaml) pointed at that instance, without a
replica; live data goes to Redis database 3 (flushed before and after; `make run` uses database 0). Settings are
production's: ``SEAMLINE_DEBUG=0``. The hourly catalog sync is disabled in that database: it is not sampling.

Measured:

- server time of ``/pools/`` and ``/pools/<cluster>/`` and of their htmx partials (the same URL with
  ``HX-Request: true``, what the page polls every 5 s), in process with django.test.Client as a logged-in superuser
  (who is also shown full query texts), against the snapshot of the node once its sessions are older than the
  offender thresholds, so that every list on the page is filled: ``--requests`` (default 300) requests of each after
  20 of warm-up, interleaved, p50 and p95; then where the time goes (Seamline's database, Redis, the rest), also
  for the cluster's partial while the sessions were still younger than the thresholds (short lists) and for a user
  without ``view_full_query``; cProfile's top functions are printed when a page misses its goal, or on ``--profile``;
- statements reaching the monitored server in ``--seconds`` (default 60) with a real Celery worker and beat (the
  migration's schedule: dispatch every second, each node sampled at its cluster's interval) and ``manage.py
  runserver`` running, while 1 and then 50 viewers poll the cluster page's partial over HTTP every 5 s (each loads
  the whole page first; the 50 start staggered over 5 s): from pg_stat_statements of database ``postgres``, where
  the sampler connects (BEGIN and COMMIT included; read from another database). Each window starts half a sampling
  interval after a sample landed;
- the sampler's database time per node and sample: planning plus execution time, from pg_stat_statements, of the
  statements of the samples taken in both windows; and a sample's wall time in process (``sampling.sample_node``,
  by part).

Goals (issue 4): p50 <= 10 ms for each page and partial; the statements reaching the monitored server in the window
with 50 viewers equal those with 1 viewer within 10 %.

Run: ``make bench``, or ``.venv/bin/python bench/pools.py [--seconds N] [--requests N] [--profile] [--no-docs]``,
or ``... --drop`` to remove what it created (database ``seamline_bench_pools``, a throwaway instance left behind by
a killed run, Redis database 3) and exit. Everything it starts (instance, sessions, worker, beat, web server) is
stopped when it ends, on failure and Ctrl-C too. The report is printed and written to this benchmark's own section of
docs/benchmarks.md (between ``<!-- bench:pools -->`` markers; ``--no-docs`` skips that). Exit status 1 when a goal
is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from string import Template
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import yaml  # noqa: E402

from bench._common import (  # noqa: E402
    Processes,
    argument_parser,
    bullet,
    connect_dev_stack,
    exit_on_sigterm,
    fmt_ms,
    machine,
    median,
    paragraph,
    pg_client,
    run_timed,
    setup_django,
    write_report,
)

NAME = "pools"
PY = sys.executable
APP_DB = "seamline_bench_pools"
REDIS_DB = 3  # `make run` uses 0, the tests their own server
INSTANCE_DIR = Path("/tmp/seamline-bench-pools")
FIRST_PORT = 54339
MAX_CONNECTIONS = 300
CLUSTER = "demo"  # demo/catalog.yaml's cluster, pointed at the throwaway instance
METER_DB = "bench_meter"  # pg_stat_statements is read from here, so that reading it is not counted
LOCK_KEY = 4242  # the advisory lock the "waiting" sessions wait on
GOAL_PAGE_MS = 10.0
GOAL_QUERIES = 0.10
VIEWERS = 50
WARM_UP = 20
SECRET_KEY = "seamline-bench-pools-not-a-secret"


@dataclass(frozen=True)
class Group:
    """Sessions held on the monitored instance under one application_name and role."""

    application_name: str
    role: str
    database: str
    idle: int
    idle_in_transaction: int  # SELECT 1 in a transaction left open
    active: int  # SELECT pg_sleep(600), sent and never waited for
    waiting: int = 0  # wait on an advisory lock held by one more session of the group, idle in transaction

    @property
    def total(self) -> int:
        return self.idle + self.idle_in_transaction + self.active + self.waiting + (1 if self.waiting else 0)


FLEET = (
    Group("user_service", "user_svc", "shop", idle=50, idle_in_transaction=8, active=2),
    Group("order_service", "order_svc", "shop", idle=55, idle_in_transaction=10, active=3, waiting=3),
    Group("product_service", "product_svc", "shop", idle=30, idle_in_transaction=4, active=2),
    Group("payment_service", "payment_svc", "payments", idle=35, idle_in_transaction=5, active=2),
    Group("bench-stray", "postgres", "shop", idle=8, idle_in_transaction=2, active=0),  # unattributed
)
# the demo's databases: one SQL file each (demo/sql), and its roles' own
DEMO_DATABASES = sorted(p.stem for p in (ROOT / "demo" / "sql").glob("*.sql") if p.stem != "roles")
ROLES = ("user_svc", "order_svc", "product_svc", "payment_svc", "analytics_svc", "analyst")


def redis_url() -> str:
    return f"redis://127.0.0.1:{os.environ.get('SEAMLINE_REDIS_PORT', '6380')}/{REDIS_DB}"


def bench_env() -> dict[str, str]:
    """What this process and every process it starts run with: Seamline's tables, Redis database, production mode."""
    return {
        "SEAMLINE_DB_NAME": APP_DB,
        "SEAMLINE_REDIS_URL": redis_url(),
        "SEAMLINE_DEBUG": "0",
        "SEAMLINE_SECRET_KEY": SECRET_KEY,  # the same everywhere: a session made here is valid for the web server
        "PYTHONUNBUFFERED": "1",
    }


# --- the monitored side: a throwaway instance ------------------------------------------------------------------


class Instance:
    """A PostgreSQL instance of its own in INSTANCE_DIR, run as the postgres OS user when we are root."""

    def __init__(self, bindir: Path, path: Path = INSTANCE_DIR) -> None:
        self.bindir, self.path, self.data = bindir, path, path / "data"
        self.port = 0
        self.version = ""
        self.created = False  # only an instance this run created is removed when it ends

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / program), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=False)

    def running(self) -> bool:
        return self.data.is_dir() and self._run("pg_ctl", "-D", str(self.data), "status").returncode == 0

    @property
    def conninfo(self) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.port, "connect_timeout": 5}

    def create(self) -> None:
        self._make_folder()
        self._check(
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"),
            "initdb",
        )
        self._start(
            {
                "max_connections": MAX_CONNECTIONS,
                "shared_preload_libraries": "'pg_stat_statements'",
                "pg_stat_statements.track_planning": "on",
                # throwaway data
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
                # a backend whose client is gone (a pg_sleep session when we close it) ends within a second
                "client_connection_check_interval": "1000",
            }
        )

    def create_standby(self, primary: Instance, name: str) -> None:
        """A streaming replica of ``primary``: a base backup through a physical slot named ``name``, recovery
        configured by pg_basebackup (-R), connecting as application ``name``."""
        self._make_folder()
        conninfo = f"host=127.0.0.1 port={primary.port} user=postgres application_name={name}"
        # a fast checkpoint: a spread one makes the backup wait minutes for nothing
        backup = ["-d", conninfo, "-D", str(self.data), "-R", "-X", "stream", "-C", "-S", name, "--checkpoint", "fast"]
        self._check(self._run("pg_basebackup", *backup), "pg_basebackup")
        self._start({"max_connections": MAX_CONNECTIONS, "hot_standby": "on"})

    def _make_folder(self) -> None:
        if self.running():
            raise SystemExit(f"a previous run's instance still runs in {self.path}: run the benchmark with --drop")
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(mode=0o700)
        self.created = True
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.path, owner.pw_uid, owner.pw_gid)
        self.port = free_port(FIRST_PORT)

    def _start(self, settings: dict[str, Any]) -> None:
        """Its own port and socket folder, then ``settings``, appended to postgresql.conf; started."""
        settings = {
            "port": self.port,
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.path}'",
            **settings,
        }
        conf = "".join(f"{k} = {v}\n" for k, v in settings.items())
        with (self.data / "postgresql.conf").open("a") as f:
            f.write("\n# bench/\n" + conf)
        log = self.path / "server.log"
        self._check(
            self._run("pg_ctl", "-D", str(self.data), "-l", str(log), "-w", "-t", "60", "start"), "pg_ctl start"
        )

    def stop(self) -> None:
        if self.running():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.path, ignore_errors=True)

    @staticmethod
    def _check(proc: subprocess.CompletedProcess[str], what: str) -> None:
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
            raise SystemExit(f"{what} failed (exit {proc.returncode})")


def free_port(start: int) -> int:
    for port in range(start, start + 100):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit(f"no free port in {start}-{start + 99}")


def prepare_monitored(instance: Instance) -> None:
    """The demo's roles and databases (empty), and pg_stat_statements in a database of its own for reading it."""
    with psycopg.connect(**instance.conninfo, user="postgres", dbname="postgres", autocommit=True) as conn:
        instance.version = conn.execute("SHOW server_version").fetchone()[0].split()[0]
        for role in ROLES:
            conn.execute(f"CREATE ROLE {role} LOGIN")
        for database in (*DEMO_DATABASES, METER_DB):
            conn.execute(f"CREATE DATABASE {database}")
    with meter(instance) as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")


@contextmanager
def meter(instance: Instance) -> Iterator[psycopg.Connection]:
    with psycopg.connect(
        **instance.conninfo, user="postgres", dbname=METER_DB, autocommit=True, application_name="bench-meter"
    ) as conn:
        yield conn


class Fleet:
    """The sessions held on the monitored instance for the whole run."""

    def __init__(self) -> None:
        self.conns: list[psycopg.Connection] = []

    def _connect(self, instance: Instance, group: Group, autocommit: bool = True) -> psycopg.Connection:
        conn = psycopg.connect(
            **instance.conninfo,
            user=group.role,
            dbname=group.database,
            application_name=group.application_name,
            autocommit=autocommit,
        )
        self.conns.append(conn)
        return conn

    def open(self, instance: Instance) -> None:
        for group in FLEET:
            for _ in range(group.idle):
                self._connect(instance, group)
            for _ in range(group.idle_in_transaction):
                self._connect(instance, group, autocommit=False).execute("SELECT 1")
            for _ in range(group.active):
                self._connect(instance, group).pgconn.send_query(b"SELECT pg_sleep(600)")
            if group.waiting:
                holder = self._connect(instance, group, autocommit=False)
                holder.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
                for _ in range(group.waiting):
                    self._connect(instance, group).pgconn.send_query(
                        f"SELECT pg_advisory_xact_lock({LOCK_KEY})".encode()
                    )

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(Exception):  # closing what is left, whatever state it is in
                conn.close()
        self.conns.clear()


# --- Seamline's side -------------------------------------------------------------------------------------------


def prepare_app(admin: psycopg.Connection, instance: Instance) -> Any:
    """Seamline's database for the benchmark: created, migrated, holding the demo catalog pointed at the instance
    (and no other cluster); returns the cluster."""
    from django_celery_beat.models import PeriodicTask

    from catalog import catalog_file
    from catalog.models import Cluster

    if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [APP_DB]).fetchone():
        admin.execute(f'CREATE DATABASE "{APP_DB}"')
    run_timed([PY, "manage.py", "migrate", "--noinput", "-v0"], env={**os.environ, **bench_env()})

    text = Template((ROOT / "demo" / "catalog.yaml").read_text()).substitute(
        host="127.0.0.1", primary_port=instance.port, replica_port=instance.port
    )
    data = yaml.safe_load(text)
    for cluster in data["clusters"]:
        cluster.pop("replicas", None)  # one node: the instance
    Cluster.objects.all().delete()  # history and ownerships of earlier runs go with it
    catalog_file.apply(catalog_file.load(yaml.safe_dump(data)))
    PeriodicTask.objects.filter(task="catalog.tasks.sync_all_clusters").update(enabled=False)
    return Cluster.objects.prefetch_related("replicas").get(name=CLUSTER)


def bench_user(superuser: bool = True) -> Any:
    """A superuser (who sees everything, full query texts included), or a user with no permission at all."""
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.update_or_create(
        username="bench-pools" if superuser else "bench-pools-viewer",
        defaults={"is_staff": superuser, "is_superuser": superuser},
    )
    user.set_unusable_password()
    user.save()
    return user


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(redis_url()).flushdb()


def start_stack(procs: Processes, tmp: Path) -> str:
    """Worker, beat and web server as `make run` starts them (Procfile); returns the web server's base URL."""
    from django.conf import settings

    celery = str(ROOT / ".venv" / "bin" / "celery")
    port = free_port(18000)
    queues = ",".join(dict.fromkeys(["celery", settings.SAMPLING_QUEUE, settings.AUDIT_QUEUE, settings.SYNC_QUEUE]))
    procs.start(
        "worker", celery, "-A", "dashboard", "worker", "--loglevel", "WARNING", "--concurrency", "2",
        "--queues", queues, "--hostname", "bench-pools@%h",
    )  # fmt: skip
    procs.start(
        "beat", celery, "-A", "dashboard", "beat", "--loglevel", "WARNING",
        "--schedule", str(tmp / "beat-schedule"), "--pidfile", str(tmp / "beat.pid"),
    )  # fmt: skip
    procs.start("web", PY, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}")
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        procs.check()
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return base
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"the web server did not answer in 60 s:\n{procs.tail('web')}")
        time.sleep(0.2)


def wait_for_sample(cluster: Any, after: str | None, procs: Processes | None, timeout: float = 60) -> dict[str, Any]:
    """The node's next snapshot: the first one whose sampled_at differs from ``after``."""
    from dashboard import snapshots
    from dashboard.nodes import PRIMARY

    deadline = time.monotonic() + timeout
    while True:
        snap = snapshots.read(cluster.pk, PRIMARY)
        if snap and snap["sampled_at"] != after:
            if snap["status"] != "ok":
                raise SystemExit(f"the sampler could not read the instance: {snap.get('message')}")
            return snap
        if procs:
            procs.check()
        if time.monotonic() > deadline:
            logs = "\n".join(procs.tail(n) for n in ("worker", "beat")) if procs else ""
            raise SystemExit(f"no sample of {cluster.name} in {timeout:.0f} s\n{logs}")
        time.sleep(0.05)


# --- statements reaching the monitored server ------------------------------------------------------------------


def statement_kind(query: str) -> str:
    text = query.strip().upper()
    if "PG_STAT_ACTIVITY" in text:
        return "sessions SQL"
    if "PG_IS_IN_RECOVERY" in text:  # SETTINGS_SQL (pg_stat_statements shows the setting names as $1, $2)
        return "settings SQL"
    if text.startswith("BEGIN") or text.startswith("START TRANSACTION"):
        return "BEGIN"
    if text.startswith("COMMIT") or text.startswith("ROLLBACK"):
        return text.split()[0]
    return "other"


@dataclass
class Statements:
    calls: Counter[str] = field(default_factory=Counter)  # by kind
    ms: Counter[str] = field(default_factory=Counter)  # planning + execution, by kind
    plan_ms: Counter[str] = field(default_factory=Counter)  # planning alone
    rows: Counter[str] = field(default_factory=Counter)
    other: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def __iadd__(self, other: Statements) -> Statements:
        self.calls += other.calls
        self.ms += other.ms
        self.plan_ms += other.plan_ms
        self.rows += other.rows
        self.other += other.other
        return self


def reset_statements(instance: Instance) -> None:
    with meter(instance) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")


def read_statements(instance: Instance) -> Statements:
    """What reached database postgres (where the sampler connects) since the last reset."""
    out = Statements()
    with meter(instance) as conn:
        rows = conn.execute(
            "SELECT query, calls, total_plan_time + total_exec_time, total_plan_time, rows FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'postgres')"
        ).fetchall()
    for query, calls, ms, plan_ms, nrows in rows:
        kind = statement_kind(query)
        out.calls[kind] += calls
        out.ms[kind] += ms
        out.plan_ms[kind] += plan_ms
        out.rows[kind] += nrows
        if kind == "other":
            out.other.append(" ".join(query.split())[:80])
    return out


# --- viewers ---------------------------------------------------------------------------------------------------


@dataclass
class Window:
    viewers: int
    seconds: float
    statements: Statements = field(default_factory=Statements)
    samples: int = 0  # samples of the node taken during the window (history rows)
    pages: int = 0  # whole pages loaded
    partial_ms: list[float] = field(default_factory=list)  # each poll's round trip over HTTP
    failed: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return self.pages + len(self.partial_ms) + len(self.failed)


def viewer(url: str, cookie: str, delay: float, poll: float, stop_at: float, win: Window, lock: threading.Lock) -> None:
    """A browser on the cluster's page: loads it, then polls its partial every ``poll`` seconds, as htmx does."""
    time.sleep(delay)
    first, next_at = True, time.monotonic()
    while time.monotonic() < stop_at:
        headers = {"Cookie": cookie} | ({} if first else {"HX-Request": "true", "HX-Target": "live"})
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as resp:
                body = resp.read()
                ok = resp.status == 200 and (first or b"<html" not in body) and b'id="live"' in body
                problem = "" if ok else f"status {resp.status}, {len(body)} bytes"
        except (urllib.error.URLError, OSError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        ms = (time.perf_counter() - start) * 1000
        with lock:
            if problem:
                win.failed.append(problem)
            elif first:
                win.pages += 1
            else:
                win.partial_ms.append(ms)
        first = False
        next_at += poll
        time.sleep(max(0.0, min(next_at, stop_at) - time.monotonic()))


def run_window(
    instance: Instance, cluster: Any, base: str, cookie: str, viewers: int, seconds: float, procs: Processes
) -> Window:
    """``viewers`` polling for ``seconds``, started half a sampling interval after a sample landed."""
    from dashboard import snapshots
    from dashboard.models import NodeSample
    from dashboard.nodes import PRIMARY
    from dashboard.snapshots import REFRESH_SECONDS

    win = Window(viewers, seconds)
    last = snapshots.read(cluster.pk, PRIMARY)
    wait_for_sample(cluster, last["sampled_at"] if last else None, procs)
    time.sleep(cluster.sample_interval / 2)
    url = f"{base}/pools/{cluster.pk}/"
    lock = threading.Lock()
    reset_statements(instance)
    started, start = datetime.now(UTC), time.monotonic()
    stop_at = start + seconds
    threads = [
        threading.Thread(
            target=viewer,
            args=(url, cookie, i * REFRESH_SECONDS / viewers, REFRESH_SECONDS, stop_at, win, lock),
            daemon=True,
        )
        for i in range(viewers)
    ]
    for t in threads:
        t.start()
    time.sleep(max(0.0, stop_at - time.monotonic()))
    win.statements = read_statements(instance)
    ended = datetime.now(UTC)
    for t in threads:
        t.join(timeout=15)
    procs.check()
    win.samples = NodeSample.objects.filter(
        cluster=cluster, node=PRIMARY, sampled_at__gte=started, sampled_at__lt=ended
    ).count()
    return win


# --- in process: page server time and the sampler's parts ------------------------------------------------------


@dataclass(frozen=True)
class Page:
    label: str
    url: str
    partial: bool

    @property
    def headers(self) -> dict[str, str]:
        return {"HX-Request": "true", "HX-Target": "live"} if self.partial else {}


def pages_of(cluster: Any) -> list[Page]:
    url = f"/pools/{cluster.pk}/"
    return [
        Page(f"`{url}` page", url, False),
        Page(f"`{url}` partial", url, True),
        Page("`/pools/` page", "/pools/", False),
        Page("`/pools/` partial", "/pools/", True),
    ]


def get(client: Any, page: Page) -> Any:
    resp = client.get(page.url, headers=page.headers)
    body = resp.content
    if resp.status_code != 200 or b'id="live"' not in body or page.partial == (b"<html" in body):
        raise SystemExit(f"unexpected answer from {page.url} (partial={page.partial}): {resp.status_code}")
    return resp


def time_pages(
    client: Any, pages: list[Page], requests: int, refresh: Callable[[], dict[str, Any]]
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Each page's server time (ms) in process: warm-up, then the pages interleaved so noise hits them alike.
    ``refresh`` (a sample, untimed) every 40 rounds keeps the snapshot fresh, as the sampler would: 50 viewers
    polling every 5 s ask for each snapshot some 50 times. Returns all the times, and apart those of the first
    request after each new snapshot (the one that renders the session lists the others get from the cache)."""
    for page in pages:
        for _ in range(WARM_UP):
            get(client, page)
    times: dict[str, list[float]] = {p.label: [] for p in pages}
    first: dict[str, list[float]] = {p.label: [] for p in pages}
    for i in range(requests):
        if i % 40 == 0:
            refresh()
        for page in pages:
            start = time.perf_counter()
            get(client, page)
            ms = (time.perf_counter() - start) * 1000
            times[page.label].append(ms)
            if i % 40 == 0:
                first[page.label].append(ms)
    return times, first


@dataclass
class PageParts:
    queries: list[int] = field(default_factory=list)  # statements sent to Seamline's database per request
    sql_ms: list[float] = field(default_factory=list)
    redis_ms: list[float] = field(default_factory=list)
    total_ms: list[float] = field(default_factory=list)
    kb: float = 0.0
    listed: int | None = None  # sessions the page lists (offenders, blocked and blockers, unattributed)


def listed(snapshot: dict[str, Any]) -> int:
    from dashboard.summary import SESSION_LISTS

    return sum(len(snapshot[part]) for part in SESSION_LISTS)


def page_parts(client: Any, page: Page, refresh: Callable[[], dict[str, Any]], requests: int = 50) -> PageParts:
    """Where one page's time goes: Seamline's database (every statement), Redis (snapshot reads), the rest."""
    from django.db import connection

    from dashboard import snapshots

    for _ in range(WARM_UP):
        get(client, page)
    snapshot = refresh()
    parts = PageParts(listed=listed(snapshot) if page.url != "/pools/" else None)  # the index lists none
    sql: list[float] = [0.0, 0]
    redis_ms = [0.0]

    def sql_timer(execute: Callable[..., Any], *args: Any) -> Any:
        start = time.perf_counter()
        try:
            return execute(*args)
        finally:
            sql[0] += (time.perf_counter() - start) * 1000
            sql[1] += 1

    def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                redis_ms[0] += (time.perf_counter() - start) * 1000

        return wrapper

    with ExitStack() as stack:
        stack.enter_context(connection.execute_wrapper(sql_timer))
        for name in ("read_many", "read_queries"):
            stack.enter_context(mock.patch.object(snapshots, name, timed(getattr(snapshots, name))))
        for _ in range(requests):
            sql[:], redis_ms[0] = [0.0, 0], 0.0
            start = time.perf_counter()
            resp = get(client, page)
            parts.total_ms.append((time.perf_counter() - start) * 1000)
            parts.sql_ms.append(sql[0])
            parts.queries.append(int(sql[1]))
            parts.redis_ms.append(redis_ms[0])
            parts.kb = len(resp.content) / 1024
    return parts


def profile_page(client: Any, page: Page, requests: int = 100) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        get(client, page)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    out.write(f"cProfile of {requests} requests of {page.label} (profiling slows them down)\n")
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)
    return out.getvalue()


SAMPLER_PARTS = ("connect (and BEGIN)", "settings SQL", "sessions SQL", "summarize", "Redis write", "history rows")


def time_sampler(cluster: Any, samples: int = 20) -> dict[str, list[float]]:
    """``sampling.sample_node`` in process, timed by part (ms); one untimed warm-up."""
    from dashboard import sampling, snapshots
    from dashboard.nodes import PRIMARY
    from dashboard.readers import activity

    parts: dict[str, list[float]] = {k: [] for k in ("total", *SAMPLER_PARTS)}
    current: Counter[str] = Counter()

    def timed(fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                current[label] += (time.perf_counter() - start) * 1000

        return wrapper

    original_connect = sampling.connect

    @contextmanager
    def timed_connect(*args: Any, **kwargs: Any) -> Iterator[Any]:
        start = time.perf_counter()
        with original_connect(*args, **kwargs) as conn:
            current["connect (and BEGIN)"] += (time.perf_counter() - start) * 1000
            yield conn

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(sampling, "connect", timed_connect))
        stack.enter_context(mock.patch.object(activity, "node_settings", timed(activity.node_settings, "settings SQL")))
        stack.enter_context(mock.patch.object(activity, "sessions", timed(activity.sessions, "sessions SQL")))
        stack.enter_context(mock.patch.object(sampling, "summarize", timed(sampling.summarize, "summarize")))
        stack.enter_context(mock.patch.object(snapshots, "write", timed(snapshots.write, "Redis write")))
        stack.enter_context(
            mock.patch.object(sampling, "record_history", timed(sampling.record_history, "history rows"))
        )
        for run in range(samples + 1):
            current.clear()
            start = time.perf_counter()
            snap = sampling.sample_node(cluster, PRIMARY)
            total = (time.perf_counter() - start) * 1000
            if snap["status"] != "ok":
                raise SystemExit(f"sampling failed: {snap.get('message')}")
            if run:
                parts["total"].append(total)
                for label in SAMPLER_PARTS:
                    parts[label].append(current[label])
    return parts


# --- the run ---------------------------------------------------------------------------------------------------


@dataclass
class Results:
    snapshot: dict[str, Any] = field(default_factory=dict)  # the node's snapshot the pages were timed against
    pages: dict[str, list[float]] = field(default_factory=dict)
    first_pages: dict[str, list[float]] = field(default_factory=dict)  # the first request after each new snapshot
    parts: dict[str, PageParts] = field(default_factory=dict)
    windows: list[Window] = field(default_factory=list)
    sampler: dict[str, list[float]] = field(default_factory=dict)
    sampler_statements: Statements = field(default_factory=Statements)  # of the in-process samples
    interval: int = 0  # the cluster's sampling interval (s)
    profile: str = ""


def drop(admin: psycopg.Connection, bindir: Path) -> None:
    admin.execute(f'DROP DATABASE IF EXISTS "{APP_DB}" WITH (FORCE)')
    print(f"dropped database {APP_DB} (if it existed)")
    Instance(bindir).remove()
    print(f"removed the throwaway instance in {INSTANCE_DIR} (if there was one)")
    flush_redis()
    print(f"flushed Redis database {REDIS_DB}")


def measure(args: argparse.Namespace, admin: psycopg.Connection, instance: Instance, tmp: Path) -> Results:
    from django.conf import settings
    from django.test import Client

    from dashboard import sampling
    from dashboard.nodes import PRIMARY

    res = Results()
    fleet, procs = Fleet(), Processes(tmp, bench_env())  # TERM to each one's process group when they stop
    try:
        instance.create()
        prepare_monitored(instance)
        cluster = prepare_app(admin, instance)
        flush_redis()
        client = Client()
        client.force_login(bench_user())
        cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        res.interval = cluster.sample_interval
        fleet.open(instance)
        held = time.monotonic()
        print(f"  holding {len(fleet.conns)} sessions on PostgreSQL {instance.version} at 127.0.0.1:{instance.port}")

        # for comparison: the cluster's partial while the sessions are younger than the thresholds (short lists)
        def refresh() -> dict[str, Any]:
            return sampling.sample_node(cluster, PRIMARY)

        partial = pages_of(cluster)[1]
        short_parts = page_parts(client, partial, refresh)

        base = start_stack(procs, tmp)
        first = wait_for_sample(cluster, None, procs)
        print(f"  worker, beat and web server up ({base}); first sample: {first['total']} client sessions")
        for viewers in (1, VIEWERS):
            win = run_window(instance, cluster, base, cookie, viewers, args.seconds, procs)
            res.windows.append(win)
            print(
                f"  {viewers} viewer{'s' if viewers > 1 else ''}, {args.seconds:.0f} s: {win.statements.total} "
                f"statements reached the monitored server in {win.samples} samples; {win.requests} requests, "
                f"{len(win.failed)} failed"
            )
        procs.stop_all()

        # the pages are timed against a snapshot whose offender lists are filled: sessions older than the thresholds
        threshold = max(cluster.idle_in_transaction_threshold, cluster.long_query_threshold)
        time.sleep(max(0.0, held + threshold + 2 - time.monotonic()))
        reset_statements(instance)
        res.sampler = time_sampler(cluster)
        res.sampler_statements = read_statements(instance)
        res.snapshot = refresh()
        pages = pages_of(cluster)
        res.pages, res.first_pages = time_pages(client, pages, args.requests, refresh)
        res.parts = {p.label: page_parts(client, p, refresh) for p in pages}
        res.parts[f"{partial.label}, sessions younger than the thresholds"] = short_parts
        viewer_client = Client()
        viewer_client.force_login(bench_user(superuser=False))
        res.parts[f"{partial.label}, user without `view_full_query`"] = page_parts(viewer_client, partial, refresh)
        slow = [p for p in pages if median(res.pages[p.label]) > GOAL_PAGE_MS]
        if args.profile or slow:
            # the polled partial first: what every open page costs every 5 s
            chosen = [p for p in slow if p.partial][:1] or slow[:1] or pages[1:2]
            res.profile = profile_page(client, chosen[0])
    finally:
        fleet.close()
        procs.stop_all()
        if instance.created:
            instance.remove()
        flush_redis()
    return res


def report(res: Results) -> tuple[list[str], list[str], list[str], bool]:
    """The goals' table, the figures and the breakdown (markdown lines), and whether every goal holds."""
    goals: list[tuple[str, str, str, bool | None]] = []
    for label, times in res.pages.items():
        goals.append(
            (
                f"{label}, server time p50 (p95)",
                fmt_ms(times),
                f"p50 ≤ {GOAL_PAGE_MS:.0f} ms",
                median(times) <= GOAL_PAGE_MS,
            )
        )
    one, many = res.windows
    change = (many.statements.total - one.statements.total) / one.statements.total if one.statements.total else 0.0
    goals.append(
        (
            f"statements reaching the monitored server in {one.seconds:.0f} s, 1 viewer vs {many.viewers} viewers",
            f"{one.statements.total} vs {many.statements.total} ({change:+.1%})",
            f"equal within {GOAL_QUERIES:.0%}",
            one.statements.total > 0 and abs(change) <= GOAL_QUERIES,
        )
    )
    stats = Statements()
    for win in res.windows:
        stats += win.statements
    quiet = res.sampler_statements
    goals.append(
        (
            "sampler's database time per node and sample (planning + execution)",
            f"{per_sample(stats):.2f} ms during the windows, {per_sample(quiet):.2f} ms quiet; "
            f"{stats.rows['sessions SQL'] / max(1, stats.calls['sessions SQL']):.0f} sessions",
            "reported",
            None,
        )
    )
    table = ["| figure | measured | goal | holds |", "| --- | --- | --- | --- |"]
    table += [
        f"| {label} | {value} | {goal} | {'—' if ok is None else 'yes' if ok else '**no**'} |"
        for label, value, goal, ok in goals
    ]

    snap = res.snapshot
    first = "; ".join(f"{label} {fmt_ms(times)}" for label, times in res.first_pages.items() if times)
    per_service = ", ".join(f"{s['service']} {s['total']}" for s in snap["services"])
    figures = [
        f"sessions on the monitored node when the pages were timed: {snap['total']} client sessions of "
        f"{snap['max_connections'] - snap['reserved_connections']} usable ({per_service}, unattributed "
        f"{snap['unattributed']['total']}); the page lists {len(snap['idle_in_transaction'])} idle in transaction, "
        f"{len(snap['long_queries'])} long queries, {len(snap['blocked'])} blocked sessions with "
        f"{len(snap['blockers'])} blocker(s), {len(snap['unattributed_sessions'])} unattributed sessions",
        f"the first request after each new snapshot renders the session lists, which the following requests for "
        f"that snapshot take from the cache (the table's figures include both): {first}",
        "states as the sampler saw them: "
        + ", ".join(
            f"{state.replace('_', ' ')} {sum(s[state] for s in [*snap['services'], snap['unattributed']])}"
            for state in ("active", "idle", "idle_in_transaction", "waiting")
        ),
    ]
    for win in res.windows:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(win.statements.calls.items()))
        who = f"{win.viewers} viewer{'s' if win.viewers > 1 else ''}"
        every = win.seconds / max(1, win.samples)
        pages = f"{win.pages} whole page{'s' if win.pages != 1 else ''}"
        figures.append(
            f"{who} polling for {win.seconds:.0f} s: {win.statements.total} statements reached database postgres "
            f"({kinds}) in {win.samples} samples (one per {every:.1f} s; the cluster's interval is {res.interval} s); "
            f"{win.requests} requests ({pages}, {len(win.partial_ms)} partials), {len(win.failed)} failed; a "
            f"partial's round trip over HTTP to `runserver` {fmt_ms(win.partial_ms) if win.partial_ms else 'n/a'}"
            + (f"; failures: {Counter(win.failed).most_common(3)}" if win.failed else "")
        )
    if stats.other:
        figures.append(f"other statements seen in database postgres: {sorted(set(stats.other))[:5]}")
    for what, st in (("the worker's samples during the windows", stats), ("in-process samples, quiet", quiet)):
        figures.append(
            f"sampler, database time per statement, {what} (mean over {st.calls['sessions SQL']} samples; "
            "planning in brackets): "
            + ", ".join(
                f"{k} {st.ms[k] / st.calls[k]:.3f} ms ({st.plan_ms[k] / st.calls[k]:.3f})"
                for k in sorted(st.calls)
                if st.calls[k]
            )
        )
    sampler = res.sampler
    figures.append(
        f"a sample's wall time in process (`sampling.sample_node`, medians of {len(sampler['total'])}): "
        f"{median(sampler['total']):.1f} ms, of which "
        + ", ".join(f"{k} {median(sampler[k]):.1f} ms" for k in SAMPLER_PARTS)
        + "; every sample opens a new connection, whose cost to the server (a backend started) the database time "
        "above leaves out"
    )

    breakdown = [
        "| page | sessions listed | server time p50 | Seamline's database | Redis "
        "| the rest (views, templates, middleware) | size |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, parts in res.parts.items():
        total, sql, rds = median(parts.total_ms), median(parts.sql_ms), median(parts.redis_ms)
        queries = statistics.median(parts.queries)
        shown = "—" if parts.listed is None else parts.listed
        breakdown.append(
            f"| {label} | {shown} | {total:.1f} ms | {sql:.1f} ms ({queries:.0f} statements) "
            f"| {rds:.1f} ms | {total - sql - rds:.1f} ms | {parts.kb:.0f} KiB |"
        )
    return table, figures, breakdown, all(ok for *_, ok in goals if ok is not None)


def per_sample(stats: Statements) -> float:
    """Database time (ms) of one sample: every statement of the samples, over the number of samples."""
    samples = stats.calls["sessions SQL"]
    return sum(stats.ms.values()) / samples if samples else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(
        __doc__,
        profile="also print cProfile's top functions of a partial",
        drop="remove what the benchmark created, and exit",
    )
    parser.add_argument("--seconds", type=float, default=60, help="length of each polling window (default 60)")
    parser.add_argument("--requests", type=int, default=300, help="timed requests of each page (default 300)")
    args = parser.parse_args(argv)
    if args.seconds < 10 or args.requests < 20:
        parser.error("--seconds must be at least 10 and --requests at least 20")

    exit_on_sigterm()
    setup_django(bench_env())
    from django.conf import settings

    with connect_dev_stack(settings.PG_HOST, settings.PG_PORT, autocommit=True) as admin:
        major = int(admin.execute("SHOW server_version_num").fetchone()[0]) // 10000
        bindir = pg_client("initdb", major).parent
        if args.drop:
            drop(admin, bindir)
            return 0
        instance = Instance(bindir)
        started = time.perf_counter()
        print(
            f"pools benchmark: {sum(g.total for g in FLEET)} sessions held, {args.requests} requests of each page, "
            f"{args.seconds:.0f} s windows with 1 and {VIEWERS} viewers"
        )
        with tempfile.TemporaryDirectory(prefix="bench-pools-") as tmp:
            res = measure(args, admin, instance, Path(tmp))
    elapsed = time.perf_counter() - started

    import celery
    import redis
    from django import get_version

    info = machine(
        {
            "PostgreSQL server (monitored)": f"{instance.version} (throwaway instance, max_connections "
            f"{MAX_CONNECTIONS}, same machine)",
            "Seamline's database": f"dev stack, {settings.PG_HOST}:{settings.PG_PORT}",
            "Redis": redis.Redis.from_url(redis_url()).info("server")["redis_version"],
            "Django": get_version(),
            "Celery": celery.__version__,
            "psycopg": psycopg.__version__,
        }
    )
    table, figures, breakdown, all_hold = report(res)
    print("\n" + "\n".join(table) + "\n")
    print("\n".join(f"- {line}" for line in figures))
    print("\nwhere a page's time goes, in process (medians of 50 requests):")
    print("\n".join(breakdown))
    if res.profile:
        print("\n" + res.profile)
    print(f"\nthe benchmark took {elapsed:.0f} s")
    print("\n" + ("every goal holds" if all_hold else "GOAL MISSED: see the figures above"))

    if not args.no_docs:
        body = [
            "## Pools pages and live sampling (issue 4)",
            "",
            paragraph(
                f"`bench/pools.py`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. The monitored cluster is a throwaway "
                f"PostgreSQL instance (max_connections {MAX_CONNECTIONS}) holding {sum(g.total for g in FLEET)} "
                "sessions of the four demo services and 10 unattributed ones: idle, idle in transaction, running "
                "pg_sleep, waiting on a lock. Server time is measured in process (django.test.Client, logged in as a "
                f"superuser, `SEAMLINE_DEBUG=0`), {args.requests} requests of each page after {WARM_UP} of warm-up, "
                "against a snapshot whose offender lists are filled. Statements are counted by pg_stat_statements "
                "on the monitored server while a real Celery worker and beat sample it and `runserver` serves "
                f"viewers polling the cluster page's partial every 5 s, for {args.seconds:.0f} s with 1 viewer and "
                f"then with {VIEWERS}; each window starts half a sampling interval after a sample."
            ),
            "",
            *table,
            "",
            *[bullet(line) for line in figures],
            "",
            "Where a page's time goes, in process (medians of 50 requests; Redis is the snapshot reads):",
            "",
            *breakdown,
        ]
        reproduce = (
            "Reproduce: `make bench`, or `.venv/bin/python bench/pools.py [--seconds N] [--requests N] "
            "[--profile]` with the dev stack running (`make services`; `make run` may run beside it). It starts "
            "and removes its own monitored instance; `--drop` removes its Seamline database "
            f"(`{APP_DB}`) and anything a killed run left behind."
        )
        write_report(NAME, body, info, reproduce)
    return 0 if all_hold else 1


if __name__ == "__main__":
    sys.exit(main())
