"""Bounded snapshots (issue 17): a pile-up of 1,000 sessions blocked behind one lock, on a throwaway server with room
for them, still samples within the sampling task's soft time limit, every session counted, each list capped (the worst
first, "and N more"), and the snapshot stays small."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from bench._common import pg_client
from bench.pools import Instance
from catalog.models import Cluster, Service
from dashboard import summary
from dashboard.nodes import PRIMARY
from dashboard.sampling import sample_node

from .conftest import wait_for

PILE = 1000
STACK = Path(os.environ.get("SEAMLINE_STATE_DIR", ".teststack")).name


class PileupInstance(Instance):
    """A throwaway primary with room for the pile-up (bench.pools' instance, in a folder of its own)."""

    def __init__(self) -> None:
        major = int(psycopg.connect(**settings.DEMO_PRIMARY, dbname="postgres").info.server_version) // 10000
        super().__init__(pg_client("initdb", major).parent, Path(f"/tmp/seamline-test-pileup-{STACK}"))

    def create(self) -> None:
        self._make_folder()
        initdb = ("-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C")
        self._check(self._run("initdb", *initdb), "initdb")
        self._start(
            {
                "max_connections": PILE + 100,
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
                "client_connection_check_interval": "1000",
            }
        )


@pytest.fixture(scope="module")
def instance():
    made = PileupInstance()
    if made.running():
        made.stop()
    made.create()
    yield made
    made.remove()


class Pileup:
    """One session holding an exclusive lock on a table, and PILE sessions waiting on it, on an event loop of its
    own (one thread, PILE connections)."""

    def __init__(self, port: int) -> None:
        self.dsn = f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.conns: list[psycopg.AsyncConnection] = []
        self.waiting: list[asyncio.Future] = []

    async def _start(self) -> None:
        self.holder = await psycopg.AsyncConnection.connect(self.dsn, application_name="pile-holder")
        await self.holder.execute("CREATE TABLE IF NOT EXISTS pile (id int)")
        await self.holder.commit()
        await self.holder.execute("LOCK TABLE pile IN ACCESS EXCLUSIVE MODE")  # held, idle in transaction
        for start in range(0, PILE, 50):  # a few at a time: the server forks a backend for each
            batch = await asyncio.gather(
                *(
                    psycopg.AsyncConnection.connect(self.dsn, autocommit=True, application_name=f"pile-{i % 7}")
                    for i in range(start, min(PILE, start + 50))
                )
            )
            self.conns.extend(batch)
        self.waiting = [asyncio.ensure_future(c.execute("SELECT count(*) FROM pile")) for c in self.conns]

    async def _stop(self) -> None:
        await self.holder.rollback()
        await asyncio.gather(*self.waiting, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in self.conns), return_exceptions=True)
        await self.holder.close()

    def __enter__(self) -> Pileup:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=600)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(timeout=120)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_a_pileup_of_a_thousand_blocked_sessions_samples_in_time_and_stays_bounded(db, instance):
    cluster = Cluster.objects.create(name="pileup", dsn=f"host=127.0.0.1 port={instance.port} user=postgres")
    Service.objects.create(name="piled", application_names=[f"pile-{i}" for i in range(7)])
    with Pileup(instance.port) as pile, psycopg.connect(pile.dsn, autocommit=True) as watch:
        wait_for(
            lambda: (
                watch.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'").fetchone()[0]
                >= PILE
            ),
            timeout=120,
            message=f"{PILE} sessions waiting on the lock",
        )
        started = time.monotonic()
        snap = sample_node(cluster, PRIMARY)
        took = time.monotonic() - started
    assert snap["status"] == "ok", snap
    assert took < settings.SAMPLE_SOFT_TIME_LIMIT, f"the sample took {took:.1f} s"
    assert snap["total"] >= PILE + 1  # every session counted
    piled = next(s for s in snap["services"] if s["service"] == "piled")
    assert piled["waiting"] == PILE
    assert snap["listed_of"]["blocked"] == PILE and len(snap["blocked"]) == summary.LISTED
    assert [b["application_name"] for b in snap["blockers"]] == ["pile-holder"]  # the one they all wait for
    size = len(json.dumps(snap))
    assert size < 256 * 1024, f"a snapshot of {size} bytes"
