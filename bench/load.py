"""Benchmark: the live pages under load (issues 7 and 14): 50 logged-in viewers polling them, and what each live
partial and the pools API cost a web process, set beside the least any page costs (the floor).

The stack is production's: gunicorn with the shipped configuration (``deploy/gunicorn.conf.py``: sync workers, one
per core and one more), ``SEAMLINE_DEBUG=0``, a real Celery worker and beat (the migration's schedule: dispatch
every second, each node sampled at its cluster's interval). The web server's settings are Seamline's with one URL
more, ``/bench/floor``, a login-required view returning a constant (``bench/_serving.py``), and the Server-Timing
header on (``SEAMLINE_SERVER_TIMING``), from which server times are read: from the request entering Django to the
response leaving it.

The monitored cluster is the demo catalog's, pointed at a throwaway primary (``bench.pools.Instance``, in
``/tmp/seamline-bench-load/monitored``, max_connections 300) and its streaming replica (``.../replica``, made with
pg_basebackup through a slot), on which the benchmark holds the pools benchmark's 220 sessions (``bench.pools.FLEET``:
idle, idle in transaction, running, waiting on a lock, unattributed). Seamline's own tables are in database
``seamline_bench_load`` of a third throwaway instance (``.../app``): gunicorn's workers, the worker, beat and the
viewers need more connections than the dev primary's 100. Live data goes to Redis database 4 (flushed before and
after; `make run` uses 0). The catalog is synced and audited once so that the overview shows an audit; the hourly
sync and the nightly audit are disabled.

Viewers (issue 7): threads of the benchmark, each with its own session (users ``bench-load-NN``, alternately in the
Operator group, who sees full query texts, and the Viewer group, logged in with ``force_login``, the cookie sent over
HTTP). The pages: ``/`` (overview), ``/pools/``, ``/pools/<cluster>/`` and ``/replication/``, each whole and as the
htmx partial an open page polls every 5 s (the same URL with ``HX-Request: true``). A viewer stays 15 s on a page:
loads it whole, then polls its partial twice, then moves to the next page.

- the polling run: ``--viewers`` (default 50) viewers for ``--seconds`` (default 60), a request every 5 s each as a
  browser makes them, started staggered over 5 s;
- the saturating run: the same viewers, same sequence of pages, with no think time, for the same time.

Measured per page, whole and partial: requests, errors (an exception, a status other than 200, or a body that is
not the page or the partial asked for), client-side latency (request sent to body read) p50, p95, p99; requests per
second in all; besides: TCP connections opened, the peak of PostgreSQL connections to Seamline's database, the CPU
used by the web server and by the machine, samples taken during each run and the sessions they saw.

Serving (issue 14): each live partial (overview, pools index, the cluster's pools, replication, a service's live
panel), ``GET /api/v1/pools/<cluster>`` and the floor, with a logged-in client: ``--requests`` (default 300)
sequential requests of each, interleaved, after warm-up: server time p50 and p95 and sequential requests per
second; then, for each on its own, 8 concurrent clients (processes, each with a session of its own) for 10 s:
requests per second.

Goals: for the polling run (issue 7), zero errors and p99 < 300 ms for every page and partial; for serving (issue
14), every live partial and the API at p50 <= 3 ms of server time and at least 60 % of the floor's requests per
second under 8 clients; stretch, reported as met or not: 400 requests/s for the pools and replication partials and
600 for the API. The saturating run's figures are information. ``--profile`` (or a polling p99 of at least half the
goal) prints cProfile's top functions of the slowest page, requested in process.

Run: ``make bench``, or ``.venv/bin/python bench/load.py [--seconds N] [--viewers N] [--requests N] [--profile]
[--no-docs]``, or ``... --drop`` to remove what a killed run left behind (the throwaway instances, Redis database 4)
and exit. Everything it starts (instances, sessions, worker, beat, web server, clients) is stopped when it ends, on
failure and Ctrl-C too. The report is printed and written to this benchmark's own section of docs/benchmarks.md
(between ``<!-- bench:load -->`` markers; ``--no-docs`` skips that). Exit status 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import http.client
import io
import logging
import multiprocessing
import os
import pstats
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
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
    paragraph,
    percentile,
    pg_client,
    run_timed,
    setup_django,
    tree_cpu,
    write_report,
)
from bench.pools import Fleet, Instance, free_port, prepare_monitored, wait_for_sample  # noqa: E402

NAME = "load"
PY = sys.executable
APP_DB = "seamline_bench_load"
REDIS_DB = 4  # `make run` uses 0, bench/pools.py 3, the tests their own server
BASE = Path("/tmp/seamline-bench-load")  # the throwaway instances: app (Seamline's tables), monitored, replica
REPLICA = "bench_load_replica"  # the replica's slot and application_name
CLUSTER = "demo"
SECRET_KEY = "seamline-bench-load-not-a-secret"
GOAL_P99_MS = 300.0
GOAL_SERVER_MS = 3.0  # issue 14: a live partial's server time, p50
GOAL_FLOOR_SHARE = 0.6  # issue 14: a live partial's requests/s under 8 clients, against the floor's
STRETCH = {"`/pools/`": 400, "the cluster's `/pools/`": 400, "`/replication/`": 400, "the pools API": 600}
CLIENTS = 8
CONCURRENT_SECONDS = 10.0  # per endpoint, in all
CONCURRENT_ROUNDS = 5
POLL_SECONDS = 5.0  # dashboard.snapshots.REFRESH_SECONDS, checked below
PARTIALS_PER_VISIT = 2  # a visit: the whole page, then its partial polled twice (15 s on the page)
WARM_UP_ROUNDS = 5
REQUEST_TIMEOUT = 10.0  # seconds; a request not answered by then is an error
REPRODUCE = ".venv/bin/python bench/load.py [--seconds N] [--viewers N] [--requests N] [--profile] [--no-docs]"


def redis_url() -> str:
    return f"redis://127.0.0.1:{os.environ.get('SEAMLINE_REDIS_PORT', '6380')}/{REDIS_DB}"


def bench_env(app_port: int) -> dict[str, str]:
    """What this process and every process it starts run with: Seamline's tables on the throwaway instance, Redis
    database 4, production mode."""
    return {
        "SEAMLINE_DB_HOST": "127.0.0.1",
        "SEAMLINE_DB_PORT": str(app_port),
        "SEAMLINE_DB_NAME": APP_DB,
        "SEAMLINE_REDIS_URL": redis_url(),
        "SEAMLINE_DEBUG": "0",
        "SEAMLINE_SECRET_KEY": SECRET_KEY,  # the same everywhere: a session made here is valid for the web server
        "PYTHONUNBUFFERED": "1",
    }


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(redis_url()).flushdb()


@dataclass
class Instances:
    """The three throwaway instances of a run."""

    app: Instance
    monitored: Instance
    replica: Instance

    @classmethod
    def of(cls, bindir: Path) -> Instances:
        return cls(
            Instance(bindir, BASE / "app"), Instance(bindir, BASE / "monitored"), Instance(bindir, BASE / "replica")
        )

    def __iter__(self) -> Iterator[Instance]:
        return iter((self.replica, self.monitored, self.app))  # the replica first: its slot is on the primary

    def create(self) -> None:
        BASE.mkdir(exist_ok=True)
        self.app.create()
        self.monitored.create()
        prepare_monitored(self.monitored)
        self.replica.create_standby(self.monitored, REPLICA)

    def remove(self) -> None:
        for instance in self:
            instance.remove()
        shutil.rmtree(BASE, ignore_errors=True)


# --- Seamline's side -------------------------------------------------------------------------------------------


def prepare_app(instances: Instances, env: dict[str, str]) -> tuple[Any, Any, float, str]:
    """Seamline's database on the app instance: created, migrated, the demo catalog pointed at the monitored primary
    and its replica, synced and audited once; returns the cluster, a service with sessions on it, the seconds
    `manage.py audit demo` took and the first line it printed."""
    from django_celery_beat.models import PeriodicTask

    from catalog.models import Cluster, Service
    from demo.loader import load_catalog

    with psycopg.connect(**instances.app.conninfo, user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{APP_DB}"')
    run_timed([PY, "manage.py", "migrate", "--noinput", "-v0"], env={**os.environ, **env})
    load_catalog({"host": "127.0.0.1", "port": instances.monitored.port}, {"port": instances.replica.port})
    PeriodicTask.objects.filter(
        task__in=["catalog.tasks.sync_all_clusters", "catalog.tasks.audit_all_clusters"]
    ).update(enabled=False)
    audited = run_timed([PY, "manage.py", "audit", CLUSTER], env={**os.environ, **env})
    summary = audited.stdout.strip().splitlines()[0] if audited.stdout.strip() else "(nothing printed)"
    cluster = Cluster.objects.prefetch_related("replicas").get(name=CLUSTER)
    return cluster, Service.objects.get(name="order_service"), audited.seconds, summary


def start_stack(procs: Processes, tmp: Path) -> str:
    """Worker and beat as the Procfile starts them, and gunicorn with the shipped configuration; the base URL."""
    from django.conf import settings

    bin_ = Path(PY).parent
    port = free_port(18100)
    queues = ",".join(
        dict.fromkeys(
            ["celery", settings.SAMPLING_QUEUE, settings.AUDIT_QUEUE, settings.SYNC_QUEUE, settings.STATEMENTS_QUEUE]
        )
    )
    procs.start(
        "worker", str(bin_ / "celery"), "-A", "dashboard", "worker", "--loglevel", "WARNING", "--concurrency", "2",
        "--queues", queues, "--hostname", "bench-load@%h",
    )  # fmt: skip
    procs.start(
        "beat", str(bin_ / "celery"), "-A", "dashboard", "beat", "--loglevel", "WARNING",
        "--schedule", str(tmp / "beat-schedule"), "--pidfile", str(tmp / "beat.pid"),
    )  # fmt: skip
    procs.start("web", str(bin_ / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}")
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        procs.check()
        with contextlib.suppress(urllib.error.URLError, OSError):
            if urllib.request.urlopen(base + "/healthz", timeout=2).status == 200:
                return base
        if time.monotonic() > deadline:
            raise SystemExit(f"the web server did not answer in 60 s:\n{procs.tail('web')}")
        time.sleep(0.2)


def viewer_users(count: int) -> list[Any]:
    """``bench-load-01``... alternately in the Operator group (full query texts) and the Viewer group."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    groups = [Group.objects.get(name="Operator"), Group.objects.get(name="Viewer")]
    logging.getLogger("axes").setLevel(logging.WARNING)  # a line per login otherwise
    users = []
    for i in range(count):
        user, _ = get_user_model().objects.update_or_create(
            username=f"bench-load-{i + 1:02d}", defaults={"is_staff": False, "is_superuser": False}
        )
        user.set_unusable_password()
        user.save()
        user.groups.set([groups[i % 2]])
        users.append(user)
    return users


