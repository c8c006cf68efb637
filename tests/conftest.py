"""Shared fixtures: named users, the demo on the real test stack, a real Celery worker.

`make test` starts the test stack (PostgreSQL primary 55329 + streaming replica 55330, Redis 6381) and points the
settings at it through the environment; nothing here is mocked.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from . import leakwatch

# the database full of hostile names (tests/hostile.py) serves the readers', the sync's and the commands' tests
pytest_plugins = ["tests.hostile"]

# Playwright's sync API runs an event loop in the test thread; the ORM calls it makes there are synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config):
    """Before any test module is imported (they register their passwords): the leak watch's folder, one per stack."""
    config.addinivalue_line("markers", "last: runs after every other test (it checks what they left behind)")
    state = Path(os.environ.get("SEAMLINE_STATE_DIR", ".teststack")).name
    folder = ROOT / "test-artifacts" / f"leak-watch-{state}"
    if folder.exists():
        for old in folder.iterdir():
            old.unlink()
    leakwatch.start(folder)
    leakwatch.secret(PASSWORD)  # this module was imported before the folder existed


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)  # stable: the rest keep their order


@pytest.fixture(autouse=True)
def _keep_the_leak_log():
    leakwatch.attach()


@pytest.fixture(scope="session", autouse=True)
def _record_responses():
    """Every response of the suite's Django (test client and live server) is kept for the leak check."""
    settings.MIDDLEWARE = ["tests.leakwatch.RecordResponses", *settings.MIDDLEWARE]


PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _permission_names(request):
    """Read the process' map of permission names (dashboard.auth) before the first test that uses the database: the
    queries a test counts do not depend on whether an earlier one asked for a permission. (Tests without the database
    may run alone, when pytest-django creates no test database at all.)"""
    from dashboard import auth

    database = {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback"}
    if auth._names or not (database & set(request.fixturenames) or request.node.get_closest_marker("django_db")):
        return
    request.getfixturevalue("django_db_setup")
    with request.getfixturevalue("django_db_blocker").unblock():
        auth.read_names("default")


@pytest.fixture(autouse=True)
def _fresh_catalog_memo():
    """Each test's catalog is rolled back or flushed afterwards, version row included: start every test clean, with
    no live fragment of another test's catalog current (a rolled-back change announces nothing)."""
    from catalog import versioning
    from dashboard import snapshots

    versioning._memo.clear()
    snapshots.catalog_changed()


# One user per role, each a member of the role's group (dashboard/migrations/0006: Viewer, Operator, Admin), all with
# PASSWORD; the tests that need a user of a role take these rather than making their own.


def role_member(django_user_model, username: str, role: str, **fields):
    from django.apps import apps
    from django.contrib.auth.models import Group

    if not Group.objects.filter(name=role).exists():  # a transactional test flushed what the migration made
        importlib.import_module("dashboard.migrations.0006_action_log_append_only_and_roles").create_groups(apps, None)
    user = django_user_model.objects.create_user(username, password=PASSWORD, **fields)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def viewer(django_user_model):
    """Reads every page, the API and the masked queries."""
    return role_member(django_user_model, "vera", "Viewer")


@pytest.fixture
def operator(django_user_model):
    """Also syncs, runs audits, sees full query texts, cancels or terminates sessions, reads the action log."""
    return role_member(django_user_model, "olga", "Operator")


@pytest.fixture
def admin_user(django_user_model):
    """Also edits the catalog and the credentials and manages users, in the Django admin (staff)."""
    return role_member(django_user_model, "alice", "Admin", is_staff=True)


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


def pg(port: int | None = None, dbname: str = "postgres", user: str = "postgres", **kwargs) -> psycopg.Connection:
    """A connection to the test stack, as the superuser unless told otherwise (primary unless another port is given)."""
    return psycopg.connect(
        host=settings.PG_HOST,
        port=port or settings.PG_PORT,
        user=user,
        dbname=dbname,
        autocommit=True,
        connect_timeout=5,
        **kwargs,
    )


@contextlib.contextmanager
def scratch_database(name: str) -> Iterator[None]:
    """An empty database of that name on the test primary for the block, dropped afterwards (and first, should an
    interrupted run have left it)."""
    with pg() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield
    finally:
        with pg() as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def demo_databases():
    """The demo's databases shop and payments, loaded once per test stack."""
    from demo.loader import load_databases

    load_databases(settings.DEMO_PRIMARY)
    return settings.DEMO_PRIMARY


@pytest.fixture
def demo_catalog(db, demo_databases):
    from demo.loader import load_catalog

    load_catalog(settings.DEMO_PRIMARY, settings.DEMO_REPLICA)


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.2, message: str = "condition"):
    """Poll instead of sleeping a fixed time: return the first truthy value, fail after the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {message}")
        time.sleep(interval)


SIMULATOR_ROLES = ("user_svc", "order_svc", "product_svc", "payment_svc", "analyst")


def wait_for_simulator_gone(timeout: float = 10.0) -> None:
    """Every session the demo traffic opened is closed (the server notices a closed client within moments)."""

    def gone() -> bool:
        with pg() as conn:
            return conn.execute(
                "SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = ANY(%s)", [list(SIMULATOR_ROLES)]
            ).fetchone()[0]

    wait_for(gone, timeout=timeout, message="the simulator's sessions to close")


@contextlib.contextmanager
def redis_stopped():
    """The test stack's Redis stopped (SHUTDOWN NOSAVE) for the block, and started again by devstack after it."""
    port = settings.REDIS_URL.rsplit(":", 1)[1].split("/")[0]
    subprocess.run(["redis-cli", "-p", port, "shutdown", "nosave"], capture_output=True)
    try:
        wait_for(lambda: subprocess.run(["redis-cli", "-p", port, "ping"], capture_output=True).returncode != 0)
        yield
    finally:
        subprocess.run([str(ROOT / "scripts" / "devstack"), "start"], check=True, capture_output=True)


