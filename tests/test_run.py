"""`make run`'s foreground stack (web, Celery worker and beat, the traffic simulator) starts, serves, and stops cleanly
on Ctrl-C. Runs against the test stack, with the test database, on a port of its own."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django_celery_beat.models import PeriodicTask

from dashboard.celery import app as celery_app

from .conftest import free_port, pg, wait_for, wait_for_simulator_gone

ROOT = Path(__file__).resolve().parent.parent
SERVICES = {"user_service", "order_service", "product_service", "payment_service"}


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except OSError:
        return 0


@pytest.mark.django_db(transaction=True)
def test_the_foreground_stack_serves_simulates_and_stops_on_ctrl_c(demo_databases, demo_catalog, tmp_path):
    port = free_port()
    env = dict(
        os.environ,
        SEAMLINE_WEB_PORT=str(port),
        SEAMLINE_DB_NAME=settings.DATABASES["default"]["NAME"],
        SEAMLINE_STATE_DIR=str(tmp_path),
        PYTHONUNBUFFERED="1",
    )
    log = (tmp_path / "run.log").open("w")
    proc = subprocess.Popen(
        [str(ROOT / "scripts" / "run-foreground")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: get(f"http://127.0.0.1:{port}/healthz") == 200, timeout=60, message="the web server")
        assert get(f"http://127.0.0.1:{port}/accounts/login/") == 200

        def simulator_sessions():
            with pg(dbname="postgres") as conn:
                names = {
                    r[0]
                    for r in conn.execute(
                        "SELECT DISTINCT application_name FROM pg_stat_activity WHERE datname IN ('shop', 'payments')"
                    )
                }
            # the four services, and the deliberately unattributed connection (no application_name)
            return names >= SERVICES | {""}

        wait_for(simulator_sessions, timeout=60, message="the simulator's sessions in pg_stat_activity")
        assert (tmp_path / "run" / "honcho.pid").read_text().strip() == str(proc.pid)

        def worker_ready():
            replies = celery_app.control.ping(timeout=0.5)
            return any(name.startswith("seamline@") for reply in replies for name in reply)

        wait_for(worker_ready, timeout=60, message="the Celery worker to answer a ping")
        # beat has read and written its schedule in the database once it registered Celery's built-in entry
        wait_for(
            lambda: PeriodicTask.objects.filter(name="celery.backend_cleanup").exists(),
            timeout=60,
            message="Celery beat to set up its schedule",
        )
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("Ctrl-C did not stop the foreground stack within 30 s")
        log.close()
    output = (tmp_path / "run.log").read_text()
    assert not listening(port)
    wait_for_simulator_gone()
    assert "SIGKILL" not in output, output[-3000:]  # every process stopped on its own
    for process in ("web", "worker", "beat", "simulator"):
        assert f"{process}.1 stopped" in output