def session_cookie(user: Any) -> str:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def wait_for_nodes(cluster: Any, procs: Processes, samples: int = 3) -> dict[str, dict[str, Any]]:
    """Let the worker and beat sample for a while: ``samples`` samples of the primary, and one of every replica."""
    from dashboard import snapshots
    from dashboard.nodes import nodes_of

    snap = wait_for_sample(cluster, None, procs)
    for _ in range(samples - 1):
        snap = wait_for_sample(cluster, snap["sampled_at"], procs)
    nodes = {}
    for node in nodes_of(cluster):
        found = snapshots.read(cluster.pk, node.name)
        if not found or found["status"] != "ok":
            raise SystemExit(f"node {node.name} of {cluster.name} has no snapshot: {found and found.get('message')}")
        nodes[node.name] = found
    return nodes


# --- viewers ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    label: str
    url: str


def pages_of(cluster: Any) -> list[Page]:
    return [
        Page("overview `/`", "/"),
        Page("`/pools/`", "/pools/"),
        Page(f"`/pools/{cluster.pk}/`", f"/pools/{cluster.pk}/"),
        Page("`/replication/`", "/replication/"),
    ]


def headers(cookie: str, partial: bool, url: str, base: str) -> dict[str, str]:
    h = {"Cookie": cookie, "Accept": "text/html"}
    if partial:  # what htmx sends when the page polls its live section
        h |= {"HX-Request": "true", "HX-Target": "live", "HX-Current-URL": base + url}
    return h