def free_port() -> int:
    """A TCP port nothing listens on now, on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def celery_worker(name: str, *options: str, **env: str):
    """A real Celery worker subprocess on the test stack's Redis and database (``env`` added to its environment), its
    output kept for the leak check; stopped as systemd would (TERM, then KILL after 20 s)."""
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "dashboard", "worker", "--loglevel", "WARNING",
         "--hostname", f"{name}-{os.getpid()}@%h", *options],
        cwd=ROOT, env=dict(os.environ, SEAMLINE_DB_NAME=settings.DATABASES["default"]["NAME"], **env),
        stdout=leakwatch.worker_log(name), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker):
    """A real Celery worker on the test Redis, using the test database: every queue, one task at a time."""
    queues = (
        f"celery,{settings.SAMPLING_QUEUE},{settings.AUDIT_QUEUE},{settings.SYNC_QUEUE},{settings.STATEMENTS_QUEUE}"
    )
    with celery_worker("test", "--pool", "solo", "--queues", queues) as proc:
        yield proc


# --- sessions held in known states, for the pools tests ------------------------------------------------------------

HELD_DB = "seamline_pools_test"
REPORTER = "seamline_pt_reporter"  # a login role the service pt_reports declares in db_roles


class HeldSessions:
    """Sessions on the test primary, each held in one known state until the fixture ends:

    - ``idle_in_xact``: application pt_orders, an open transaction holding a row lock, idle;
    - ``aborted``: application pt_orders, a transaction that failed and was not rolled back;
    - ``blocked``: application pt_orders, an UPDATE waiting for the row ``idle_in_xact`` holds;
    - ``sleeper``: role seamline_pt_reporter (no application_name), running pg_sleep(600);
    - ``stranger``: application pt_stranger, idle: no service declares it.
    """

    def __init__(self) -> None:
        self.conns: list[psycopg.Connection] = []
        self.threads: list = []
        self.pids: dict[str, int] = {}

    def connect(self, application_name: str, user: str = "postgres") -> psycopg.Connection:
        conn = pg(dbname=HELD_DB, user=user, application_name=application_name)
        self.conns.append(conn)
        return conn

    def in_background(self, conn: psycopg.Connection, sql: str) -> None:
        import threading

        def run() -> None:
            with contextlib.suppress(psycopg.Error):  # terminated at the end of the test
                conn.execute(sql)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)

    def start(self) -> None:
        self.idle_in_xact = self.connect("pt_orders")
        self.idle_in_xact.autocommit = False
        self.idle_in_xact.execute("UPDATE pt_items SET v = v + 1 WHERE id = 1")
        self.aborted = self.connect("pt_orders")
        self.aborted.autocommit = False
        with pytest.raises(psycopg.errors.DivisionByZero):
            self.aborted.execute("SELECT 1 / 0")
        self.blocked = self.connect("pt_orders")
        self.in_background(self.blocked, "UPDATE pt_items SET v = v + 2 WHERE id = 1")
        self.sleeper = self.connect("", user=REPORTER)
        self.in_background(self.sleeper, "SELECT pg_sleep(600)")
        self.stranger = self.connect("pt_stranger")
        self.pids = {name: getattr(self, name).info.backend_pid for name in
                     ("idle_in_xact", "aborted", "blocked", "sleeper", "stranger")}  # fmt: skip

        def settled() -> bool:
            with pg() as conn:
                states = dict(
                    conn.execute(
                        "SELECT pid, coalesce(wait_event_type, '') || '/' || state FROM pg_stat_activity"
                        " WHERE pid = ANY(%s)",
                        [list(self.pids.values())],
                    ).fetchall()
                )
            return (
                states.get(self.pids["blocked"], "").startswith("Lock/")
                and states.get(self.pids["sleeper"], "").endswith("/active")
                and states.get(self.pids["aborted"], "").endswith("idle in transaction (aborted)")
            )

        wait_for(settled, timeout=15, message="the held sessions to reach their states")

    def stop(self) -> None:
        pids = [c.info.backend_pid for c in self.conns if not c.closed]
        with pg() as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [pids])
        for conn in self.conns:
            conn.close()
        for thread in self.threads:
            thread.join(timeout=10)


@pytest.fixture(scope="module")
def held_sessions():
    with pg() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {HELD_DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {HELD_DB}")
        if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [REPORTER]).fetchone():
            admin.execute(f"CREATE ROLE {REPORTER} LOGIN")
    with pg(dbname=HELD_DB) as conn:
        conn.execute("CREATE TABLE pt_items (id int PRIMARY KEY, v int NOT NULL)")
        conn.execute("INSERT INTO pt_items VALUES (1, 0)")
        conn.execute(f"GRANT SELECT ON pt_items TO {REPORTER}")
    held = HeldSessions()
    try:
        held.start()
        yield held
    finally:
        held.stop()
        with pg() as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {HELD_DB} WITH (FORCE)")
            admin.execute(f"DROP ROLE IF EXISTS {REPORTER}")


@pytest.fixture
def pools_cluster(db):
    """Cluster "pt" on the test primary (its replica too), with the two services the held sessions belong to.
    Offender thresholds are 0 s, so every held session is an offender at once. Redis' snapshots are cleared."""
    from catalog.models import Cluster, Ownership, Service
    from dashboard import snapshots

    for key in snapshots.client().scan_iter("seamline:pools:*"):
        snapshots.client().delete(key)
    dsn = f"host={settings.PG_HOST} port={settings.PG_PORT} user=postgres dbname=postgres"
    cluster = Cluster.objects.create(
        name="pt", dsn=dsn, databases=[HELD_DB], idle_in_transaction_threshold=0, long_query_threshold=0
    )
    cluster.replicas.create(
        name="pt-replica", dsn=f"host={settings.PG_HOST} port={settings.REPLICA_PORT} user=postgres dbname=postgres"
    )
    orders = Service.objects.create(
        name="pt_orders", team="checkout", application_names=["pt_orders"], pool_size=2, max_overflow=1, instances=2
    )
    Service.objects.create(name="pt_reports", team="insights", db_roles=[REPORTER], pool_size=1)
    Ownership.objects.create(service=orders, cluster=cluster, database=HELD_DB, schema="public")
    return cluster


# --- history rows ------------------------------------------------------------------------------------------------


def history_snapshot(total: int, services: dict[str, dict[str, int]], replica: dict | None = None) -> dict:
    """What dashboard.recording.record_history needs of a sampler's snapshot: ``services`` maps a service ("" for the
    unattributed sessions) to its sessions by state."""

    from dashboard.states import STATES

    def counters(counts: dict[str, int]) -> dict[str, int]:
        return {**dict.fromkeys(STATES, 0), **counts, "total": sum(counts.values())}

    return {
        "total": total,
        "max_connections": 100,
        "reserved_connections": 3,
        "services": [{"service": name, **counters(c)} for name, c in services.items() if name],
        "unattributed": counters(services.get("", {})),
        "replication": replica or {"role": "primary"},
    }
