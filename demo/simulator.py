"""Demo traffic for the shop and payments databases: four services, a reporting user, and some misbehaviour.

Each service instance has its own connection pool, as the design document's services do (one pool per process,
`options=-csearch_path=<schema>` in the DSN), and connects as its own role with `application_name` set to the
service name, so the dashboard can tell who is who. On purpose, now and then:

* order_service leaves a transaction idle while it holds a row lock, and another order_service session blocks on it;
* product_service runs a slow report;
* the analyst connects with no application_name at all;
* order_service writes a burst of tens of MB every minute, while one of its instances runs long reports on the
  replica: the burst's REFRESH MATERIALIZED VIEW waits there behind those reports, and the replica lags.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import threading
from collections.abc import Callable, Iterator
from time import monotonic
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from .traffic import ORDER, PAYMENT, POOL_TIMEOUT, PRODUCT, SERVICES, WORKERS_PER_INSTANCE, Log, Service, Traffic


def _params(base: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    # The superuser's password is not the service role's; the demo roles have none (trust auth in dev).
    params = {k: v for k, v in base.items() if k != "password"}
    return {**params, "connect_timeout": 5, **overrides}


def _service_params(base: dict[str, Any], svc: Service) -> dict[str, Any]:
    return _params(
        base, user=svc.role, dbname=svc.dbname, application_name=svc.name, options=f"-csearch_path={svc.schema}"
    )


def _brief(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    for marker in ("FATAL:", "ERROR:", " failed: "):  # libpq puts the connection details first
        if marker in text:
            text = text.rsplit(marker, 1)[1]
            break
    return " ".join(text.strip().splitlines()[0].split())[:200]


class Simulator(Traffic):
    def __init__(self, primary: dict[str, Any], replica: dict[str, Any], stop: threading.Event, log: Log) -> None:
        self.primary, self.replica, self.stop, self._log = primary, replica, stop, log
        self._lock = threading.Lock()
        self.pools: list[ConnectionPool] = []
        self.threads: list[threading.Thread] = []
        self._inflight: set[psycopg.Connection] = set()
        self._last_error: dict[tuple[str, str], float] = {}
        self.to_pay: queue.Queue[tuple[int, int]] = queue.Queue(maxsize=500)
        self.paid: queue.Queue[tuple[int, bool]] = queue.Queue(maxsize=500)
        self.locked_order: int | None = None  # the order row the leaked transaction holds
        self.victim_sent = False
        self.bi_report_started = threading.Event()
        self.max_user = self.max_product = self.max_order = 1

    # -- logging -----------------------------------------------------------------------------------------------------
    def say(self, msg: str) -> None:
        with self._lock:
            self._log(msg)

    def error(self, who: str, exc: BaseException) -> None:
        # During an outage every worker fails every few seconds: one line per service and error kind is enough.
        key, now = (who.split("-")[0], type(exc).__name__), monotonic()
        with self._lock:
            if now - self._last_error.get(key, -1e9) < 30:
                return
            self._last_error[key] = now
        self.say(f"{who}: {type(exc).__name__}: {_brief(exc)} (carrying on)")

    # -- startup -----------------------------------------------------------------------------------------------------
    def _missing(self) -> list[str]:
        """What keeps the services from starting, as "reason: who, ..." (empty when ready)."""
        problems: dict[str, list[str]] = {}
        for svc in SERVICES:
            try:
                with psycopg.connect(**_service_params(self.primary, svc)) as conn:
                    rows = conn.execute(
                        "SELECT r FROM unnest(%s::text[]) AS r WHERE to_regclass(r) IS NULL", (svc.required.split(),)
                    ).fetchall()
                    if svc is ORDER and not rows:  # the id ranges the traffic picks from
                        self.max_user, self.max_product, self.max_order = conn.execute(
                            "SELECT (SELECT max(id) FROM customer_names), (SELECT max(id) FROM product_prices),"
                            " (SELECT coalesce(max(id), 1) FROM orders)"
                        ).fetchone()
                problems.setdefault("not loaded yet", []).extend(f"{svc.dbname}.{svc.schema}.{r}" for (r,) in rows)
            except psycopg.Error as exc:
                problems.setdefault(_brief(exc), []).append(f"{svc.role}@{svc.dbname}")
        return [f"{reason}: {', '.join(who[:4])}{', ...' * (len(who) > 4)}" for reason, who in problems.items() if who]

    def wait_until_ready(self, timeout: float) -> bool:
        deadline, reported = monotonic() + timeout, None
        while missing := self._missing():
            if missing != reported:
                self.say(f"waiting for the demo databases: {'; '.join(missing)}")
                reported = missing
            if monotonic() > deadline:
                raise RuntimeError(
                    f"demo databases not ready after {timeout:.0f} s: {'; '.join(missing)} "
                    "(load demo/sql/roles.sql, shop.sql and payments.sql)"
                )
            if self.stop.wait(1.0):
                return False
        return True

    # -- plumbing ----------------------------------------------------------------------------------------------------
    def pool(self, name: str, params: dict[str, Any], max_size: int) -> ConnectionPool:
        pool = ConnectionPool(
            kwargs=params,
            min_size=1,
            max_size=max_size,
            name=name,
            open=False,
            timeout=POOL_TIMEOUT,
            num_workers=1,
            check=ConnectionPool.check_connection,
        )
        pool.open(wait=False)  # the pool connects (and reconnects after an outage) in the background
        self.pools.append(pool)
        return pool

    def spawn(self, who: str, step: Callable[[random.Random], float], first: tuple[float, float] = (0, 0)) -> None:
        """Runs `step` in a thread until stopped; `step` returns how long to pause, `first` the initial delay."""

        def loop() -> None:
            rng = random.Random()
            if self.stop.wait(rng.uniform(*first)):
                return
            while not self.stop.is_set():
                try:
                    pause = step(rng)
                except Exception as exc:  # one failing worker must never stop the others
                    if self.stop.is_set():
                        break
                    self.error(who, exc)
                    pause = 2.0
                self.stop.wait(pause)

        thread = threading.Thread(target=loop, name=f"sim-{who}", daemon=True)
        self.threads.append(thread)
        thread.start()

    @contextlib.contextmanager
    def cancellable(self, conn: psycopg.Connection) -> Iterator[None]:
        """Marks a long statement, so shutdown can cancel it instead of waiting for it."""
        with self._lock:
            self._inflight.add(conn)
        try:
            yield
        finally:
            with self._lock:
                self._inflight.discard(conn)

    def start(self) -> None:
        for svc in SERVICES:
            for i in range(1, svc.instances + 1):
                who = f"{svc.name}-{i}"
                pool = self.pool(who, _service_params(self.primary, svc), svc.max_pool)
                for w in range(WORKERS_PER_INSTANCE):
                    self.spawn(f"{who}/{w}", self.stepper(svc, who, pool))
        orders = [p for p in self.pools if p.name.startswith(ORDER.name)]
        # The first leak, burst and slow query come early, so a short demo run shows each of them.
        self.spawn(
            f"{ORDER.name}-1/leak", lambda rng: self.leak_transaction(f"{ORDER.name}-1", orders[0], rng), first=(5, 10)
        )
        self.spawn(
            f"{ORDER.name}-2/burst", lambda rng: self.write_burst(f"{ORDER.name}-2", orders[1], rng), first=(15, 20)
        )
        replica = self.pool(f"{ORDER.name}-3-replica", _service_params(self.replica, ORDER), 2)
        self.spawn(f"{ORDER.name}-3/replica", lambda rng: self.replica_report(replica, rng))
        self.spawn(f"{ORDER.name}-3/replica-bi", lambda rng: self.replica_bi_report(replica, rng))
        products = [p for p in self.pools if p.name.startswith(PRODUCT.name)]
        self.spawn(
            f"{PRODUCT.name}-2/slow", lambda rng: self.slow_query(f"{PRODUCT.name}-2", products[1], rng), first=(8, 12)
        )
        payments = _service_params(self.primary, PAYMENT)
        with contextlib.suppress(psycopg.Error):
            self.resolve_in_doubt(payments)  # left by a run that was killed
        in_doubt = f"{PAYMENT.name}-1"
        self.spawn(f"{in_doubt}/2pc", lambda rng: self.in_doubt_payment(in_doubt, payments, rng), first=(30, 60))
        # Explicitly empty, so neither PGAPPNAME nor a driver default fills it in: the anonymous connection.
        analyst = self.pool(
            "analyst", _params(self.primary, user="analyst", dbname="shop", application_name="", autocommit=True), 1
        )
        self.spawn("analyst", lambda rng: self.analyst_query(analyst, rng))
        self.say(
            f"simulating {sum(s.instances for s in SERVICES)} service instances, {len(self.threads)} workers, "
            f"{len(self.pools)} pools"
        )

    def shutdown(self, grace: float = 4.0) -> None:
        self.stop.set()
        for pool in self.pools:
            pool.close(timeout=1.0)  # waiting clients fail at once; connections in use close when returned
        deadline = monotonic() + grace
        while alive := [t for t in self.threads if t.is_alive()]:
            with self._lock:
                inflight = list(self._inflight)
            for conn in inflight:  # again on each pass: a statement may have started after the first cancel
                with contextlib.suppress(Exception):
                    conn.cancel_safe(timeout=1.0)
            if monotonic() > deadline:
                self.say(f"{len(alive)} workers still busy at shutdown: {', '.join(t.name for t in alive[:5])}")
                break
            alive[0].join(0.2)
        with contextlib.suppress(psycopg.Error):
            self.resolve_in_doubt(_service_params(self.primary, PAYMENT))  # nothing of the demo's left prepared
        self.say("simulator stopped, all pools closed")


def run(
    primary: dict[str, Any],
    replica: dict[str, Any],
    *,
    duration: float | None = None,
    stop: threading.Event | None = None,
    log: Log = print,
    wait_timeout: float = 30.0,
) -> None:
    """Runs the demo traffic until `duration` seconds have passed or `stop` is set, then closes everything.

    `primary` and `replica` are libpq keyword dicts for a superuser; the traffic itself connects as the service
    roles. Raises RuntimeError if the demo databases are not there within `wait_timeout` seconds.
    """
    stop = stop or threading.Event()
    sim = Simulator(primary, replica, stop, log)
    if not sim.wait_until_ready(wait_timeout):
        return
    # The pools warn about every failed connection attempt, several a second during an outage; Simulator.error
    # already says it once per service.
    pool_logger = logging.getLogger("psycopg.pool")
    level = pool_logger.level
    pool_logger.setLevel(logging.ERROR)
    try:
        sim.start()
        stop.wait(duration)
    finally:
        sim.shutdown()
        pool_logger.setLevel(level)