def problem_of(status: int, body: bytes, partial: bool) -> str:
    """'' when the answer is the page (or partial) asked for; what is wrong with it otherwise."""
    if status != 200:
        return f"status {status}"
    if b'id="live"' not in body:
        return "no live section"
    if partial == (b"<html" in body):
        return "whole page instead of partial" if partial else "partial instead of whole page"
    return ""


class Connection(http.client.HTTPConnection):
    """A keep-alive connection that counts how often it had to connect."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connects = 0

    def connect(self) -> None:
        super().connect()
        self.connects += 1


@dataclass
class Tally:
    """One run's answers, by (page label, partial)."""

    ms: dict[tuple[str, bool], list[float]] = field(default_factory=dict)
    errors: dict[tuple[str, bool], Counter[str]] = field(default_factory=dict)
    connects: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, key: tuple[str, bool], ms: float, problem: str) -> None:
        with self.lock:
            if problem:
                self.errors.setdefault(key, Counter())[problem] += 1
            else:
                self.ms.setdefault(key, []).append(ms)


@dataclass
class Run:
    name: str
    viewers: int
    seconds: float
    poll: float  # seconds between a viewer's requests; 0: back to back
    tally: Tally = field(default_factory=Tally)
    elapsed: float = 0.0  # first request sent to last answer read
    web_cpu: float = 0.0  # the web server's CPU seconds over the run
    machine_busy: float = 0.0  # fraction of all cores busy over the run
    db_connections: tuple[int, int, int] = (0, 0, 0)  # to Seamline's database: at the start, peak, 5 s after the end
    samples: int = 0  # samples taken during the run (history rows, every node)
    stuck: int = 0  # viewer threads still running 15 s after the end (0 expected)
    stop: threading.Event = field(default_factory=threading.Event)  # set: the viewers stop (Ctrl-C, a failure)

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.tally.ms.values()) + sum(sum(c.values()) for c in self.tally.errors.values())

    @property
    def errors(self) -> int:
        return sum(sum(c.values()) for c in self.tally.errors.values())


