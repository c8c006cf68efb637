"""Shared fixtures: named users, the demo on the real test stack, a real Celery worker.

`make test` starts the test stack (PostgreSQL primary 55329 + streaming replica 55330, Redis 6381) and points the
settings at it through the environment; nothing here is mocked.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

# Playwright's sync API runs an event loop in the test thread; the ORM calls it makes there are synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_catalog_memo():
    """Each test's catalog is rolled back or flushed afterwards, version row included: start every test clean."""
    from catalog import versioning

    versioning._memo.clear()


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_user("alice", password=PASSWORD, is_staff=True, is_superuser=True)


@pytest.fixture
def viewer(django_user_model):
    return django_user_model.objects.create_user("vera", password=PASSWORD)


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


def pg(port: int | None = None, dbname: str = "postgres", **kwargs) -> psycopg.Connection:
    """A superuser connection to the test stack (primary unless another port is given)."""
    return psycopg.connect(
        host=settings.PG_HOST,
        port=port or settings.PG_PORT,
        user="postgres",
        dbname=dbname,
        autocommit=True,
        connect_timeout=5,
        **kwargs,
    )


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


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker):
    """A real Celery worker on the test Redis, using the test database."""
    env = dict(os.environ, SEAMLINE_DB_NAME=settings.DATABASES["default"]["NAME"])
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "dashboard",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--hostname",
            f"test-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