def viewer(
    i: int, run: Run, port: int, base: str, cookie: str, pages: list[Page], start: float, stop_at: float
) -> None:
    """One browser: a visit per page in turn (the whole page, then its partial), from page ``i % len(pages)``."""
    conn = Connection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    per_visit = PARTIALS_PER_VISIT + 1
    next_at = start + (i * run.poll / run.viewers if run.poll else 0.0)
    k = 0
    try:
        while True:
            if run.poll:
                if next_at >= stop_at or run.stop.wait(max(0.0, next_at - time.monotonic())):
                    break
            elif time.monotonic() >= stop_at or run.stop.is_set():
                break
            page = pages[(i + k // per_visit) % len(pages)]
            partial = k % per_visit != 0
            sent = time.perf_counter()
            try:
                conn.request("GET", page.url, headers=headers(cookie, partial, page.url, base))
                resp = conn.getresponse()
                body = resp.read()
                problem = problem_of(resp.status, body, partial)
            except (OSError, http.client.HTTPException) as exc:
                problem = type(exc).__name__
                conn.close()  # the next request connects again
            run.tally.add((page.label, partial), (time.perf_counter() - sent) * 1000, problem)
            k += 1
            next_at += run.poll
    finally:
        conn.close()
        with run.tally.lock:
            run.tally.connects += conn.connects


class ConnectionWatch:
    """Connections to Seamline's database (from every process: web server, worker, beat, this one), counted from
    another session: when the watch starts, at their peak (every 0.5 s) and when asked."""

    def __init__(self, instance: Instance) -> None:
        self.conn = psycopg.connect(**instance.conninfo, user="postgres", dbname="postgres", autocommit=True)
        self.lock = threading.Lock()  # one connection, two threads
        self.first = self.count()
        self.peak = self.first
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def count(self) -> int:
        with self.lock:
            (n,) = self.conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
                [APP_DB],
            ).fetchone()
        return n

    def _watch(self) -> None:
        while not self.done.wait(0.5):
            self.peak = max(self.peak, self.count())

    def __enter__(self) -> ConnectionWatch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(timeout=5)
        self.conn.close()


def run_viewers(
    run: Run, instance: Instance, cluster: Any, base: str, cookies: list[str], pages: list[Page], procs: Processes
) -> Run:
    from dashboard.models import NodeSample

    port = int(base.rsplit(":", 1)[1])
    web_pid = procs.pid("web")
    start = time.monotonic() + 0.2  # every thread started before the first request
    stop_at = start + run.seconds
    threads = [
        threading.Thread(
            target=viewer,
            args=(i, run, port, base, cookies[i], pages, start, stop_at),
            name=f"viewer-{i + 1}",
            daemon=True,
        )
        for i in range(run.viewers)
    ]
    cpu_before, (busy_before, total_before) = tree_cpu(web_pid), machine_ticks()
    started = datetime.now(UTC)
    with ConnectionWatch(instance) as watch:
        try:
            for t in threads:
                t.start()
            run.stop.wait(max(0.0, stop_at - time.monotonic()))
        except BaseException:
            run.stop.set()
            raise
        finally:
            for t in threads:  # stop_at has passed: each ends after its request in flight (10 s at most)
                t.join(timeout=max(0.1, stop_at + REQUEST_TIMEOUT + 5 - time.monotonic()))
        run.elapsed = time.monotonic() - start
        ended = datetime.now(UTC)
        busy_after, total_after = machine_ticks()
        run.web_cpu = tree_cpu(web_pid) - cpu_before
        run.machine_busy = (busy_after - busy_before) / max(1, total_after - total_before)
        time.sleep(5)  # the viewers have disconnected: what the web server still holds
        run.db_connections = (watch.first, watch.peak, watch.count())
    run.stuck = sum(t.is_alive() for t in threads)
    procs.check()
    run.samples = NodeSample.objects.filter(cluster=cluster, sampled_at__gte=started, sampled_at__lt=ended).count()
    return run


def warm_up(base: str, cookie: str, pages: list[Page]) -> None:
    """A few untimed rounds of every page and partial (templates compiled, imports done), on one connection."""
    port = int(base.rsplit(":", 1)[1])
    conn = Connection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        for _ in range(WARM_UP_ROUNDS):
            for page in pages:
                for partial in (False, True):
                    conn.request("GET", page.url, headers=headers(cookie, partial, page.url, base))
                    resp = conn.getresponse()
                    problem = problem_of(resp.status, resp.read(), partial)
                    if problem:
                        raise SystemExit(f"warm-up: {page.url} (partial={partial}): {problem}")
    finally:
        conn.close()


def profile_page(user: Any, label: str, url: str, partial: bool, requests: int = 20) -> str:
    """cProfile of ``requests`` requests of one page, in process (django.test.Client), after 3 untimed ones."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    extra = {"HX-Request": "true", "HX-Target": "live"} if partial else {}
    for _ in range(3):
        client.get(url, headers=extra)
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    for _ in range(requests):
        resp = client.get(url, headers=extra)
        if resp.status_code != 200:
            raise SystemExit(f"profiling {url}: status {resp.status_code}")
    profiler.disable()
    ms = (time.perf_counter() - start) * 1000 / requests
    out = io.StringIO()
    out.write(
        f"cProfile of {requests} requests of {label} {'partial' if partial else 'page'}, in process, "
        f"{ms:.1f} ms each under the profiler (which slows them down)\n"
    )
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)
    return out.getvalue()


# --- the run ---------------------------------------------------------------------------------------------------


# --- serving: each live partial against the floor ----------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    label: str
    url: str
    htmx: bool  # asked for as htmx asks (the live partial)
    live: bool = True  # held to the goals; the floor is not


def endpoints_of(cluster: Any, service: Any) -> list[Endpoint]:
    return [
        Endpoint("overview partial", "/", True),
        Endpoint("`/pools/` partial", "/pools/", True),
        Endpoint("the cluster's `/pools/` partial", f"/pools/{cluster.pk}/", True),
        Endpoint("`/replication/` partial", "/replication/", True),
        Endpoint("a service's live panel", f"/services/{service.pk}/live/?part=numbers", True),
        Endpoint("the pools API", f"/api/v1/pools/{cluster.name}", False),
        Endpoint("floor", "/bench/floor", False, live=False),
    ]


def fetch(conn: http.client.HTTPConnection, ep: Endpoint, cookie: str) -> tuple[int, float | None]:
    """One request: the length of its body (0 unless answered 200 with one), and the server time it reported
    (ms)."""
    headers = {"Cookie": cookie, "Accept": "application/json" if "/api/" in ep.url else "text/html"}
    if ep.htmx:
        headers |= {"HX-Request": "true", "HX-Target": "live"}
    conn.request("GET", ep.url, headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    timing = resp.getheader("Server-Timing") or ""
    server = float(timing.split("dur=", 1)[1]) if "dur=" in timing else None
    return (len(body) if resp.status == 200 else 0), server


@dataclass
class Served:
    server_ms: list[float] = field(default_factory=list)
    client_ms: list[float] = field(default_factory=list)
    body_bytes: int = 0  # the last answer's
    answered: int = 0  # with CLIENTS clients, over every round
    errors: int = 0
    seconds: float = 0.0
    cpu: Counter[str] = field(default_factory=Counter)  # CPU seconds over the rounds, by whose (CPU_PARTS)

    @property
    def sequential(self) -> float:
        return 1000 / (sum(self.client_ms) / len(self.client_ms)) if self.client_ms else 0.0

    @property
    def concurrent(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    def cpu_ms(self, part: str) -> float:
        """CPU milliseconds per answered request, of one part."""
        return self.cpu[part] * 1000 / self.answered if self.answered else 0.0


def serve_sequentially(port: int, endpoints: list[Endpoint], cookie: str, requests: int) -> dict[str, Served]:
    """``requests`` requests of each endpoint, one at a time, interleaved so that noise hits them alike."""
    served = {ep.label: Served() for ep in endpoints}
    for rounds, record in ((20, False), (requests, True)):  # warm-up first
        for _ in range(rounds):
            for ep in endpoints:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
                sent = time.perf_counter()
                try:
                    size, server = fetch(conn, ep, cookie)
                finally:
                    conn.close()
                elapsed = (time.perf_counter() - sent) * 1000
                if not size or server is None:
                    raise SystemExit(f"{ep.url}: no answer with a body and a server time")
                if record:
                    served[ep.label].server_ms.append(server)
                    served[ep.label].body_bytes = size
                    served[ep.label].client_ms.append(elapsed)
    return served


def hammer(port: int, ep: Endpoint, cookie: str, start_at: float, stop_at: float, results: Any) -> None:
    """A client process: requests back to back from ``start_at`` until ``stop_at`` (a connection each: gunicorn's
    sync workers close it after every response); puts (answered, errors, its CPU seconds)."""
    answered = errors = 0
    time.sleep(max(0.0, start_at - time.monotonic()))
    cpu = time.process_time()
    while time.monotonic() < stop_at:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        try:
            ok = fetch(conn, ep, cookie)[0] > 0
        except (OSError, http.client.HTTPException):
            ok = False
        finally:
            conn.close()
        answered, errors = answered + ok, errors + (not ok)
    results.put((answered, errors, time.process_time() - cpu))


# Where the CPU of the concurrent rounds goes: the web server (gunicorn's master and workers), the client processes,
# Redis, Seamline's PostgreSQL instance (sessions, users), and everything else on the machine (the worker sampling
# the monitored cluster, beat, the monitored instances, the kernel's share not charged to a process).
CPU_PARTS = ("web server", "clients", "Redis", "Seamline's PostgreSQL", "rest of the machine")


class Meter:
    """CPU seconds used so far, by part (CPU_PARTS but the clients')."""

    def __init__(self, web_pid: int, app: Instance) -> None:
        import redis

        self.web_pid = web_pid
        self.app_pid = int((app.data / "postmaster.pid").read_text().split()[0])
        self.redis = redis.Redis.from_url(redis_url())

    def read(self) -> Counter[str]:
        info = self.redis.info("cpu")
        busy, _ = machine_ticks()
        return Counter(
            {
                "web server": tree_cpu(self.web_pid),
                "Redis": info["used_cpu_user"] + info["used_cpu_sys"],
                "Seamline's PostgreSQL": tree_cpu(self.app_pid),
                "machine": busy / os.sysconf("SC_CLK_TCK"),
            }
        )


def serve_concurrently(
    port: int, endpoints: list[Endpoint], cookies: list[str], served: dict[str, Served], meter: Meter
) -> None:
    """Each endpoint with CLIENTS client processes (each with a session of its own) for CONCURRENT_SECONDS in all,
    in CONCURRENT_ROUNDS rounds interleaved with the other endpoints' (the machine's other work, the sampling above
    all, hits them alike); the requests answered, the errors and the CPU used, into ``served``."""
    from django.db import connections

    connections.close_all()  # nothing of Django's crosses the fork
    ctx = multiprocessing.get_context("fork")
    seconds = CONCURRENT_SECONDS / CONCURRENT_ROUNDS
    for round_ in range(CONCURRENT_ROUNDS):
        for ep in endpoints[round_ % len(endpoints) :] + endpoints[: round_ % len(endpoints)]:
            results = ctx.Queue()
            start = time.monotonic() + 0.3  # every client forked before the first request
            clients = [
                ctx.Process(target=hammer, args=(port, ep, cookies[i % len(cookies)], start, start + seconds, results))
                for i in range(CLIENTS)
            ]
            for c in clients:
                c.start()
            time.sleep(max(0.0, start - time.monotonic()))
            before = meter.read()
            totals = [results.get(timeout=seconds + REQUEST_TIMEOUT + 30) for _ in clients]
            after = meter.read()
            elapsed = time.monotonic() - start
            for c in clients:
                c.join(timeout=10)
            s = served[ep.label]
            s.answered += sum(t[0] for t in totals)
            s.errors += sum(t[1] for t in totals)
            s.seconds += elapsed
            used = after - before
            used["clients"] = sum(t[2] for t in totals)
            used["rest of the machine"] = max(
                0.0, used.pop("machine", 0.0) - sum(used[p] for p in CPU_PARTS if p != "rest of the machine")
            )
            s.cpu += used


# --- the run ---------------------------------------------------------------------------------------------------


@dataclass
class Results:
    runs: list[Run] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    served: dict[str, Served] = field(default_factory=dict)
    endpoints: list[Endpoint] = field(default_factory=list)
    before: dict[str, dict[str, Any]] = field(default_factory=dict)  # each node's snapshot before the runs
    after: dict[str, dict[str, Any]] = field(default_factory=dict)  # and after
    interval: int = 0
    audit_seconds: float = 0.0
    audit_summary: str = ""
    profile: str = ""


def measure(args: argparse.Namespace, instances: Instances, env: dict[str, str], tmp: Path) -> Results:
    from dashboard import snapshots
    from dashboard.nodes import nodes_of
    from dashboard.snapshots import REFRESH_SECONDS

    if REFRESH_SECONDS != POLL_SECONDS:
        raise SystemExit(f"the pages poll every {REFRESH_SECONDS} s now, not {POLL_SECONDS:.0f}: update bench/load.py")
    res = Results()
    # the web server runs the benchmark's settings (the floor, Server-Timing) and logs no line per request
    web_env = {**env, "DJANGO_SETTINGS_MODULE": "bench._serving", "SEAMLINE_WEB_LOGLEVEL": "warning"}
    procs = Processes(tmp, web_env)  # TERM to each one's process group when they stop, as bench/pools.py
    fleet = Fleet()
    try:
        cluster, service, res.audit_seconds, res.audit_summary = prepare_app(instances, env)
        res.interval = cluster.sample_interval
        fleet.open(instances.monitored)
        users = viewer_users(max(args.viewers, CLIENTS))
        cookies = [session_cookie(u) for u in users]
        res.pages = pages = pages_of(cluster)
        flush_redis()
        base = start_stack(procs, tmp)
        res.before = wait_for_nodes(cluster, procs)
        print(
            f"  worker, beat and web server (gunicorn) up at {base}; sessions sampled: "
            + ", ".join(f"{name} {snap['total']}" for name, snap in res.before.items())
        )
        warm_up(base, cookies[0], pages)
        for name, poll in () if args.serving_only else (("polling", POLL_SECONDS), ("saturating", 0.0)):
            run = Run(name, args.viewers, args.seconds, poll)
            run_viewers(run, instances.app, cluster, base, cookies, pages, procs)
            res.runs.append(run)
            print(
                f"  {name} run: {run.requests} requests in {run.elapsed:.1f} s "
                f"({run.requests / run.elapsed:.1f}/s), {run.errors} errors, {run.tally.connects} TCP connections, "
                f"connections to Seamline's database: {db_connections(run)}"
            )
        port = int(base.rsplit(":", 1)[1])
        res.endpoints = endpoints_of(cluster, service)
        res.served = serve_sequentially(port, res.endpoints, cookies[0], args.requests)
        meter = Meter(procs.pid("web"), instances.app)
        serve_concurrently(port, res.endpoints, cookies[:CLIENTS], res.served, meter)
        for ep in res.endpoints:
            served = res.served[ep.label]
            print(
                f"  {ep.label}: server time p50 {percentile(served.server_ms, 50):.2f} ms, "
                f"{served.sequential:.0f}/s one at a time, {served.concurrent:.0f}/s with {CLIENTS} clients"
                + (f", {served.errors} errors" if served.errors else "")
            )
        procs.check()
        res.after = {n.name: snapshots.read(cluster.pk, n.name) or {} for n in nodes_of(cluster)}
        # an Operator, who sees full query texts: the heavier path
        if res.runs:
            polling = res.runs[0]
            slowest = max(polling.tally.ms, key=lambda k: percentile(polling.tally.ms[k], 99), default=None)
            if slowest and (args.profile or percentile(polling.tally.ms[slowest], 99) >= GOAL_P99_MS / 2):
                label, partial = slowest
                page = next(p for p in pages if p.label == label)
                res.profile = profile_page(users[0], label, page.url, partial)
        if args.profile:  # and the live endpoint furthest from the floor's requests/s
            ep = min((e for e in res.endpoints if e.live), key=lambda e: res.served[e.label].concurrent)
            res.profile += profile_page(users[0], ep.label, ep.url, ep.htmx, requests=300)
    finally:
        procs.stop_all()
        fleet.close()
    return res


def serving_table(res: Results) -> tuple[list[str], list[str], bool]:
    """The goals' table of the serving measurement, the stretch goals' lines; whether every goal holds."""
    floor = res.served["floor"].concurrent
    lines = [
        f"| endpoint | body | server time p50 (p95) | requests/s one at a time | requests/s, {CLIENTS} clients "
        "| share of the floor's | goal | holds |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    holds, stretch = True, []
    for ep in res.endpoints:
        s = res.served[ep.label]
        p50, p95 = percentile(s.server_ms, 50), percentile(s.server_ms, 95)
        share = s.concurrent / floor if floor else 0.0
        row = (
            f"| {ep.label} | {s.body_bytes / 1024:.1f} KiB | {p50:.2f} ms ({p95:.2f} ms) | {s.sequential:.0f} "
            f"| {s.concurrent:.0f}" + (f" ({s.errors} errors)" if s.errors else "") + f" | {share:.0%} |"
        )
        if ep.live:
            ok = p50 <= GOAL_SERVER_MS and share >= GOAL_FLOOR_SHARE and not s.errors
            holds &= ok
            row += (
                f" p50 ≤ {GOAL_SERVER_MS:.0f} ms, ≥ {GOAL_FLOOR_SHARE:.0%} of the floor | {'yes' if ok else '**no**'} |"
            )
        else:
            row += " (the floor) | — |"
        lines.append(row)
        target = next((n for key, n in STRETCH.items() if ep.label.startswith(key)), None)
        if target:
            met = "met" if s.concurrent >= target else "not met"
            stretch.append(f"{ep.label}: {s.concurrent:.0f} requests/s with {CLIENTS} clients, stretch {target}: {met}")
    return lines, stretch, holds


def cpu_breakdown(res: Results) -> list[str]:
    """Where the CPU of the concurrent rounds went, in ms per request, by part; and beyond the floor's."""
    floor = res.served["floor"]
    lines = [
        "| endpoint | " + " | ".join(CPU_PARTS) + " | in all | beyond the floor's |",
        "| --- |" + " ---: |" * (len(CPU_PARTS) + 2),
    ]
    floor_total = sum(floor.cpu_ms(p) for p in CPU_PARTS)
    for ep in res.endpoints:
        s = res.served[ep.label]
        total = sum(s.cpu_ms(p) for p in CPU_PARTS)
        beyond = "—" if s is floor else f"{total - floor_total:+.2f}"
        lines.append(
            f"| {ep.label} | " + " | ".join(f"{s.cpu_ms(p):.2f}" for p in CPU_PARTS) + f" | {total:.2f} | {beyond} |"
        )
    return lines


def remaining_time(res: Results) -> str:
    """A paragraph: where a served request's time goes, from the CPU table's figures."""
    floor = res.served["floor"]
    parts = {p: floor.cpu_ms(p) for p in CPU_PARTS}
    web, pg, clients = parts["web server"], parts["Seamline's PostgreSQL"], parts["clients"]
    floor_total = sum(parts.values())
    live = [e for e in res.endpoints if e.live]
    beyond = {e.label: sum(res.served[e.label].cpu_ms(p) for p in CPU_PARTS) - floor_total for e in live}
    heaviest = max(live, key=lambda e: beyond[e.label])
    body = res.served[heaviest.label].body_bytes / 1024
    floor_p50 = percentile(floor.server_ms, 50)
    over = [percentile(res.served[e.label].server_ms, 50) - floor_p50 for e in live]
    return paragraph(
        f"Where the remaining time goes: a request at the floor costs {floor_total:.1f} ms of CPU in all, "
        f"{web:.1f} ms of it in the web server (gunicorn accepting the connection, parsing the "
        "request and writing its access log, Django's middleware, and the session read with its user in one "
        f"statement), {pg:.1f} ms in Seamline's PostgreSQL answering that "
        f"statement and {clients:.1f} ms in the benchmark's own clients: that is the framework's floor, "
        "and most of every live request. A live section adds its one Redis read (fragment and versions in one MGET, "
        "sent before the session is read so that Redis answers while PostgreSQL does), "
        "the user's grants where what it shows depends on them (read in the same statement, which makes it cost "
        "PostgreSQL more), filling in its ages and sending its body: "
        + ", ".join(f"{e.label} {beyond[e.label]:+.1f} ms" for e in live)
        + f". The most, {heaviest.label}, has the biggest body ({body:.0f} KiB): its cost grows with what it shows "
        "(each session's row, its query text for an Operator, an age to fill in), not with the number of viewers. "
        f"One at a time, a live partial's server time is the floor's ({floor_p50:.2f} ms) and "
        f"{min(over):+.2f} to {max(over):+.2f} ms. The floor itself moves with what else the machine's two cores run "
        f"(its p95 in this run: {percentile(floor.server_ms, 95):.2f} ms; its p50 measured 1.6 to 3.0 ms in runs "
        "of the same code on 2026-12-07), and with it whether a partial's p50 is within 3 ms."
    )


def fmt(values: list[float]) -> tuple[str, str, str]:
    if not values:
        return "—", "—", "—"
    return tuple(f"{percentile(values, p):.1f} ms" for p in (50, 95, 99))  # type: ignore[return-value]


def run_table(run: Run, pages: list[Page], goal: bool) -> tuple[list[str], bool]:
    """A row per page and partial (and one for all requests); with the goal's columns when ``goal``."""
    head = "| page | requests | errors | p50 | p95 | p99 |"
    rule = "| --- | ---: | ---: | ---: | ---: | ---: |"
    if goal:
        head, rule = head + " goal | holds |", rule + " --- | --- |"
    lines, holds = [head, rule], True
    every: list[float] = []
    for page in pages:
        for partial in (False, True):
            key = (page.label, partial)
            ms, errors = run.tally.ms.get(key, []), sum(run.tally.errors.get(key, Counter()).values())
            every += ms
            row = f"| {page.label} {'partial' if partial else 'page'} | {len(ms) + errors} | {errors} | "
            row += " | ".join(fmt(ms)) + " |"
            if goal:
                ok = errors == 0 and bool(ms) and percentile(ms, 99) < GOAL_P99_MS
                holds &= ok
                row += f" 0 errors, p99 < {GOAL_P99_MS:.0f} ms | {'yes' if ok else '**no**'} |"
            lines.append(row)
    row = f"| all | {run.requests} | {run.errors} | " + " | ".join(fmt(every)) + " |"
    lines.append(row + (" | |" if goal else ""))
    return lines, holds


def db_connections(run: Run) -> str:
    first, peak, after = run.db_connections
    return f"{first} at the start, peak {peak}, {after} 5 s after the viewers disconnected"


def run_figures(run: Run, interval: int) -> str:
    errors = Counter()
    for counter in run.tally.errors.values():
        errors += counter
    cores = len(os.sched_getaffinity(0))
    return (
        f"{run.name} run ({run.viewers} viewers, "
        + (f"a request every {run.poll:.0f} s each" if run.poll else "no think time")
        + f"): {run.requests} requests in {run.elapsed:.1f} s, {run.requests / run.elapsed:.1f} requests/s; "
        f"{run.errors} errors"
        + (f" ({', '.join(f'{k} {n}' for k, n in errors.most_common(5))})" if errors else "")
        + f"; {run.tally.connects} TCP connections opened (keep-alive); PostgreSQL connections to Seamline's "
        f"database (web server, worker, beat, benchmark): {db_connections(run)}; the web server used "
        f"{run.web_cpu:.1f} CPU s ({run.web_cpu / run.elapsed:.0%} of one core), the machine's {cores} cores were "
        f"{run.machine_busy:.0%} busy; "
        f"{run.samples} samples taken (every node, one per {interval} s each)"
        + (f"; {run.stuck} viewer threads still running at the end" if run.stuck else "")
    )


def sessions_line(res: Results) -> str:
    def node(name: str, snap: dict[str, Any]) -> str:
        services = ", ".join(f"{s['service']} {s['total']}" for s in snap.get("services", []) if s["total"])
        unattributed = snap.get("unattributed", {}).get("total", 0)
        return f"{name} {snap.get('total', '?')} ({services or 'no service sessions'}; unattributed {unattributed})"

    return (
        "sessions sampled on the demo cluster before the runs: "
        + "; ".join(node(n, s) for n, s in res.before.items())
        + "; after: "
        + ", ".join(f"{n} {s.get('total', '?')}" for n, s in res.after.items())
    )


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(
        __doc__,
        profile="print cProfile's top functions of the slowest page",
        drop="remove what a killed run left behind, and exit",
    )
    parser.add_argument("--seconds", type=float, default=60, help="length of each viewers' run (default 60)")
    parser.add_argument("--viewers", type=int, default=50, help="concurrent viewers (default 50)")
    parser.add_argument("--requests", type=int, default=300, help="sequential requests of each endpoint (default 300)")
    parser.add_argument(
        "--serving-only", action="store_true", help="only the serving measurement (issue 14), no viewers; no docs"
    )
    args = parser.parse_args(argv)
    if args.seconds < 10 or args.viewers < 1 or args.requests < 20:
        parser.error("--seconds must be at least 10, --viewers at least 1 and --requests at least 20")

    exit_on_sigterm()
    host = os.environ.get("SEAMLINE_PG_HOST", "127.0.0.1")
    port = int(os.environ.get("SEAMLINE_PG_PORT", "54329"))
    with connect_dev_stack(host, port) as conn:
        major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000
    instances = Instances.of(pg_client("initdb", major).parent)
    if args.drop:
        instances.remove()
        print(f"removed the throwaway instances in {BASE} (if there were any)")
        flush_redis()
        print(f"flushed Redis database {REDIS_DB}")
        return 0
    if any(i.running() for i in instances):
        raise SystemExit(f"a previous run's instances still run in {BASE}: run bench/load.py --drop first")

    started = time.perf_counter()
    print(
        f"load benchmark: {args.viewers} viewers, {args.seconds:.0f} s polling every {POLL_SECONDS:.0f} s, then "
        f"{args.seconds:.0f} s with no think time; then each live partial, the API and the floor, "
        f"{args.requests} requests one at a time and {CONCURRENT_SECONDS:.0f} s with {CLIENTS} clients"
    )
    try:
        instances.create()
        env = bench_env(instances.app.port)
        setup_django(env)
        with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
            res = measure(args, instances, env, Path(tmp))
    finally:
        with contextlib.suppress(Exception):  # Django's connection to the instance, before the instance goes
            from django.db import connections

            connections.close_all()
        if any(i.created for i in instances):
            instances.remove()
        with contextlib.suppress(Exception):
            flush_redis()
    elapsed = time.perf_counter() - started

    import celery
    import gunicorn
    import redis
    from django import get_version

    info = machine(
        {
            "web server": f"gunicorn {gunicorn.__version__} with `deploy/gunicorn.conf.py` (sync workers, as many as "
            "cores and one more), `SEAMLINE_DEBUG=0`",
            "PostgreSQL servers": f"{instances.monitored.version}: the monitored primary and its replica, Seamline's "
            "database, three throwaway instances (max_connections 300, fsync off) on the same machine",
            "Redis": redis.Redis.from_url(redis_url()).info("server")["redis_version"],
            "Django": get_version(),
            "Celery": celery.__version__,
            "psycopg": psycopg.__version__,
        }
    )
    serve_table, stretch, serving_holds = serving_table(res)
    cpu_table = cpu_breakdown(res)
    print("\nserving (issue 14's goals):\n" + "\n".join(serve_table))
    print("\nwhere the CPU goes under 8 clients:\n" + "\n".join(cpu_table) + "\n")
    print("\n".join(f"- {line}" for line in stretch))
    if args.serving_only:
        if res.profile:
            print("\n" + res.profile)
        print(f"\nthe benchmark took {elapsed:.0f} s")
        return 0 if serving_holds else 1
    polling, saturating = res.runs
    goal_table, viewers_hold = run_table(polling, res.pages, goal=True)
    sat_table, _ = run_table(saturating, res.pages, goal=False)
    all_hold = viewers_hold and serving_holds
    figures = [
        sessions_line(res),
        run_figures(polling, res.interval),
        run_figures(saturating, res.interval),
        f"each viewer has a session of its own (half Operators, who see full query texts, half Viewers) and one "
        f"keep-alive connection (gunicorn's sync workers close it after each response); before the runs, "
        f"{WARM_UP_ROUNDS} untimed rounds of every page and partial; the demo catalog was synced and audited once so "
        f"that the overview shows an audit (`manage.py audit demo`, {res.audit_seconds:.1f} s: {res.audit_summary})",
        *stretch,
    ]
    print("\npolling run (issue 7's goal):\n" + "\n".join(goal_table))
    print("\nsaturating run (information):\n" + "\n".join(sat_table))
    print("\n".join(f"- {line}" for line in figures))
    if res.profile:
        print("\n" + res.profile)
    print(f"\nthe benchmark took {elapsed:.0f} s")
    print("\n" + ("every goal holds" if all_hold else "GOAL MISSED: see the figures above"))

    if not args.no_docs:
        body = [
            "## Load: 50 viewers, and what each live page costs the web server (issues 7 and 14)",
            "",
            paragraph(
                f"`bench/load.py`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Served by gunicorn with the shipped "
                "configuration, debug off, a real Celery worker and beat sampling the demo cluster, pointed at a "
                "throwaway primary holding the pools benchmark's 220 sessions and its streaming replica. "
                f"{args.viewers} logged-in viewers (threads of the benchmark, each with its session) on the overview, "
                "`/pools/`, the demo cluster's Pools page and `/replication/`. A viewer stays 15 s on a page: loads "
                "it whole, then polls its htmx partial (`HX-Request: true`) twice, then moves on to the next page. "
                f"Polling run: a request every {POLL_SECONDS:.0f} s per viewer, as browsers make them, for "
                f"{args.seconds:.0f} s; saturating run: the same with no think time. Latency is client-side, request "
                "sent to body read."
            ),
            "",
            "Polling run (issue 7's goal):",
            "",
            *goal_table,
            "",
            "Saturating run, information:",
            "",
            *sat_table,
            "",
            paragraph(
                "Serving (issue 14's goals): each live partial, the pools API and the floor (a login-required view "
                "returning a constant through every middleware, `bench/_serving.py`), with a logged-in client (an "
                f"Operator): {args.requests} requests of each one at a time, interleaved, then {CLIENTS} concurrent "
                f"client processes (each with its session) on each in turn for {CONCURRENT_SECONDS:.0f} s. Server "
                "time is Django's, from its Server-Timing header (the request entering Django to the response "
                "leaving it); the load's clients run on the same 2 cores."
            ),
            "",
            *serve_table,
            "",
            "Where the CPU goes under 8 clients, milliseconds per request (the machine's busy time, by process):",
            "",
            *cpu_table,
            "",
            remaining_time(res),
            "",
            *[bullet(line) for line in figures],
        ]
        reproduce = (
            f"Reproduce: `make bench`, or `{REPRODUCE}` with the dev stack running (`make services`; `make run` "
            f"may run beside it). It starts and removes its own instances (in `{BASE}`); `--drop` removes those a "
            "killed run left behind."
        )
        write_report(NAME, body, info, reproduce)
    return 0 if all_hold else 1


if __name__ == "__main__":
    sys.exit(main())
